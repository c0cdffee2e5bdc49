// MaskNet (model_config.mask_net), as upstream's tzrec.models.masknet:
//   the first feature group's embeddings [B, F] -> MaskNetModule
//   (modules/masknet.h: layer norm, instance-guided mask blocks, top MLP)
//   -> output_linear (no bias) -> [B, num_class].
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildMaskNet(const ModelContext& context);

}  // namespace tzrec::models
