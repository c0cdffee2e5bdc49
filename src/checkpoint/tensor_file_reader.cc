#include "checkpoint/tensor_file_reader.h"

#include <ATen/ATen.h>

#include "checkpoint/torch_archive.h"
#include "common/error.h"

namespace tzrec::checkpoint {

TensorFileReader::TensorFileReader(const std::string& path) : StateReader(path) {
  file_ = MappedFile::Open(path);
  const c10::IValue value = LoadTorchArchive(file_, 0, file_->size(), path);
  if (!value.isGenericDict()) Fail("cannot read {}: expected a dict of tensors", path);
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString() || !item.value().isTensor()) {
      Fail("cannot read {}: expected a dict of str -> tensor", path);
    }
    at::Tensor tensor = item.value().toTensor();
    TensorEntry entry;
    entry.name = item.key().toStringRef();
    entry.dtype = tensor.scalar_type();
    entry.shape = tensor.sizes().vec();
    view_index_[entry.name] = views_.size();
    AddEntry(std::move(entry));
    views_.push_back(std::move(tensor));
  }
}

TensorFileReader::~TensorFileReader() = default;

const at::Tensor& TensorFileReader::View(const std::string& name) const {
  Entry(name);
  return views_[view_index_.at(name)];
}

void TensorFileReader::ReadRowsOf(const TensorEntry& entry, int64_t begin, int64_t end, void* dest) const {
  const at::Tensor rows = View(entry.name).narrow(0, begin, end - begin);
  const bool file_backed = file_->Contains(rows.data_ptr());
  if (file_backed && rows.is_contiguous()) {
    // The bytes lie in the file as they are: read them without mapping.
    const int64_t offset = static_cast<const char*>(rows.data_ptr()) - file_->data();
    file_->ReadBytes(offset, (end - begin) * RowBytes(entry.name), dest, "tensor " + entry.name);
    return;
  }
  std::vector<int64_t> shape = entry.shape;
  shape[0] = end - begin;
  at::from_blob(dest, shape, at::TensorOptions().dtype(entry.dtype)).copy_(rows);
  // A strided view was read through the mapping: give its pages back.
  if (file_backed) Release(entry.name);
}

at::Tensor TensorFileReader::Map(const std::string& name) const { return View(name); }

void TensorFileReader::Release(const std::string& name) const {
  const at::Tensor& view = View(name);
  if (view.numel() == 0) return;
  file_->Release(view.storage().data(), static_cast<int64_t>(view.storage().nbytes()));
}

}  // namespace tzrec::checkpoint
