// id_feature: a categorical column turned into ids by hashing
// (hash_bucket_size), by value (num_buckets) or by a vocabulary.
#pragma once

#include "config/protos/feature.pb.h"
#include "features/typed_feature.h"

namespace tzrec {

class IdFeature : public BucketizedFeature<protos::IdFeature> {
 public:
  using BucketizedFeature::BucketizedFeature;

  bool is_sparse() const override { return true; }
  bool is_weighted() const override { return config_.weighted(); }
  // value_dim when set, else 1 in a sequence and 0 (multi-valued) otherwise.
  uint32_t value_dim() const override;
  uint32_t output_dim() const override { return config_.embedding_dim(); }
  uint64_t num_embeddings() const override;

 protected:
  std::optional<std::vector<std::string>> RawInputs() const override;
  bool is_single_input_type() const override { return true; }
  nlohmann::ordered_json TypeFgJson(const FeatureAssets& renamed_assets) const override;
};

// The bucketizer keys of an id-like fg.json entry (hash_bucket_size, vocab_*,
// num_buckets, default_bucketize_value), in upstream's order of precedence.
// `with_num_buckets`: the type has a num_buckets field.
void AddIdBucketizer(nlohmann::ordered_json& entry, const Vocab& vocab,
                     const FeatureAssets& renamed_assets, bool with_num_buckets);

// The discretisation keys of a map-valued feature's entry (lookup_feature,
// match_feature), as upstream writes them: ids (zero-collision or dynamic
// tables -> kMaxHashBucketSize, then hash_bucket_size, num_buckets, the
// vocabularies; unlike id_feature, num_buckets comes before vocabularies) with
// value_type "string", or else the boundaries when there are any. Returns
// whether the feature yields ids.
bool AddMapValueBucketizer(nlohmann::ordered_json& entry, const Vocab& vocab,
                           const FeatureAssets& renamed_assets,
                           const google::protobuf::RepeatedField<float>& boundaries);

// vocab_file's path in fg.json: its renamed copy when there is one.
std::string FgVocabFile(const Vocab& vocab, const FeatureAssets& renamed_assets);

// Upstream's placeholder bucket count for zero-collision / dynamic tables.
inline constexpr uint64_t kMaxHashBucketSize = 9223372036854775807ULL;  // 2^63 - 1

}  // namespace tzrec
