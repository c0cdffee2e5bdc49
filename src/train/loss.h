// Losses of loss.proto, computed from a task's predictions as upstream's
// RankModel.loss does: binary_cross_entropy (with label smoothing) and
// binary_focal_loss on `logits`, softmax_cross_entropy on `logits` [B, C],
// l2_loss on `y`. With a sample weight the per-row losses are averaged with
// weights normalised to mean 1.
#pragma once

#include <map>
#include <string>

#include <ATen/ATen.h>

#include "config/protos/loss.pb.h"
#include "models/model.h"

namespace tzrec::train {

// The loss's name in logs and metrics: the oneof name plus the task suffix,
// e.g. "binary_cross_entropy" or "binary_cross_entropy_ctr".
std::string LossName(const protos::LossConfig& loss, const std::string& suffix);

// Scalar loss. `label` is the task's label column; `sample_weight` may be
// undefined. Errors name missing predictions; ConfigError for loss types tzrec
// does not implement (jrc_loss).
at::Tensor ComputeLoss(const protos::LossConfig& loss, const models::Task& task,
                       const c10::Dict<std::string, at::Tensor>& predictions,
                       const at::Tensor& label, const at::Tensor& sample_weight);

}  // namespace tzrec::train
