// Pieces every rank model (one prediction head) shares: its task, the
// TorchScript that turns the final layer into named outputs, and config
// conversions.
#pragma once

#include <string>
#include <vector>

#include "config/protos/module.pb.h"
#include "config/protos/pipeline.pb.h"
#include "models/model.h"
#include "models/modules/mlp.h"

namespace tzrec::models {

// ConfigError naming `where` ("model_config", "...task_towers[1]") when a
// task has no losses (`what` says whose: "rank model", "task tower") or a loss
// does not fit its num_class.
void CheckTaskLosses(const Task& task, const std::string& where, const std::string& what);

// The single task of a rank model: label data_config.label_fields[0],
// model_config's num_class, losses and metrics. ConfigError when there are no
// losses or a loss does not fit num_class.
Task RankTask(const protos::EasyRecConfig& config, const std::string& suffix = "");

// TorchScript lines (4-space indented) that read the final layer `y`
// ([B, num_class]) and write the task's outputs into the dict `out`, as
// upstream's RankModel does per loss: binary losses -> logits, probs [B];
// softmax / JRC -> logits, probs [B, C] (+ probs1 when C == 2); l2 -> y [B].
// Appends the output names to `output_names`.
std::string RankOutputSource(const Task& task, const std::string& y,
                             std::vector<std::string>& output_names);

// The shared end of a single-task rank model's builder: `forward_source` is
// forward's TorchScript up to a final layer `y` ([B, num_class]); this adds the
// task's outputs, defines forward on `root` and wraps it as a Model whose
// tables are those of the child `embedding_group` laid out by `layout`.
std::unique_ptr<Model> FinishRankModel(const std::string& type, torch::jit::Module root,
                                       std::string forward_source, const Task& task,
                                       const EmbeddingGroupLayout& layout, TableStorage storage);

}  // namespace tzrec::models
