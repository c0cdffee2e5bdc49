// lookup_feature: looks the values of a key column up in a "k1:v1<sep>k2:v2"
// map column. Numeric results are combined (sum/mean/min/max/count) into a
// dense value or bucketized by boundaries; with an id bucketizer the looked-up
// values are ids. value_dim > 1 splits each value into value_dim floats, which
// upstream expresses as a stub lookup plus a raw_feature reading it.
#pragma once

#include "config/protos/feature.pb.h"
#include "features/typed_feature.h"

namespace tzrec {

class LookupFeature : public MapValueFeature<protos::LookupFeature> {
 public:
  using MapValueFeature::MapValueFeature;

  uint32_t output_dim() const override;
  uint64_t num_embeddings() const override;
  void set_is_neg(bool value) override;

 protected:
  std::optional<std::vector<std::string>> RawInputs() const override;
  nlohmann::ordered_json TypeFgJson(const FeatureAssets& renamed_assets) const override;
};

}  // namespace tzrec
