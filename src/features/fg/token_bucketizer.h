// Maps one discrete FG value (a string) to an embedding row id, as the feature's
// fg.json entry says: hash_bucket_size (hash modulo size), num_buckets (the value
// is the id), or vocab_list / vocab_dict / vocab_file (index in the vocabulary,
// default_bucketize_value when absent; a value listed twice takes its last index).
//
// num_buckets: an id outside [0, num_buckets), or a value that is not an
// integer, is an error naming the feature and value; the embedding table has
// no row for it, and silently clamping would train on wrong rows. The data
// path can count and skip such rows instead (skip_bad_rows).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "features/fg/fg_spec.h"
#include "features/fg/hash_bucket.h"

namespace tzrec::fg {

// A bad value in one row: the engine adds the row's origin, or skips the row.
class FgValueError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class TokenBucketizer {
 public:
  TokenBucketizer() = default;
  TokenBucketizer(const FeatureSpec& spec, HashKind hash_kind);

  bool enabled() const { return kind_ != Kind::kNone; }
  int64_t Bucketize(std::string_view token) const;
  // Rows of the embedding table (0 when unknown).
  int64_t num_embeddings() const { return num_embeddings_; }

 private:
  enum class Kind { kNone, kHash, kNumBuckets, kVocab };
  Kind kind_ = Kind::kNone;
  HashKind hash_kind_ = HashKind::kStdHash;
  uint64_t hash_bucket_size_ = 0;
  int64_t num_buckets_ = 0;
  int64_t default_bucketize_value_ = 1;
  int64_t num_embeddings_ = 0;
  std::string feature_name_;
  std::vector<std::string> vocab_storage_;
  std::unordered_map<std::string_view, int64_t> vocab_;
};

// Bucket for a number: how many boundaries are <= x, compared as float32 like
// the float32 boundaries the trainer stored.
int64_t BucketizeNumber(const std::vector<float>& boundaries, double x);

}  // namespace tzrec::fg
