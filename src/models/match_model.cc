#include "models/match_model.h"

#include "common/error.h"
#include "config/model_type.h"
#include "models/dssm.h"
#include "models/dssm_v2.h"
#include "models/mind.h"
#include "models/dat.h"
#include "models/modules/jit_module.h"

namespace tzrec::models {

Task MatchTask(const protos::EasyRecConfig& config) {
  const protos::ModelConfig& model = config.model_config();
  Task task;
  if (config.data_config().label_fields_size() > 0) {
    task.label_name = config.data_config().label_fields(0);
  }
  task.num_class = static_cast<int>(model.num_class());
  if (model.losses_size() != 1) {
    FailConfig("model_config.losses: a match model takes exactly one loss, got {}",
               model.losses_size());
  }
  if (model.losses(0).loss_case() != protos::LossConfig::kSoftmaxCrossEntropy) {
    FailConfig("model_config.losses[0]: a match model supports only softmax_cross_entropy");
  }
  for (int i = 0; i < model.metrics_size(); ++i) {
    if (model.metrics(i).metric_case() != protos::MetricConfig::kRecallAtK) {
      FailConfig("model_config.metrics[{}]: a match model supports only recall_at_k", i);
    }
  }
  task.losses.assign(model.losses().begin(), model.losses().end());
  task.metrics.assign(model.metrics().begin(), model.metrics().end());
  return task;
}

std::string SimilaritySource(bool in_batch_negative, double temperature, const std::string& user,
                             const std::string& item) {
  std::string src;
  if (in_batch_negative) {
    src += fmt::format("    sim = torch.mm({}, torch.transpose({}, 0, 1))\n", user, item);
  } else {
    src += fmt::format("    batch_size = {}.size(0)\n", user);
    src += fmt::format("    pos = torch.sum({0} * {1}[:batch_size], -1, True)\n", user, item);
    src += fmt::format("    neg = torch.matmul({0}, torch.transpose({1}[batch_size:], 0, 1))\n",
                       user, item);
    src += "    sim = torch.cat([pos, neg], -1)\n";
  }
  // repr-exact float literal, so the exported graph divides by the config's value.
  src += fmt::format("    sim = sim / {:.17g}\n", temperature);
  return src;
}

const protos::FeatureGroupConfig& FindFeatureGroup(const protos::ModelConfig& model_config,
                                                   const std::string& name, const std::string& where) {
  for (const auto& group : model_config.feature_groups()) {
    if (group.group_name() == name) return group;
  }
  FailConfig("{}: no feature group named '{}'", where, name);
}

namespace {

// State-dict names of a tower's tables: its embedding group is its child
// `embedding_group`, and the tower is the root's child `<tower>_tower`.
std::string TowerGroupPrefix(const std::string& tower) {
  return std::string(kStatePrefix) + tower + "_tower.embedding_group.";
}

void AddTowerTables(const MatchTower& built, const std::string& tower, std::vector<std::string>& tables) {
  for (const std::string& path : built.layout.table_weight_paths) {
    tables.push_back(TowerGroupPrefix(tower) + path);
  }
}

}  // namespace

std::unique_ptr<Model> FinishMatchModel(const std::string& type, const std::string& module_name,
                                        const MatchTower& user, const MatchTower& item,
                                        const std::string& embeddings_source, bool in_batch_negative,
                                        double temperature, const std::string& extra_outputs_source,
                                        const Task& task, TableStorage storage) {
  torch::jit::Module root = NewModule(module_name);
  AddChild(root, "user_tower", user.module);
  AddChild(root, "item_tower", item.module);
  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += embeddings_source;
  src += SimilaritySource(in_batch_negative, temperature, "user_emb", "item_emb");
  src += "    out: Dict[str, Tensor] = {}\n";
  src += fmt::format("    out[{}] = sim\n", PyStr(kSimilarityOutput));
  src += extra_outputs_source;
  src += "    return out\n";
  DefineMethods(root, src);

  std::vector<std::string> tables;
  AddTowerTables(user, "user", tables);
  AddTowerTables(item, "item", tables);
  auto model = std::make_unique<Model>(type, root, std::vector<Task>{task},
                                       std::vector<std::string>{kSimilarityOutput}, tables, storage);
  // Sequence tables may be stored unlike pooled ones (QUANT_EC_EMB).
  model->SetTableStorages(user.layout, TowerGroupPrefix("user"));
  model->SetTableStorages(item.layout, TowerGroupPrefix("item"));
  return model;
}

std::unique_ptr<Model> WrapMatchTower(const std::string& model_type, const std::string& tower,
                                      const MatchTower& built, TableStorage storage) {
  const std::string child = tower + "_tower";
  torch::jit::Module root = NewModule("TowerWrapper");
  AddChild(root, child, built.module);
  const std::string output = child + "_emb";
  DefineMethods(root, fmt::format("def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n"
                                  "    out: Dict[str, Tensor] = {{}}\n"
                                  "    out[{}] = self.{}.forward(data)\n"
                                  "    return out\n",
                                  PyStr(output), child));
  std::vector<std::string> tables;
  AddTowerTables(built, tower, tables);
  auto model = std::make_unique<Model>(model_type, root, std::vector<Task>{},
                                       std::vector<std::string>{output}, tables, storage);
  model->SetTableStorages(built.layout, TowerGroupPrefix(tower));
  return model;
}

std::unique_ptr<Model> BuildMatchTower(const protos::EasyRecConfig& config,
                                       const std::vector<const Feature*>& features,
                                       const std::string& tower,
                                       const ModelBuildOptions& options) {
  const std::string type = ModelType(config.model_config());
  if (tower != "user" && tower != "item") {
    Fail("match tower '{}' does not exist (expected user or item)", tower);
  }
  ModelContext context{config, features, options};
  if (type == "dssm") return BuildDSSMTower(context, tower);
  if (type == "dssm_v2") return BuildDSSMV2Tower(context, tower);
  if (type == "mind") return BuildMINDTower(context, tower);
  if (type == "dat") return BuildDATTower(context, tower);
  FailConfig("model_config.{}: exporting its {} tower is not available in tzrec yet", type, tower);
}

}  // namespace tzrec::models
