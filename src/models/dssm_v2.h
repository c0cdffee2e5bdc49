// DSSMV2 (model_config.dssm_v2), as upstream's tzrec.models.dssm_v2: DSSM
// whose two towers share one embedding group at the model's root
// (model.embedding_group...: a table read by both towers exists once), so
// each tower is only an MLP, an optional output Linear (output_dim > 0) and
// L2 normalisation when similarity is COSINE, over its feature group's
// tensor. The model outputs `similarity` divided by temperature.
//
// Export towers are upstream's TowerWoEGWrapper: a root holding an
// embedding group over the tower's own feature group (same table names as
// the full model's) and the tower (model.<tower>_tower...).
#pragma once

#include <memory>
#include <string>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildDSSMV2(const ModelContext& context);

// The "user" or "item" tower alone, for export (see match_model.h).
std::unique_ptr<Model> BuildDSSMV2Tower(const ModelContext& context, const std::string& tower);

}  // namespace tzrec::models
