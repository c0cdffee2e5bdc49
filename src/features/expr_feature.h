// expr_feature: an arithmetic formula over numeric columns (the variables),
// used as a dense value or bucketized by boundaries like a raw_feature.
#pragma once

#include "config/protos/feature.pb.h"
#include "features/typed_feature.h"

namespace tzrec {

class ExprFeature : public NumericFeature<protos::ExprFeature> {
 public:
  using NumericFeature::NumericFeature;

  void set_is_neg(bool value) override;

 protected:
  std::optional<std::vector<std::string>> RawInputs() const override;
  nlohmann::ordered_json TypeFgJson(const FeatureAssets& renamed_assets) const override;
};

}  // namespace tzrec
