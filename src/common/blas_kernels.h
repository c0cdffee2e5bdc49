// Which kernels OpenBLAS runs on this CPU.
//
// OpenBLAS picks its kernels once, when it is loaded, from the CPU it
// recognises or from OPENBLAS_CORETYPE. Debian 12's OpenBLAS (0.3.21) does not
// recognise CPUs released after it (Intel Sapphire Rapids, for one) and falls
// back to its Prescott (SSE3) kernels, which run libtorch's matrix products
// (libtorch 1.13 calls libblas.so.3) about 4x slower than the AVX-512 ones the
// CPU has (docs/benchmarks.md, "OpenBLAS kernels"). Setting OPENBLAS_CORETYPE
// before OpenBLAS is loaded fixes that; it must happen before the process that
// loads libtorch starts.
#pragma once

#include <string>

namespace tzrec {

// The OPENBLAS_CORETYPE this process tree should run with: "SkylakeX" (AVX-512
// F/BW/DQ/VL) or "Haswell" (AVX2 + FMA) when libblas.so.3 is OpenBLAS and fell
// back to its Prescott kernels on a CPU that has those instructions. Empty when
// nothing needs changing: OPENBLAS_CORETYPE is already set, libblas.so.3 is not
// OpenBLAS, or OpenBLAS recognised the CPU. `load`: load libblas.so.3 to ask
// it (a process that has not loaded it yet); otherwise ask only a loaded one.
std::string OpenBlasCoreTypeToForce(bool load);

}  // namespace tzrec
