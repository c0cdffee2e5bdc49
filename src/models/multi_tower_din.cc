#include "models/multi_tower_din.h"

#include "common/error.h"
#include "models/modules/din_encoder.h"
#include "models/modules/jit_module.h"
#include "models/multi_tower.h"
#include "models/rank_model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildMultiTowerDIN(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::MultiTowerDIN& cfg = model_config.multi_tower_din();
  const std::string where = "model_config.multi_tower_din";
  Task task = RankTask(context.config);
  if (cfg.towers_size() + cfg.din_towers_size() == 0) {
    FailConfig("{}: needs at least one of towers / din_towers", where);
  }

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const EmbeddingGroupLayout& layout = group.layout;

  torch::jit::Module root = NewModule("MultiTowerDIN");
  AddChild(root, "embedding_group", group.module);
  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  // Upstream keeps the MLP towers in a ModuleDict keyed by their input group.
  torch::jit::Module towers = NewModule("ModuleDict");
  const MlpTowers mlp_towers = AddMlpTowers(cfg.towers(), layout, where, "multi_tower_din", towers, src,
                                            "it belongs in din_towers");
  std::string parts = mlp_towers.outputs;
  int64_t total_dim = mlp_towers.total_dim;
  AddChild(root, "towers", towers);

  torch::jit::Module din_towers = NewModule("ModuleList");
  for (int i = 0; i < cfg.din_towers_size(); ++i) {
    const protos::DINTower& tower = cfg.din_towers(i);
    const std::string at = fmt::format("{}.din_towers[{}]", where, i);
    if (!layout.is_sequence_group(tower.input())) {
      FailConfig("{}.input: '{}' is not a SEQUENCE feature group", at, tower.input());
    }
    if (tower.attn_mlp().hidden_units_size() == 0) {
      FailConfig("{}.attn_mlp: needs hidden_units", at);
    }
    DinEncoderOptions din;
    din.group = tower.input();
    din.sequence_dim = layout.total_dim(tower.input() + ".sequence", "multi_tower_din");
    din.query_dim = layout.total_dim(tower.input() + ".query", "multi_tower_din");
    din.attn_mlp = MlpFromProto(tower.attn_mlp());
    AddChild(din_towers, std::to_string(i), BuildDinEncoder(din, at));
    total_dim += din.sequence_dim;
    src += fmt::format("    d{} = getattr(self.din_towers, \"{}\").forward(grouped)\n", i, i);
    parts += fmt::format("{}d{}", parts.empty() ? "" : ", ", i);
  }
  AddChild(root, "din_towers", din_towers);

  src += fmt::format("    y = torch.cat([{}], -1)\n", parts);
  int64_t final_dim = total_dim;
  if (cfg.has_final()) {
    if (cfg.final().hidden_units_size() == 0) FailConfig("{}.final: needs hidden_units", where);
    AddChild(root, "final_mlp", BuildMlp(total_dim, MlpFromProto(cfg.final()), where + ".final"));
    final_dim = cfg.final().hidden_units(cfg.final().hidden_units_size() - 1);
    src += "    y = self.final_mlp.forward(y)\n";
  }
  AddChild(root, "output_mlp", BuildLinear(final_dim, task.num_class, /*bias=*/true));
  src += "    y = self.output_mlp.forward(y)\n";
  return FinishRankModel("multi_tower_din", root, src, task, layout, context.options.table_storage);
}

}  // namespace tzrec::models
