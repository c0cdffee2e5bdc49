#include "checkpoint/state_reader.h"

#include <filesystem>

#include <ATen/ATen.h>

#include "checkpoint/dcp_reader.h"
#include "checkpoint/tensor_file_reader.h"
#include "common/error.h"

namespace fs = std::filesystem;

namespace tzrec::checkpoint {

int64_t TensorEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t TensorEntry::nbytes() const { return numel() * static_cast<int64_t>(c10::elementSize(dtype)); }

int64_t TensorEntry::rows() const { return shape.empty() ? 1 : shape[0]; }

void StateReader::AddEntry(TensorEntry entry) {
  index_[entry.name] = entries_.size();
  entries_.push_back(std::move(entry));
}

const TensorEntry* StateReader::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

size_t StateReader::IndexOf(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) Fail("{} has no tensor {}", path_, name);
  return it->second;
}

const TensorEntry& StateReader::Entry(const std::string& name) const {
  const TensorEntry* entry = Find(name);
  if (entry == nullptr) Fail("{} has no tensor {}", path_, name);
  return *entry;
}

at::Tensor StateReader::Read(const std::string& name) const {
  const TensorEntry& entry = Entry(name);
  if (entry.shape.empty()) return Map(name).clone();
  return ReadRows(name, 0, entry.rows());
}

at::Tensor StateReader::ReadRows(const std::string& name, int64_t begin, int64_t end) const {
  const TensorEntry& entry = Entry(name);
  std::vector<int64_t> shape = entry.shape;
  if (!shape.empty()) shape[0] = std::max<int64_t>(0, end - begin);
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(entry.dtype));
  ReadRowsInto(name, begin, end, out.data_ptr());
  return out;
}

int64_t StateReader::RowBytes(const std::string& name) const {
  const TensorEntry& entry = Entry(name);
  return entry.rows() == 0 ? 0 : entry.nbytes() / entry.rows();
}

void StateReader::ReadRowsInto(const std::string& name, int64_t begin, int64_t end, void* dest) const {
  const TensorEntry& entry = Entry(name);
  if (entry.shape.empty()) Fail("tensor {} of {} is a scalar: it has no rows", name, path_);
  if (begin < 0 || end < begin || end > entry.rows()) {
    Fail("rows [{}, {}) are outside tensor {} of {} ({} rows)", begin, end, name, path_, entry.rows());
  }
  if (end == begin || RowBytes(name) == 0) return;
  ReadRowsOf(entry, begin, end, dest);
}

std::unordered_map<std::string, at::Tensor> StateReader::ReadAll() const {
  std::unordered_map<std::string, at::Tensor> out;
  for (const TensorEntry& entry : entries_) out[entry.name] = Read(entry.name);
  return out;
}

std::unique_ptr<StateReader> OpenStateDir(const std::string& checkpoint_path, const std::string& subdir) {
  const fs::path dir = fs::path(checkpoint_path) / subdir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return nullptr;
  if (fs::exists(dir / kDcpMetadataFile, ec)) return std::make_unique<DcpReader>(dir.string());
  if (fs::exists(dir / kTensorFileName, ec)) {
    return std::make_unique<TensorFileReader>((dir / kTensorFileName).string());
  }
  Fail("checkpoint {}: {}/ holds neither {} (torch.distributed.checkpoint) nor {}", checkpoint_path, subdir,
       kDcpMetadataFile, kTensorFileName);
}

}  // namespace tzrec::checkpoint
