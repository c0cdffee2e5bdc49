#include "models/multi_tower.h"

#include <set>

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/rank_model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildMultiTower(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::MultiTower& cfg = model_config.multi_tower();
  Task task = RankTask(context.config);
  if (cfg.towers_size() == 0) FailConfig("model_config.multi_tower.towers: needs at least one tower");

  EmbeddingGroupOptions group_options = GroupOptions(context.options);
  EmbeddingGroup group =
      BuildEmbeddingGroup(context.features, model_config.feature_groups(), group_options);
  const EmbeddingGroupLayout& layout = group.layout;

  torch::jit::Module root = NewModule("MultiTower");
  AddChild(root, "embedding_group", group.module);
  // Upstream keeps the towers in a ModuleDict keyed by their input group.
  torch::jit::Module towers = NewModule("ModuleDict");
  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  std::string parts;
  int64_t total_dim = 0;
  std::set<std::string> inputs;
  for (int i = 0; i < cfg.towers_size(); ++i) {
    const protos::Tower& tower = cfg.towers(i);
    const std::string where = fmt::format("model_config.multi_tower.towers[{}]", i);
    if (!inputs.insert(tower.input()).second) {
      FailConfig("{}.input: group '{}' already has a tower", where, tower.input());
    }
    if (!tower.has_mlp() || tower.mlp().hidden_units_size() == 0) {
      FailConfig("{}.mlp: a tower needs an mlp with hidden_units", where);
    }
    const int64_t in = layout.total_dim(tower.input(), "multi_tower");
    AddChild(towers, tower.input(), BuildMlp(in, MlpFromProto(tower.mlp()), where + ".mlp"));
    total_dim += tower.mlp().hidden_units(tower.mlp().hidden_units_size() - 1);
    src += fmt::format("    t{} = getattr(self.towers, {}).forward(grouped[{}])\n", i,
                       PyStr(tower.input()), PyStr(tower.input()));
    parts += fmt::format("{}t{}", parts.empty() ? "" : ", ", i);
  }
  AddChild(root, "towers", towers);
  src += fmt::format("    y = torch.cat([{}], -1)\n", parts);
  int64_t final_dim = total_dim;
  if (cfg.has_final()) {
    AddChild(root, "final_mlp",
             BuildMlp(total_dim, MlpFromProto(cfg.final()), "model_config.multi_tower.final"));
    final_dim = cfg.final().hidden_units(cfg.final().hidden_units_size() - 1);
    src += "    y = self.final_mlp.forward(y)\n";
  }
  AddChild(root, "output_mlp", BuildLinear(final_dim, task.num_class, /*bias=*/true));
  src += "    y = self.output_mlp.forward(y)\n";
  return FinishRankModel("multi_tower", root, src, task, layout, context.options.table_storage);
}

}  // namespace tzrec::models
