#include "models/mind.h"

#include "common/error.h"
#include "models/match_model.h"
#include "models/modules/capsule.h"
#include "models/modules/jit_module.h"
#include "models/modules/mlp.h"

namespace tzrec::models {
namespace {

EmbeddingGroup BuildGroups(const ModelContext& context,
                           const std::vector<const protos::FeatureGroupConfig*>& groups) {
  google::protobuf::RepeatedPtrField<protos::FeatureGroupConfig> selected;
  for (const auto* group : groups) *selected.Add() = *group;
  return BuildEmbeddingGroup(context.features, selected, GroupOptions(context.options));
}

// Upstream's profile and history MLPs: all layers but the last as an MLP
// (activation, use_bn and the first dropout_ratio only), the last as a
// separate Linear.
MlpOptions LeadingLayers(const protos::MLP& mlp, bool bias) {
  MlpOptions options;
  options.hidden_units.assign(mlp.hidden_units().begin(), mlp.hidden_units().end() - 1);
  options.activation = mlp.activation();
  options.use_bn = mlp.use_bn();
  options.bias = bias;
  if (mlp.dropout_ratio_size() > 0) options.dropout_ratio = {mlp.dropout_ratio(0)};
  return options;
}

std::string NormalizeSource(const protos::MIND& cfg, const std::string& dim) {
  if (cfg.similarity() != protos::COSINE) return "";
  // F.normalize(x, p=2, dim): x / max(||x||, 1e-12).
  return fmt::format("    x = x / torch.clamp_min(torch.norm(x, 2, [{}], True), 1e-12)\n", dim);
}

MatchTower BuildUserTower(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::MIND& cfg = model_config.mind();
  const protos::MINDUserTower& tower_cfg = cfg.user_tower();
  const std::string where = "model_config.mind.user_tower";
  const auto& user_group = FindFeatureGroup(model_config, tower_cfg.input(), where + ".input");
  const auto& hist_group =
      FindFeatureGroup(model_config, tower_cfg.history_input(), where + ".history_input");
  EmbeddingGroup embedding = BuildGroups(context, {&user_group, &hist_group});
  const EmbeddingGroupLayout& layout = embedding.layout;
  if (layout.is_sequence_group(tower_cfg.input())) {
    FailConfig("{}.input: '{}' is a SEQUENCE group; the profile MLP reads a DEEP group", where,
               tower_cfg.input());
  }
  if (!layout.is_sequence_group(tower_cfg.history_input())) {
    FailConfig("{}.history_input: '{}' must be a SEQUENCE group", where, tower_cfg.history_input());
  }
  const protos::MLP& user_mlp = tower_cfg.user_mlp();
  if (user_mlp.hidden_units_size() < 2) {
    // Upstream's single-layer branch reads an attribute that does not exist,
    // so no upstream model has one.
    FailConfig("{}.user_mlp.hidden_units: needs at least 2 layers, got {}", where,
               user_mlp.hidden_units_size());
  }

  MatchTower tower;
  tower.module = NewModule("MINDUserTower");
  torch::jit::Module& m = tower.module;
  AddChild(m, "embedding_group", embedding.module);
  const int64_t user_in = layout.total_dim(tower_cfg.input(), "mind");
  const MlpOptions user_options = LeadingLayers(user_mlp, /*bias=*/true);
  const int64_t user_dim = user_mlp.hidden_units(user_mlp.hidden_units_size() - 1);
  AddChild(m, "user_mlp", BuildMlp(user_in, user_options, where + ".user_mlp"));
  AddChild(m, "user_mlp_out", BuildLinear(user_options.hidden_units.back(), user_dim, /*bias=*/true));

  const std::string hist = tower_cfg.history_input();
  int64_t capsule_in = layout.total_dim(hist + ".sequence", "mind");
  std::string hist_src;
  const protos::MLP& hist_mlp = tower_cfg.hist_seq_mlp();
  const int hist_layers = tower_cfg.has_hist_seq_mlp() ? hist_mlp.hidden_units_size() : 0;
  if (hist_layers > 1) {
    MlpOptions options = LeadingLayers(hist_mlp, /*bias=*/false);
    options.dim = 3;
    AddChild(m, "_hist_seq_mlp", BuildMlp(capsule_in, options, where + ".hist_seq_mlp"));
    AddChild(m, "_hist_seq_mlp_out",
             BuildLinear(options.hidden_units.back(), hist_mlp.hidden_units(hist_layers - 1), false));
    hist_src = "    hist = self._hist_seq_mlp_out.forward(self._hist_seq_mlp.forward(hist))\n";
    capsule_in = hist_mlp.hidden_units(hist_layers - 1);
  } else if (hist_layers == 1) {
    AddChild(m, "_hist_seq_mlp", BuildLinear(capsule_in, hist_mlp.hidden_units(0), false));
    hist_src = "    hist = self._hist_seq_mlp.forward(hist)\n";
    capsule_in = hist_mlp.hidden_units(0);
  }
  AddChild(m, "_capsule_layer",
           BuildCapsuleLayer(tower_cfg.capsule_config(), capsule_in, where + ".capsule_config"));
  MlpOptions concat = MlpFromProto(tower_cfg.concat_mlp());
  concat.dim = 3;
  AddChild(m, "_concat_mlp",
           BuildMlp(user_dim + tower_cfg.capsule_config().high_dim(), concat, where + ".concat_mlp"));
  if (cfg.output_dim() > 0) {
    AddChild(m, "output", BuildLinear(concat.hidden_units.back(), cfg.output_dim(), /*bias=*/false));
  }

  std::string src =
      "def interests_and_mask(self, data: Dict[str, Tensor]) -> Tuple[Tensor, Tensor]:\n"
      "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    hist = grouped[{}]\n", PyStr(hist + ".sequence"));
  src += fmt::format("    hist_len = grouped[{}]\n", PyStr(hist + ".sequence_length"));
  src += fmt::format("    user = self.user_mlp_out.forward(self.user_mlp.forward(grouped[{}]))\n",
                     PyStr(tower_cfg.input()));
  src += hist_src;
  src += "    capsules, mask = self._capsule_layer.forward(hist, hist_len)\n"
         "    weight = mask.unsqueeze(-1).float()\n"
         "    user = torch.unsqueeze(user, 1).tile([1, capsules.size(1), 1])\n"
         "    x = torch.cat([user, capsules], -1) * weight\n"
         "    x = self._concat_mlp.forward(x) * weight\n";
  if (cfg.output_dim() > 0) src += "    x = self.output.forward(x)\n";
  src += NormalizeSource(cfg, "-1");
  src += "    return x, mask\n";
  src += "def forward(self, data: Dict[str, Tensor]) -> Tensor:\n"
         "    interests, mask = self.interests_and_mask(data)\n"
         "    return interests\n";
  DefineMethods(m, src);
  tower.layout = std::move(embedding.layout);
  return tower;
}

MatchTower BuildItemTower(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::MIND& cfg = model_config.mind();
  const protos::Tower& tower_cfg = cfg.item_tower();
  const std::string where = "model_config.mind.item_tower";
  const auto& group = FindFeatureGroup(model_config, tower_cfg.input(), where + ".input");
  if (!tower_cfg.has_mlp() || tower_cfg.mlp().hidden_units_size() == 0) {
    FailConfig("{}.mlp: the tower needs an mlp with hidden_units", where);
  }
  EmbeddingGroup embedding = BuildGroups(context, {&group});
  if (embedding.layout.is_sequence_group(tower_cfg.input())) {
    FailConfig("{}.input: '{}' is a SEQUENCE group; the tower reads a DEEP group", where,
               tower_cfg.input());
  }
  MatchTower tower;
  tower.module = NewModule("MINDItemTower");
  AddChild(tower.module, "embedding_group", embedding.module);
  AddChild(tower.module, "mlp",
           BuildMlp(embedding.layout.total_dim(tower_cfg.input(), "mind"), MlpFromProto(tower_cfg.mlp()),
                    where + ".mlp"));
  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Tensor:\n";
  src += fmt::format("    x = self.mlp.forward(self.embedding_group.forward(data)[{}])\n",
                     PyStr(tower_cfg.input()));
  if (cfg.output_dim() > 0) {
    AddChild(tower.module, "output",
             BuildLinear(tower_cfg.mlp().hidden_units(tower_cfg.mlp().hidden_units_size() - 1),
                         cfg.output_dim(), /*bias=*/true));
    src += "    x = self.output.forward(x)\n";
  }
  src += NormalizeSource(cfg, "1");
  src += "    return x\n";
  DefineMethods(tower.module, src);
  tower.layout = std::move(embedding.layout);
  return tower;
}

MatchTower BuildTower(const ModelContext& context, const std::string& name) {
  const protos::ModelConfig& model_config = context.config.model_config();
  if (model_config.has_variational_dropout()) {
    FailConfig("model_config.variational_dropout: not supported by tzrec's mind yet");
  }
  return name == "user" ? BuildUserTower(context) : BuildItemTower(context);
}

}  // namespace

std::unique_ptr<Model> BuildMIND(const ModelContext& context) {
  const protos::MIND& cfg = context.config.model_config().mind();
  Task task = MatchTask(context.config);
  if (cfg.temperature() == 0) FailConfig("model_config.mind.temperature: must not be 0");
  // Built in turn: the towers draw their initial weights from one generator.
  MatchTower user = BuildTower(context, "user");
  MatchTower item = BuildTower(context, "item");
  std::string src = "    interests, mask = self.user_tower.interests_and_mask(data)\n";
  src += "    item_emb = self.item_tower.forward(data)\n";
  // Label-aware attention: each valid interest weighted by its agreement
  // with the row's positive item, sharpened by simi_pow.
  src += "    positive = item_emb[:interests.size(0)]\n";
  src += "    weight = torch.einsum(\"bkd,bd->bk\", [interests, positive])\n";
  src += "    weight = torch.minimum(weight, (mask.float() * 2 - 1) * float(\"inf\"))\n";
  src += fmt::format("    weight = torch.softmax(weight.unsqueeze(-1) * {:.17g}, 1)\n", cfg.simi_pow());
  src += "    user_emb = torch.sum(weight * interests, 1)\n";
  return FinishMatchModel("mind", "MIND", user, item, src, cfg.in_batch_negative(), cfg.temperature(), "",
                          task, context.options.table_storage);
}

std::unique_ptr<Model> BuildMINDTower(const ModelContext& context, const std::string& tower) {
  return WrapMatchTower("mind", tower, BuildTower(context, tower), context.options.table_storage);
}

}  // namespace tzrec::models
