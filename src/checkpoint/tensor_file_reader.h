// Streaming access to a tensor file (a pickled Dict[str, Tensor] in PyTorch's
// zip format, as torch.save and checkpoint::WriteTensorFile write it) without
// loading it whole.
//
// Opening parses only the small pickle record: names, dtypes and shapes are
// known at once, and no tensor byte is read. Tensor data is then read one
// tensor, or one row range, at a time, straight from the file into memory the
// caller owns, so reading a checkpoint table by table needs memory for one
// table (or one block of rows) rather than for the whole file.
//
// Why this works: torch.save and PyTorchStreamWriter store tensor records
// uncompressed (each record's data 64-byte aligned), so a record is a plain
// byte range of the file. The reader maps the file read-only and lets
// PyTorch's own unpickler build every tensor as a view into that mapping;
// nothing is touched until asked for. A record that is compressed (a zip
// rewritten by another tool) is still read correctly, through the zip reader.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <ATen/core/Tensor.h>

namespace tzrec::checkpoint {

// What the file says about one tensor.
struct TensorEntry {
  std::string name;
  at::ScalarType dtype = at::kFloat;
  std::vector<int64_t> shape;

  int64_t numel() const;
  int64_t nbytes() const;
  // shape[0], or 1 for a scalar.
  int64_t rows() const;
};

class TensorFileReader {
 public:
  // Opens and indexes `path`. Error naming the file when it is missing, not a
  // PyTorch zip file, or not a dict of str -> tensor.
  explicit TensorFileReader(const std::string& path);
  ~TensorFileReader();
  TensorFileReader(const TensorFileReader&) = delete;
  TensorFileReader& operator=(const TensorFileReader&) = delete;

  const std::string& path() const { return path_; }

  // Every tensor, in the file's (pickle) order.
  const std::vector<TensorEntry>& entries() const { return entries_; }
  // nullptr when the file has no tensor `name`.
  const TensorEntry* Find(const std::string& name) const;
  // Error naming the file and `name` when absent.
  const TensorEntry& Entry(const std::string& name) const;

  // The tensor as a new contiguous CPU tensor; reads only its bytes.
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

  // A read-only tensor backed by the file mapping itself (no copy). It keeps
  // the mapping alive; pages come in as they are touched and count towards
  // the process' memory until Release() or the mapping goes away. Writing to
  // it is not allowed (the mapping is read-only: a write faults).
  at::Tensor Map(const std::string& name) const;
  // Drops the pages of `name` that Map() views brought in. Views stay valid
  // (touched again, the pages are read again).
  void Release(const std::string& name) const;

  // Every tensor, read (convenience for small files).
  std::unordered_map<std::string, at::Tensor> ReadAll() const;

 private:
  struct Mapping;

  // The mapped view of `name` (what the unpickler built).
  const at::Tensor& View(const std::string& name) const;
  // Reads `length` bytes at `offset` of the file into `dest`.
  void ReadBytes(int64_t offset, int64_t length, void* dest, const std::string& name) const;

  std::string path_;
  std::shared_ptr<Mapping> mapping_;
  std::vector<TensorEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
  // Per entry: the tensor as the unpickler built it; a view into the mapping,
  // or (for a record the zip stores compressed, which torch.save never
  // writes) memory holding the record inflated at open time.
  std::vector<at::Tensor> views_;
};

}  // namespace tzrec::checkpoint
