// Reading a checkpoint's tensors one at a time, whatever its format.
//
// A checkpoint directory (model/, optimizer/, dense_ema/) is either tzrec's
// older single file (state_dict.pt, a torch.save dict) or a
// torch.distributed.checkpoint directory (.metadata + __<rank>_<n>.distcp) as
// TorchEasyRec and tzrec now write. Both give the same view: names, dtypes
// and global shapes known at open, no tensor byte read until asked for, and
// tensors read whole, by row range into the caller's memory, or mapped.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <ATen/core/Tensor.h>

namespace tzrec::checkpoint {

// What a checkpoint says about one tensor.
struct TensorEntry {
  std::string name;
  at::ScalarType dtype = at::kFloat;
  std::vector<int64_t> shape;

  int64_t numel() const;
  int64_t nbytes() const;
  // shape[0], or 1 for a scalar.
  int64_t rows() const;
};

class StateReader {
 public:
  virtual ~StateReader() = default;

  // The file or directory read (for messages).
  const std::string& path() const { return path_; }

  // Every tensor, in the checkpoint's order.
  const std::vector<TensorEntry>& entries() const { return entries_; }
  // nullptr when the checkpoint has no tensor `name`.
  const TensorEntry* Find(const std::string& name) const;
  // Error naming the checkpoint and `name` when absent.
  const TensorEntry& Entry(const std::string& name) const;

  // The tensor as a new contiguous CPU tensor.
  at::Tensor Read(const std::string& name) const;
  // Rows [begin, end) of dim 0 as a new contiguous tensor of shape
  // [end - begin, shape[1:]...]; Error when the range is outside the tensor
  // or the tensor is a scalar.
  at::Tensor ReadRows(const std::string& name, int64_t begin, int64_t end) const;
  // The same rows written to `dest` (C order, the tensor's dtype; room for
  // (end - begin) * RowBytes(name) bytes), for callers that reuse a buffer.
  void ReadRowsInto(const std::string& name, int64_t begin, int64_t end, void* dest) const;
  // Bytes of one row of dim 0 (the whole tensor for a scalar).
  int64_t RowBytes(const std::string& name) const;

  // The tensor with as little copying as the format allows: a read-only view
  // of the file mapping when the tensor lies in one piece (writing to it
  // faults), else a tensor assembled from its pieces. Pages a view brings in
  // count towards the process' memory until Release(name).
  virtual at::Tensor Map(const std::string& name) const = 0;
  // Drops the pages Map(name) views brought in; views stay valid.
  virtual void Release(const std::string& name) const = 0;

  // Every tensor, read (convenience for small checkpoints).
  std::unordered_map<std::string, at::Tensor> ReadAll() const;

 protected:
  explicit StateReader(std::string path) : path_(std::move(path)) {}
  void AddEntry(TensorEntry entry);
  // Position of `name` in entries() (the order entries were added); Error
  // naming the checkpoint and `name` when absent.
  size_t IndexOf(const std::string& name) const;
  // Rows [begin, end) of `entry` (checked: inside the tensor, not a scalar,
  // not empty) into dest.
  virtual void ReadRowsOf(const TensorEntry& entry, int64_t begin, int64_t end, void* dest) const = 0;

 private:
  std::string path_;
  std::vector<TensorEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// A checkpoint's subdirectory `subdir` ("model", "optimizer", "dense_ema"),
// in whichever format it holds: a directory with `.metadata` is read as
// torch.distributed.checkpoint, one with state_dict.pt as tzrec's older
// single file. nullptr when the subdirectory does not exist; Error naming it
// when it exists but holds neither.
std::unique_ptr<StateReader> OpenStateDir(const std::string& checkpoint_path, const std::string& subdir);

}  // namespace tzrec::checkpoint
