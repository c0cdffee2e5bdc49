// Pieces every multi-task rank model (MMoE, DBMTL, PLE, ...) shares, as
// upstream's tzrec.models.multi_task_rank.MultiTaskRank: one Task per task
// tower (suffix "_<tower_name>", its own label, num_class, losses, metrics),
// outputs `logits_<tower>`, `probs_<tower>`, `y_<tower>`..., and the per-task
// loss weighting the trainer applies.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/protos/pipeline.pb.h"
#include "models/model.h"
#include "models/modules/mlp.h"

namespace tzrec::models {

// How a task's loss is weighted, as upstream's MultiTaskRank.loss does:
//   w = sample_weight_name's column (1 when unset)
//       * (in_task_space_weight if task_space_indicator_label's column > 0
//          else out_task_space_weight)          (when the indicator is set)
//   loss = weight * mean(per_row_loss * w / mean(w))
struct TaskLossWeighting {
  double weight = 1.0;
  std::string sample_weight_name;
  std::string task_space_indicator_label;
  double in_task_space_weight = 1.0;
  double out_task_space_weight = 1.0;
};

// One task tower of the config (TaskTower or BayesTaskTower), read and checked.
struct TaskTowerSpec {
  std::string name;
  Task task;                           // suffix "_<name>"
  std::optional<MlpOptions> mlp;       // the tower's own MLP
  TaskLossWeighting weighting;
  // BayesTaskTower (DBMTL) only.
  std::vector<std::string> relation_tower_names;
  std::optional<MlpOptions> relation_mlp;
  std::string where;                   // config path, e.g. model_config.mmoe.task_towers[1]
};

// The task towers of config.model_config's model (its `task_towers` field).
// ConfigError when the model has none, for duplicate tower names, towers
// without losses, losses that do not fit num_class, or (when
// data_config.label_fields is set) a label_name that is not one of them. A
// BayesTaskTower without label_name takes label_fields[i], the proto's
// documented default.
std::vector<TaskTowerSpec> ReadTaskTowers(const protos::EasyRecConfig& config);

// Loss weighting by task suffix ("_ctr") for a multi-task config; empty for
// any other model.
std::map<std::string, TaskLossWeighting> TaskLossWeightings(const protos::EasyRecConfig& config);

// ConfigError for model_config options no multi-task model of tzrec
// implements yet (variational_dropout, use_pareto_loss_weight).
void CheckMultiTaskOptions(const protos::EasyRecConfig& config, const std::string& model_type);

// The group multi-task models read: the first feature group, as upstream's
// embedding_group.group_names()[0].
std::string FirstFeatureGroup(const protos::EasyRecConfig& config, const std::string& model_type);

// TorchScript lines (4-space indented) writing every tower's outputs into the
// dict `out`; `tower_outputs[i]` is the variable holding tower i's
// [B, num_class] logits. Appends the output names to `output_names`.
std::string MultiTaskOutputSource(const std::vector<TaskTowerSpec>& towers,
                                  const std::vector<std::string>& tower_outputs,
                                  std::vector<std::string>& output_names);

// Wraps a built root module into a Model: tasks from `towers`, tables from
// the embedding group at `<root>.embedding_group`.
std::unique_ptr<Model> MakeMultiTaskModel(const std::string& type, torch::jit::Module root,
                                          const std::vector<TaskTowerSpec>& towers,
                                          std::vector<std::string> output_names,
                                          const EmbeddingGroupLayout& layout,
                                          TableStorage table_storage);

}  // namespace tzrec::models
