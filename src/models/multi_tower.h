// MultiTower (model_config.multi_tower), as upstream's
// tzrec.models.multi_tower: one MLP per tower over the feature group its
// `input` names (towers.<group>), their outputs concatenated in tower order,
// then final_mlp (when `final` is set) and output_mlp.
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildMultiTower(const ModelContext& context);

}  // namespace tzrec::models
