// What the feature classes share beyond Feature, by config message type:
// holding the typed config (TypedFeature), the id vocabulary of the types that
// bucketize into ids (BucketizedFeature: id, combo, lookup, match), and the
// rules of the two map-valued types (MapValueFeature: lookup, match) and of the
// two numeric ones (NumericFeature: raw, expr).
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "features/feature.h"
#include "features/vocab.h"

namespace tzrec {

// Constructors are public so that each type inherits them (`using`); the
// classes stay abstract until a type defines its inputs and fg.json entry.
template <typename Config>
class TypedFeature : public Feature {
 public:
  TypedFeature(const Config& config, const FeatureOptions& options, bool is_sequence,
               std::optional<SequenceGroup> group = std::nullopt)
      : Feature(ReadCommon(config), config.default_value(), options, is_sequence,
                std::move(group)),
        config_(config) {}

  // Upstream's class names are the config messages' names (IdFeature, ...).
  // Final here, so it already answers while a derived part is constructed.
  const char* type_name() const final { return Config::descriptor()->name().c_str(); }
  const Config& config() const override { return config_; }

 protected:
  // Owned: a feature does not depend on the lifetime of the parsed config.
  Config config_;
};

template <typename Config>
class BucketizedFeature : public TypedFeature<Config> {
 public:
  BucketizedFeature(const Config& config, const FeatureOptions& options, bool is_sequence,
                    std::optional<SequenceGroup> group = std::nullopt)
      : TypedFeature<Config>(config, options, is_sequence, std::move(group)),
        vocab_(Vocab::Read(config, this->default_value(), this->Describe())) {}

  FeatureAssets Assets() const override { return vocab_.Assets(); }
  const Vocab& vocab() const { return vocab_; }

 protected:
  Vocab vocab_;
};

// lookup_feature and match_feature: values read from a map column are ids when
// the config gives a bucketizer or boundaries, else dense (value_dim wide, 1
// unless set); a dense result may have a dense embedding.
template <typename Config>
class MapValueFeature : public BucketizedFeature<Config> {
 public:
  using BucketizedFeature<Config>::BucketizedFeature;

  bool is_sparse() const override {
    return this->vocab_.Rows().has_value() || this->config_.boundaries_size() > 0;
  }
  uint32_t value_dim() const override {
    return this->config_.has_value_dim() ? this->config_.value_dim() : 1;
  }
  std::string dense_embedding_type() const override { return DenseEmbeddingOf(this->config_); }
};

// raw_feature and expr_feature: a number, dense (value_dim floats, 1 unless
// set; a dense embedding outside sequences) or bucketized by boundaries.
template <typename Config>
class NumericFeature : public TypedFeature<Config> {
 public:
  using TypedFeature<Config>::TypedFeature;

  bool is_sparse() const override { return this->config_.boundaries_size() > 0; }
  uint32_t value_dim() const override {
    return this->config_.has_value_dim() ? this->config_.value_dim() : 1;
  }
  uint32_t output_dim() const override {
    return this->has_embedding() ? this->embedding_dim() : value_dim();
  }
  // Sequences get no dense embedding (upstream's rule for these two types).
  std::string dense_embedding_type() const override {
    return this->is_sequence() ? "" : DenseEmbeddingOf(this->config_);
  }
  uint64_t num_embeddings() const override { return this->config_.boundaries_size() + 1; }
};

}  // namespace tzrec
