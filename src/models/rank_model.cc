#include "models/rank_model.h"

#include <algorithm>

#include "common/error.h"
#include "models/modules/jit_module.h"

namespace tzrec::models {

void CheckTaskLosses(const Task& task, const std::string& where, const std::string& what) {
  if (task.losses.empty()) FailConfig("{}.losses: a {} needs at least one loss", where, what);
  if (task.num_class < 1) FailConfig("{}.num_class: must be at least 1", where);
  for (size_t i = 0; i < task.losses.size(); ++i) {
    const protos::LossConfig& loss = task.losses[i];
    switch (loss.loss_case()) {
      case protos::LossConfig::kBinaryCrossEntropy:
      case protos::LossConfig::kBinaryFocalLoss:
        if (task.num_class != 1) {
          FailConfig("{}.losses[{}]: a binary loss needs num_class 1, got {}", where, i,
                     task.num_class);
        }
        break;
      case protos::LossConfig::kSoftmaxCrossEntropy:
        if (task.num_class < 2) {
          FailConfig("{}.losses[{}]: softmax_cross_entropy needs num_class > 1", where, i);
        }
        break;
      case protos::LossConfig::kJrcLoss:
        if (task.num_class != 2) FailConfig("{}.losses[{}]: jrc_loss needs num_class 2", where, i);
        break;
      case protos::LossConfig::kL2Loss:
        break;
      default:
        FailConfig("{}.losses[{}]: no loss type set", where, i);
    }
  }
}

Task RankTask(const protos::EasyRecConfig& config, const std::string& suffix) {
  const protos::ModelConfig& model = config.model_config();
  Task task;
  task.suffix = suffix;
  if (config.data_config().label_fields_size() > 0) {
    task.label_name = config.data_config().label_fields(0);
  }
  task.num_class = static_cast<int>(model.num_class());
  task.losses.assign(model.losses().begin(), model.losses().end());
  task.metrics.assign(model.metrics().begin(), model.metrics().end());
  CheckTaskLosses(task, "model_config", "rank model");
  return task;
}

std::string RankOutputSource(const Task& task, const std::string& y,
                             std::vector<std::string>& output_names) {
  std::string src;
  auto add = [&](const std::string& name, const std::string& expr) {
    const std::string key = name + task.suffix;
    if (std::find(output_names.begin(), output_names.end(), key) != output_names.end()) return;
    src += fmt::format("    out[{}] = {}\n", PyStr(key), expr);
    output_names.push_back(key);
  };
  for (const protos::LossConfig& loss : task.losses) {
    switch (loss.loss_case()) {
      case protos::LossConfig::kBinaryCrossEntropy:
      case protos::LossConfig::kBinaryFocalLoss:
        add("logits", fmt::format("torch.squeeze({}, 1)", y));
        add("probs", fmt::format("torch.sigmoid(torch.squeeze({}, 1))", y));
        break;
      case protos::LossConfig::kSoftmaxCrossEntropy:
      case protos::LossConfig::kJrcLoss:
        add("logits", y);
        add("probs", fmt::format("torch.softmax({}, 1)", y));
        if (task.num_class == 2) add("probs1", fmt::format("torch.softmax({}, 1)[:, 1]", y));
        break;
      case protos::LossConfig::kL2Loss:
        add("y", fmt::format("torch.squeeze({}, 1)", y));
        break;
      default:
        break;
    }
  }
  return src;
}

std::unique_ptr<Model> FinishRankModel(const std::string& type, torch::jit::Module root,
                                       std::string forward_source, const Task& task,
                                       const EmbeddingGroupLayout& layout, TableStorage storage) {
  forward_source += "    out: Dict[str, Tensor] = {}\n";
  std::vector<std::string> outputs;
  forward_source += RankOutputSource(task, "y", outputs);
  forward_source += "    return out\n";
  DefineMethods(root, forward_source);
  std::vector<std::string> tables;
  for (const std::string& path : layout.table_weight_paths) {
    tables.push_back(std::string(kStatePrefix) + "embedding_group." + path);
  }
  auto model = std::make_unique<Model>(type, root, std::vector<Task>{task}, outputs, tables, storage);
  model->SetTableStorages(layout, std::string(kStatePrefix) + "embedding_group.");
  return model;
}

}  // namespace tzrec::models
