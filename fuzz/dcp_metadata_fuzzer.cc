// A torch.distributed.checkpoint directory's `.metadata` (checkpoint/
// dcp_metadata.h): the pickle and every check ReadDcpMetadata makes on it
// (storage entries, chunk coverage, data files). The directory also holds a
// data file `__0_0.distcp` of 4 KiB starting as a torch.save item does
// ("PK"), so the checks that chunks lie inside their file are reached.
#include <cstdint>
#include <string>

#include "checkpoint/dcp_metadata.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool data_file_written = [] {
    tzrec::fuzzing::WriteScratchFile("__0_0.distcp", "PK" + std::string(4094, '\0'));
    return true;
  }();
  (void)data_file_written;
  tzrec::fuzzing::WriteScratchFile(".metadata", tzrec::fuzzing::AsView(data, size));
  tzrec::fuzzing::ExpectOnlyTzrecErrors([&] {
    const tzrec::checkpoint::DcpMetadata metadata =
        tzrec::checkpoint::ReadDcpMetadata(tzrec::fuzzing::ScratchDir().string());
    for (const auto& tensor : metadata.tensors) tzrec::checkpoint::TorchDtypeName(tensor.dtype);
  });
  return 0;
}
