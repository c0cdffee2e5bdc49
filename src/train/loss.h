// Losses of loss.proto, computed from a task's predictions as upstream's
// RankModel.loss does: binary_cross_entropy (with label smoothing) and
// binary_focal_loss on `logits`, softmax_cross_entropy on `logits` [B, C],
// l2_loss on `y`, jrc_loss on `logits` [B, 2] with the session ids of the
// rows. With a sample weight the per-row losses are averaged with weights
// normalised to mean 1.
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
// undefined; `session_ids` ([B], jrc_loss only) are the first ids of the
// loss's session_name feature. Errors name missing predictions.
at::Tensor ComputeLoss(const protos::LossConfig& loss, const models::Task& task,
                       const c10::Dict<std::string, at::Tensor>& predictions,
                       const at::Tensor& label, const at::Tensor& sample_weight,
                       const at::Tensor& session_ids = {});

// Per-row JRC loss (upstream's JRCLoss, arXiv 2208.06164): alpha times the
// cross entropy of `logits` [B, 2], plus (1 - alpha) times a softmax over the
// rows of the same session in which a positive row's logit 1 competes with the
// other sessions' negatives' (other positives masked), and a negative row's
// logit 0 with the session's positives' (other negatives masked). Its mean is
// upstream's mean-reduced loss.
at::Tensor JrcLossPerRow(const at::Tensor& logits, const at::Tensor& labels,
                         const at::Tensor& session_ids, double alpha);

}  // namespace tzrec::train
