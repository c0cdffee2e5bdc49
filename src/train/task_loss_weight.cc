#include "train/task_loss_weight.h"

#include "common/error.h"
#include "config/model_type.h"

namespace tzrec::train {
namespace {

const at::Tensor& Column(const models::TensorMap& batch, const std::string& name, const char* what) {
  auto it = batch.find(name);
  if (it == batch.end()) Fail("{} '{}' is missing from the batch", what, name);
  return it->second;
}

}  // namespace

TaskLossWeights::TaskLossWeights(const protos::EasyRecConfig& config) {
  multi_task_ = FamilyOf(ModelType(config.model_config())) == ModelFamily::kMultiTaskRank;
  if (multi_task_) by_suffix_ = models::TaskLossWeightings(config);
}

TaskLossWeight TaskLossWeights::For(const models::Task& task, const models::TensorMap& batch,
                                    const at::Tensor& sample_weight) const {
  TaskLossWeight out;
  if (!multi_task_) {
    out.per_row = sample_weight;
    return out;
  }
  auto it = by_suffix_.find(task.suffix);
  if (it == by_suffix_.end()) return out;
  const models::TaskLossWeighting& w = it->second;
  if (!w.sample_weight_name.empty()) {
    out.per_row = Column(batch, w.sample_weight_name, "sample weight").to(at::kFloat);
  }
  if (!w.task_space_indicator_label.empty()) {
    at::Tensor in_space =
        (Column(batch, w.task_space_indicator_label, "task space indicator label") > 0).to(at::kFloat);
    at::Tensor space = w.in_task_space_weight * in_space + w.out_task_space_weight * (1 - in_space);
    out.per_row = out.per_row.defined() ? out.per_row * space : space;
  }
  out.scale = w.weight;
  return out;
}

}  // namespace tzrec::train
