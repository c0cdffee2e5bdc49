#include "features/lookup_feature.h"

#include <algorithm>
#include <cctype>

#include "features/id_feature.h"
#include "features/raw_feature.h"

namespace tzrec {

uint32_t LookupFeature::output_dim() const {
  return has_embedding() ? embedding_dim() : std::max<uint32_t>(config_.value_dim(), 1);
}

uint64_t LookupFeature::num_embeddings() const {
  return vocab_.Rows().value_or(config_.boundaries_size() + 1);
}

void LookupFeature::set_is_neg(bool value) {
  Feature::set_is_neg(value);
  set_data_group(kCrossNegDataGroup);
}

std::optional<std::vector<std::string>> LookupFeature::RawInputs() const {
  if (!config_.has_map() || !config_.has_key()) return std::nullopt;
  return std::vector<std::string>{config_.map(), config_.key()};
}

nlohmann::ordered_json LookupFeature::TypeFgJson(const FeatureAssets& renamed_assets) const {
  std::string combiner = config_.combiner();
  std::transform(combiner.begin(), combiner.end(), combiner.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });

  nlohmann::ordered_json entry;
  entry["feature_type"] = "lookup_feature";
  entry["feature_name"] = config_.feature_name();
  entry["map"] = config_.map();
  entry["key"] = config_.key();
  entry["default_value"] = default_value();
  entry["value_type"] = "float";
  entry["needDiscrete"] = config_.need_discrete();
  entry["needKey"] = config_.need_key();
  entry["combiner"] = combiner;

  nlohmann::ordered_json raw_entry;
  const uint32_t dim = config_.value_dim();
  if (dim > 1) {
    // The lookup yields the value string; a raw_feature splits it into floats.
    const std::string stub_name = config_.feature_name() + "__lookup";
    std::string defaults;
    for (uint32_t i = 0; i < dim; ++i) {
      if (i > 0) defaults += config_.value_separator();
      defaults += default_value();
    }
    entry["feature_name"] = stub_name;
    entry["default_value"] = defaults;
    entry["value_type"] = "string";
    entry["value_dim"] = 1;
    entry["needDiscrete"] = true;
    entry["combiner"] = "";
    entry["stub_type"] = true;
    raw_entry["feature_type"] = "raw_feature";
    raw_entry["feature_name"] = config_.feature_name();
    raw_entry["default_value"] = default_value();
    raw_entry["expression"] = "feature:" + stub_name;
    raw_entry["separator"] = config_.value_separator();
    raw_entry["value_dim"] = dim;
    raw_entry["value_type"] = "float";
    if (config_.has_normalizer()) raw_entry["normalizer"] = config_.normalizer();
    if (config_.boundaries_size() > 0) raw_entry["boundaries"] = FloatList(config_.boundaries());
  } else {
    if (config_.separator() != "\x1d") entry["separator"] = config_.separator();
    if (config_.has_normalizer()) entry["normalizer"] = config_.normalizer();
    AddMapValueBucketizer(entry, vocab_, renamed_assets, config_.boundaries());
    if (config_.has_fg_value_type()) entry["value_type"] = config_.fg_value_type();
    if (entry["value_type"] == "string") entry["needDiscrete"] = true;
    if (entry["needDiscrete"].get<bool>()) entry["combiner"] = "";
    if (entry["combiner"] == "") entry["value_dim"] = value_dim();
    if (config_.has_stub_type()) entry["stub_type"] = config_.stub_type();
  }

  if (is_grouped_sequence()) {
    AddSequenceFields(entry);
    if (!raw_entry.is_null()) {
      raw_entry["sequence_fields"] = std::vector<std::string>{config_.feature_name() + "__lookup"};
    }
  }
  nlohmann::ordered_json entries = nlohmann::ordered_json::array({entry});
  if (!raw_entry.is_null()) entries.push_back(raw_entry);
  return entries;
}

}  // namespace tzrec
