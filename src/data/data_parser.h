// CSV rows -> model input tensors: runs the FG engine over a RowBatch and
// adds label and sample-weight tensors. Tensor names follow the scripted model:
//   sparse:           <f>.values int64 [N], <f>.lengths int64 [B], <f>.weights float [N]
//   dense:            <f>.values float [B, dim]
//   sparse sequence:  <f>.values int64 [N], <f>.lengths int64 [B] (elements per row),
//                     <f>.key_lengths int64 [elements] when value_dim != 1
//   dense sequence:   <f>.values float [elements, dim], <f>.lengths int64 [B]
//   labels:           <label> int64 [B] when the column holds integers, else float [B]
//   sample weights:   <field> float [B]
#pragma once

#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <ATen/ATen.h>

#include "data/csv_reader.h"
#include "data/negative_sampler.h"
#include "features/fg/feature_batch.h"
#include "features/fg/fg_engine.h"

namespace tzrec::data {

using TensorMap = std::unordered_map<std::string, at::Tensor>;

struct DataParserOptions {
  std::vector<std::string> label_fields;
  std::vector<std::string> sample_weight_fields;
  // Match models trained against sampled negatives: each batch's features
  // reading the sampler's attr_fields (`negative_features`: the __NEG__ data
  // group, or __BASE__ with force_base_data_group) get the sampler's rows
  // after the batch's own (B + num_sample rows; every other tensor keeps B).
  std::shared_ptr<NegativeSampler> negative_sampler;
  std::vector<std::string> negative_features;
  uint64_t seed = 0;
};

// Adds the tensors of every feature in `batch` to `out`.
void AddFeatureTensors(const fg::FeatureBatch& batch, TensorMap& out);

class DataParser {
 public:
  // `engine` must outlive the parser; use one parser per thread.
  DataParser(const fg::FgEngine* engine, DataParserOptions options);

  // Model inputs (+ labels, sample weights) of the rows in `rows`; rows the
  // engine skipped as bad are left out of every tensor. `*skipped` (optional)
  // receives how many were skipped.
  TensorMap Parse(const RowBatch& rows, int64_t* skipped = nullptr);

  const fg::FgEngine& engine() const { return *engine_; }

 private:
  at::Tensor ParseLabel(const RowBatch& rows, size_t label_index, const std::vector<int64_t>& keep);
  void AddNegatives(const RowBatch& rows, const std::vector<int64_t>& keep, TensorMap& out);

  const fg::FgEngine* engine_;
  DataParserOptions options_;
  // Label dtype, fixed by the first batch: integers -> int64, otherwise float.
  std::vector<int> label_is_int_;  // -1 unknown, 0 float, 1 int
  fg::FeatureBatch features_;      // reused across batches
  // The __NEG__ features' FG, run over sampled rows only.
  std::unique_ptr<fg::FgEngine> negative_engine_;
  std::mt19937_64 rng_;
  RowBatch negative_rows_;
  fg::FeatureBatch negative_features_;
};

}  // namespace tzrec::data
