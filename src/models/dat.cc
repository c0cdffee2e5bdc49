#include "models/dat.h"

#include "common/error.h"
#include "models/match_model.h"
#include "models/modules/jit_module.h"
#include "models/modules/mlp.h"

namespace tzrec::models {
namespace {

// forward(data) -> Tensor[B, D]; embedding_and_augment(data) -> (the same,
// the augmented vector [B, augment width]).
MatchTower BuildTower(const ModelContext& context, const std::string& name) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::DAT& cfg = model_config.dat();
  const protos::DATTower& tower_cfg = name == "user" ? cfg.user_tower() : cfg.item_tower();
  const std::string where = "model_config.dat." + name + "_tower";
  if (model_config.has_variational_dropout()) {
    FailConfig("model_config.variational_dropout: not supported by tzrec's dat yet");
  }
  const auto& input = FindFeatureGroup(model_config, tower_cfg.input(), where + ".input");
  const auto& augment = FindFeatureGroup(model_config, tower_cfg.augment_input(), where + ".augment_input");
  if (!tower_cfg.has_mlp() || tower_cfg.mlp().hidden_units_size() == 0) {
    FailConfig("{}.mlp: the tower needs an mlp with hidden_units", where);
  }
  google::protobuf::RepeatedPtrField<protos::FeatureGroupConfig> groups;
  *groups.Add() = input;
  *groups.Add() = augment;
  EmbeddingGroup embedding = BuildEmbeddingGroup(context.features, groups, GroupOptions(context.options));
  const EmbeddingGroupLayout& layout = embedding.layout;
  for (const std::string& group : {tower_cfg.input(), tower_cfg.augment_input()}) {
    if (layout.is_sequence_group(group)) {
      FailConfig("{}: '{}' is a SEQUENCE group; the tower reads DEEP groups", where, group);
    }
  }
  const int64_t mlp_out = tower_cfg.mlp().hidden_units(tower_cfg.mlp().hidden_units_size() - 1);
  const int64_t emb_dim = cfg.output_dim() > 0 ? cfg.output_dim() : mlp_out;
  const int64_t augment_dim = layout.total_dim(tower_cfg.augment_input(), "dat");
  if (augment_dim != emb_dim) {
    // The mimic losses compare the augmented vector with the other tower's
    // embedding.
    FailConfig("{}.augment_input: group '{}' is {} wide, but the tower embedding is {} (output_dim); "
               "they must match",
               where, tower_cfg.augment_input(), augment_dim, emb_dim);
  }

  MatchTower tower;
  tower.module = NewModule("DATTower");
  AddChild(tower.module, "embedding_group", embedding.module);
  AddChild(tower.module, "mlp",
           BuildMlp(layout.total_dim(tower_cfg.input(), "dat") + augment_dim, MlpFromProto(tower_cfg.mlp()),
                    where + ".mlp"));
  std::string src = "def embedding_and_augment(self, data: Dict[str, Tensor]) -> Tuple[Tensor, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    augment = grouped[{}]\n", PyStr(tower_cfg.augment_input()));
  src += fmt::format("    x = self.mlp.forward(torch.cat([grouped[{}], augment], 1))\n", PyStr(tower_cfg.input()));
  if (cfg.output_dim() > 0) {
    AddChild(tower.module, "output", BuildLinear(mlp_out, cfg.output_dim(), /*bias=*/true));
    src += "    x = self.output.forward(x)\n";
  }
  if (cfg.similarity() == protos::COSINE) {
    // F.normalize(x, p=2, dim=1): x / max(||x||, 1e-12).
    src += "    x = x / torch.clamp_min(torch.norm(x, 2, [1], True), 1e-12)\n";
  }
  src += "    return x, augment\n";
  src += "def forward(self, data: Dict[str, Tensor]) -> Tensor:\n"
         "    x, augment = self.embedding_and_augment(data)\n"
         "    return x\n";
  DefineMethods(tower.module, src);
  tower.layout = std::move(embedding.layout);
  return tower;
}

at::Tensor L2Normalize(const at::Tensor& x) { return x / x.norm(2, {1}, true).clamp_min(1e-12); }

}  // namespace

std::unique_ptr<Model> BuildDAT(const ModelContext& context) {
  const protos::DAT& cfg = context.config.model_config().dat();
  Task task = MatchTask(context.config);
  if (cfg.temperature() == 0) FailConfig("model_config.dat.temperature: must not be 0");
  // Built in turn: the towers draw their initial weights from one generator.
  MatchTower user = BuildTower(context, "user");
  MatchTower item = BuildTower(context, "item");
  auto model = FinishMatchModel("dat", "DAT", user, item,
                                "    user_emb, user_augment = self.user_tower.embedding_and_augment(data)\n"
                                "    item_emb, item_augment = self.item_tower.embedding_and_augment(data)\n",
                                cfg.in_batch_negative(), cfg.temperature(),
                                "    if self.training:\n"
                                "        out[\"user_augment\"] = user_augment\n"
                                "        out[\"item_augment\"] = item_augment\n"
                                "        out[\"user_tower_emb\"] = user_emb.detach()\n"
                                "        out[\"item_tower_emb\"] = item_emb.detach()\n",
                                task, context.options.table_storage);
  // The mimic losses join the task's loss in training; eval-mode predictions
  // lack their inputs, so DATMimicLosses adds nothing there.
  model->SetTrainingLosses(
      [cfg](const c10::Dict<std::string, at::Tensor>& predictions, const at::Tensor& sample_weight) {
        return DATMimicLosses(cfg, predictions, sample_weight);
      });
  return model;
}

std::unique_ptr<Model> BuildDATTower(const ModelContext& context, const std::string& tower) {
  return WrapMatchTower("dat", tower, BuildTower(context, tower), context.options.table_storage);
}

std::map<std::string, at::Tensor> DATMimicLosses(const protos::DAT& config,
                                                 const c10::Dict<std::string, at::Tensor>& predictions,
                                                 const at::Tensor& sample_weight) {
  std::map<std::string, at::Tensor> losses;
  if (!predictions.contains("user_augment") || !predictions.contains("item_tower_emb")) return losses;
  const int64_t batch_size = predictions.at(kSimilarityOutput).size(0);
  const bool weighted = sample_weight.defined();
  auto sum = [&](const at::Tensor& squared) {
    return weighted ? squared.sum(1) : squared.sum(at::IntArrayRef{0, 1});
  };
  const at::Tensor item_emb = predictions.at("item_tower_emb").slice(0, 0, batch_size);
  const at::Tensor user_emb = predictions.at("user_tower_emb");
  losses["amm_loss_u"] =
      config.amm_u_weight() * sum(at::square(L2Normalize(predictions.at("user_augment")) - item_emb));
  losses["amm_loss_i"] = config.amm_i_weight() *
                         sum(at::square(L2Normalize(predictions.at("item_augment").slice(0, 0, batch_size)) - user_emb));
  if (weighted) {
    const at::Tensor w = sample_weight.to(at::kFloat);
    for (auto& [name, loss] : losses) {
      // Upstream's div_no_nan: NaN and infinities of the quotient become 0.
      loss = at::nan_to_num((loss * w).mean() / w.mean(), 0.0, 0.0, 0.0);
    }
  }
  return losses;
}

}  // namespace tzrec::models
