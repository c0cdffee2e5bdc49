// DAT (model_config.dat), Dual Augmented Two-tower, as upstream's
// tzrec.models.dat: DSSM whose towers each read a second feature group,
// `augment_input`, whose concatenated embeddings (the augmented vector) join
// the tower's input: tower = [L2-normalise](output(MLP([input, augment]))).
// Each tower owns an embedding group over its two groups
// (model.<tower>_tower.embedding_group...).
//
// In training the model also outputs what the Adaptive-Mimic Mechanism
// losses read, named as upstream's predictions: user_augment,
// item_augment, and the detached user_tower_emb / item_tower_emb; DATMimicLosses
// turns them into amm_loss_u and amm_loss_i, to be added to the
// softmax_cross_entropy loss: BuildDAT sets them as the model's
// TrainingLosses. Exported towers read their input and augment_input groups.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildDAT(const ModelContext& context);

// The "user" or "item" tower alone, for export (see match_model.h).
std::unique_ptr<Model> BuildDATTower(const ModelContext& context, const std::string& tower);

// Upstream's DAT.loss additions, from the training-mode outputs above:
//   amm_loss_u = amm_u_weight * sum((normalize(user_augment) - item_tower_emb[:B])^2)
//   amm_loss_i = amm_i_weight * sum((normalize(item_augment[:B]) - user_tower_emb)^2)
// (B: rows of `similarity`), summed over the batch; with a `sample_weight`
// [B], per-row sums averaged with weights, div_no_nan(mean(l * w), mean(w)).
// Empty when the predictions are not training-mode ones.
std::map<std::string, at::Tensor> DATMimicLosses(const protos::DAT& config,
                                                 const c10::Dict<std::string, at::Tensor>& predictions,
                                                 const at::Tensor& sample_weight);

}  // namespace tzrec::models
