#include "features/fg/token_bucketizer.h"

#include <algorithm>

#include "common/error.h"
#include "features/fg/text_util.h"

namespace tzrec::fg {

TokenBucketizer::TokenBucketizer(const FeatureSpec& spec, HashKind hash_kind)
    : hash_kind_(hash_kind), default_bucketize_value_(spec.default_bucketize_value),
      feature_name_(spec.name) {
  if (spec.hash_bucket_size) {
    kind_ = Kind::kHash;
    hash_bucket_size_ = *spec.hash_bucket_size;
    num_embeddings_ = static_cast<int64_t>(std::min<uint64_t>(hash_bucket_size_, INT64_MAX));
  } else if (spec.num_buckets) {
    kind_ = Kind::kNumBuckets;
    num_buckets_ = *spec.num_buckets;
    num_embeddings_ = num_buckets_;
  } else if (spec.vocab_list || spec.vocab_dict) {
    kind_ = Kind::kVocab;
    std::vector<std::pair<std::string, int64_t>> entries;
    if (spec.vocab_list) {
      for (size_t i = 0; i < spec.vocab_list->size(); ++i) {
        entries.emplace_back((*spec.vocab_list)[i], static_cast<int64_t>(i));
      }
      num_embeddings_ = static_cast<int64_t>(spec.vocab_list->size());
    } else {
      entries = *spec.vocab_dict;
      for (const auto& e : entries) num_embeddings_ = std::max(num_embeddings_, e.second + 1);
    }
    vocab_storage_.reserve(entries.size());
    for (auto& e : entries) vocab_storage_.push_back(e.first);
    for (size_t i = 0; i < entries.size(); ++i) {
      vocab_[std::string_view(vocab_storage_[i])] = entries[i].second;
    }
    num_embeddings_ = std::max(num_embeddings_, default_bucketize_value_ + 1);
  }
}

int64_t TokenBucketizer::Bucketize(std::string_view token) const {
  switch (kind_) {
    case Kind::kHash:
      return static_cast<int64_t>(HashToBucket(token, hash_bucket_size_, hash_kind_));
    case Kind::kNumBuckets: {
      int64_t id;
      if (!ParseInt64(token, &id)) {
        throw FgValueError("feature '" + feature_name_ + "' has num_buckets but value '" +
                           std::string(token) + "' is not an integer");
      }
      if (id < 0 || id >= num_buckets_) {
        throw FgValueError("feature '" + feature_name_ + "': id " + std::to_string(id) +
                           " is outside [0, num_buckets=" + std::to_string(num_buckets_) + ")");
      }
      return id;
    }
    case Kind::kVocab: {
      auto it = vocab_.find(token);
      return it == vocab_.end() ? default_bucketize_value_ : it->second;
    }
    case Kind::kNone:
      break;
  }
  throw FgValueError("feature '" + feature_name_ + "' has no bucketizer");
}

int64_t BucketizeNumber(const std::vector<float>& boundaries, double x) {
  const float xf = static_cast<float>(x);
  return static_cast<int64_t>(std::upper_bound(boundaries.begin(), boundaries.end(), xf) -
                              boundaries.begin());
}

}  // namespace tzrec::fg
