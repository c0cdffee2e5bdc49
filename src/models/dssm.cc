#include "models/dssm.h"

#include "common/error.h"
#include "models/match_model.h"
#include "models/modules/jit_module.h"
#include "models/rank_model.h"

namespace tzrec::models {
namespace {

MatchTower BuildTower(const ModelContext& context, const std::string& name) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::DSSM& cfg = model_config.dssm();
  const protos::Tower& tower_cfg = name == "user" ? cfg.user_tower() : cfg.item_tower();
  const std::string where = "model_config.dssm." + name + "_tower";

  const protos::FeatureGroupConfig* group = nullptr;
  for (const auto& g : model_config.feature_groups()) {
    if (g.group_name() == tower_cfg.input()) group = &g;
  }
  if (group == nullptr) {
    FailConfig("{}.input: no feature group named '{}'", where, tower_cfg.input());
  }
  if (!tower_cfg.has_mlp() || tower_cfg.mlp().hidden_units_size() == 0) {
    FailConfig("{}.mlp: the tower needs an mlp with hidden_units", where);
  }
  google::protobuf::RepeatedPtrField<protos::FeatureGroupConfig> groups;
  *groups.Add() = *group;
  EmbeddingGroupOptions group_options = GroupOptions(context.options);
  EmbeddingGroup embedding = BuildEmbeddingGroup(context.features, groups, group_options);

  MatchTower tower;
  tower.module = NewModule("DSSMTower");
  AddChild(tower.module, "embedding_group", embedding.module);
  AddChild(tower.module, "mlp",
           BuildMlp(embedding.layout.total_dim(tower_cfg.input(), "dssm"),
                    MlpFromProto(tower_cfg.mlp()), where + ".mlp"));
  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Tensor:\n";
  src += fmt::format("    x = self.mlp.forward(self.embedding_group.forward(data)[{}])\n",
                     PyStr(tower_cfg.input()));
  if (cfg.output_dim() > 0) {
    AddChild(tower.module, "output",
             BuildLinear(tower_cfg.mlp().hidden_units(tower_cfg.mlp().hidden_units_size() - 1),
                         cfg.output_dim(), /*bias=*/true));
    src += "    x = self.output.forward(x)\n";
  }
  if (cfg.similarity() == protos::COSINE) {
    // F.normalize(x, p=2, dim=1): x / max(||x||, 1e-12).
    src += "    x = x / torch.clamp_min(torch.norm(x, 2, [1], True), 1e-12)\n";
  }
  src += "    return x\n";
  DefineMethods(tower.module, src);
  tower.layout = std::move(embedding.layout);
  return tower;
}

}  // namespace

std::unique_ptr<Model> BuildDSSM(const ModelContext& context) {
  const protos::DSSM& cfg = context.config.model_config().dssm();
  Task task = MatchTask(context.config);
  if (cfg.temperature() == 0) FailConfig("model_config.dssm.temperature: must not be 0");
  // Built in turn: the towers draw their initial weights from one generator.
  MatchTower user = BuildTower(context, "user");
  MatchTower item = BuildTower(context, "item");
  return FinishMatchModel("dssm", "DSSM", user, item,
                          "    user_emb = self.user_tower.forward(data)\n"
                          "    item_emb = self.item_tower.forward(data)\n",
                          cfg.in_batch_negative(), cfg.temperature(), "", task,
                          context.options.table_storage);
}

std::unique_ptr<Model> BuildDSSMTower(const ModelContext& context, const std::string& tower) {
  return WrapMatchTower("dssm", tower, BuildTower(context, tower), context.options.table_storage);
}

}  // namespace tzrec::models
