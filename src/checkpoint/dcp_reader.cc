#include "checkpoint/dcp_reader.h"

#include <filesystem>
#include <regex>

#include <ATen/ATen.h>
#include <fmt/ranges.h>

#include "checkpoint/torch_archive.h"
#include "common/error.h"

namespace fs = std::filesystem;

namespace tzrec::checkpoint {

namespace {

// ".ec_list.<i>." (and ".mc_ec_list.<i>.") of a 2-D table weight -> ".ec_dict.<dim>.".
std::string CurrentTableName(const std::string& fqn, const std::vector<int64_t>& size) {
  static const std::regex kOld(R"(\.(mc_)?ec_list\.\d+\.)");
  std::smatch m;
  if (size.size() != 2 || fqn.size() < 7 || fqn.compare(fqn.size() - 7, 7, ".weight") != 0 ||
      !std::regex_search(fqn, m, kOld)) {
    return fqn;
  }
  return m.prefix().str() + "." + m[1].str() + "ec_dict." + std::to_string(size[1]) + "." + m.suffix().str();
}

}  // namespace

DcpReader::DcpReader(const std::string& dir) : StateReader(dir), dir_(dir), metadata_(ReadDcpMetadata(dir)) {
  for (size_t i = 0; i < metadata_.tensors.size(); ++i) {
    const DcpTensor& t = metadata_.tensors[i];
    TensorEntry entry;
    entry.name = CurrentTableName(t.fqn, t.size);
    entry.dtype = t.dtype;
    entry.shape = t.size;
    if (Find(entry.name) != nullptr) Fail("cannot read {}: tensor {} is saved twice", dir, entry.name);
    AddEntry(std::move(entry));
  }
}

DcpReader::~DcpReader() = default;

const DcpTensor& DcpReader::TensorOf(const std::string& name) const { return metadata_.tensors[IndexOf(name)]; }

const MappedFile& DcpReader::FileOf(const DcpChunk& chunk) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& file = files_[chunk.storage.relative_path];
  if (!file) file = MappedFile::Open((fs::path(dir_) / chunk.storage.relative_path).string());
  return *file;
}

at::Tensor DcpReader::ChunkView(const DcpTensor& tensor, size_t index) const {
  const size_t tensor_at = static_cast<size_t>(&tensor - metadata_.tensors.data());
  const DcpChunk& chunk = tensor.chunks[index];
  FileOf(chunk);
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = views_.find({tensor_at, index});
  if (it != views_.end()) return it->second;
  const std::string what = fmt::format("{} (tensor {}, chunk at [{}])", (fs::path(dir_) / chunk.storage.relative_path).string(),
                                       tensor.fqn, fmt::join(chunk.offsets, ", "));
  const c10::IValue value =
      LoadTorchArchive(files_.at(chunk.storage.relative_path), chunk.storage.offset, chunk.storage.length, what);
  if (!value.isTensor()) Fail("cannot read {}: the item is not a tensor", what);
  at::Tensor view = value.toTensor();
  if (view.scalar_type() != tensor.dtype || view.sizes().vec() != chunk.sizes) {
    Fail("cannot read {}: the item is a {} tensor of shape {}, the metadata says {} [{}]", what,
         c10::toString(view.scalar_type()), c10::str(view.sizes()), c10::toString(tensor.dtype),
         fmt::join(chunk.sizes, ", "));
  }
  views_[{tensor_at, index}] = view;
  return view;
}

void DcpReader::ReadRowsOf(const TensorEntry& entry, int64_t begin, int64_t end, void* dest) const {
  const DcpTensor& tensor = TensorOf(entry.name);
  std::vector<int64_t> shape = entry.shape;
  shape[0] = end - begin;
  const at::Tensor out = at::from_blob(dest, shape, at::TensorOptions().dtype(entry.dtype));
  for (size_t i = 0; i < tensor.chunks.size(); ++i) {
    const DcpChunk& chunk = tensor.chunks[i];
    const int64_t first = std::max(begin, chunk.offsets[0]);
    const int64_t last = std::min(end, chunk.offsets[0] + chunk.sizes[0]);
    if (first >= last) continue;
    const at::Tensor source = ChunkView(tensor, i).narrow(0, first - chunk.offsets[0], last - first);
    at::Tensor target = out.narrow(0, first - begin, last - first);
    for (size_t d = 1; d < shape.size(); ++d) target = target.narrow(d, chunk.offsets[d], chunk.sizes[d]);
    FileOf(chunk).CopyOut(source, target, "tensor " + entry.name);
  }
}

at::Tensor DcpReader::Map(const std::string& name) const {
  const DcpTensor& tensor = TensorOf(name);
  if (tensor.chunks.size() == 1 && tensor.chunks[0].sizes == tensor.size) {
    at::Tensor view = ChunkView(tensor, 0);
    VerifyRecord(view, "tensor " + name, /*drop_pages=*/false);
    return view;
  }
  return Read(name);
}

void DcpReader::Release(const std::string& name) const {
  const DcpTensor& tensor = TensorOf(name);
  const size_t tensor_at = static_cast<size_t>(&tensor - metadata_.tensors.data());
  for (size_t i = 0; i < tensor.chunks.size(); ++i) {
    at::Tensor view;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = views_.find({tensor_at, i});
      if (it == views_.end() || it->second.numel() == 0) continue;
      view = it->second;
    }
    FileOf(tensor.chunks[i]).Release(view.storage().data(), static_cast<int64_t>(view.storage().nbytes()));
  }
}

}  // namespace tzrec::checkpoint
