// .npz archives (artifacts/npz_reader.h): a distributed export's sparse/
// shards, read back by predict and serve. The zip (libzip), every .npy
// header and the arrays' bytes.
#include <cstdint>
#include <string>

#include "artifacts/npz_reader.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tzrec::fuzzing::WriteScratchFile("shard.npz", tzrec::fuzzing::AsView(data, size));
  tzrec::fuzzing::ExpectOnlyTzrecErrors([&] {
    for (const auto& [name, array] : tzrec::artifacts::ReadNpz(path)) {
      (void)name;
      (void)array.data.numel();
    }
  });
  return 0;
}
