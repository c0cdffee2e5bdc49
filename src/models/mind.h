// MIND (model_config.mind), as upstream's tzrec.models.mind: multi-interest
// retrieval.
//  - user_tower (own embedding group over the `input` and `history_input`
//    groups): user_mlp (+ user_mlp_out) over the profile group; the history
//    sequence through _hist_seq_mlp (+ _hist_seq_mlp_out, no bias) and the
//    capsule layer (_capsule_layer, modules/capsule.h) into up to max_k
//    interests; each interest concatenated with the profile vector through
//    _concat_mlp, the optional output Linear (no bias) and, for COSINE, L2
//    normalisation. Its forward gives the interests [B, max_k, D] (the
//    exported user_tower_emb); masked interests are zero.
//  - item_tower: DSSM's tower (mlp, output Linear, normalisation).
//  - the model: label-aware attention over the interests with the positive
//    item (softmax of simi_pow * interest . item over the valid interests)
//    gives one user vector; `similarity` as DSSM's, divided by temperature.
#pragma once

#include <memory>
#include <string>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildMIND(const ModelContext& context);

// The "user" or "item" tower alone, for export (see match_model.h).
std::unique_ptr<Model> BuildMINDTower(const ModelContext& context, const std::string& tower);

}  // namespace tzrec::models
