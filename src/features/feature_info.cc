#include "features/feature_info.h"

#include <fmt/format.h>

#include "config/proto_fields.h"
#include "features/feature_factory.h"

namespace tzrec {
namespace {

namespace pb = google::protobuf;

// Sparsity and widths from the feature's own class: the one place that knows
// them (the model builds from the same classes, so validation agrees with it).
void DescribeFrom(const Feature& feature, FeatureInfo& info) {
  info.is_sparse = feature.is_sparse();
  info.has_dense_embedding = !feature.dense_embedding_type().empty();
  info.value_dim = feature.value_dim();
  // An embedded feature without embedding_dim is reported by validation; its
  // width is unknown until then.
  info.output_dim = info.has_embedding() && info.embedding_dim == 0 ? 0 : feature.output_dim();
}

// Types tzrec does not build (validation refuses them by name): a best guess
// for the config summary only. Bucketized or embedded values count as sparse.
void Guess(const pb::Message& msg, FeatureInfo& info) {
  bool has_buckets = false;
  for (const char* name : {"zch", "dynamicemb", "hash_bucket_size", "num_buckets", "vocab_list",
                           "vocab_dict", "vocab_file", "boundaries"}) {
    has_buckets = has_buckets || HasValue(msg, name);
  }
  info.is_sparse = has_buckets || (HasValue(msg, "embedding_dim") && !HasValue(msg, "value_dim"));
  info.has_dense_embedding = !info.is_sequence && OneofCase(msg, "dense_emb") != nullptr;
  info.value_dim = HasValue(msg, "value_dim") ? static_cast<uint32_t>(GetUInt(msg, "value_dim")) : 1;
  info.output_dim = info.has_embedding() ? info.embedding_dim : info.value_dim;
}

// Fills `info` from the entry `holder` whose oneof entry is `field`.
void Describe(const pb::Message& holder, const pb::FieldDescriptor* field,
              const std::optional<SequenceGroup>& group, const FeatureOptions& options,
              FeatureInfo& info) {
  const pb::Message& typed = holder.GetReflection()->GetMessage(holder, field);
  info.type = field->name();
  info.config = &typed;
  info.feature_name = GetString(typed, "feature_name");
  info.embedding_dim = static_cast<uint32_t>(GetUInt(typed, "embedding_dim"));
  const std::unique_ptr<Feature> feature =
      MakeFeature(holder, field, options, info.is_sequence, group);
  if (feature != nullptr) {
    DescribeFrom(*feature, info);
  } else {
    Guess(typed, info);
  }
}

}  // namespace

std::string FeatureInfo::DescribeType() const {
  if (sequence_name.empty()) return type;
  return fmt::format("{} in sequence_feature '{}'", type, sequence_name);
}

std::vector<FeatureInfo> ListFeatures(const protos::EasyRecConfig& config) {
  FeatureOptions options;
  options.fg_mode = config.data_config().fg_mode();
  std::vector<FeatureInfo> features;
  for (int i = 0; i < config.feature_configs_size(); ++i) {
    const protos::FeatureConfig& feature_config = config.feature_configs(i);
    const auto* field = OneofCase(feature_config, "feature");
    if (field == nullptr) {
      FeatureInfo info;
      info.config_index = i;
      features.push_back(std::move(info));
      continue;
    }
    if (feature_config.has_sequence_feature()) {
      const protos::SequenceFeature& seq = feature_config.sequence_feature();
      const SequenceGroup group = SequenceGroupOf(seq);
      for (int j = 0; j < seq.features_size(); ++j) {
        FeatureInfo info;
        info.config_index = i;
        info.sub_index = j;
        info.sequence_name = seq.sequence_name();
        info.is_sequence = true;
        if (const auto* sub_field = OneofCase(seq.features(j), "feature")) {
          Describe(seq.features(j), sub_field, group, options, info);
          info.name = seq.sequence_name() + kGroupedSequenceSeparator + info.feature_name;
        }
        features.push_back(std::move(info));
      }
      continue;
    }
    FeatureInfo info;
    info.config_index = i;
    info.is_sequence = field->name().rfind("sequence_", 0) == 0;
    Describe(feature_config, field, std::nullopt, options, info);
    info.name = info.feature_name;
    features.push_back(std::move(info));
  }
  return features;
}

}  // namespace tzrec
