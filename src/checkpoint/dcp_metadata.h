// The `.metadata` of a torch.distributed.checkpoint (DCP) directory, read
// into plain structs: which tensors the checkpoint holds, their global shapes
// and dtypes, the chunks each was saved in, and where each chunk's bytes lie
// (file, offset, length). Facts: docs/checkpoints.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <c10/core/ScalarType.h>

namespace tzrec::checkpoint {

inline constexpr char kDcpMetadataFile[] = ".metadata";

// A byte range of one data file of the directory.
struct DcpStorage {
  std::string relative_path;
  int64_t offset = 0;
  int64_t length = 0;
};

// One saved piece of a tensor: the block [offsets, offsets + sizes).
struct DcpChunk {
  std::vector<int64_t> offsets;
  std::vector<int64_t> sizes;
  DcpStorage storage;
};

struct DcpTensor {
  std::string fqn;
  at::ScalarType dtype = at::kFloat;
  std::vector<int64_t> size;
  std::vector<DcpChunk> chunks;
};

// A non-tensor leaf (an int, a string, a list): its bytes are a torch.save
// of the object.
struct DcpBytes {
  std::string fqn;
  DcpStorage storage;
};

struct DcpMetadata {
  std::vector<DcpTensor> tensors;  // in the file's order
  std::vector<DcpBytes> bytes;
  // Flattened key -> the path of keys in the nested state dict it came from
  // ("state.<param>.<table>.momentum1" -> ["state", "<param>", "<table>.momentum1"]).
  std::map<std::string, std::vector<std::string>> planner_data;
};

// Reads and checks `<dir>/.metadata`: every chunk has its storage entry, its
// block lies inside the tensor, the chunks of a tensor cover it exactly once
// (identical replicas collapse to one), the data files exist and hold each
// range. One-line errors name the directory and what is wrong; formats tzrec
// does not read (safetensors items, stream transforms) are refused by name.
DcpMetadata ReadDcpMetadata(const std::string& dir);

// torch's name of a dtype ("float32") and back; nullopt-free: Error on names
// tzrec does not know.
at::ScalarType DtypeFromTorchName(const std::string& name, const std::string& where);
std::string TorchDtypeName(at::ScalarType dtype);

}  // namespace tzrec::checkpoint
