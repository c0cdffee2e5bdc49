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
#include "models/modules/mmoe.h"

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

// MMoE settings of a model config with expert_mlp, gate_mlp and num_expert
// (MMoE, DBMTL, DC2VR), for `num_task` tasks.
template <typename Config>
MMoEOptions MMoEOptionsOf(const Config& cfg, size_t num_task) {
  MMoEOptions mmoe;
  mmoe.expert_mlp = MlpFromProto(cfg.expert_mlp());
  if (cfg.has_gate_mlp()) mmoe.gate_mlp = MlpFromProto(cfg.gate_mlp());
  mmoe.num_expert = cfg.num_expert();
  mmoe.num_task = static_cast<int64_t>(num_task);
  return mmoe;
}

// Per task, the TorchScript variable holding its net and that net's width.
struct TaskNets {
  std::vector<std::string> vars;
  std::vector<int64_t> dims;
};

// The bottom DBMTL and DC2VR share (upstream's DC2VR copies DBMTL's): `net`
// ([B, feature_in]) through the optional bottom_mlp, then, with `mmoe`, an
// MMoE giving each task its own input, then each tower's own mlp. Adds the
// children bottom_mlp, mmoe and task_mlps to `root` and forward's lines to
// `src`; `where` is the model's config path ("model_config.dbmtl").
TaskNets AddSharedBottom(torch::jit::Module& root, const std::optional<MlpOptions>& bottom_mlp,
                         const std::optional<MMoEOptions>& mmoe,
                         const std::vector<TaskTowerSpec>& towers, int64_t feature_in,
                         const std::string& where, std::string& src);

// DBMTL's and DC2VR's `task_outputs` ModuleList: a Linear per task from its
// net to num_class. Adds it to `root` and forward's lines to `src`; returns
// the variables holding the towers' logits.
std::vector<std::string> AddTaskOutputs(torch::jit::Module& root, const std::vector<TaskTowerSpec>& towers,
                                        const TaskNets& nets, std::string& src);

// Upstream's `_task_tower` ModuleList (MMoE, PLE, SimpleMultiTask): tower i
// a TaskTower (its mlp, then a Linear to num_class) reading the variable
// `inputs[i]` of width `input_dims[i]`. Adds it to `root` and forward's lines
// to `src`; returns the variables holding the towers' logits.
std::vector<std::string> AddTaskTowers(torch::jit::Module& root, const std::vector<TaskTowerSpec>& towers,
                                       const std::vector<std::string>& inputs,
                                       const std::vector<int64_t>& input_dims, std::string& src);

// The shared end of a multi-task model's builder: `forward_source` is
// forward's TorchScript up to each tower's [B, num_class] logits in
// `tower_outputs[i]`; this adds the towers' outputs, defines forward on
// `root` and wraps it (MakeMultiTaskModel).
std::unique_ptr<Model> FinishMultiTaskModel(const std::string& type, torch::jit::Module root,
                                            std::string forward_source,
                                            const std::vector<TaskTowerSpec>& towers,
                                            const std::vector<std::string>& tower_outputs,
                                            const EmbeddingGroupLayout& layout, TableStorage table_storage);

// Wraps a built root module into a Model: tasks from `towers`, tables from
// the embedding group at `<root>.embedding_group`.
std::unique_ptr<Model> MakeMultiTaskModel(const std::string& type, torch::jit::Module root,
                                          const std::vector<TaskTowerSpec>& towers,
                                          std::vector<std::string> output_names,
                                          const EmbeddingGroupLayout& layout,
                                          TableStorage table_storage);

}  // namespace tzrec::models
