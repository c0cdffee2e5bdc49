// Streaming access to a tensor file (a pickled Dict[str, Tensor] in PyTorch's
// zip format, as torch.save and checkpoint::WriteTensorFile write it) without
// loading it whole: tzrec's older checkpoint layout, model/state_dict.pt.
//
// Opening parses only the small pickle record (torch_archive.h): names,
// dtypes and shapes are known at once, and no tensor byte is read. Tensor
// data is then read one tensor, or one row range, at a time, straight from
// the file into memory the caller owns, so reading a checkpoint table by
// table needs memory for one table (or one block of rows), not the file.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "checkpoint/state_reader.h"

namespace tzrec::checkpoint {

// The file name of the older layout inside model/ and optimizer/.
inline constexpr char kTensorFileName[] = "state_dict.pt";

class MappedFile;

class TensorFileReader : public StateReader {
 public:
  // Opens and indexes `path`. Error naming the file when it is missing, not a
  // PyTorch zip file, or not a dict of str -> tensor.
  explicit TensorFileReader(const std::string& path);
  ~TensorFileReader() override;

  at::Tensor Map(const std::string& name) const override;
  void Release(const std::string& name) const override;

 private:
  void ReadRowsOf(const TensorEntry& entry, int64_t begin, int64_t end, void* dest) const override;
  // The mapped view of `name` (what the unpickler built).
  const at::Tensor& View(const std::string& name) const;

  std::shared_ptr<MappedFile> file_;
  // Per entry, in entries() order (IndexOf): the tensor as the unpickler built it; a
  // view into the mapping, or (for a record the zip stores compressed, which
  // torch.save never writes) memory holding the inflated record.
  std::vector<at::Tensor> views_;
};

}  // namespace tzrec::checkpoint
