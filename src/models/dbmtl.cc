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
  const int64_t feature_in = group.layout.total_dim(group_name, "dbmtl");

  torch::jit::Module root = NewModule("DBMTL");
  AddChild(root, "embedding_group", group.module);
  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    net = grouped[{}]\n", PyStr(group_name));
  std::optional<MlpOptions> bottom_mlp;
  if (cfg.has_bottom_mlp()) bottom_mlp = MlpFromProto(cfg.bottom_mlp());
  std::optional<MMoEOptions> mmoe;
  if (cfg.has_expert_mlp()) mmoe = MMoEOptionsOf(cfg, towers.size());
  // Per tower: the variable holding its net and that net's width, first after
  // the task MLP, then after the relation MLP.
  TaskNets nets = AddSharedBottom(root, bottom_mlp, mmoe, towers, feature_in, "model_config.dbmtl", src);
  std::vector<std::string>& net_var = nets.vars;
  std::vector<int64_t>& net_dim = nets.dims;
  const size_t num_task = towers.size();

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

  std::vector<std::string> tower_outputs = AddTaskOutputs(root, towers, nets, src);
  return FinishMultiTaskModel("dbmtl", root, src, towers, tower_outputs, group.layout,
                              context.options.table_storage);
}

}  // namespace tzrec::models
