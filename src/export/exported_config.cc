#include "export/exported_config.h"

#include <map>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "common/error.h"
#include "features/fg_json.h"

namespace tzrec::exporting {

namespace pb = google::protobuf;

namespace {

// The message set in the `feature` oneof of a FeatureConfig or
// SeqFeatureConfig; nullptr when none is set.
pb::Message* SetFeatureMessage(pb::Message& config) {
  const pb::Descriptor* descriptor = config.GetDescriptor();
  const pb::OneofDescriptor* oneof = descriptor->FindOneofByName("feature");
  if (oneof == nullptr) return nullptr;
  const pb::Reflection* reflection = config.GetReflection();
  const pb::FieldDescriptor* field = reflection->GetOneofFieldDescriptor(config, oneof);
  if (field == nullptr || field->type() != pb::FieldDescriptor::TYPE_MESSAGE) return nullptr;
  return reflection->MutableMessage(&config, field);
}

std::string StringField(const pb::Message& message, const std::string& name) {
  const pb::FieldDescriptor* field = message.GetDescriptor()->FindFieldByName(name);
  if (field == nullptr || field->type() != pb::FieldDescriptor::TYPE_STRING) return "";
  return message.GetReflection()->GetString(message, field);
}

void SetStringField(pb::Message& message, const std::string& name, const std::string& value) {
  const pb::FieldDescriptor* field = message.GetDescriptor()->FindFieldByName(name);
  if (field == nullptr || field->type() != pb::FieldDescriptor::TYPE_STRING) {
    Fail("feature config {} has no string field {} to rename an asset in",
         message.GetDescriptor()->name(), name);
  }
  message.GetReflection()->SetString(&message, field, value);
}

// Where each feature (by model-facing name) is configured.
struct ConfigEntry {
  const protos::FeatureConfig* top = nullptr;       // ungrouped feature
  const protos::SeqFeatureConfig* sub = nullptr;    // grouped sequence sub-feature
};

std::map<std::string, ConfigEntry> IndexFeatureConfigs(const protos::EasyRecConfig& config) {
  std::map<std::string, ConfigEntry> index;
  for (const protos::FeatureConfig& entry : config.feature_configs()) {
    if (entry.has_sequence_feature()) {
      const protos::SequenceFeature& sequence = entry.sequence_feature();
      for (const protos::SeqFeatureConfig& sub : sequence.features()) {
        protos::SeqFeatureConfig copy = sub;
        const pb::Message* message = SetFeatureMessage(copy);
        if (message == nullptr) continue;
        index.emplace(sequence.sequence_name() + "__" + StringField(*message, "feature_name"),
                      ConfigEntry{nullptr, &sub});
      }
    } else {
      protos::FeatureConfig copy = entry;
      const pb::Message* message = SetFeatureMessage(copy);
      if (message == nullptr) continue;
      index.emplace(StringField(*message, "feature_name"), ConfigEntry{&entry, nullptr});
    }
  }
  return index;
}

// Copies the feature's assets and points `entry`'s typed message at them.
void RenameAssets(const Feature& feature, pb::Message& entry, const std::string& asset_copy_dir,
                  const std::string& asset_dir_in_config) {
  const FeatureAssets renamed = CopyFeatureAssets(feature, asset_copy_dir);
  if (renamed.empty()) return;
  pb::Message* message = SetFeatureMessage(entry);
  if (message == nullptr) return;
  for (const auto& [field, file_name] : renamed) SetStringField(*message, field, file_name);
  SetStringField(*message, "asset_dir", asset_dir_in_config);
}

}  // namespace

protos::EasyRecConfig ExportedPipelineConfig(const protos::EasyRecConfig& config,
                                             const std::vector<const Feature*>& features,
                                             const std::string& asset_copy_dir,
                                             const std::string& asset_dir_in_config) {
  const std::map<std::string, ConfigEntry> index = IndexFeatureConfigs(config);
  protos::EasyRecConfig exported = config;
  exported.clear_feature_configs();
  std::map<std::string, protos::SequenceFeature*> sequences;
  for (const Feature* feature : features) {
    auto found = index.find(feature->name());
    if (found == index.end()) {
      Fail("feature {} has no entry in the pipeline config's feature_configs", feature->name());
    }
    if (const SequenceGroup* group = feature->sequence_group()) {
      protos::SequenceFeature*& sequence = sequences[group->name];
      if (sequence == nullptr) {
        sequence = exported.add_feature_configs()->mutable_sequence_feature();
        sequence->set_sequence_name(group->name);
        sequence->set_sequence_length(group->length);
        sequence->set_sequence_delim(group->delim);
        sequence->set_sequence_pk(group->pk);
      }
      protos::SeqFeatureConfig* sub = sequence->add_features();
      *sub = *found->second.sub;
      RenameAssets(*feature, *sub, asset_copy_dir, asset_dir_in_config);
    } else {
      protos::FeatureConfig* entry = exported.add_feature_configs();
      *entry = *found->second.top;
      RenameAssets(*feature, *entry, asset_copy_dir, asset_dir_in_config);
    }
  }
  return exported;
}

}  // namespace tzrec::exporting
