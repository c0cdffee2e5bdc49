// Writes a torch.distributed.checkpoint directory as one rank of
// torch.distributed.checkpoint.save would: `__0_0.distcp` holding each tensor
// as a torch.save archive, and `.metadata` (the pickled Metadata) naming
// every tensor's global shape, dtype, its single chunk and byte range. torch's
// dcp.load (and so TorchEasyRec's restore) reads it, resharding each tensor
// onto whatever layout it loads into.
#pragma once

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace tzrec::checkpoint {

struct DcpItem {
  // Flattened key, e.g. "model.deep.mlp.0.perceptron.0.weight" or
  // "state.model.deep.mlp.0.perceptron.0.weight.exp_avg".
  std::string fqn;
  // The key path in the nested state dict it flattens (planner_data);
  // empty: {fqn}.
  std::vector<std::string> path;
  at::Tensor tensor;
  // To write one chunk of a larger tensor (several items of one fqn make a
  // sharded tensor, as ranks of a row- or column-wise table would): the
  // tensor's global shape and this chunk's offsets in it. Empty: the item
  // is the whole tensor.
  std::vector<int64_t> global_size;
  std::vector<int64_t> offsets;
};

// Writes `items` into the directory `dir` (created; must not hold another
// checkpoint's files), in their order. Error naming the file on I/O failure.
void WriteDcpDirectory(const std::string& dir, const std::vector<DcpItem>& items);

}  // namespace tzrec::checkpoint
