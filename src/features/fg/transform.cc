#include "features/fg/transform.h"

#include <cmath>

#include <fmt/format.h>

#include "common/error.h"
#include "features/fg/text_util.h"

namespace tzrec::fg {

FeatureTransform::FeatureTransform(FeatureSpec spec, HashKind hash_kind)
    : spec_(std::move(spec)), bucketizer_(spec_, hash_kind),
      normalizer_(spec_.normalizer, "fg.json feature '" + spec_.name + "'"),
      discrete_(spec_.IsDiscrete()), dense_dim_(spec_.DenseDim()) {
  const std::string where = "fg.json feature '" + spec_.name + "'";
  if (discrete_ && !bucketizer_.enabled() && !spec_.stub) {
    FailConfig("{}: a discrete feature needs hash_bucket_size, num_buckets, vocab_list, "
               "vocab_dict or vocab_file",
               where);
  }
  if (!spec_.default_value.empty()) {
    if (discrete_) {
      ForEachPart(spec_.default_value, spec_.separator, [&](std::string_view part) {
        if (!part.empty()) default_tokens_.emplace_back(part);
      });
    } else {
      ForEachPart(spec_.default_value, spec_.separator, [&](std::string_view part) {
        double v;
        if (!ParseDouble(part, &v)) {
          FailConfig("{}: default_value '{}' is not a number", where, spec_.default_value);
        }
        default_numbers_.push_back(v);
      });
    }
  }
  if (!discrete_ && spec_.boundaries.empty() && default_numbers_.size() == 1 && dense_dim_ > 1) {
    // One default for a multi-dimensional value fills every dimension (upstream
    // writes default_value "0" for value_dim 2 lookups).
    default_numbers_.assign(dense_dim_, default_numbers_[0]);
  }
  if (!discrete_ && spec_.boundaries.empty() && !default_numbers_.empty() &&
      static_cast<int>(default_numbers_.size()) != dense_dim_) {
    FailConfig("{}: default_value '{}' has {} values, value_dim is {}", where, spec_.default_value,
               default_numbers_.size(), dense_dim_);
  }
}

FeatureTransform::~FeatureTransform() = default;

void FeatureTransform::BadValue(std::string_view what, std::string_view value) const {
  throw FgValueError(fmt::format("{} '{}': {} '{}'", FeatureTypeName(spec_.type), spec_.name, what,
                                 value));
}

void FeatureTransform::ParseNumbers(std::string_view text, char sep, std::vector<double>& out) const {
  ForEachPart(text, sep, [&](std::string_view part) {
    if (Trim(part).empty()) return;
    double v;
    if (!ParseDouble(part, &v)) BadValue("value is not a number:", part);
    out.push_back(v);
  });
}

FeatureColumn FeatureTransform::MakeColumn() const {
  FeatureColumn col;
  col.name = spec_.name;
  col.sparse = spec_.IsSparse();
  col.sequence = spec_.is_sequence;
  col.weighted = spec_.weighted;
  col.dense_dim = dense_dim_;
  col.has_key_lengths = col.sequence && col.sparse && spec_.value_dim.value_or(0) != 1;
  return col;
}

int64_t FeatureTransform::Emit(const std::string_view* inputs, RawValues& values, FeatureColumn& out,
                               std::string* text) const {
  values.Clear();
  bool has_value = Extract(inputs, values);
  if (discrete_) {
    if (!has_value || values.tokens.empty()) {
      values.tokens.clear();
      values.weights.clear();
      for (const auto& t : default_tokens_) values.tokens.emplace_back(t);
      if (spec_.weighted) values.weights.assign(values.tokens.size(), 1.0f);
    }
    size_t n = values.tokens.size();
    // value_dim caps how many ids an id/combo feature keeps; for lookup and
    // match it describes the values instead.
    const bool truncates = spec_.type == FeatureType::kId || spec_.type == FeatureType::kCombo;
    if (truncates && spec_.value_dim && *spec_.value_dim > 0) n = std::min<size_t>(n, *spec_.value_dim);
    if (text != nullptr) {
      text->clear();
      for (size_t i = 0; i < n; ++i) {
        if (i) text->push_back(spec_.separator);
        text->append(values.tokens[i]);
      }
    }
    if (bucketizer_.enabled()) {
      for (size_t i = 0; i < n; ++i) out.ids.push_back(bucketizer_.Bucketize(values.tokens[i]));
      if (spec_.weighted) out.weights.insert(out.weights.end(), values.weights.begin(), values.weights.begin() + n);
    }
    return static_cast<int64_t>(n);
  }

  // Continuous values. NaN counts as missing.
  bool is_default = false;
  if (has_value) {
    for (double v : values.numbers) {
      if (std::isnan(v)) {
        has_value = false;
        break;
      }
    }
  }
  if (!has_value || values.numbers.empty()) {
    values.numbers = default_numbers_;
    is_default = true;
  }
  if (!is_default && !normalizer_.IsIdentity()) {
    for (double& v : values.numbers) v = normalizer_.Apply(v);
  }
  size_t n = values.numbers.size();
  if (!spec_.boundaries.empty() && spec_.value_dim && *spec_.value_dim > 0) {
    n = std::min<size_t>(n, *spec_.value_dim);
  }
  if (text != nullptr) {
    text->clear();
    for (size_t i = 0; i < n; ++i) {
      if (i) text->push_back(spec_.separator);
      text->append(fmt::format("{}", values.numbers[i]));
    }
  }
  if (!spec_.boundaries.empty()) {
    for (size_t i = 0; i < n; ++i) out.ids.push_back(BucketizeNumber(spec_.boundaries, values.numbers[i]));
    return static_cast<int64_t>(n);
  }
  if (n == 0) {
    // No value and an empty default_value: zeros keep the row aligned.
    out.dense.insert(out.dense.end(), dense_dim_, 0.0f);
    return 1;
  }
  if (static_cast<int>(n) != dense_dim_) {
    throw FgValueError(fmt::format("{} '{}': got {} values, value_dim is {}",
                                   FeatureTypeName(spec_.type), spec_.name, n, dense_dim_));
  }
  for (size_t i = 0; i < n; ++i) out.dense.push_back(static_cast<float>(values.numbers[i]));
  return 1;
}

std::unique_ptr<FeatureTransform> MakeTransform(const FeatureSpec& spec, HashKind hash_kind) {
  switch (spec.type) {
    case FeatureType::kId: return MakeIdTransform(spec, hash_kind);
    case FeatureType::kRaw: return MakeRawTransform(spec, hash_kind);
    case FeatureType::kCombo: return MakeComboTransform(spec, hash_kind);
    case FeatureType::kLookup: return MakeLookupTransform(spec, hash_kind);
    case FeatureType::kMatch: return MakeMatchTransform(spec, hash_kind);
    case FeatureType::kExpr: return MakeExprTransform(spec, hash_kind);
  }
  FailConfig("fg.json feature '{}': unsupported type", spec.name);
}

}  // namespace tzrec::fg
