// One feature's FG transform: raw input text -> the feature's values for one row
// (or one sequence element). A transform has two halves:
//   Extract: type-specific; reads the input texts and yields string tokens
//            (discrete features) or numbers (continuous ones), or "no value";
//   Emit:    shared; substitutes default_value for "no value", truncates to
//            value_dim, normalizes (never the default), and turns tokens into ids
//            (hash / num_buckets / vocab) or numbers into boundary buckets or
//            dense floats, appending them to the output column.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "features/fg/feature_batch.h"
#include "features/fg/fg_spec.h"
#include "features/fg/hash_bucket.h"
#include "features/fg/normalizer.h"
#include "features/fg/token_bucketizer.h"

namespace tzrec::fg {

// Scratch for one Extract call; reused across rows to avoid allocations.
struct RawValues {
  std::vector<std::string_view> tokens;
  std::vector<float> weights;  // weighted ids: one per token
  std::vector<double> numbers;
  std::deque<std::string> owned;  // backing text for built tokens (deque: stable addresses)
  // scratch for transforms
  std::vector<std::string_view> parts_a, parts_b;
  std::vector<double> numbers_b;
  void Clear() {
    tokens.clear();
    weights.clear();
    numbers.clear();
    owned.clear();
  }
  std::string_view Keep(std::string text) {
    owned.push_back(std::move(text));
    return owned.back();
  }
};

class FeatureTransform {
 public:
  FeatureTransform(FeatureSpec spec, HashKind hash_kind);
  virtual ~FeatureTransform();

  const FeatureSpec& spec() const { return spec_; }

  // inputs[i] is the text of spec().inputs[i]. False: the input has no value.
  // Throws FgValueError on malformed text.
  virtual bool Extract(const std::string_view* inputs, RawValues& values) const = 0;

  // Runs Extract + the shared tail, appending ids/weights or dense floats to
  // `out` (lengths are the caller's). Returns how many values were appended
  // (dense: 1 per row of dense_dim floats). If `text` is not null, the values
  // before discretisation are also written there, joined by the separator, for
  // features that read this one as "feature:<name>".
  int64_t Emit(const std::string_view* inputs, RawValues& values, FeatureColumn& out,
               std::string* text) const;

  // The column this transform fills (name, kind, dims), empty.
  FeatureColumn MakeColumn() const;

  const TokenBucketizer& bucketizer() const { return bucketizer_; }

 protected:
  // Helpers for Extract implementations.
  [[noreturn]] void BadValue(std::string_view what, std::string_view value) const;
  void ParseNumbers(std::string_view text, char sep, std::vector<double>& out) const;

  FeatureSpec spec_;

 private:
  TokenBucketizer bucketizer_;
  Normalizer normalizer_;
  bool discrete_;
  int dense_dim_;
  std::vector<std::string> default_tokens_;
  std::vector<double> default_numbers_;
};

std::unique_ptr<FeatureTransform> MakeTransform(const FeatureSpec& spec, HashKind hash_kind);

// Per-type factories, one file each.
std::unique_ptr<FeatureTransform> MakeIdTransform(const FeatureSpec& spec, HashKind hash_kind);
std::unique_ptr<FeatureTransform> MakeRawTransform(const FeatureSpec& spec, HashKind hash_kind);
std::unique_ptr<FeatureTransform> MakeComboTransform(const FeatureSpec& spec, HashKind hash_kind);
std::unique_ptr<FeatureTransform> MakeLookupTransform(const FeatureSpec& spec, HashKind hash_kind);
std::unique_ptr<FeatureTransform> MakeMatchTransform(const FeatureSpec& spec, HashKind hash_kind);
std::unique_ptr<FeatureTransform> MakeExprTransform(const FeatureSpec& spec, HashKind hash_kind);

}  // namespace tzrec::fg
