// raw_feature: a numeric column, used as dense values (value_dim floats, with
// an optional normalizer and optional AutoDis / MLP embedding) or, with
// boundaries, bucketized into ids (bucket = number of boundaries <= x).
#pragma once

#include "config/protos/feature.pb.h"
#include "features/typed_feature.h"

namespace tzrec {

class RawFeature : public NumericFeature<protos::RawFeature> {
 public:
  using NumericFeature::NumericFeature;

 protected:
  std::optional<std::vector<std::string>> RawInputs() const override;
  bool is_single_input_type() const override { return true; }
  nlohmann::ordered_json TypeFgJson(const FeatureAssets& renamed_assets) const override;
};

// Float32 config values (boundaries) as JSON numbers: each widened to double,
// the way Python reads a proto2 `repeated float`.
nlohmann::ordered_json FloatList(const google::protobuf::RepeatedField<float>& values);

}  // namespace tzrec
