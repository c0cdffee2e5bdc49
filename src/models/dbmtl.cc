#include "models/dbmtl.h"

#include <map>

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/modules/mmoe.h"
#include "models/multi_task_rank.h"
#include "models/rank_model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildDBMTL(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::DBMTL& cfg = model_config.dbmtl();
  CheckMultiTaskOptions(context.config, "dbmtl");
  if (cfg.has_mask_net()) FailConfig("model_config.dbmtl.mask_net: not supported by tzrec yet");
  std::vector<TaskTowerSpec> towers = ReadTaskTowers(context.config);

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const std::string group_name = FirstFeatureGroup(context.config, "dbmtl");
  int64_t feature_in = group.layout.total_dim(group_name, "dbmtl");

  torch::jit::Module root = NewModule("DBMTL");
  AddChild(root, "embedding_group", group.module);
  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    net = grouped[{}]\n", PyStr(group_name));
  if (cfg.has_bottom_mlp()) {
    MlpOptions bottom = MlpFromProto(cfg.bottom_mlp());
    AddChild(root, "bottom_mlp", BuildMlp(feature_in, bottom, "model_config.dbmtl.bottom_mlp"));
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
    AddChild(root, "mmoe", BuildMMoE(feature_in, mmoe, "model_config.dbmtl"));
    feature_in = mmoe.expert_mlp.hidden_units.back();
    src += "    task_inputs = self.mmoe.forward(net)\n";
    for (size_t i = 0; i < num_task; ++i) task_inputs[i] = fmt::format("task_inputs[{}]", i);
  }

  // Per tower: the variable holding its net and that net's width, first after
  // the task MLP, then after the relation MLP.
  std::vector<std::string> net_var(num_task);
  std::vector<int64_t> net_dim(num_task, feature_in);
  torch::jit::Module task_mlps = NewModule("ModuleDict");
  for (size_t i = 0; i < num_task; ++i) {
    const TaskTowerSpec& tower = towers[i];
    net_var[i] = task_inputs[i];
    if (!tower.mlp) continue;
    AddChild(task_mlps, tower.name, BuildMlp(feature_in, *tower.mlp, tower.where + ".mlp"));
    net_var[i] = fmt::format("task_net_{}", i);
    net_dim[i] = tower.mlp->hidden_units.back();
    src += fmt::format("    {} = getattr(self.task_mlps, {}).forward({})\n", net_var[i],
                       PyStr(tower.name), task_inputs[i]);
  }
  AddChild(root, "task_mlps", task_mlps);

  std::map<std::string, size_t> index;
  for (size_t i = 0; i < num_task; ++i) index[towers[i].name] = i;
  torch::jit::Module relation_mlps = NewModule("ModuleDict");
  for (size_t i = 0; i < num_task; ++i) {
    const TaskTowerSpec& tower = towers[i];
    if (!tower.relation_mlp) continue;
    int64_t in = net_dim[i];
    std::string parts = net_var[i];
    for (const std::string& relation : tower.relation_tower_names) {
      auto it = index.find(relation);
      if (it == index.end()) {
        FailConfig("{}.relation_tower_names: '{}' is not a task tower", tower.where, relation);
      }
      if (it->second >= i) {
        FailConfig("{}.relation_tower_names: '{}' must be a task tower listed before '{}'",
                   tower.where, relation, tower.name);
      }
      in += net_dim[it->second];
      parts += ", " + net_var[it->second];
    }
    AddChild(relation_mlps, tower.name,
             BuildMlp(in, *tower.relation_mlp, tower.where + ".relation_mlp"));
    std::string var = fmt::format("relation_net_{}", i);
    src += fmt::format("    {} = getattr(self.relation_mlps, {}).forward(torch.cat([{}], 1))\n", var,
                       PyStr(tower.name), parts);
    net_var[i] = var;
    net_dim[i] = tower.relation_mlp->hidden_units.back();
  }
  AddChild(root, "relation_mlps", relation_mlps);

  torch::jit::Module task_outputs = NewModule("ModuleList");
  std::vector<std::string> tower_outputs;
  for (size_t i = 0; i < num_task; ++i) {
    AddChild(task_outputs, std::to_string(i),
             BuildLinear(net_dim[i], towers[i].task.num_class, /*bias=*/true));
    tower_outputs.push_back(fmt::format("tower_{}", i));
    src += fmt::format("    tower_{} = getattr(self.task_outputs, \"{}\").forward({})\n", i, i, net_var[i]);
  }
  AddChild(root, "task_outputs", task_outputs);

  src += "    out: Dict[str, Tensor] = {}\n";
  std::vector<std::string> outputs;
  src += MultiTaskOutputSource(towers, tower_outputs, outputs);
  src += "    return out\n";
  DefineMethods(root, src);
  return MakeMultiTaskModel("dbmtl", root, towers, outputs, group.layout,
                            context.options.table_storage);
}

}  // namespace tzrec::models
