// FG output for a batch of rows, one column per model-input feature, laid out as
// the model's input tensors want it:
//   sparse:          ids [N], lengths [B] (+ weights [N] for weighted ids)
//   dense:           dense [B * dim]
//   sparse sequence: ids [N], lengths [elements] (values per element, the
//                    model's `.key_lengths`), seq_lengths [B]
//   dense sequence:  dense [elements * dim], seq_lengths [B]
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tzrec::fg {

struct FeatureColumn {
  std::string name;
  bool sparse = true;
  bool sequence = false;
  bool weighted = false;
  int dense_dim = 1;
  // Multi-value sparse sequences (value_dim != 1) also need per-element lengths.
  bool has_key_lengths = false;

  std::vector<int64_t> ids;
  std::vector<float> weights;
  std::vector<float> dense;
  std::vector<int64_t> lengths;
  std::vector<int64_t> seq_lengths;

  struct Mark {
    size_t ids, weights, dense, lengths, seq_lengths;
  };
  Mark GetMark() const {
    return {ids.size(), weights.size(), dense.size(), lengths.size(), seq_lengths.size()};
  }
  void Rollback(const Mark& m) {
    ids.resize(m.ids);
    weights.resize(m.weights);
    dense.resize(m.dense);
    lengths.resize(m.lengths);
    seq_lengths.resize(m.seq_lengths);
  }
};

// Each row's values of `column` as text, for debugging and inspection: ids or
// dense values joined by ",", a sequence's elements joined by ";".
std::vector<std::string> RowTexts(const FeatureColumn& column, int64_t num_rows);

struct FeatureBatch {
  int64_t num_rows = 0;              // rows kept (input rows minus skipped)
  std::vector<FeatureColumn> features;
  std::vector<int64_t> skipped_rows; // input row indices dropped as bad

  const FeatureColumn* Find(const std::string& name) const {
    for (const auto& f : features) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }
};

}  // namespace tzrec::fg
