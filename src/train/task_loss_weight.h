// Which per-row weights and scale each task's losses get, as upstream does:
// a rank model weights every loss by data_config.sample_weight_fields[0]
// (when set); a multi-task model ignores that and weights each tower's losses
// by its own task_towers settings (models::TaskLossWeighting: weight,
// sample_weight_name, task_space_indicator_label with in/out weights).
#pragma once

#include <map>
#include <string>

#include <ATen/ATen.h>

#include "config/protos/pipeline.pb.h"
#include "models/model.h"
#include "models/multi_task_rank.h"

namespace tzrec::train {

struct TaskLossWeight {
  // Per-row weights (normalised to mean 1 by the loss), or undefined for a
  // plain mean.
  at::Tensor per_row;
  // Multiplies the task's reduced losses.
  double scale = 1.0;

  at::Tensor Apply(const at::Tensor& loss) const { return scale == 1.0 ? loss : loss * scale; }
};

class TaskLossWeights {
 public:
  explicit TaskLossWeights(const protos::EasyRecConfig& config);

  // The weighting of `task`'s losses for `batch`; `sample_weight` is the
  // data_config sample weight column (or undefined), which only models other
  // than multi-task ones use. Errors name a weight or indicator column
  // missing from the batch.
  TaskLossWeight For(const models::Task& task, const models::TensorMap& batch,
                     const at::Tensor& sample_weight) const;

 private:
  bool multi_task_ = false;
  std::map<std::string, models::TaskLossWeighting> by_suffix_;
};

}  // namespace tzrec::train
