#include "checkpoint/dcp_writer.h"

#include <filesystem>
#include <map>

#include <ATen/ATen.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include "checkpoint/dcp_metadata.h"
#include "checkpoint/pickle.h"
#include "common/error.h"
#include "common/file_writer.h"

namespace fs = std::filesystem;

namespace tzrec::checkpoint {

namespace {

namespace pk = pickle;

constexpr char kDataFile[] = "__0_0.distcp";
constexpr char kMetadataModule[] = "torch.distributed.checkpoint.metadata.";

pk::ValuePtr Size(const std::vector<int64_t>& dims) {
  std::vector<pk::ValuePtr> items;
  for (int64_t d : dims) items.push_back(pk::Int(d));
  return pk::Call("torch.Size", {pk::Tuple(std::move(items))});
}

pk::ValuePtr Fields(std::vector<std::pair<std::string, pk::ValuePtr>> fields) {
  std::vector<std::pair<pk::ValuePtr, pk::ValuePtr>> entries;
  for (auto& [name, value] : fields) entries.emplace_back(pk::Str(name), std::move(value));
  return pk::Dict(std::move(entries));
}

pk::ValuePtr MetadataClass(const std::string& name, pk::ValuePtr state) {
  return pk::NewObject(kMetadataModule + name, std::move(state));
}

// TensorProperties pickles its state as (dtype, layout, requires_grad,
// memory-format enum, pin_memory).
pk::ValuePtr Properties(at::ScalarType dtype) {
  return MetadataClass(
      "TensorProperties",
      pk::Tuple({pk::Global("torch." + TorchDtypeName(dtype)),
                 pk::Call("torch.serialization._get_layout", {pk::Str("torch.strided")}), pk::Bool(false),
                 pk::Call(std::string(kMetadataModule) + "_MEM_FORMAT_ENCODING", {pk::Int(0)}), pk::Bool(false)}));
}

void WriteFile(const fs::path& path, const std::string& bytes) { WriteWholeFile(path.string(), bytes); }

}  // namespace

void WriteDcpDirectory(const std::string& dir, const std::vector<DcpItem>& items) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) Fail("cannot create {}: {}", dir, ec.message());
  FileWriter data((fs::path(dir) / kDataFile).string());

  // fqn -> (global size, dtype, chunk list), in first-seen order.
  struct Tensor {
    std::vector<int64_t> size;
    at::ScalarType dtype;
    std::vector<pk::ValuePtr> chunks;
  };
  std::vector<std::string> order;
  std::map<std::string, Tensor> tensors;
  std::vector<std::pair<pk::ValuePtr, pk::ValuePtr>> storage, planner;
  int64_t offset = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const DcpItem& item = items[i];
    const at::Tensor tensor = item.tensor.detach().contiguous();
    // One torch.save archive per chunk, as torch's writer stores them.
    const std::vector<char> bytes = torch::jit::pickle_save(tensor);
    data.Write(bytes.data(), bytes.size());
    const std::vector<int64_t> sizes = tensor.sizes().vec();
    const std::vector<int64_t> offsets = item.offsets.empty() ? std::vector<int64_t>(sizes.size(), 0) : item.offsets;
    const std::vector<int64_t> global = item.global_size.empty() ? sizes : item.global_size;
    auto [it, added] = tensors.try_emplace(item.fqn, Tensor{global, tensor.scalar_type(), {}});
    if (added) {
      order.push_back(item.fqn);
      std::vector<pk::ValuePtr> path;
      for (const std::string& part : item.path.empty() ? std::vector<std::string>{item.fqn} : item.path) {
        path.push_back(pk::Str(part));
      }
      planner.emplace_back(pk::Str(item.fqn), pk::Tuple(std::move(path)));
    } else if (it->second.size != global || it->second.dtype != tensor.scalar_type()) {
      Fail("checkpoint writer: chunks of {} disagree on its shape or dtype", item.fqn);
    }
    it->second.chunks.push_back(
        MetadataClass("ChunkStorageMetadata", Fields({{"offsets", Size(offsets)}, {"sizes", Size(sizes)}})));
    storage.emplace_back(
        MetadataClass("MetadataIndex",
                      Fields({{"fqn", pk::Str(item.fqn)},
                              {"offset", Size(offsets)},
                              {"index", pk::Int(static_cast<int64_t>(it->second.chunks.size() - 1))}})),
        pk::NewObject("torch.distributed.checkpoint.filesystem._StorageInfo",
                      Fields({{"relative_path", pk::Str(kDataFile)},
                              {"offset", pk::Int(offset)},
                              {"length", pk::Int(static_cast<int64_t>(bytes.size()))}})));
    offset += static_cast<int64_t>(bytes.size());
  }
  std::vector<std::pair<pk::ValuePtr, pk::ValuePtr>> tensor_metadata;
  for (const std::string& fqn : order) {
    Tensor& t = tensors.at(fqn);
    tensor_metadata.emplace_back(
        pk::Str(fqn), MetadataClass("TensorStorageMetadata", Fields({{"properties", Properties(t.dtype)},
                                                                     {"size", Size(t.size)},
                                                                     {"chunks", pk::List(std::move(t.chunks))}})));
  }
  data.Close();

  const pk::ValuePtr metadata = MetadataClass(
      "Metadata", Fields({{"state_dict_metadata", pk::Dict(std::move(tensor_metadata))},
                          {"planner_data", pk::Dict(std::move(planner))},
                          {"storage_data", pk::Dict(std::move(storage))},
                          {"storage_meta", pk::None()},
                          {"version", pk::Str("1.0.0")}}));
  WriteFile(fs::path(dir) / kDcpMetadataFile, pk::Serialize(*metadata));
}

}  // namespace tzrec::checkpoint
