// Which features each exported fg.json holds, following upstream's export:
//  - rank and multi-task rank models: every feature, in config order;
//  - DSSM / DSSMV2: "user" and "item" sub-directories, each with the features
//    of the group its tower's `input` names (group feature_names, then its
//    sequence_groups' names, first occurrence kept);
//  - MIND: user = user_tower.input group + user_tower.history_input group
//    (concatenated as is); item = item_tower.input group;
//  - TDM: "embedding" (the non-sequence features of the first SEQUENCE group,
//    in that group's order) and "model" (every feature).
#pragma once

#include <string>
#include <vector>

#include "config/protos/model.pb.h"
#include "features/feature.h"

namespace tzrec {

struct ExportFeatureSet {
  std::string subdir;  // "" = the export dir itself; else "user", "item", "embedding", "model"
  std::vector<const Feature*> features;
};

std::vector<ExportFeatureSet> ExportFeatureSets(const protos::ModelConfig& model_config,
                                                const std::vector<const Feature*>& features);

// The features of a match model's "user" or "item" tower.
std::vector<const Feature*> SelectTowerFeatures(const protos::ModelConfig& model_config,
                                                const std::vector<const Feature*>& features,
                                                const std::string& tower);

// Features of the given groups: each group's feature_names, then its
// sequence_groups' feature_names; a name seen before is skipped.
std::vector<const Feature*> FeaturesInGroups(
    const std::vector<const Feature*>& features,
    const std::vector<const protos::FeatureGroupConfig*>& groups);

// The feature group named `name`; ConfigError naming `context` when absent.
const protos::FeatureGroupConfig& FindFeatureGroup(const protos::ModelConfig& model_config,
                                                   const std::string& name,
                                                   const std::string& context);

}  // namespace tzrec
