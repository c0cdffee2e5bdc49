// DSSM (model_config.dssm), as upstream's tzrec.models.dssm: two towers,
// user_tower and item_tower, each with its own embedding group over the
// feature group its `input` names, an MLP, an optional output Linear
// (output_dim > 0) and L2 normalisation when similarity is COSINE. The
// model outputs `similarity` (see SimilaritySource), divided by temperature.
#pragma once

#include <memory>
#include <string>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildDSSM(const ModelContext& context);

// The "user" or "item" tower alone, for export (see match_model.h).
std::unique_ptr<Model> BuildDSSMTower(const ModelContext& context, const std::string& tower);

}  // namespace tzrec::models
