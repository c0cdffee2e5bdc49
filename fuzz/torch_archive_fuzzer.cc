// torch.save archives as tzrec reads a state_dict.pt (checkpoint/
// tensor_file_reader.h over torch_archive.h and libtorch's unpickler): the
// zip directory and entry checks, the pickle, then every tensor mapped
// (its record's CRC-32 checked), read whole and read by rows.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "checkpoint/tensor_file_reader.h"
#include "checkpoint/torch_archive.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tzrec::fuzzing::WriteScratchFile("state_dict.pt", tzrec::fuzzing::AsView(data, size));
  tzrec::fuzzing::ExpectOnlyTzrecErrors([&] {
    const tzrec::checkpoint::TensorFileReader reader(path);
    for (const tzrec::checkpoint::TensorEntry& entry : reader.entries()) {
      const at::Tensor mapped = reader.Map(entry.name);
      const at::Tensor copy = reader.Read(entry.name);
      if (!copy.equal(mapped.contiguous())) {
        std::fprintf(stderr, "fuzz finding: Read and Map of %s differ\n", entry.name.c_str());
        std::abort();
      }
      if (!entry.shape.empty() && entry.rows() > 0) reader.ReadRows(entry.name, 0, entry.rows());
      reader.Release(entry.name);
    }
  });
  // The whole-file check export runs before torch::jit::load.
  tzrec::fuzzing::ExpectOnlyTzrecErrors([&] { tzrec::checkpoint::VerifyTorchArchiveFile(path); });
  return 0;
}
