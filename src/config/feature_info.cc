#include "config/feature_info.h"

#include <algorithm>

#include <fmt/format.h>

#include "config/proto_fields.h"

namespace tzrec {
namespace {

namespace pb = google::protobuf;

bool HasDenseEmbedding(const pb::Message& msg) {
  const auto* oneof = msg.GetDescriptor()->FindOneofByName("dense_emb");
  return oneof != nullptr && msg.GetReflection()->HasOneof(msg, oneof);
}

// Has a bucketizing source, so its values are ids into a table (upstream's
// is_sparse for lookup/match features).
bool HasBuckets(const pb::Message& msg) {
  for (const char* name : {"zch", "dynamicemb", "hash_bucket_size", "num_buckets", "vocab_list",
                           "vocab_dict", "vocab_file", "boundaries"}) {
    if (HasValue(msg, name)) return true;
  }
  return false;
}

// Fills the type-dependent parts of `info` from the typed message.
void Describe(const pb::Message& msg, FeatureInfo& info) {
  const std::string& kind = msg.GetDescriptor()->name();
  info.embedding_dim = static_cast<uint32_t>(GetUInt(msg, "embedding_dim"));
  const bool has_value_dim = HasValue(msg, "value_dim");
  const uint32_t value_dim = static_cast<uint32_t>(GetUInt(msg, "value_dim"));
  if (kind == "IdFeature" || kind == "ComboFeature") {
    info.is_sparse = true;
    info.value_dim = has_value_dim ? value_dim : (info.is_sequence ? 1 : 0);
    info.output_dim = info.embedding_dim;
  } else if (kind == "RawFeature" || kind == "ExprFeature") {
    info.is_sparse = HasValue(msg, "boundaries");
    // Sequences never get a dense embedding upstream.
    info.has_dense_embedding = !info.is_sequence && HasDenseEmbedding(msg);
    info.value_dim = has_value_dim ? value_dim : 1;
    info.output_dim = info.has_embedding() ? info.embedding_dim : info.value_dim;
  } else if (kind == "LookupFeature") {
    info.is_sparse = HasBuckets(msg);
    info.has_dense_embedding = !info.is_sequence && HasDenseEmbedding(msg);
    info.value_dim = has_value_dim ? value_dim : 1;
    info.output_dim = info.has_embedding() ? info.embedding_dim : std::max<uint32_t>(value_dim, 1);
  } else if (kind == "MatchFeature") {
    info.is_sparse = HasBuckets(msg);
    info.has_dense_embedding = !info.is_sequence && HasDenseEmbedding(msg);
    info.value_dim = has_value_dim ? value_dim : 1;
    info.output_dim = info.has_embedding() ? info.embedding_dim : 1;
  } else {
    // Types tzrec does not build: a best guess, used only for summaries.
    info.is_sparse = HasBuckets(msg) || (HasValue(msg, "embedding_dim") && !HasValue(msg, "value_dim"));
    info.has_dense_embedding = !info.is_sequence && HasDenseEmbedding(msg);
    info.value_dim = has_value_dim ? value_dim : 1;
    info.output_dim = info.has_embedding() ? info.embedding_dim : info.value_dim;
  }
}

// The set oneof entry of `msg` (FeatureConfig or SeqFeatureConfig), or nullptr.
const pb::FieldDescriptor* SetFeatureField(const pb::Message& msg) {
  const auto* oneof = msg.GetDescriptor()->FindOneofByName("feature");
  return oneof == nullptr ? nullptr : msg.GetReflection()->GetOneofFieldDescriptor(msg, oneof);
}

}  // namespace

std::string FeatureInfo::DescribeType() const {
  if (sequence_name.empty()) return type;
  return fmt::format("{} in sequence_feature '{}'", type, sequence_name);
}

std::vector<FeatureInfo> ListFeatures(const protos::EasyRecConfig& config) {
  std::vector<FeatureInfo> features;
  for (int i = 0; i < config.feature_configs_size(); ++i) {
    const protos::FeatureConfig& feature_config = config.feature_configs(i);
    const auto* field = SetFeatureField(feature_config);
    if (field == nullptr) {
      FeatureInfo info;
      info.config_index = i;
      features.push_back(std::move(info));
      continue;
    }
    const pb::Message& typed = feature_config.GetReflection()->GetMessage(feature_config, field);
    if (feature_config.has_sequence_feature()) {
      const protos::SequenceFeature& seq = feature_config.sequence_feature();
      for (int j = 0; j < seq.features_size(); ++j) {
        const auto* sub_field = SetFeatureField(seq.features(j));
        FeatureInfo info;
        info.config_index = i;
        info.sub_index = j;
        info.sequence_name = seq.sequence_name();
        info.is_sequence = true;
        if (sub_field != nullptr) {
          const pb::Message& sub = seq.features(j).GetReflection()->GetMessage(seq.features(j), sub_field);
          info.type = sub_field->name();
          info.config = &sub;
          info.feature_name = GetString(sub, "feature_name");
          info.name = seq.sequence_name() + kGroupedSequenceSeparator + info.feature_name;
          Describe(sub, info);
        }
        features.push_back(std::move(info));
      }
      continue;
    }
    FeatureInfo info;
    info.config_index = i;
    info.type = field->name();
    info.config = &typed;
    info.feature_name = GetString(typed, "feature_name");
    info.name = info.feature_name;
    info.is_sequence = info.type.rfind("sequence_", 0) == 0;
    Describe(typed, info);
    features.push_back(std::move(info));
  }
  return features;
}

}  // namespace tzrec
