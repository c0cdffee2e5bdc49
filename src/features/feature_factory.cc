#include "features/feature_factory.h"

#include <functional>
#include <map>
#include <set>

#include <google/protobuf/descriptor.h>

#include "common/error.h"
#include "config/proto_fields.h"
#include "features/combo_feature.h"
#include "features/expr_feature.h"
#include "features/id_feature.h"
#include "features/lookup_feature.h"
#include "features/match_feature.h"
#include "features/raw_feature.h"

namespace tzrec {

namespace gp = google::protobuf;

namespace {

// MakeFeature, refusing types tzrec does not implement by name.
std::unique_ptr<Feature> MakeSupportedFeature(const gp::Message& holder,
                                              const gp::FieldDescriptor* field,
                                              const FeatureOptions& options, bool is_sequence,
                                              const std::optional<SequenceGroup>& group,
                                              const std::string& where) {
  std::unique_ptr<Feature> feature = MakeFeature(holder, field, options, is_sequence, group);
  if (feature != nullptr) return feature;
  const gp::Message& typed = holder.GetReflection()->GetMessage(holder, field);
  FailConfig("{} ({} '{}'): feature type {} is not supported by tzrec; supported types are "
             "id_feature, raw_feature, combo_feature, lookup_feature, match_feature, "
             "expr_feature, their sequence_* forms and sequence_feature",
             where, field->name(), GetString(typed, "feature_name"), field->name());
}

// True when all of a feature's inputs are user-side, following inputs of the
// form "feature:<name>" to the named feature (the FG DAG case).
bool ResolveUserFeature(const Feature& feature, const std::map<std::string, const Feature*>& by_name,
                        std::set<std::string>& visiting) {
  if (feature.is_grouped_sequence()) return true;
  if (!visiting.insert(feature.name()).second) return false;  // a cycle is not user-side
  bool all_user = true;
  for (const FeatureInput& input : feature.side_inputs()) {
    if (input.side == "user") continue;
    if (input.side == "feature") {
      const auto it = by_name.find(input.name);
      if (it != by_name.end() && ResolveUserFeature(*it->second, by_name, visiting)) continue;
    }
    all_user = false;
    break;
  }
  visiting.erase(feature.name());
  return all_user;
}

}  // namespace

std::unique_ptr<Feature> MakeFeature(const gp::Message& holder, const gp::FieldDescriptor* field,
                                     const FeatureOptions& options, bool is_sequence,
                                     const std::optional<SequenceGroup>& group) {
  const gp::Message& typed = holder.GetReflection()->GetMessage(holder, field);
  const std::string& type = field->message_type()->name();
  if (type == "IdFeature") {
    return std::make_unique<IdFeature>(static_cast<const protos::IdFeature&>(typed), options,
                                       is_sequence, group);
  }
  if (type == "RawFeature") {
    return std::make_unique<RawFeature>(static_cast<const protos::RawFeature&>(typed), options,
                                        is_sequence, group);
  }
  if (type == "ComboFeature") {
    return std::make_unique<ComboFeature>(static_cast<const protos::ComboFeature&>(typed),
                                          options, is_sequence, group);
  }
  if (type == "LookupFeature") {
    return std::make_unique<LookupFeature>(static_cast<const protos::LookupFeature&>(typed),
                                           options, is_sequence, group);
  }
  if (type == "MatchFeature") {
    return std::make_unique<MatchFeature>(static_cast<const protos::MatchFeature&>(typed),
                                          options, is_sequence, group);
  }
  if (type == "ExprFeature") {
    return std::make_unique<ExprFeature>(static_cast<const protos::ExprFeature&>(typed), options,
                                         is_sequence, group);
  }
  return nullptr;
}

SequenceGroup SequenceGroupOf(const protos::SequenceFeature& seq) {
  SequenceGroup group;
  group.name = seq.sequence_name();
  group.length = seq.sequence_length();
  group.delim = seq.sequence_delim();
  group.pk = seq.sequence_pk().empty() ? "user:" + seq.sequence_name() : seq.sequence_pk();
  return group;
}

FeatureList CreateFeatures(const gp::RepeatedPtrField<protos::FeatureConfig>& feature_configs,
                           const FeatureOptions& options,
                           const std::vector<std::string>& neg_fields,
                           bool force_base_data_group) {
  FeatureList features;
  for (int i = 0; i < feature_configs.size(); ++i) {
    const protos::FeatureConfig& config = feature_configs.Get(i);
    const std::string where = fmt::format("feature_configs[{}]", i);
    const gp::FieldDescriptor* field = OneofCase(config, "feature");
    if (field == nullptr) FailConfig("{}: no feature type is set", where);
    if (field->name() == "sequence_feature") {
      const protos::SequenceFeature& seq = config.sequence_feature();
      const SequenceGroup group = SequenceGroupOf(seq);
      for (int j = 0; j < seq.features_size(); ++j) {
        const protos::SeqFeatureConfig& sub = seq.features(j);
        const std::string sub_where =
            fmt::format("{} (sequence_feature '{}').features[{}]", where, group.name, j);
        const gp::FieldDescriptor* sub_field = OneofCase(sub, "feature");
        if (sub_field == nullptr) FailConfig("{}: no feature type is set", sub_where);
        features.push_back(MakeSupportedFeature(sub, sub_field, options, true, group, sub_where));
      }
    } else {
      const bool is_sequence = field->name().rfind("sequence_", 0) == 0;
      features.push_back(
          MakeSupportedFeature(config, field, options, is_sequence, std::nullopt, where));
    }
  }

  const std::set<std::string> neg(neg_fields.begin(), neg_fields.end());
  bool has_dag = false;
  for (const auto& feature : features) {
    if (!neg.empty()) {
      for (const std::string& input : feature->inputs()) {
        if (neg.count(input)) {
          feature->set_is_neg(true);
          break;
        }
      }
    }
    if (force_base_data_group) feature->set_data_group(kBaseDataGroup);
    try {
      for (const FeatureInput& input : feature->side_inputs()) {
        if (input.side == "feature") has_dag = true;
      }
    } catch (const ConfigError&) {
      // Inputs are only needed when FG runs; FG-encoded data can do without.
    }
  }

  if (has_dag) {
    std::map<std::string, const Feature*> by_name;
    for (const auto& feature : features) by_name.emplace(feature->name(), feature.get());
    for (const auto& feature : features) {
      std::set<std::string> visiting;
      feature->set_is_user_feature(ResolveUserFeature(*feature, by_name, visiting));
    }
  }
  return features;
}

FeatureList CreateFeatures(const protos::EasyRecConfig& config) {
  const protos::DataConfig& data = config.data_config();
  FeatureOptions options;
  options.fg_mode = data.fg_mode();
  options.fg_encoded_multival_sep = data.fg_encoded_multival_sep();

  std::vector<std::string> neg_fields;
  const gp::OneofDescriptor* oneof = data.GetDescriptor()->FindOneofByName("sampler");
  if (const gp::FieldDescriptor* sampler_field =
          oneof ? data.GetReflection()->GetOneofFieldDescriptor(data, oneof) : nullptr) {
    if (sampler_field->name() != "tdm_sampler") {
      const gp::Message& sampler = data.GetReflection()->GetMessage(data, sampler_field);
      const gp::FieldDescriptor* attr = sampler.GetDescriptor()->FindFieldByName("attr_fields");
      if (attr != nullptr) {
        const gp::Reflection* r = sampler.GetReflection();
        for (int i = 0; i < r->FieldSize(sampler, attr); ++i) {
          neg_fields.push_back(r->GetRepeatedString(sampler, attr, i));
        }
      }
    }
  }
  return CreateFeatures(config.feature_configs(), options, neg_fields,
                        data.force_base_data_group());
}

std::vector<const Feature*> FeaturePointers(const FeatureList& features) {
  std::vector<const Feature*> pointers;
  pointers.reserve(features.size());
  for (const auto& feature : features) pointers.push_back(feature.get());
  return pointers;
}

const Feature& FindFeature(const std::vector<const Feature*>& features, const std::string& name,
                           const std::string& context) {
  for (const Feature* feature : features) {
    if (feature->name() == name) return *feature;
  }
  FailConfig("{}: feature '{}' is not defined in feature_configs", context, name);
}

}  // namespace tzrec
