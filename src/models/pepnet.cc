#include "models/pepnet.h"

#include <algorithm>

#include <fmt/ranges.h>

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/modules/personalized_net.h"
#include "models/modules/task_tower.h"
#include "models/multi_task_rank.h"
#include "models/rank_model.h"

namespace tzrec::models {
namespace {

constexpr char kWhere[] = "model_config.pepnet";
constexpr char kMainGroup[] = "all";
constexpr char kDomainGroup[] = "domain";
constexpr char kUiaGroup[] = "uia";

// Output keys of `task`'s losses ("logits", "probs", ... + suffix), as
// RankOutputSource writes them.
std::vector<std::string> TaskOutputKeys(const Task& task) {
  std::vector<std::string> keys;
  RankOutputSource(task, "y", keys);
  return keys;
}

}  // namespace

std::unique_ptr<Model> BuildPEPNet(const ModelContext& context) {
  const protos::PEPNet& cfg = context.config.model_config().pepnet();
  CheckMultiTaskOptions(context.config, "pepnet");
  std::vector<TaskTowerSpec> towers = ReadTaskTowers(context.config);

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const EmbeddingGroupLayout& layout = group.layout;
  if (!layout.has_group(kMainGroup) || layout.is_sequence_group(kMainGroup)) {
    FailConfig("model_config.feature_groups: pepnet needs a DEEP feature group named '{}'", kMainGroup);
  }
  const int64_t main_dim = layout.total_dim(kMainGroup, "pepnet");

  torch::jit::Module root = NewModule("PEPNet");
  AddChild(root, "embedding_group", group.module);
  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    features = grouped[{}]\n", PyStr(kMainGroup));

  if (layout.has_group(kDomainGroup)) {
    const int64_t hidden = cfg.has_epnet_hidden_unit() ? cfg.epnet_hidden_unit() : main_dim;
    if (hidden <= 0) FailConfig("{}.epnet_hidden_unit: must be positive", kWhere);
    AddChild(root, "epnet",
             BuildEPNet(main_dim, layout.total_dim(kDomainGroup, "pepnet"), hidden, cfg.epnet_gamma()));
    src += fmt::format("    features = self.epnet.forward(features, grouped[{}])\n", PyStr(kDomainGroup));
  }

  const int64_t num_task = static_cast<int64_t>(towers.size());
  int64_t tower_in = main_dim;
  std::vector<std::string> task_inputs(num_task, "features");
  if (layout.has_group(kUiaGroup)) {
    PPNetOptions ppnet;
    ppnet.hidden_units.assign(cfg.ppnet_hidden_units().begin(), cfg.ppnet_hidden_units().end());
    ppnet.activation = cfg.ppnet_activation();
    ppnet.dropout_ratio.assign(cfg.ppnet_dropout_ratio().begin(), cfg.ppnet_dropout_ratio().end());
    ppnet.gamma = cfg.ppnet_gamma();
    ppnet.num_task = num_task;
    AddChild(root, "ppnet", BuildPPNet(main_dim, layout.total_dim(kUiaGroup, "pepnet"), ppnet, kWhere));
    tower_in = ppnet.hidden_units.back();
    src += fmt::format("    task_inputs = self.ppnet.forward(features, grouped[{}])\n", PyStr(kUiaGroup));
    for (int64_t i = 0; i < num_task; ++i) task_inputs[i] = fmt::format("task_inputs[{}]", i);
  }

  // Towers per task: one, or one per domain.
  const std::string domain_label = cfg.domain_input_name();
  const bool per_domain = cfg.has_domain_input_name();
  int64_t num_domain = 1;
  if (per_domain) {
    if (domain_label.empty()) FailConfig("{}.domain_input_name: must not be empty", kWhere);
    const auto& labels = context.config.data_config().label_fields();
    if (std::find(labels.begin(), labels.end(), domain_label) == labels.end()) {
      FailConfig("{}.domain_input_name: '{}' must be one of data_config.label_fields (it holds each "
                 "row's domain index)", kWhere, domain_label);
    }
    num_domain = cfg.task_domain_num();
    if (num_domain < 1) FailConfig("{}.task_domain_num: must be at least 1", kWhere);
  }
  torch::jit::Module task_tower = NewModule("ModuleList");
  std::vector<std::string> tower_outputs;
  for (int64_t i = 0; i < num_task; ++i) {
    for (int64_t d = 0; d < num_domain; ++d) {
      const int64_t k = i * num_domain + d;
      AddChild(task_tower, std::to_string(k),
               BuildTaskTower(tower_in, towers[i].task.num_class, towers[i].mlp, towers[i].where));
      src += fmt::format("    tower_{} = getattr(self._task_tower, \"{}\").forward({})\n", k, k, task_inputs[i]);
      tower_outputs.push_back(fmt::format("tower_{}", k));
    }
  }
  AddChild(root, "_task_tower", task_tower);

  src += "    out: Dict[str, Tensor] = {}\n";
  std::vector<std::string> outputs;
  if (!per_domain) {
    src += MultiTaskOutputSource(towers, tower_outputs, outputs);
  } else {
    // Loss by loss, domain by domain, as upstream orders its predictions.
    for (int64_t i = 0; i < num_task; ++i) {
      for (const protos::LossConfig& loss : towers[i].task.losses) {
        for (int64_t d = 0; d < num_domain; ++d) {
          Task domain_task = towers[i].task;
          domain_task.suffix += fmt::format("_{}", d);
          domain_task.losses = {loss};
          src += RankOutputSource(domain_task, tower_outputs[i * num_domain + d], outputs);
        }
      }
    }
    src += fmt::format("    if {} in data:\n", PyStr(domain_label));
    src += fmt::format("        domain = data[{}].long().view(-1)\n", PyStr(domain_label));
    src += "        rows = torch.arange(domain.size(0), device=domain.device)\n";
    for (int64_t i = 0; i < num_task; ++i) {
      for (const std::string& key : TaskOutputKeys(towers[i].task)) {
        std::vector<std::string> parts;
        for (int64_t d = 0; d < num_domain; ++d) parts.push_back(fmt::format("out[{}]", PyStr(fmt::format("{}_{}", key, d))));
        src += fmt::format("        out[{}] = torch.stack([{}], 1)[rows, domain]\n", PyStr(key),
                           fmt::join(parts, ", "));
      }
    }
  }
  src += "    return out\n";
  DefineMethods(root, src);
  return MakeMultiTaskModel("pepnet", root, towers, outputs, layout, context.options.table_storage);
}

}  // namespace tzrec::models
