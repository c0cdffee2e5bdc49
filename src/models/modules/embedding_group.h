// EmbeddingGroup: turns the model's input dict into one tensor per feature
// group, as upstream's tzrec.modules.embedding.EmbeddingGroup does for DEEP
// and WIDE groups:
//   - a sparse feature `f` is pooled (sum or mean) from its table with ids
//     data["f.values"] (int64, flat) and bag sizes data["f.lengths"] (int64 [B]),
//     weighted by data["f.weights"] for weighted features;
//   - a dense feature contributes data["f.values"] (float [B, value_dim]) as is;
//   - each group is the concatenation of its features, in config order.
// Tables live at emb_impls.__BASE__.ebc.embedding_bags.<table>.weight, the
// path upstream's state dict uses.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/script.h>

#include "config/protos/model.pb.h"
#include "features/feature.h"

namespace tzrec::models {

// How pooled tables are stored: FP32 for training; the rest are PyTorch's
// row-wise quantized embedding-bag formats used by export (QUANT_EMB).
enum class TableStorage { kFp32, kInt8, kInt4, kInt2 };

// "FP32", "INT8", "INT4", "INT2".
const char* TableStorageName(TableStorage storage);

struct EmbeddingGroupOptions {
  uint32_t wide_embedding_dim = 4;
  std::string wide_init_fn;  // replaces tables' init_fn in WIDE groups when set
  TableStorage storage = TableStorage::kFp32;
};

struct EmbeddingGroupLayout {
  // Per group, in config order: the width of each member, and their sum.
  std::map<std::string, std::vector<int64_t>> group_dims;
  std::map<std::string, int64_t> group_total_dim;
  // Module paths (relative to the group module) of every table's weight.
  std::vector<std::string> table_weight_paths;

  bool has_group(const std::string& name) const { return group_dims.count(name) > 0; }
  // ConfigError naming `model` when the group is missing.
  const std::vector<int64_t>& dims(const std::string& group, const std::string& model) const;
  int64_t total_dim(const std::string& group, const std::string& model) const;
};

struct EmbeddingGroup {
  // forward(data: Dict[str, Tensor]) -> Dict[str, Tensor], one entry per group.
  torch::jit::Module module;
  EmbeddingGroupLayout layout;
};

// ConfigError for group types other than DEEP/WIDE, sequence groups and
// encoders, dense features with dense embeddings, features outside the base
// data group: tzrec's builder does not handle those yet.
EmbeddingGroup BuildEmbeddingGroup(const std::vector<const Feature*>& features,
                                   const google::protobuf::RepeatedPtrField<protos::FeatureGroupConfig>& groups,
                                   const EmbeddingGroupOptions& options);

// A pooled table module for `storage`, with forward(values, offsets,
// per_sample_weights: Optional[Tensor]) -> Tensor[B, dim] (sum pooling).
// `weight` is the FP32 [rows, dim] table; quantized forms pack it.
torch::jit::Module BuildTable(const at::Tensor& weight, TableStorage storage);

// The packed buffer a quantized table holds for FP32 `weight`.
at::Tensor PackTable(const at::Tensor& weight, TableStorage storage);

// The initial FP32 table for `table` (torchrec's default uniform(+-sqrt(1/rows))
// unless init_fn says otherwise: nn.init.uniform_/normal_/zeros_/ones_/constant_).
at::Tensor InitTable(const EmbeddingTable& table);

}  // namespace tzrec::models
