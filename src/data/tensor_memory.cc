#include "data/tensor_memory.h"

#include <malloc.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

namespace tzrec::data {
namespace {

// Alignment of small tensors: what libtorch's own allocator uses (AVX-512 loads).
constexpr size_t kSmallAlignment = 64;

void FreeTensorMemory(void* data) { std::free(data); }

class TensorAllocator final : public c10::Allocator {
 public:
#if TORCH_VERSION_MAJOR >= 2  // libtorch 2's Allocator::allocate is no longer const
  c10::DataPtr allocate(size_t nbytes) override {
#else
  c10::DataPtr allocate(size_t nbytes) const override {
#endif
    void* data = nullptr;
    if (nbytes > 0) {
      const bool huge = nbytes >= kHugePageBytes;
      // Rounding a huge block up to whole huge pages lets madvise cover all of it.
      const size_t size = huge ? (nbytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes : nbytes;
      if (posix_memalign(&data, huge ? kHugePageBytes : kSmallAlignment, size) != 0) {
        throw std::bad_alloc();
      }
      // Advice only: where transparent huge pages are off it changes nothing.
      if (huge) madvise(data, size, MADV_HUGEPAGE);
    }
    return {data, data, &FreeTensorMemory, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &FreeTensorMemory; }

#if TORCH_VERSION_MAJOR >= 2  // libtorch 2's Allocator::copy_data (used by clone()) is pure virtual
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
#endif
};

std::atomic<bool> installed{false};

}  // namespace

void InstallTensorMemoryPolicy() {
  if (installed.exchange(true)) return;
  // Blocks up to 32 MiB (glibc's largest heap threshold) come from the heap
  // and freed heap memory is never trimmed: the next batch (or the next model
  // load) reuses pages already faulted in. Without this, glibc unmaps freed
  // blocks above its dynamic mmap threshold and trims the heap when more than
  // twice that threshold is free at its top, which for batch activations
  // happens on every call.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, -1);
  static TensorAllocator allocator;
  // The priority of libtorch's default allocator is 0; ours replaces it.
  c10::SetCPUAllocator(&allocator, /*priority=*/1);
}

bool TensorMemoryPolicyInstalled() { return installed.load(); }

}  // namespace tzrec::data
