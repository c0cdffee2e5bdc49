#include "features/expr_feature.h"

#include "features/raw_feature.h"

namespace tzrec {

void ExprFeature::set_is_neg(bool value) {
  Feature::set_is_neg(value);
  set_data_group(kCrossNegDataGroup);
}

std::optional<std::vector<std::string>> ExprFeature::RawInputs() const {
  if (config_.variables_size() == 0) return std::nullopt;
  return std::vector<std::string>(config_.variables().begin(), config_.variables().end());
}

nlohmann::ordered_json ExprFeature::TypeFgJson(const FeatureAssets&) const {
  nlohmann::ordered_json entry;
  entry["feature_type"] = "expr_feature";
  entry["feature_name"] = config_.feature_name();
  entry["default_value"] = default_value();
  entry["expression"] = config_.expression();
  entry["variables"] =
      std::vector<std::string>(config_.variables().begin(), config_.variables().end());
  entry["value_type"] = "float";
  if (config_.separator() != "\x1d") entry["separator"] = config_.separator();
  if (config_.has_fill_missing()) {
    entry["fill_missing"] = static_cast<double>(config_.fill_missing());
  }
  if (config_.boundaries_size() > 0) entry["boundaries"] = FloatList(config_.boundaries());
  if (config_.has_value_dim()) entry["value_dim"] = config_.value_dim();
  if (config_.has_stub_type()) entry["stub_type"] = config_.stub_type();
  AddSequenceFields(entry);
  return nlohmann::ordered_json::array({entry});
}

}  // namespace tzrec
