// MultiTowerDIN (model_config.multi_tower_din), as upstream's
// tzrec.models.multi_tower_din: MultiTower's MLP towers over DEEP groups
// (towers.<group>), plus one DIN attention tower per SEQUENCE group
// (din_towers.<i>, see modules/din_encoder.h); all tower outputs
// concatenated (MLP towers first, then DIN towers, each in config order),
// then final_mlp and output_mlp.
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildMultiTowerDIN(const ModelContext& context);

}  // namespace tzrec::models
