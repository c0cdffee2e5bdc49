// match_feature: a two-level lookup "pkey^]skey:value" in a nested map column,
// keyed by a primary (category) and secondary (item) column, either of which
// may be "ALL". Numeric results are dense or bucketized by boundaries; with an
// id bucketizer the matched values are ids.
#pragma once

#include "config/protos/feature.pb.h"
#include "features/feature.h"
#include "features/vocab.h"

namespace tzrec {

class MatchFeature : public Feature {
 public:
  MatchFeature(const protos::MatchFeature& config, const FeatureOptions& options,
               bool is_sequence, std::optional<SequenceGroup> group = std::nullopt);

  const char* type_name() const override { return "MatchFeature"; }
  bool is_sparse() const override;
  uint32_t value_dim() const override;
  uint32_t output_dim() const override;
  std::string dense_embedding_type() const override;
  uint64_t num_embeddings() const override;
  FeatureAssets Assets() const override;
  void set_is_neg(bool value) override;
  const protos::MatchFeature& config() const override { return config_; }
  const Vocab& vocab() const { return vocab_; }

 protected:
  std::optional<std::vector<std::string>> RawInputs() const override;
  nlohmann::ordered_json TypeFgJson(const FeatureAssets& renamed_assets) const override;

 private:
  protos::MatchFeature config_;
  Vocab vocab_;
};

}  // namespace tzrec
