// combo_feature: the cross of several categorical columns, hashed or looked up
// in a vocabulary like an id_feature.
#pragma once

#include "config/protos/feature.pb.h"
#include "features/typed_feature.h"

namespace tzrec {

class ComboFeature : public BucketizedFeature<protos::ComboFeature> {
 public:
  using BucketizedFeature::BucketizedFeature;

  bool is_sparse() const override { return true; }
  uint32_t value_dim() const override;
  uint32_t output_dim() const override { return config_.embedding_dim(); }
  uint64_t num_embeddings() const override;
  // Crosses user and sampled item fields: the cross-negative data group.
  void set_is_neg(bool value) override;

 protected:
  std::optional<std::vector<std::string>> RawInputs() const override;
  nlohmann::ordered_json TypeFgJson(const FeatureAssets& renamed_assets) const override;
};

}  // namespace tzrec
