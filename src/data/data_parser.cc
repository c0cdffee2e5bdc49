#include "data/data_parser.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "common/error.h"
#include "features/fg/text_util.h"

namespace tzrec::data {
namespace {

at::Tensor Int64Tensor(const std::vector<int64_t>& v) {
  at::Tensor t = at::empty({static_cast<int64_t>(v.size())}, at::kLong);
  if (!v.empty()) std::memcpy(t.data_ptr<int64_t>(), v.data(), v.size() * sizeof(int64_t));
  return t;
}

at::Tensor FloatTensor(const std::vector<float>& v, std::vector<int64_t> shape) {
  at::Tensor t = at::empty(shape, at::kFloat);
  if (!v.empty()) std::memcpy(t.data_ptr<float>(), v.data(), v.size() * sizeof(float));
  return t;
}

}  // namespace

void AddFeatureTensors(const fg::FeatureBatch& batch, TensorMap& out) {
  for (const auto& col : batch.features) {
    const std::string& name = col.name;
    if (col.sparse) {
      out[name + ".values"] = Int64Tensor(col.ids);
      if (col.sequence) {
        out[name + ".lengths"] = Int64Tensor(col.seq_lengths);
        if (col.has_key_lengths) out[name + ".key_lengths"] = Int64Tensor(col.lengths);
      } else {
        out[name + ".lengths"] = Int64Tensor(col.lengths);
      }
      if (col.weighted) out[name + ".weights"] = FloatTensor(col.weights, {static_cast<int64_t>(col.weights.size())});
    } else {
      const int64_t rows = static_cast<int64_t>(col.dense.size()) / col.dense_dim;
      out[name + ".values"] = FloatTensor(col.dense, {rows, col.dense_dim});
      if (col.sequence) out[name + ".lengths"] = Int64Tensor(col.seq_lengths);
    }
  }
}

DataParser::DataParser(const fg::FgEngine* engine, DataParserOptions options)
    : engine_(engine), options_(std::move(options)),
      label_is_int_(options_.label_fields.size(), -1), rng_(options_.seed) {
  if (!options_.negative_sampler) return;
  const std::set<std::string> wanted(options_.negative_features.begin(), options_.negative_features.end());
  std::vector<fg::FeatureSpec> specs;
  for (const fg::FeatureSpec& spec : engine_->specs()) {
    if (wanted.count(spec.name)) specs.push_back(spec);
  }
  // A sampled row holds the attr_fields only: a feature reading anything else
  // (a cross of user and item fields, under force_base_data_group) has
  // nothing to read there.
  const std::vector<std::string>& attrs = options_.negative_sampler->attr_fields();
  const bool encoded = engine_->options().mode == fg::FgMode::kEncoded;
  for (const fg::FeatureSpec& spec : specs) {
    std::vector<std::string> columns;
    if (encoded) {
      columns.push_back(spec.name);
    } else {
      for (const fg::InputRef& in : spec.inputs) {
        if (in.side != "const" && in.side != "feature") columns.push_back(in.column);
      }
    }
    for (const std::string& column : columns) {
      if (std::find(attrs.begin(), attrs.end(), column) == attrs.end()) {
        FailConfig("data_config.negative_sampler.attr_fields: feature '{}' gets sampled items but also reads "
                   "column '{}', which is not one of them",
                   spec.name, column);
      }
    }
  }
  negative_engine_ = std::make_unique<fg::FgEngine>(std::move(specs), engine_->options());
}

// The sampler's rows through the sampled features, appended to the batch's own.
void DataParser::AddNegatives(const RowBatch& rows, const std::vector<int64_t>& keep, TensorMap& out) {
  NegativeSampler& sampler = *options_.negative_sampler;
  const int col = rows.ColumnIndex(sampler.item_id_field());
  if (col < 0) {
    Fail("{}: negative_sampler.item_id_field '{}' is not a column of the input", rows.file,
         sampler.item_id_field());
  }
  std::vector<std::string_view> batch_ids;
  batch_ids.reserve(keep.size());
  for (int64_t r : keep) batch_ids.push_back(rows.Field(r, static_cast<size_t>(col)));
  sampler.Sample(batch_ids, rng_, &negative_rows_);
  negative_engine_->Process(negative_rows_.ToInputBatch(), &negative_features_);
  TensorMap sampled;
  AddFeatureTensors(negative_features_, sampled);
  for (auto& [key, tensor] : sampled) {
    auto it = out.find(key);
    if (it == out.end()) Fail("sampled negatives give '{}', which the batch does not have", key);
    it->second = at::cat({it->second, tensor}, 0);
  }
}

at::Tensor DataParser::ParseLabel(const RowBatch& rows, size_t label_index,
                                  const std::vector<int64_t>& keep) {
  const std::string& label = options_.label_fields[label_index];
  const int col = rows.ColumnIndex(label);
  if (col < 0) Fail("{}: label field '{}' is not a column of the input", rows.file, label);
  int& is_int = label_is_int_[label_index];
  if (is_int < 0) {
    is_int = 1;
    for (int64_t r : keep) {
      int64_t v;
      if (!fg::ParseInt64(rows.Field(r, static_cast<size_t>(col)), &v)) {
        is_int = 0;
        break;
      }
    }
  }
  const int64_t n = static_cast<int64_t>(keep.size());
  if (is_int) {
    at::Tensor t = at::empty({n}, at::kLong);
    int64_t* p = t.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      std::string_view text = rows.Field(keep[i], static_cast<size_t>(col));
      if (!fg::ParseInt64(text, &p[i])) {
        Fail("{}:{}: label '{}' value '{}' is not an integer (earlier rows were)", rows.file,
             rows.line_numbers[keep[i]], label, text);
      }
    }
    return t;
  }
  at::Tensor t = at::empty({n}, at::kFloat);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    std::string_view text = rows.Field(keep[i], static_cast<size_t>(col));
    double v;
    if (!fg::ParseDouble(text, &v)) {
      Fail("{}:{}: label '{}' value '{}' is not a number", rows.file, rows.line_numbers[keep[i]], label, text);
    }
    // A NaN or inf label makes the loss, and then every weight, NaN.
    if (!std::isfinite(v)) {
      Fail("{}:{}: label '{}' value '{}' is not finite", rows.file, rows.line_numbers[keep[i]], label, text);
    }
    p[i] = static_cast<float>(v);
  }
  return t;
}

TensorMap DataParser::Parse(const RowBatch& rows, int64_t* skipped) {
  fg::InputBatch input = rows.ToInputBatch();
  engine_->Process(input, &features_);
  const fg::FeatureBatch& features = features_;
  TensorMap out;
  AddFeatureTensors(features, out);

  std::vector<int64_t> keep;
  keep.reserve(static_cast<size_t>(features.num_rows));
  size_t s = 0;
  for (int64_t r = 0; r < rows.num_rows; ++r) {
    if (s < features.skipped_rows.size() && features.skipped_rows[s] == r) {
      ++s;
      continue;
    }
    keep.push_back(r);
  }
  for (size_t i = 0; i < options_.label_fields.size(); ++i) {
    out[options_.label_fields[i]] = ParseLabel(rows, i, keep);
  }
  for (const std::string& field : options_.sample_weight_fields) {
    const int col = rows.ColumnIndex(field);
    if (col < 0) Fail("{}: sample weight field '{}' is not a column of the input", rows.file, field);
    at::Tensor t = at::empty({static_cast<int64_t>(keep.size())}, at::kFloat);
    float* p = t.data_ptr<float>();
    for (size_t i = 0; i < keep.size(); ++i) {
      std::string_view text = rows.Field(keep[i], static_cast<size_t>(col));
      double v;
      if (!fg::ParseDouble(text, &v) || !std::isfinite(v)) {
        Fail("{}:{}: sample weight '{}' value '{}' is not a finite number", rows.file, rows.line_numbers[keep[i]],
             field, text);
      }
      p[i] = static_cast<float>(v);
    }
    out[field] = t;
  }
  if (negative_engine_) AddNegatives(rows, keep, out);
  if (skipped) *skipped = static_cast<int64_t>(features.skipped_rows.size());
  return out;
}

}  // namespace tzrec::data
