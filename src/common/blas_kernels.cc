#include "common/blas_kernels.h"

#include <dlfcn.h>
#include <strings.h>

#include <cstdlib>

namespace tzrec {

std::string OpenBlasCoreTypeToForce(bool load) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return "";  // the user's choice
  // The library libtorch 1.13's BLAS calls go to.
  void* blas = ::dlopen("libblas.so.3", RTLD_LAZY | RTLD_LOCAL | (load ? 0 : RTLD_NOLOAD));
  if (blas == nullptr) return "";
  using CoreName = char* (*)();
  const auto core_name = reinterpret_cast<CoreName>(::dlsym(blas, "openblas_get_corename"));
  const bool fell_back = core_name != nullptr && ::strcasecmp(core_name(), "prescott") == 0;
  ::dlclose(blas);
  if (!fell_back) return "";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
}

}  // namespace tzrec
