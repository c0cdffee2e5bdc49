// DCN v2 (model_config.dcn_v2), as upstream's tzrec.models.dcn_v2.DCNV2, over
// the first feature group x [B, D]:
//   cross: CrossV2 over backbone(x) when a backbone MLP is set, else over x
//   deep:  optional MLP over x, concatenated after the cross output
//   y = output_mlp(final(cat[cross, deep]))   (output_mlp: Linear, no bias)
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildDCNV2(const ModelContext& context);

}  // namespace tzrec::models
