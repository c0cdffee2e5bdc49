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
    AddEntry(std::move(entry));
    views_.push_back(std::move(tensor));
  }
}

TensorFileReader::~TensorFileReader() = default;

const at::Tensor& TensorFileReader::View(const std::string& name) const { return views_[IndexOf(name)]; }

void TensorFileReader::ReadRowsOf(const TensorEntry& entry, int64_t begin, int64_t end, void* dest) const {
  std::vector<int64_t> shape = entry.shape;
  shape[0] = end - begin;
  file_->CopyOut(View(entry.name).narrow(0, begin, end - begin),
                 at::from_blob(dest, shape, at::TensorOptions().dtype(entry.dtype)), "tensor " + entry.name);
}

at::Tensor TensorFileReader::Map(const std::string& name) const {
  const at::Tensor& view = View(name);
  VerifyRecord(view, "tensor " + name, /*drop_pages=*/false);
  return view;
}

void TensorFileReader::Release(const std::string& name) const {
  const at::Tensor& view = View(name);
  if (view.numel() == 0) return;
  file_->Release(view.storage().data(), static_cast<int64_t>(view.storage().nbytes()));
}

}  // namespace tzrec::checkpoint
