// Semantic checks of a loaded pipeline.config.
//
// Design: two levels, so that every upstream config can be inspected while
// commands that build models refuse what tzrec cannot build.
//  - ValidatePipelineConfig: is the config well formed and self-consistent, as
//    upstream would find when building the model? Features have types and
//    unique names, groups name existing features, the model has the groups it
//    reads and compatible embedding widths, losses match num_class. All 17
//    upstream example configs pass, including models tzrec does not build.
//  - CheckSupported: does tzrec implement every feature type and the model
//    type? Called by commands that build models (train_eval, eval, export,
//    predict). `tzrec validate_config` reports support in its summary and
//    fails on it only with --strict.
// Both throw ConfigError (exit code 2) with one line naming the feature,
// group or field at fault.
#pragma once

#include <string>
#include <vector>

#include "config/protos/pipeline.pb.h"

namespace tzrec {

// Throws ConfigError at the first problem found.
void ValidatePipelineConfig(const protos::EasyRecConfig& config);

// The feature_configs alone (types, names present and unique): what
// create_fg_json checks before writing fg.json, for configs that may have
// no model_config. Throws ConfigError.
void ValidateFeatureConfigs(const protos::EasyRecConfig& config);

// One message per feature or model tzrec cannot build; empty when all are
// supported. Example: "feature 'title' has type tokenize_feature, which tzrec
// does not support".
std::vector<std::string> FindUnsupported(const protos::EasyRecConfig& config);

// Throws ConfigError with the first FindUnsupported message.
void CheckSupported(const protos::EasyRecConfig& config);

// FeatureConfig oneof entries tzrec builds (top level). Inside a grouped
// sequence_feature, id_feature and raw_feature sub-features are supported.
const std::vector<std::string>& SupportedFeatureTypes();

}  // namespace tzrec
