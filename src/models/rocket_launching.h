// Rocket Launching (model_config.rocket_launching), as upstream's
// tzrec.models.rocket_launching (arXiv 1708.04106): a light net and a booster
// net trained together on the first feature group.
//
//   share = share_mlp(group)            (the group itself without share_mlp)
//   light:   light_linear(light_mlp(share.detach()))  -> outputs "<name>_light"
//   booster: booster_linear(booster_mlp(share))       -> outputs "<name>_booster",
//            in training mode only
//
// Serving (eval mode, export) runs the light net alone: its outputs are
// logits_light / probs_light (+ probs1_light), named per loss as any rank
// model's with the suffix "_light". The light net never trains the shared
// part: it reads `share` detached, so the embeddings and share_mlp learn from
// the booster's losses only.
//
// Training: each configured loss is computed for both nets (the booster's
// as a training-only task), plus the model's own distillation losses
// (RocketLaunchingLosses), which teach the light net from the booster
// (the booster side is detached):
//   hint_l2_loss: mean squared difference of logits_light and logits_booster;
//   similarity_<i>_<j> (feature_based_distillation only): light hidden layer
//     i against booster hidden layer j, for each light layer i and the first
//     booster layer j of the same width; the training-mode outputs light_<i>
//     and booster_<j> carry them.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/protos/pipeline.pb.h"
#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildRocketLaunching(const ModelContext& context);

// Pairs (light layer i, booster layer j) whose hidden features are compared:
// for each light_mlp layer, the first booster_mlp layer with as many units
// (none for a light layer whose width the booster does not have).
std::vector<std::pair<int, int>> DistillationLayerPairs(const protos::RocketLaunching& config);

// The distillation losses above from training-mode predictions; with a
// `sample_weight` [B] (undefined: none) normalised to mean 1 as upstream's
// div_no_nan(w, mean(w)):
//   hint_l2_loss = mean((logits_light - logits_booster)^2 [* w per row])
//   COSINE:  similarity = -0.1 * mean(cos(light_i, booster_j) [* w])
//   other (EUCLID, INNER_PRODUCT, as upstream):
//            similarity = sqrt(sum((light_i - booster_j)^2 [* w per row]))
// Empty when the predictions are eval-mode ones (no logits_booster).
std::map<std::string, at::Tensor> RocketLaunchingLosses(
    const protos::RocketLaunching& config, const std::vector<std::pair<int, int>>& pairs,
    const c10::Dict<std::string, at::Tensor>& predictions, const at::Tensor& sample_weight);

}  // namespace tzrec::models
