// A short human-readable description of a pipeline.config, printed by
// `tzrec validate_config`: features by type, each feature group with its
// members and width, the model and its heads, and whether tzrec supports it.
#pragma once

#include <string>
#include <vector>

#include "config/protos/pipeline.pb.h"

namespace tzrec {

// Assumes ValidatePipelineConfig(config) passed.
std::string SummarizePipelineConfig(const protos::EasyRecConfig& config);

// Names of the scripted model's outputs for this config, in upstream's naming:
// "logits", "probs" (binary), "probs1" (2-class softmax), "y" (l2_loss),
// "_<tower_name>" suffixes for multi-task models, "user_tower_emb" /
// "item_tower_emb" (+ "similarity") for match models.
std::vector<std::string> PredictionOutputs(const protos::EasyRecConfig& config);

}  // namespace tzrec
