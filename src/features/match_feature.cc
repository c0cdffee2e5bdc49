#include "features/match_feature.h"

#include "features/id_feature.h"
#include "features/raw_feature.h"

namespace tzrec {

MatchFeature::MatchFeature(const protos::MatchFeature& config, const FeatureOptions& options,
                           bool is_sequence, std::optional<SequenceGroup> group)
    : Feature(ReadCommon(config), config.default_value(), options, is_sequence, std::move(group)),
      config_(config),
      vocab_(Vocab::Read(config, default_value(), Describe())) {}

bool MatchFeature::is_sparse() const {
  return config_.has_zch() || config_.has_dynamicemb() || config_.has_hash_bucket_size() ||
         config_.has_num_buckets() || config_.vocab_list_size() > 0 ||
         !config_.vocab_dict().empty() || !config_.vocab_file().empty() ||
         config_.boundaries_size() > 0;
}

uint32_t MatchFeature::value_dim() const {
  return config_.has_value_dim() ? config_.value_dim() : 1;
}

uint32_t MatchFeature::output_dim() const { return has_embedding() ? embedding_dim() : 1; }

std::string MatchFeature::dense_embedding_type() const {
  if (config_.has_autodis()) return "autodis";
  if (config_.has_mlp()) return "mlp";
  return "";
}

uint64_t MatchFeature::num_embeddings() const {
  if (vocab_.zch_size) return *vocab_.zch_size;
  if (vocab_.dynamic_capacity) return *vocab_.dynamic_capacity;
  if (vocab_.hash_bucket_size) return *vocab_.hash_bucket_size;
  if (vocab_.num_buckets) return *vocab_.num_buckets;
  // Upstream sizes a match vocabulary list one row larger than its entries.
  if (!vocab_.list().empty()) return vocab_.list().size() + 1;
  if (!vocab_.dict().empty()) return vocab_.DictSize();
  if (!vocab_.file().empty()) return vocab_.FileSize();
  return config_.boundaries_size() + 1;
}

FeatureAssets MatchFeature::Assets() const {
  if (vocab_.file().empty()) return {};
  return {{"vocab_file", vocab_.file()}};
}

void MatchFeature::set_is_neg(bool value) {
  Feature::set_is_neg(value);
  set_data_group(kCrossNegDataGroup);
}

std::optional<std::vector<std::string>> MatchFeature::RawInputs() const {
  if (!config_.has_nested_map() || !config_.has_pkey() || !config_.has_skey()) {
    return std::nullopt;
  }
  std::vector<std::string> inputs;
  for (const std::string& x : {config_.nested_map(), config_.pkey(), config_.skey()}) {
    if (x != "ALL") inputs.push_back(x);
  }
  return inputs;
}

nlohmann::ordered_json MatchFeature::TypeFgJson(const FeatureAssets& renamed_assets) const {
  nlohmann::ordered_json entry;
  entry["feature_type"] = "match_feature";
  entry["feature_name"] = config_.feature_name();
  entry["user"] = config_.nested_map();
  entry["category"] = config_.pkey();
  entry["item"] = config_.skey();
  entry["matchType"] = "hit";
  entry["default_value"] = default_value();
  entry["value_type"] = "float";
  entry["needDiscrete"] = config_.need_discrete();
  entry["show_category"] = config_.show_pkey();
  entry["show_item"] = config_.show_skey();
  if (config_.pkey() == "ALL" || config_.skey() == "ALL") entry["matchType"] = "multihit";
  if (config_.separator() != "\x1d") entry["separator"] = config_.separator();
  if (config_.has_normalizer()) entry["normalizer"] = config_.normalizer();

  if (AddMapValueBucketizer(entry, vocab_, renamed_assets, config_.boundaries())) {
    entry["needDiscrete"] = true;
  }
  if (entry["needDiscrete"].get<bool>()) entry["value_dim"] = value_dim();
  if (config_.has_fg_value_type()) entry["value_type"] = config_.fg_value_type();
  if (config_.has_stub_type()) entry["stub_type"] = config_.stub_type();
  AddSequenceFields(entry);
  return nlohmann::ordered_json::array({entry});
}

}  // namespace tzrec
