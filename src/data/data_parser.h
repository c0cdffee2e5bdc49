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

#include <string>
#include <unordered_map>
#include <vector>

#include <ATen/ATen.h>

#include "data/csv_reader.h"
#include "features/fg/feature_batch.h"
#include "features/fg/fg_engine.h"

namespace tzrec::data {

using TensorMap = std::unordered_map<std::string, at::Tensor>;

struct DataParserOptions {
  std::vector<std::string> label_fields;
  std::vector<std::string> sample_weight_fields;
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

  const fg::FgEngine* engine_;
  DataParserOptions options_;
  // Label dtype, fixed by the first batch: integers -> int64, otherwise float.
  std::vector<int> label_is_int_;  // -1 unknown, 0 float, 1 int
  fg::FeatureBatch features_;      // reused across batches
};

}  // namespace tzrec::data
