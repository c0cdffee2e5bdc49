#include "models/dc2vr.h"

#include <map>

#include <fmt/ranges.h>

#include "common/error.h"
#include "models/modules/intervention.h"
#include "models/modules/jit_module.h"
#include "models/modules/mmoe.h"
#include "models/multi_task_rank.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildDC2VR(const ModelContext& context) {
  const protos::DC2VR& cfg = context.config.model_config().dc2vr();
  CheckMultiTaskOptions(context.config, "dc2vr");
  std::vector<TaskTowerSpec> towers = ReadTaskTowers(context.config);

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const std::string group_name = FirstFeatureGroup(context.config, "dc2vr");
  int64_t feature_in = group.layout.total_dim(group_name, "dc2vr");

  torch::jit::Module root = NewModule("DC2VR");
  AddChild(root, "embedding_group", group.module);
  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    net = grouped[{}]\n", PyStr(group_name));
  if (cfg.has_bottom_mlp()) {
    MlpOptions bottom = MlpFromProto(cfg.bottom_mlp());
    AddChild(root, "bottom_mlp", BuildMlp(feature_in, bottom, "model_config.dc2vr.bottom_mlp"));
    feature_in = bottom.hidden_units.back();
    src += "    net = self.bottom_mlp.forward(net)\n";
  }
  const size_t num_task = towers.size();
  std::vector<std::string> task_inputs(num_task, "net");
  if (cfg.has_expert_mlp()) {
    MMoEOptions mmoe;
    mmoe.expert_mlp = MlpFromProto(cfg.expert_mlp());
    if (cfg.has_gate_mlp()) mmoe.gate_mlp = MlpFromProto(cfg.gate_mlp());
    mmoe.num_expert = cfg.num_expert();
    mmoe.num_task = static_cast<int64_t>(num_task);
    AddChild(root, "mmoe", BuildMMoE(feature_in, mmoe, "model_config.dc2vr"));
    feature_in = mmoe.expert_mlp.hidden_units.back();
    src += "    task_inputs = self.mmoe.forward(net)\n";
    for (size_t i = 0; i < num_task; ++i) task_inputs[i] = fmt::format("task_inputs[{}]", i);
  }

  // Per tower: the variable holding its net and that net's width, after the
  // task MLP, then after the intervention.
  std::vector<std::string> net_var(num_task);
  std::vector<int64_t> net_dim(num_task, feature_in);
  torch::jit::Module task_mlps = NewModule("ModuleDict");
  for (size_t i = 0; i < num_task; ++i) {
    net_var[i] = task_inputs[i];
    if (!towers[i].mlp) continue;
    AddChild(task_mlps, towers[i].name, BuildMlp(feature_in, *towers[i].mlp, towers[i].where + ".mlp"));
    net_var[i] = fmt::format("task_net_{}", i);
    net_dim[i] = towers[i].mlp->hidden_units.back();
    src += fmt::format("    {} = getattr(self.task_mlps, {}).forward({})\n", net_var[i],
                       PyStr(towers[i].name), task_inputs[i]);
  }
  AddChild(root, "task_mlps", task_mlps);

  std::map<std::string, size_t> index;
  for (size_t i = 0; i < num_task; ++i) index[towers[i].name] = i;
  torch::jit::Module interventions = NewModule("ModuleDict");
  for (size_t i = 0; i < num_task; ++i) {
    const protos::InterventionTaskTower& tower = cfg.task_towers(static_cast<int>(i));
    const std::string& where = towers[i].where;
    if (!tower.has_low_rank_dim()) continue;
    if (tower.intervention_tower_names_size() == 0) {
      FailConfig("{}.intervention_tower_names: a tower with low_rank_dim needs at least one", where);
    }
    const int64_t low_rank = tower.low_rank_dim();
    int64_t source_dim = 0;
    std::vector<std::string> sources;
    for (const std::string& name : tower.intervention_tower_names()) {
      auto it = index.find(name);
      if (it == index.end()) FailConfig("{}.intervention_tower_names: '{}' is not a task tower", where, name);
      if (it->second >= i) {
        FailConfig("{}.intervention_tower_names: '{}' must be a task tower listed before '{}'", where,
                   name, towers[i].name);
      }
      source_dim += net_dim[it->second];
      sources.push_back(net_var[it->second]);
    }
    if (low_rank < 1 || low_rank >= net_dim[i] || low_rank >= source_dim) {
      FailConfig("{}.low_rank_dim: {} must be at least 1 and below the tower's width {} and its "
                 "sources' width {}", where, low_rank, net_dim[i], source_dim);
    }
    AddChild(interventions, towers[i].name,
             BuildIntervention(net_dim[i], source_dim, low_rank, tower.dropout_ratio()));
    const std::string var = fmt::format("intervened_{}", i);
    src += fmt::format("    {} = getattr(self.intervention, {}).forward({}, torch.cat([{}], -1))\n", var,
                       PyStr(towers[i].name), net_var[i], fmt::join(sources, ", "));
    net_var[i] = var;
  }
  AddChild(root, "intervention", interventions);

  torch::jit::Module task_outputs = NewModule("ModuleList");
  std::vector<std::string> tower_outputs;
  for (size_t i = 0; i < num_task; ++i) {
    AddChild(task_outputs, std::to_string(i), BuildLinear(net_dim[i], towers[i].task.num_class, /*bias=*/true));
    tower_outputs.push_back(fmt::format("tower_{}", i));
    src += fmt::format("    tower_{} = getattr(self.task_outputs, \"{}\").forward({})\n", i, i, net_var[i]);
  }
  AddChild(root, "task_outputs", task_outputs);

  src += "    out: Dict[str, Tensor] = {}\n";
  std::vector<std::string> outputs;
  src += MultiTaskOutputSource(towers, tower_outputs, outputs);
  src += "    return out\n";
  DefineMethods(root, src);
  return MakeMultiTaskModel("dc2vr", root, towers, outputs, group.layout, context.options.table_storage);
}

}  // namespace tzrec::models
