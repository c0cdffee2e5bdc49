#include "features/id_feature.h"

#include "common/error.h"
#include "features/raw_feature.h"

namespace tzrec {

uint32_t IdFeature::value_dim() const {
  if (config_.has_value_dim()) return config_.value_dim();
  return is_sequence() ? 1 : 0;
}

uint64_t IdFeature::num_embeddings() const {
  if (const auto rows = vocab_.Rows()) return *rows;
  FailConfig("{} must set hash_bucket_size or num_buckets or vocab_list or vocab_dict or "
             "vocab_file or zch.zch_size",
             Describe());
}

std::optional<std::vector<std::string>> IdFeature::RawInputs() const {
  if (!config_.has_expression()) return std::nullopt;
  return std::vector<std::string>{config_.expression()};
}

std::string FgVocabFile(const Vocab& vocab, const FeatureAssets& renamed_assets) {
  const auto it = renamed_assets.find("vocab_file");
  return it != renamed_assets.end() ? it->second : vocab.file();
}

void AddIdBucketizer(nlohmann::ordered_json& entry, const Vocab& vocab,
                     const FeatureAssets& renamed_assets, bool with_num_buckets) {
  if (vocab.zch_size || vocab.dynamic_capacity) {
    entry["hash_bucket_size"] = kMaxHashBucketSize;
  } else if (vocab.hash_bucket_size) {
    entry["hash_bucket_size"] = *vocab.hash_bucket_size;
  } else if (!vocab.list().empty()) {
    entry["vocab_list"] = vocab.list();
    entry["default_bucketize_value"] = vocab.default_bucketize_value();
  } else if (!vocab.dict().empty()) {
    nlohmann::ordered_json dict = nlohmann::ordered_json::object();
    for (const auto& [key, value] : vocab.dict()) dict[key] = value;
    entry["vocab_dict"] = std::move(dict);
    entry["default_bucketize_value"] = vocab.default_bucketize_value();
  } else if (!vocab.file().empty()) {
    entry["vocab_file"] = FgVocabFile(vocab, renamed_assets);
    entry["default_bucketize_value"] = vocab.default_bucketize_value();
  } else if (with_num_buckets && vocab.num_buckets) {
    entry["num_buckets"] = *vocab.num_buckets;
  }
}

nlohmann::ordered_json IdFeature::TypeFgJson(const FeatureAssets& renamed_assets) const {
  nlohmann::ordered_json entry;
  entry["feature_type"] = "id_feature";
  entry["feature_name"] = config_.feature_name();
  entry["default_value"] = default_value();
  entry["expression"] = config_.expression();
  entry["value_type"] = "string";
  entry["need_prefix"] = false;
  if (config_.separator() != "\x1d") entry["separator"] = config_.separator();
  AddIdBucketizer(entry, vocab_, renamed_assets, /*with_num_buckets=*/true);
  if (config_.weighted()) entry["weighted"] = true;
  entry["value_dim"] = value_dim();
  if (config_.has_fg_value_type()) entry["value_type"] = config_.fg_value_type();
  if (config_.has_stub_type()) entry["stub_type"] = config_.stub_type();
  AddSequenceFields(entry);
  return nlohmann::ordered_json::array({entry});
}

bool AddMapValueBucketizer(nlohmann::ordered_json& entry, const Vocab& vocab,
                           const FeatureAssets& renamed_assets,
                           const google::protobuf::RepeatedField<float>& boundaries) {
  const bool ids = vocab.zch_size || vocab.dynamic_capacity || vocab.hash_bucket_size ||
                   vocab.num_buckets || !vocab.list().empty() || !vocab.dict().empty() ||
                   !vocab.file().empty();
  if (ids) {
    if (vocab.zch_size || vocab.dynamic_capacity) {
      entry["hash_bucket_size"] = kMaxHashBucketSize;
    } else if (vocab.hash_bucket_size) {
      entry["hash_bucket_size"] = *vocab.hash_bucket_size;
    } else if (vocab.num_buckets) {
      entry["num_buckets"] = *vocab.num_buckets;
    } else {
      AddIdBucketizer(entry, vocab, renamed_assets, /*with_num_buckets=*/false);
    }
    entry["value_type"] = "string";
  } else if (boundaries.size() > 0) {
    entry["boundaries"] = FloatList(boundaries);
  }
  return ids;
}

}  // namespace tzrec
