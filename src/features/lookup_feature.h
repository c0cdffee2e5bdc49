// lookup_feature: looks the values of a key column up in a "k1:v1<sep>k2:v2"
// map column. Numeric results are combined (sum/mean/min/max/count) into a
// dense value or bucketized by boundaries; with an id bucketizer the looked-up
// values are ids. value_dim > 1 splits each value into value_dim floats, which
// upstream expresses as a stub lookup plus a raw_feature reading it.
#pragma once

#include "config/protos/feature.pb.h"
#include "features/feature.h"
#include "features/vocab.h"

namespace tzrec {

class LookupFeature : public Feature {
 public:
  LookupFeature(const protos::LookupFeature& config, const FeatureOptions& options,
                bool is_sequence, std::optional<SequenceGroup> group = std::nullopt);

  const char* type_name() const override { return "LookupFeature"; }
  bool is_sparse() const override;
  uint32_t value_dim() const override;
  uint32_t output_dim() const override;
  std::string dense_embedding_type() const override;
  uint64_t num_embeddings() const override;
  FeatureAssets Assets() const override;
  void set_is_neg(bool value) override;
  const protos::LookupFeature& config() const override { return config_; }
  const Vocab& vocab() const { return vocab_; }

 protected:
  std::optional<std::vector<std::string>> RawInputs() const override;
  nlohmann::ordered_json TypeFgJson(const FeatureAssets& renamed_assets) const override;

 private:
  protos::LookupFeature config_;
  Vocab vocab_;
};

}  // namespace tzrec
