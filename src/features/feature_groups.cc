#include "features/feature_groups.h"

#include <map>
#include <set>

#include "common/error.h"
#include "config/model_type.h"
#include "config/protos/model.pb.h"

namespace tzrec {
namespace {

namespace pb = google::protobuf;

using FeatureMap = std::map<std::string, const FeatureInfo*>;

const FeatureInfo& FindMember(const FeatureMap& by_name, const std::string& group,
                              const std::string& feature) {
  auto it = by_name.find(feature);
  if (it == by_name.end()) {
    FailConfig("feature group '{}' names feature '{}', which is not in feature_configs", group,
               feature);
  }
  return *it->second;
}

SequenceGroupLayout LayoutSequence(const std::string& name, const std::string& owner,
                                   const pb::RepeatedPtrField<std::string>& feature_names,
                                   const FeatureMap& by_name) {
  SequenceGroupLayout layout;
  layout.name = name;
  for (const std::string& feature_name : feature_names) {
    const FeatureInfo& info = FindMember(by_name, owner, feature_name);
    GroupMember member{info.name, info.output_dim, info.is_sequence};
    if (info.is_sequence) {
      layout.sequence_dim += member.dim;
      layout.sequence.push_back(member);
    } else {
      layout.query_dim += member.dim;
      layout.query.push_back(member);
    }
  }
  if (layout.sequence.empty()) {
    FailConfig("sequence group '{}' of feature group '{}' has no sequence feature", name, owner);
  }
  return layout;
}

const pb::Message* EncoderMessage(const protos::SeqEncoderConfig& encoder, std::string* type) {
  const auto* oneof = protos::SeqEncoderConfig::descriptor()->FindOneofByName("seq_module");
  const auto* field = encoder.GetReflection()->GetOneofFieldDescriptor(encoder, oneof);
  if (field == nullptr) return nullptr;
  *type = field->name();
  return &encoder.GetReflection()->GetMessage(encoder, field);
}

uint32_t EncoderOutputDim(const protos::SeqEncoderConfig& encoder, const SequenceGroupLayout& seq) {
  switch (encoder.seq_module_case()) {
    case protos::SeqEncoderConfig::kSelfAttentionEncoder:
      return static_cast<uint32_t>(std::max(0, encoder.self_attention_encoder().multihead_attn_dim()));
    case protos::SeqEncoderConfig::kMultiWindowDinEncoder:
      return seq.sequence_dim *
             static_cast<uint32_t>(encoder.multi_window_din_encoder().windows_len_size() + 1);
    default:
      return seq.sequence_dim;
  }
}

// The nested sequence_groups / sequence_encoders of a DEEP group, with
// upstream's defaults: a lone unnamed sequence group takes the group's name and
// an encoder without input reads the lone sequence group.
void LayoutNestedSequences(const protos::FeatureGroupConfig& group, const FeatureMap& by_name,
                           std::set<std::string>& sequence_group_names, FeatureGroupLayout& layout) {
  const std::string& name = group.group_name();
  const int num_groups = group.sequence_groups_size();
  const int num_encoders = group.sequence_encoders_size();
  if (group.group_type() != protos::DEEP) {
    if (num_groups > 0 || num_encoders > 0) {
      FailConfig("feature group '{}' is {}, but sequence_groups and sequence_encoders are only "
                 "allowed in DEEP groups", name, FeatureGroupTypeName(group.group_type()));
    }
    return;
  }
  if (num_groups == 0 && num_encoders == 0) return;
  if (num_encoders == 0) FailConfig("feature group '{}' has sequence_groups but no sequence_encoders", name);
  if (num_groups == 0) FailConfig("feature group '{}' has sequence_encoders but no sequence_groups", name);

  for (const auto& seq_group : group.sequence_groups()) {
    std::string seq_name = seq_group.group_name();
    if (!seq_group.has_group_name()) {
      if (num_groups > 1) {
        FailConfig("feature group '{}' has {} sequence_groups, so each needs a group_name", name,
                   num_groups);
      }
      seq_name = name;
    }
    if (!sequence_group_names.insert(seq_name).second) {
      FailConfig("sequence group name '{}' (in feature group '{}') is used twice", seq_name, name);
    }
    layout.sequence_groups.push_back(LayoutSequence(seq_name, name, seq_group.feature_names(), by_name));
  }

  std::set<std::string> encoded;
  for (int i = 0; i < num_encoders; ++i) {
    const auto& encoder = group.sequence_encoders(i);
    SequenceEncoderLayout enc;
    const pb::Message* message = EncoderMessage(encoder, &enc.type);
    if (message == nullptr) {
      FailConfig("feature group '{}': sequence_encoders[{}] sets no encoder type", name, i);
    }
    const auto* input_field = message->GetDescriptor()->FindFieldByName("input");
    const auto* refl = message->GetReflection();
    if (refl->HasField(*message, input_field)) {
      enc.input = refl->GetString(*message, input_field);
    } else if (num_groups == 1) {
      enc.input = layout.sequence_groups[0].name;
    } else {
      FailConfig("feature group '{}' has {} sequence_groups, so {} needs an input", name, num_groups,
                 enc.type);
    }
    const SequenceGroupLayout* seq = nullptr;
    for (const auto& candidate : layout.sequence_groups) {
      if (candidate.name == enc.input) seq = &candidate;
    }
    if (seq == nullptr) {
      FailConfig("feature group '{}': {} input '{}' is not one of its sequence_groups", name,
                 enc.type, enc.input);
    }
    if ((encoder.has_din_encoder() || encoder.has_multi_window_din_encoder()) &&
        seq->query_dim > seq->sequence_dim) {
      FailConfig("feature group '{}': {} over '{}' has query width {} > sequence width {}; DIN "
                 "needs the query no wider than the sequence", name, enc.type, enc.input,
                 seq->query_dim, seq->sequence_dim);
    }
    enc.output_dim = EncoderOutputDim(encoder, *seq);
    encoded.insert(enc.input);
    layout.encoders.push_back(enc);
  }
  for (const auto& seq : layout.sequence_groups) {
    if (!encoded.count(seq.name)) {
      FailConfig("feature group '{}': sequence group '{}' has no sequence encoder", name, seq.name);
    }
  }
}

}  // namespace

const char* FeatureGroupTypeName(protos::FeatureGroupType type) {
  return protos::FeatureGroupType_Name(type).c_str();
}

std::vector<uint32_t> FeatureGroupLayout::dims() const {
  std::vector<uint32_t> result;
  for (const auto& member : members) result.push_back(member.dim);
  for (const auto& encoder : encoders) result.push_back(encoder.output_dim);
  return result;
}

std::vector<FeatureGroupLayout> LayoutFeatureGroups(const protos::EasyRecConfig& config,
                                                    const std::vector<FeatureInfo>& features) {
  FeatureMap by_name;
  for (const auto& feature : features) by_name.emplace(feature.name, &feature);
  const uint32_t wide_dim = WideEmbeddingDim(config.model_config());

  std::vector<FeatureGroupLayout> layouts;
  std::set<std::string> sequence_group_names;
  for (const auto& group : config.model_config().feature_groups()) {
    FeatureGroupLayout layout;
    layout.name = group.group_name();
    layout.type = group.group_type();
    if (layout.is_sequence_group()) {
      layout.sequence_groups.push_back(
          LayoutSequence(layout.name, layout.name, group.feature_names(), by_name));
      for (const auto& feature_name : group.feature_names()) {
        const FeatureInfo& info = *by_name.at(feature_name);
        layout.members.push_back({info.name, info.output_dim, info.is_sequence});
      }
    } else {
      for (const auto& feature_name : group.feature_names()) {
        const FeatureInfo& info = FindMember(by_name, layout.name, feature_name);
        GroupMember member{info.name, info.output_dim, info.is_sequence};
        if (layout.type == protos::WIDE) {
          if (!info.is_sparse) {
            FailConfig("feature group '{}' is WIDE, but feature '{}' ({}) is dense; WIDE groups "
                       "take only features with embedding tables", layout.name, info.name,
                       info.DescribeType());
          }
          member.dim = wide_dim;
        }
        layout.total_dim += member.dim;
        layout.members.push_back(member);
      }
      LayoutNestedSequences(group, by_name, sequence_group_names, layout);
      for (const auto& encoder : layout.encoders) layout.total_dim += encoder.output_dim;
    }
    layouts.push_back(std::move(layout));
  }
  return layouts;
}

std::vector<FeatureGroupLayout> LayoutFeatureGroups(const protos::EasyRecConfig& config) {
  return LayoutFeatureGroups(config, ListFeatures(config));
}

}  // namespace tzrec
