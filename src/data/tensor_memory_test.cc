#include "data/tensor_memory.h"

#include <cstdint>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace tzrec::data {
namespace {

uintptr_t Address(const at::Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()); }

TEST(TensorMemory, LargeTensorsStartOnHugePageBoundariesAndKeepTheirValues) {
  InstallTensorMemoryPolicy();
  InstallTensorMemoryPolicy();  // a second call changes nothing
  ASSERT_TRUE(TensorMemoryPolicyInstalled());

  const at::Tensor large = at::arange(int64_t{3} << 20, at::kFloat);  // 12 MiB
  EXPECT_EQ(Address(large) % kHugePageBytes, 0u);
  EXPECT_FLOAT_EQ(large[(int64_t{3} << 20) - 1].item<float>(), static_cast<float>((3 << 20) - 1));

  const at::Tensor small = at::full({5}, 7, at::kLong);
  EXPECT_EQ(Address(small) % 64, 0u);
  EXPECT_EQ(small.sum().item<int64_t>(), 35);
  EXPECT_FALSE(at::empty({0}).data_ptr());
}

// Whether AddressSanitizer replaces malloc (gcc defines the first, clang has the second).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

TEST(TensorMemory, FreedBlocksAreReusedInsteadOfReturned) {
  if (kAddressSanitizer) {
    GTEST_SKIP() << "ASan's allocator quarantines freed blocks: the glibc malloc policy is not in use";
  }
  InstallTensorMemoryPolicy();
  // A batch-sized activation freed and allocated again comes back at the same
  // address: the heap kept it (glibc would otherwise have unmapped it).
  uintptr_t first = 0;
  {
    const at::Tensor activation = at::ones({4096, 512});  // 8 MiB
    first = Address(activation);
  }
  const at::Tensor again = at::zeros({4096, 512});
  EXPECT_EQ(Address(again), first);
}

}  // namespace
}  // namespace tzrec::data
