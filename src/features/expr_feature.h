// expr_feature: an arithmetic formula over numeric columns (the variables),
// used as a dense value or bucketized by boundaries like a raw_feature.
#pragma once

#include "config/protos/feature.pb.h"
#include "features/typed_feature.h"

namespace tzrec {

class ExprFeature : public TypedFeature<protos::ExprFeature> {
 public:
  ExprFeature(const protos::ExprFeature& config, const FeatureOptions& options, bool is_sequence,
              std::optional<SequenceGroup> group = std::nullopt);

  bool is_sparse() const override { return config_.boundaries_size() > 0; }
  uint32_t value_dim() const override;
  uint32_t output_dim() const override;
  std::string dense_embedding_type() const override;
  uint64_t num_embeddings() const override { return config_.boundaries_size() + 1; }
  void set_is_neg(bool value) override;

 protected:
  std::optional<std::vector<std::string>> RawInputs() const override;
  nlohmann::ordered_json TypeFgJson(const FeatureAssets& renamed_assets) const override;

};

}  // namespace tzrec
