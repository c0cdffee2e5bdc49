// Tensors of a torch.distributed.checkpoint directory (TorchEasyRec's
// model.ckpt-<step>/model/, optimizer/, dense_ema/), read as whole tensors
// whatever sharding wrote them.
//
// Each tensor was saved as chunks (blocks of its global shape: row blocks for
// row-wise tables, column blocks for column-wise ones, one block for a
// table-wise or replicated tensor), and each chunk is a torch.save archive
// lying at a byte range of one `.distcp` file. The reader maps the data files
// and views every chunk in place (torch_archive.h); reading rows of a table
// copies from each chunk that holds some of them straight into the caller's
// memory, so a table is assembled block by block and never needs memory of
// its own. Older checkpoints' `ec_list.<i>` sequence tables are read under
// their current name `ec_dict.<dim>`, as upstream's restore does.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "checkpoint/dcp_metadata.h"
#include "checkpoint/state_reader.h"

namespace tzrec::checkpoint {

class MappedFile;

class DcpReader : public StateReader {
 public:
  // Reads and checks `dir`/.metadata (dcp_metadata.h); no tensor byte is read.
  explicit DcpReader(const std::string& dir);
  ~DcpReader() override;

  const DcpMetadata& metadata() const { return metadata_; }

  // A view of the mapping when the tensor was saved as one chunk; else the
  // tensor assembled from its chunks.
  at::Tensor Map(const std::string& name) const override;
  void Release(const std::string& name) const override;

 private:
  void ReadRowsOf(const TensorEntry& entry, int64_t begin, int64_t end, void* dest) const override;
  const DcpTensor& TensorOf(const std::string& name) const;
  // Chunk `index` of `tensor`, viewed in place (opened on first use).
  at::Tensor ChunkView(const DcpTensor& tensor, size_t index) const;
  const MappedFile& FileOf(const DcpChunk& chunk) const;

  std::string dir_;
  DcpMetadata metadata_;  // tensors[i] is entries()[i]
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::shared_ptr<MappedFile>> files_;
  mutable std::map<std::pair<size_t, size_t>, at::Tensor> views_;
};

}  // namespace tzrec::checkpoint
