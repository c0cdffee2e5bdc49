// match_feature: a two-level lookup "pkey^]skey:value" in a nested map column,
// keyed by a primary (category) and secondary (item) column, either of which
// may be "ALL". Numeric results are dense or bucketized by boundaries; with an
// id bucketizer the matched values are ids.
#pragma once

#include "config/protos/feature.pb.h"
#include "features/typed_feature.h"

namespace tzrec {

class MatchFeature : public MapValueFeature<protos::MatchFeature> {
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
