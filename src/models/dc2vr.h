// DC2VR (model_config.dc2vr), as upstream's tzrec.models.dc2vr.DC2VR
// (de-confounding conversion rate): the first feature group, an optional
// shared bottom_mlp and an optional MMoE (expert_mlp) give each task its
// input; a task's optional mlp (task_mlps.<tower>) follows. A tower with
// low_rank_dim then intervenes on its net with the nets of earlier towers
// (intervention_tower_names, concatenated, gradient stopped):
// intervention.<tower> (modules/intervention.h). A Linear per tower
// (task_outputs.<i>) gives num_class logits. Outputs per tower:
// logits_<tower>, probs_<tower> (or y_<tower>).
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildDC2VR(const ModelContext& context);

}  // namespace tzrec::models
