#include "models/dssm_v2.h"

#include "common/error.h"
#include "models/match_model.h"
#include "models/modules/jit_module.h"
#include "models/modules/mlp.h"

namespace tzrec::models {
namespace {

constexpr char kEmbeddingGroupPrefix[] = "model.embedding_group.";

const protos::FeatureGroupConfig& TowerGroup(const protos::ModelConfig& model_config,
                                             const std::string& name) {
  const protos::Tower& tower_cfg =
      name == "user" ? model_config.dssm_v2().user_tower() : model_config.dssm_v2().item_tower();
  for (const auto& group : model_config.feature_groups()) {
    if (group.group_name() == tower_cfg.input()) return group;
  }
  FailConfig("model_config.dssm_v2.{}_tower.input: no feature group named '{}'", name,
             tower_cfg.input());
}

void CheckConfig(const protos::ModelConfig& model_config) {
  if (model_config.has_variational_dropout()) {
    FailConfig("model_config.variational_dropout: not supported by tzrec's dssm_v2 yet");
  }
  if (model_config.dssm_v2().temperature() == 0) {
    FailConfig("model_config.dssm_v2.temperature: must not be 0");
  }
}

// forward(grouped: Dict[str, Tensor]) -> Tensor[B, D]: the tower reads its
// group's tensor from an embedding group's output, as upstream's DSSMTower
// (a MatchTowerWoEG) does.
torch::jit::Module BuildTower(const protos::ModelConfig& model_config,
                              const EmbeddingGroupLayout& layout, const std::string& name) {
  const protos::DSSMV2& cfg = model_config.dssm_v2();
  const protos::Tower& tower_cfg = name == "user" ? cfg.user_tower() : cfg.item_tower();
  const std::string where = "model_config.dssm_v2." + name + "_tower";
  if (!tower_cfg.has_mlp() || tower_cfg.mlp().hidden_units_size() == 0) {
    FailConfig("{}.mlp: the tower needs an mlp with hidden_units", where);
  }
  if (layout.is_sequence_group(tower_cfg.input())) {
    FailConfig("{}.input: '{}' is a SEQUENCE group; the tower reads a DEEP group", where,
               tower_cfg.input());
  }
  torch::jit::Module tower = NewModule("DSSMV2Tower");
  AddChild(tower, "mlp",
           BuildMlp(layout.total_dim(tower_cfg.input(), "dssm_v2"), MlpFromProto(tower_cfg.mlp()),
                    where + ".mlp"));
  std::string src = "def forward(self, grouped: Dict[str, Tensor]) -> Tensor:\n";
  src += fmt::format("    x = self.mlp.forward(grouped[{}])\n", PyStr(tower_cfg.input()));
  if (cfg.output_dim() > 0) {
    const int64_t mlp_out = tower_cfg.mlp().hidden_units(tower_cfg.mlp().hidden_units_size() - 1);
    AddChild(tower, "output", BuildLinear(mlp_out, cfg.output_dim(), /*bias=*/true));
    src += "    x = self.output.forward(x)\n";
  }
  if (cfg.similarity() == protos::COSINE) {
    // F.normalize(x, p=2, dim=1): x / max(||x||, 1e-12).
    src += "    x = x / torch.clamp_min(torch.norm(x, 2, [1], True), 1e-12)\n";
  }
  src += "    return x\n";
  DefineMethods(tower, src);
  return tower;
}

std::vector<std::string> TableNames(const EmbeddingGroupLayout& layout) {
  std::vector<std::string> tables;
  for (const std::string& path : layout.table_weight_paths) tables.push_back(kEmbeddingGroupPrefix + path);
  return tables;
}

}  // namespace

std::unique_ptr<Model> BuildDSSMV2(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::DSSMV2& cfg = model_config.dssm_v2();
  CheckConfig(model_config);
  Task task = MatchTask(context.config);
  TowerGroup(model_config, "user");
  TowerGroup(model_config, "item");
  // Upstream builds the shared group over every feature group of the model.
  EmbeddingGroup embedding =
      BuildEmbeddingGroup(context.features, model_config.feature_groups(), GroupOptions(context.options));

  torch::jit::Module root = NewModule("DSSMV2");
  AddChild(root, "embedding_group", embedding.module);
  AddChild(root, "user_tower", BuildTower(model_config, embedding.layout, "user"));
  AddChild(root, "item_tower", BuildTower(model_config, embedding.layout, "item"));
  // Upstream slices the user group to the label batch because, with
  // force_base_data_group, user features are padded with empty rows for the
  // sampled items; tzrec's pipeline gives them the batch's B rows only (and
  // the embedding group refuses a group mixing sampled and unsampled
  // features), so the slice would be the identity and is left out.
  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += "    user_emb = self.user_tower.forward(grouped)\n";
  src += "    item_emb = self.item_tower.forward(grouped)\n";
  src += SimilaritySource(cfg.in_batch_negative(), cfg.temperature(), "user_emb", "item_emb");
  src += "    out: Dict[str, Tensor] = {}\n";
  src += fmt::format("    out[{}] = sim\n", PyStr(kSimilarityOutput));
  src += "    return out\n";
  DefineMethods(root, src);

  auto model = std::make_unique<Model>("dssm_v2", root, std::vector<Task>{task},
                                       std::vector<std::string>{kSimilarityOutput},
                                       TableNames(embedding.layout), context.options.table_storage);
  model->SetTableStorages(embedding.layout, kEmbeddingGroupPrefix);
  return model;
}

std::unique_ptr<Model> BuildDSSMV2Tower(const ModelContext& context, const std::string& tower) {
  const protos::ModelConfig& model_config = context.config.model_config();
  CheckConfig(model_config);
  google::protobuf::RepeatedPtrField<protos::FeatureGroupConfig> groups;
  *groups.Add() = TowerGroup(model_config, tower);
  EmbeddingGroup embedding = BuildEmbeddingGroup(context.features, groups, GroupOptions(context.options));

  const std::string child = tower + "_tower";
  const std::string output = child + "_emb";
  torch::jit::Module root = NewModule("TowerWoEGWrapper");
  AddChild(root, "embedding_group", embedding.module);
  AddChild(root, child, BuildTower(model_config, embedding.layout, tower));
  DefineMethods(root, fmt::format("def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n"
                                  "    out: Dict[str, Tensor] = {{}}\n"
                                  "    out[{}] = self.{}.forward(self.embedding_group.forward(data))\n"
                                  "    return out\n",
                                  PyStr(output), child));
  auto model = std::make_unique<Model>("dssm_v2", root, std::vector<Task>{},
                                       std::vector<std::string>{output}, TableNames(embedding.layout),
                                       context.options.table_storage);
  model->SetTableStorages(embedding.layout, kEmbeddingGroupPrefix);
  return model;
}

}  // namespace tzrec::models
