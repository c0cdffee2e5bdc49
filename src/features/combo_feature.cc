#include "features/combo_feature.h"

#include "common/error.h"
#include "features/id_feature.h"

namespace tzrec {

uint32_t ComboFeature::value_dim() const {
  if (config_.has_value_dim()) return config_.value_dim();
  return is_sequence() ? 1 : 0;
}

uint64_t ComboFeature::num_embeddings() const {
  if (const auto rows = vocab_.Rows()) return *rows;
  FailConfig("{} must set hash_bucket_size or vocab_list or vocab_dict or vocab_file or "
             "zch.zch_size",
             Describe());
}

void ComboFeature::set_is_neg(bool value) {
  Feature::set_is_neg(value);
  set_data_group(kCrossNegDataGroup);
}

std::optional<std::vector<std::string>> ComboFeature::RawInputs() const {
  if (config_.expression_size() == 0) return std::nullopt;
  return std::vector<std::string>(config_.expression().begin(), config_.expression().end());
}

nlohmann::ordered_json ComboFeature::TypeFgJson(const FeatureAssets& renamed_assets) const {
  nlohmann::ordered_json entry;
  entry["feature_type"] = "combo_feature";
  entry["feature_name"] = config_.feature_name();
  entry["default_value"] = default_value();
  entry["expression"] =
      std::vector<std::string>(config_.expression().begin(), config_.expression().end());
  entry["value_type"] = "string";
  entry["need_prefix"] = false;
  entry["value_dim"] = config_.value_dim();
  if (config_.separator() != "\x1d") entry["separator"] = config_.separator();
  AddIdBucketizer(entry, vocab_, renamed_assets, /*with_num_buckets=*/false);
  if (config_.has_stub_type()) entry["stub_type"] = config_.stub_type();
  AddSequenceFields(entry);
  return nlohmann::ordered_json::array({entry});
}

}  // namespace tzrec
