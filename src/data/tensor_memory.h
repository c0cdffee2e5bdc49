// How the tzrec process gets memory for tensors.
//
// Large tensors (embedding tables, a loaded model's weights, batch
// activations) are the process's memory. Two properties of the defaults make
// them slow on the machines tzrec runs on, where every first touch of a 4 KiB
// page is a costly fault (virtual machines fault into the host as well):
//   - libtorch takes tensor memory from malloc, which gives large blocks back
//     to the kernel on free (munmap, heap trimming), so every inference call
//     faults its activation buffers in again;
//   - tables and models are touched 4 KiB at a time.
// InstallTensorMemoryPolicy() keeps freed blocks (up to 32 MiB) in the
// process for reuse and puts tensors of 2 MiB and more on transparent huge
// pages (madvise), so a 352 MiB model is faulted in ~176 times instead of
// ~90,000. Measured effects are in docs/benchmarks.md.
#pragma once

#include <cstddef>

namespace tzrec::data {

// Tensors at least this large are aligned to and advised as huge pages.
constexpr size_t kHugePageBytes = size_t{2} << 20;

// Replaces libtorch's CPU allocator for the rest of the process and sets
// malloc's trim and mmap thresholds; idempotent. Call it first in main(),
// before any tensor exists.
void InstallTensorMemoryPolicy();

// Whether the policy is installed.
bool TensorMemoryPolicyInstalled();

}  // namespace tzrec::data
