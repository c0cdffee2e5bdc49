#include "features/export_features.h"

#include <set>

#include <google/protobuf/descriptor.h>

#include "common/error.h"
#include "features/feature_factory.h"

namespace tzrec {

namespace gp = google::protobuf;

namespace {

// The set entry of ModelConfig's `model` oneof, or nullptr.
const gp::FieldDescriptor* ModelField(const protos::ModelConfig& model_config) {
  const gp::OneofDescriptor* oneof = model_config.GetDescriptor()->FindOneofByName("model");
  return model_config.GetReflection()->GetOneofFieldDescriptor(model_config, oneof);
}

// A string field of a sub-message, e.g. user_tower.input.
std::string TowerField(const protos::ModelConfig& model_config, const std::string& tower,
                       const std::string& field) {
  const gp::FieldDescriptor* model_field = ModelField(model_config);
  const gp::Message& model = model_config.GetReflection()->GetMessage(model_config, model_field);
  const gp::FieldDescriptor* tower_field =
      model.GetDescriptor()->FindFieldByName(tower + "_tower");
  if (tower_field == nullptr || tower_field->message_type() == nullptr) {
    FailConfig("model_config.{} has no {}_tower", model_field->name(), tower);
  }
  const gp::Message& tower_msg = model.GetReflection()->GetMessage(model, tower_field);
  const gp::FieldDescriptor* f = tower_msg.GetDescriptor()->FindFieldByName(field);
  if (f == nullptr || f->cpp_type() != gp::FieldDescriptor::CPPTYPE_STRING) {
    FailConfig("model_config.{}.{}_tower has no {} field", model_field->name(), tower, field);
  }
  return tower_msg.GetReflection()->GetString(tower_msg, f);
}

}  // namespace

const protos::FeatureGroupConfig& FindFeatureGroup(const protos::ModelConfig& model_config,
                                                   const std::string& name,
                                                   const std::string& context) {
  for (const auto& group : model_config.feature_groups()) {
    if (group.group_name() == name) return group;
  }
  FailConfig("{}: feature group '{}' is not defined in model_config.feature_groups", context,
             name);
}

std::vector<const Feature*> FeaturesInGroups(
    const std::vector<const Feature*>& features,
    const std::vector<const protos::FeatureGroupConfig*>& groups) {
  std::vector<const Feature*> selected;
  std::set<std::string> seen;
  const auto add = [&](const std::string& name, const std::string& context) {
    const Feature& feature = FindFeature(features, name, context);
    if (seen.insert(name).second) selected.push_back(&feature);
  };
  for (const protos::FeatureGroupConfig* group : groups) {
    const std::string context = "feature group '" + group->group_name() + "'";
    for (const std::string& name : group->feature_names()) add(name, context);
    for (const auto& seq_group : group->sequence_groups()) {
      for (const std::string& name : seq_group.feature_names()) add(name, context);
    }
  }
  return selected;
}

std::vector<const Feature*> SelectTowerFeatures(const protos::ModelConfig& model_config,
                                                const std::vector<const Feature*>& features,
                                                const std::string& tower) {
  const gp::FieldDescriptor* model_field = ModelField(model_config);
  if (model_field == nullptr) FailConfig("model_config: no model type is set");
  const std::string type = model_field->name();
  if (tower != "user" && tower != "item") Fail("unknown tower '{}'; expected user or item", tower);
  if (type != "dssm" && type != "dssm_v2" && type != "mind" && type != "dat") {
    FailConfig("model_config.{}: selecting tower features is supported for dssm, dssm_v2, mind "
               "and dat",
               type);
  }
  const std::string context = fmt::format("model_config.{}.{}_tower", type, tower);
  const auto& input =
      FindFeatureGroup(model_config, TowerField(model_config, tower, "input"), context + ".input");
  std::vector<const Feature*> selected = FeaturesInGroups(features, {&input});
  if (type == "mind" && tower == "user") {
    const auto& history = FindFeatureGroup(
        model_config, TowerField(model_config, tower, "history_input"),
        context + ".history_input");
    for (const Feature* f : FeaturesInGroups(features, {&history})) selected.push_back(f);
  }
  if (type == "dat") {
    // A DAT tower also reads its augment_input group (the augmented vector);
    // a feature already in `input` is not repeated.
    const auto& augment = FindFeatureGroup(
        model_config, TowerField(model_config, tower, "augment_input"),
        context + ".augment_input");
    selected = FeaturesInGroups(features, {&input, &augment});
  }
  return selected;
}

std::vector<ExportFeatureSet> ExportFeatureSets(const protos::ModelConfig& model_config,
                                                const std::vector<const Feature*>& features) {
  const gp::FieldDescriptor* model_field = ModelField(model_config);
  if (model_field == nullptr) FailConfig("model_config: no model type is set");
  const int family = model_field->number() / 100;  // 3xx match, 400 TDM (upstream numbering)
  if (family == 3) {
    return {{"user", SelectTowerFeatures(model_config, features, "user")},
            {"item", SelectTowerFeatures(model_config, features, "item")}};
  }
  if (family == 4) {
    const protos::FeatureGroupConfig* seq_group = nullptr;
    for (const auto& group : model_config.feature_groups()) {
      if (group.group_type() == protos::SEQUENCE) {
        seq_group = &group;
        break;
      }
    }
    if (seq_group == nullptr) {
      FailConfig("model_config.{}: TDM needs a feature group with group_type SEQUENCE",
                 model_field->name());
    }
    std::vector<const Feature*> query;
    for (const std::string& name : seq_group->feature_names()) {
      const Feature& feature =
          FindFeature(features, name, "feature group '" + seq_group->group_name() + "'");
      if (!feature.is_sequence()) query.push_back(&feature);
    }
    return {{"embedding", query}, {"model", features}};
  }
  return {{"", features}};
}

}  // namespace tzrec
