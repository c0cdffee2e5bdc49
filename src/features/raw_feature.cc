#include "features/raw_feature.h"

namespace tzrec {

std::optional<std::vector<std::string>> RawFeature::RawInputs() const {
  if (!config_.has_expression()) return std::nullopt;
  return std::vector<std::string>{config_.expression()};
}

nlohmann::ordered_json FloatList(const google::protobuf::RepeatedField<float>& values) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (float v : values) list.push_back(static_cast<double>(v));
  return list;
}

nlohmann::ordered_json RawFeature::TypeFgJson(const FeatureAssets&) const {
  nlohmann::ordered_json entry;
  entry["feature_type"] = "raw_feature";
  entry["feature_name"] = config_.feature_name();
  entry["default_value"] = default_value();
  entry["expression"] = config_.expression();
  entry["value_type"] = "float";
  if (config_.value_dim() > 1) {
    if (config_.separator() != "\x1d") entry["separator"] = config_.separator();
    entry["value_dim"] = config_.value_dim();
  }
  if (!config_.normalizer().empty()) entry["normalizer"] = config_.normalizer();
  if (config_.boundaries_size() > 0) entry["boundaries"] = FloatList(config_.boundaries());
  if (config_.has_stub_type()) entry["stub_type"] = config_.stub_type();
  AddSequenceFields(entry);
  return nlohmann::ordered_json::array({entry});
}

}  // namespace tzrec
