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
  const int64_t feature_in = group.layout.total_dim(group_name, "dc2vr");

  torch::jit::Module root = NewModule("DC2VR");
  AddChild(root, "embedding_group", group.module);
  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    net = grouped[{}]\n", PyStr(group_name));
  std::optional<MlpOptions> bottom_mlp;
  if (cfg.has_bottom_mlp()) bottom_mlp = MlpFromProto(cfg.bottom_mlp());
  std::optional<MMoEOptions> mmoe;
  if (cfg.has_expert_mlp()) mmoe = MMoEOptionsOf(cfg, towers.size());
  // Per tower: the variable holding its net and that net's width, after the
  // task MLP, then after the intervention.
  TaskNets nets = AddSharedBottom(root, bottom_mlp, mmoe, towers, feature_in, "model_config.dc2vr", src);
  std::vector<std::string>& net_var = nets.vars;
  const std::vector<int64_t>& net_dim = nets.dims;
  const size_t num_task = towers.size();

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

  std::vector<std::string> tower_outputs = AddTaskOutputs(root, towers, nets, src);
  return FinishMultiTaskModel("dc2vr", root, src, towers, tower_outputs, group.layout,
                              context.options.table_storage);
}

}  // namespace tzrec::models
