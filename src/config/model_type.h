// Which model a config asks for, by the name of the ModelConfig `model` oneof
// entry ("deepfm", "mmoe", ...), and which of them tzrec can build.
#pragma once

#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "config/protos/model.pb.h"

namespace tzrec {

// The set `model` oneof entry's name, or "" when none is set.
std::string ModelType(const protos::ModelConfig& model_config);

// The set model message (DeepFM, MMoE, ...), or nullptr.
const google::protobuf::Message* ModelMessage(const protos::ModelConfig& model_config);

// Upstream's model families, which decide the outputs, losses and the export
// layout (ModelConfig's field numbers group them).
enum class ModelFamily { kUnknown, kRank, kMultiTaskRank, kMatch, kTdm, kGeneralRank, kSid };

ModelFamily FamilyOf(const std::string& model_type);
// "rank", "multi_task_rank", "match", "tdm", "general_rank", "sid"; "unknown".
const char* ModelFamilyName(ModelFamily family);

// Model types tzrec builds, in ModelConfig field order.
const std::vector<std::string>& SupportedModelTypes();
bool IsSupportedModelType(const std::string& model_type);

// Width of every table in a WIDE group: the model's wide_embedding_dim when it
// has that field (its default when unset), else 4 as upstream.
uint32_t WideEmbeddingDim(const protos::ModelConfig& model_config);

}  // namespace tzrec
