#include "features/match_feature.h"

#include "features/id_feature.h"
#include "features/raw_feature.h"

namespace tzrec {

uint32_t MatchFeature::output_dim() const { return has_embedding() ? embedding_dim() : 1; }

uint64_t MatchFeature::num_embeddings() const {
  // Upstream sizes a match vocabulary list one row larger than its entries.
  return vocab_.Rows(/*extra_list_rows=*/1).value_or(config_.boundaries_size() + 1);
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
