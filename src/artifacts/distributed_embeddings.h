// Prediction on a distributed-embedding export (USE_DISTRIBUTED_EMBEDDING=1):
// the export's scripted_model.pt is only the dense graph, so the embeddings
// it takes must be looked up first, the way the serving side's embedding
// store does it. DistributedEmbeddings plays that store: it loads the tables
// from sparse/sparse_embeddings-<i>-of-<n>.npz (row ranges as
// sparse_embedding.json gives them; upstream's one-shard exports too), and
// turns a batch of ids into the graph's inputs:
//   "<key>__ebc"  pooled rows of the feature's ids (sum, or mean as
//                 sparse_features.json says; weighted features weighted);
//   "<key>__ec"   one row per id of a sequence-group feature (a multi-value
//                 sequence element pooled over its ids), with "<key>__lengths".
// DIST_QUANT=INT8 rows are dequantized as they are looked up.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/script.h>

#include "config/protos/pipeline.pb.h"
#include "features/feature_factory.h"
#include "models/model.h"

namespace tzrec::artifacts {

class DistributedEmbeddings {
 public:
  // Whether `export_dir` holds a distributed-embedding export
  // (dense_meta.json and sparse/sparse_embedding.json).
  static bool IsDistributedExport(const std::string& export_dir);

  // Loads the tables. `config`: the export's pipeline.config (its features
  // say which inputs carry each feature's ids). Error naming the file at
  // fault when a shard or its metadata is missing or inconsistent.
  DistributedEmbeddings(const std::string& export_dir, const protos::EasyRecConfig& config);
  ~DistributedEmbeddings();

  // Adds every embedding input of the dense graph computed from the ids in
  // `inputs` to `out`. Error naming the feature and table for an id outside
  // the table.
  void AddEmbeddings(const models::TensorMap& inputs, c10::Dict<std::string, at::Tensor>& out) const;

  // Table by npz name: float [rows, dim], or for INT8 uint8 [rows, dim + 4].
  const at::Tensor& table(const std::string& name) const;
  // The float rows `ids` of table `name` (dequantized for INT8).
  at::Tensor Rows(const std::string& name, const at::Tensor& ids) const;

 private:
  struct Table {
    at::Tensor data;
    int64_t dim = 0;
    bool quantized = false;
  };
  struct Input {
    std::string key;      // "<key>__ebc" / "<key>__ec"
    std::string table;
    const Feature* feature = nullptr;
    bool jagged = false;
    bool mean = false;
  };

  const Table& FindTable(const std::string& name) const;
  at::Tensor Pooled(const Input& input, const models::TensorMap& inputs) const;

  std::string export_dir_;
  FeatureList features_;
  std::map<std::string, Table> tables_;
  std::vector<Input> inputs_;
};

}  // namespace tzrec::artifacts
