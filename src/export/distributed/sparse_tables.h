// The sparse half of a distributed-embedding export: which embedding tables
// it writes and what the serving side needs to know about them, in upstream's
// layout (export_dir/sparse/):
//
//   sparse_embeddings-<i>-of-<n>.npz   one array per table, keyed by the
//       table's state-dict name without ".weight"
//       ("model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.<table>"):
//       float rows, or with DIST_QUANT=INT8 uint8 rows of dim + 4 bytes (see
//       row_quant.h). Shard <i> holds rows [i*R/n, (i+1)*R/n) of every table.
//   sparse_embeddings-<i>-of-<n>.json  per table of the shard: feat_name_impl,
//       dense, is_dynamic, dimension, dtype, (storage_dtype, storage_shape,
//       row_bytes,) memory, shape, (quant,) as upstream, then "row_range":
//       [first, end) global rows the shard holds (tzrec addition).
//   sparse_embedding.json              the shards merged as upstream merges
//       them (shape and memory summed), "row_range" the whole table and
//       "shards": [{"file", "row_range"}] saying where each range lives.
//   sparse_features.json               "<key>__ebc" / "<key>__ec" ->
//       {embedding_name, pooling ("SUM", "MEAN"; "NONE" for sequences)}.
//
// Upstream always writes one shard (sparse_embeddings-00-of-01); splitting by
// rows (--num_shards) is tzrec's, so that several embedding servers can each
// load one shard.
//
// Tables are read from the checkpoint and written in blocks of rows, never
// whole: the memory a table needs is one block (64 MiB by default) however
// large the table is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "checkpoint/state_reader.h"
#include "features/feature.h"

namespace tzrec::exporting::distributed {

// One embedding input of the dense graph and the table it is looked up in.
struct SparseInput {
  std::string key;         // "<key>__ebc" (pooled) or "<key>__ec" (sequence rows)
  std::string state_name;  // the table's checkpoint tensor ("...embedding_bags.<t>.weight")
  int64_t dim = 0;
  bool jagged = false;     // "__ec": rows per element, no pooling
  Pooling pooling = Pooling::kSum;
};

struct SparseTable {
  std::string name;        // npz key: state_name without ".weight"
  std::string state_name;
  int64_t dim = 0;
  bool jagged = false;
  std::vector<std::string> feat_name_impl;  // the inputs reading it
};

struct SparsePlan {
  // Sequence ("__ec") tables first, then pooled ones, each in first-use
  // order, as upstream lists them.
  std::vector<SparseTable> tables;
  // sparse_features.json's content.
  nlohmann::ordered_json features = nlohmann::ordered_json::object();
};

SparsePlan PlanSparseTables(const std::vector<SparseInput>& inputs);

struct SparseExportOptions {
  bool quant_int8 = false;  // DIST_QUANT=INT8
  int num_shards = 1;
  // Rows are read, checked and written this many bytes (of checkpoint data)
  // at a time.
  int64_t block_bytes = int64_t{64} << 20;
};

// Checks every planned table against the checkpoint before anything is
// written: present, 2-D floating point, of the planned dim; INT8 dims even.
// Error (ConfigError for the dim) naming the table and the checkpoint file.
void CheckSparseTables(const SparsePlan& plan, const checkpoint::StateReader& checkpoint,
                       const SparseExportOptions& options);

// "sparse_embeddings-<i>-of-<n>" (two digits at least, as upstream).
std::string ShardName(int index, int num_shards);

// Writes the files above into `sparse_dir` (created). A non-finite weight is
// an Error naming the table and the row.
void WriteSparseTables(const SparsePlan& plan, const checkpoint::StateReader& checkpoint,
                       const std::string& sparse_dir, const SparseExportOptions& options);

}  // namespace tzrec::exporting::distributed
