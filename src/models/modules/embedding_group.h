// EmbeddingGroup: turns the model's input dict into the tensors of every
// feature group, as upstream's tzrec.modules.embedding.EmbeddingGroup does.
//
// DEEP and WIDE groups give one tensor [B, group width] each, the
// concatenation of their features in config order:
//   - a sparse feature `f` is pooled (sum or mean) from its table with ids
//     data["f.values"] (int64, flat) and bag sizes data["f.lengths"] (int64 [B]),
//     weighted by data["f.weights"] for weighted features;
//   - a dense feature contributes data["f.values"] (float [B, value_dim]) as is.
// Their tables live at emb_impls.__BASE__.ebc.embedding_bags.<table>.weight.
//
// A SEQUENCE group `g` gives three tensors:
//   - "g.query" [B, query width]: its non-sequence features, each pooled as
//     above (no weights: upstream's EmbeddingCollection ignores them);
//   - "g.sequence" [B, L, sequence width]: its sequence features, each
//     looked up per element (data["f.values"] ids, data["f.lengths"] elements
//     per row; a multi-value feature also has data["f.key_lengths"] ids per
//     element, pooled per element), padded with zeros to L, the longest
//     sequence of the batch;
//   - "g.sequence_length" int64 [B]: the first sequence feature's lengths.
// Dense sequence features read data["f.values"] [elements, dim] and
// data["f.lengths"].
//
// A DEEP group may nest sequence_groups (each named, or named after the DEEP
// group when it is the only one) that give the same three tensors, and
// sequence_encoders (modules/sequence_encoder.h) whose outputs are appended to
// the DEEP group's tensor; they live at
// _group_name_to_seq_encoders.<group>.<i>, upstream's path. Their tables live at
// seq_emb_impls.__BASE__.ec_dict.<embedding_dim>.embeddings.<table>.weight, the
// path of upstream's EmbeddingCollection per dim.
//
// Embedded-inputs mode (EmbeddingGroupOptions::embedded_inputs), for the
// distributed-embedding export's dense graph: the module owns no tables and
// reads, instead of ids, the embeddings a separate lookup service computed:
//   - a sparse feature of a DEEP/WIDE group: data["<key>__ebc"], float [B, dim],
//     already pooled with the feature's pooling and weights;
//   - a sparse feature of a SEQUENCE group: data["<key>__ec"], float [N, dim]
//     jagged values (sequence features: one row per sequence element, a
//     multi-value element already pooled; query features: one row per id),
//     with data["<key>__lengths"], int64 [B], rows per sample;
//   - dense features still read data["f.values"] (and "f.lengths" for dense
//     sequences).
// `<key>` is the feature name, or "<feature>@<table>" when the feature reads
// more than one table in the same kind of group (e.g. a DEEP and a WIDE
// table), as torchrec names such outputs. EmbeddingGroupLayout::embedded_inputs
// lists every such input with the table it comes from.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/script.h>

#include "config/protos/model.pb.h"
#include "features/feature.h"
#include "models/modules/embedding_table.h"
#include "models/modules/table_storage.h"

namespace tzrec::models {

struct EmbeddingGroupOptions {
  uint32_t wide_embedding_dim = 4;
  std::string wide_init_fn;  // replaces tables' init_fn in WIDE groups when set
  // Pooled tables (DEEP/WIDE groups, QUANT_EMB).
  TableStorage storage = TableStorage::kFp32;
  // Sequence-group tables (QUANT_EC_EMB).
  TableStorage sequence_storage = TableStorage::kFp32;
  // Read looked-up embeddings instead of ids; no tables (see above).
  bool embedded_inputs = false;
  // Tables are allocated in their storage form but not initialised: export
  // overwrites every value from the checkpoint, so random init and packing
  // would be wasted work on tables of millions of rows.
  bool tables_restored_later = false;
  // INPUT_TILE=3 (upstream's "tile after embedding"): the ids of user-side
  // sparse features hold one request's user (batch 1) and are looked up once;
  // the looked-up rows (pooled, query or jagged sequence rows with their
  // lengths) are repeated data["batch_size"] times. Dense inputs arrive tiled.
  // Ignored with embedded_inputs (those arrive looked up).
  bool tile_user_embeddings = false;
};

// One input of the embedded-inputs mode.
struct EmbeddedInput {
  std::string key;          // "<key>__ebc" or "<key>__ec"
  std::string lengths_key;  // "<key>__lengths" for "__ec" inputs, else ""
  std::string feature;      // the feature's name
  std::string table;        // table name
  // Module path of the table's weight in the ids-mode group module (the
  // state-dict name is "model.embedding_group." + table_path for rank models).
  std::string table_path;
  int64_t dim = 0;
  // true: jagged "__ec" rows (sequence group); false: pooled "__ebc" [B, dim].
  bool jagged = false;
  Pooling pooling = Pooling::kSum;
};

struct EmbeddingGroupLayout {
  // Per group, in config order: the width of each member, and their sum.
  // SEQUENCE groups appear as "<group>.query" and "<group>.sequence", as
  // upstream's group_total_dim names them.
  std::map<std::string, std::vector<int64_t>> group_dims;
  std::map<std::string, int64_t> group_total_dim;
  // SEQUENCE group names, in config order (not the sequence_groups nested in
  // DEEP groups, which their encoders consume).
  std::vector<std::string> sequence_groups;
  // Module paths (relative to the group module) of every table's weight, and
  // the storage each has.
  std::vector<std::string> table_weight_paths;
  std::map<std::string, TableStorage> table_storage;
  // The embedded-inputs mode's inputs, in first-use order (filled in both
  // modes, so an export can build the ids model and the dense graph alike).
  std::vector<EmbeddedInput> embedded_inputs;

  bool has_group(const std::string& name) const { return group_dims.count(name) > 0; }
  bool is_sequence_group(const std::string& name) const;
  // ConfigError naming `model` when the group is missing.
  const std::vector<int64_t>& dims(const std::string& group, const std::string& model) const;
  int64_t total_dim(const std::string& group, const std::string& model) const;
};

struct EmbeddingGroup {
  // forward(data: Dict[str, Tensor]) -> Dict[str, Tensor], entries as above.
  torch::jit::Module module;
  EmbeddingGroupLayout layout;
};

// ConfigError for JAGGED_SEQUENCE groups, sequence encoders other than DIN,
// simple attention and pooling, dense features with dense embeddings, features
// outside the base data group: tzrec's builder does not handle those yet.
EmbeddingGroup BuildEmbeddingGroup(const std::vector<const Feature*>& features,
                                   const google::protobuf::RepeatedPtrField<protos::FeatureGroupConfig>& groups,
                                   const EmbeddingGroupOptions& options);

}  // namespace tzrec::models
