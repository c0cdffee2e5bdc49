#include "models/multi_tower.h"

#include <set>

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/rank_model.h"

namespace tzrec::models {

MlpTowers AddMlpTowers(const google::protobuf::RepeatedPtrField<protos::Tower>& towers,
                       const EmbeddingGroupLayout& layout, const std::string& where,
                       const std::string& model, torch::jit::Module& dict, std::string& src,
                       const char* sequence_hint) {
  MlpTowers result;
  std::set<std::string> inputs;
  for (int i = 0; i < towers.size(); ++i) {
    const protos::Tower& tower = towers.Get(i);
    const std::string at = fmt::format("{}.towers[{}]", where, i);
    if (!inputs.insert(tower.input()).second) {
      FailConfig("{}.input: group '{}' already has a tower", at, tower.input());
    }
    if (sequence_hint != nullptr && layout.is_sequence_group(tower.input())) {
      FailConfig("{}.input: '{}' is a SEQUENCE group; {}", at, tower.input(), sequence_hint);
    }
    if (!tower.has_mlp() || tower.mlp().hidden_units_size() == 0) {
      FailConfig("{}.mlp: a tower needs an mlp with hidden_units", at);
    }
    const int64_t in = layout.total_dim(tower.input(), model);
    AddChild(dict, tower.input(), BuildMlp(in, MlpFromProto(tower.mlp()), at + ".mlp"));
    result.total_dim += tower.mlp().hidden_units(tower.mlp().hidden_units_size() - 1);
    src += fmt::format("    t{} = getattr(self.towers, {}).forward(grouped[{}])\n", i,
                       PyStr(tower.input()), PyStr(tower.input()));
    result.outputs += fmt::format("{}t{}", result.outputs.empty() ? "" : ", ", i);
  }
  return result;
}

std::unique_ptr<Model> BuildMultiTower(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::MultiTower& cfg = model_config.multi_tower();
  Task task = RankTask(context.config);
  if (cfg.towers_size() == 0) FailConfig("model_config.multi_tower.towers: needs at least one tower");

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const EmbeddingGroupLayout& layout = group.layout;

  torch::jit::Module root = NewModule("MultiTower");
  AddChild(root, "embedding_group", group.module);
  // Upstream keeps the towers in a ModuleDict keyed by their input group.
  torch::jit::Module towers = NewModule("ModuleDict");
  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  const MlpTowers mlp_towers =
      AddMlpTowers(cfg.towers(), layout, "model_config.multi_tower", "multi_tower", towers, src);
  AddChild(root, "towers", towers);
  src += fmt::format("    y = torch.cat([{}], -1)\n", mlp_towers.outputs);
  int64_t final_dim = mlp_towers.total_dim;
  if (cfg.has_final()) {
    AddChild(root, "final_mlp",
             BuildMlp(mlp_towers.total_dim, MlpFromProto(cfg.final()), "model_config.multi_tower.final"));
    final_dim = cfg.final().hidden_units(cfg.final().hidden_units_size() - 1);
    src += "    y = self.final_mlp.forward(y)\n";
  }
  AddChild(root, "output_mlp", BuildLinear(final_dim, task.num_class, /*bias=*/true));
  src += "    y = self.output_mlp.forward(y)\n";
  return FinishRankModel("multi_tower", root, src, task, layout, context.options.table_storage);
}

}  // namespace tzrec::models
