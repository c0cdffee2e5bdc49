// DCN v1 (model_config.dcn_v1), as upstream's tzrec.models.dcn.DCNV1, over
// the first feature group x [B, D]:
//   y = output_linear(final_dnn(cat[cross(x), deep(x)]))
// with cross the DCN v1 cross layers (modules/cross.h), deep an MLP and
// output_linear a Linear without bias.
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildDCNV1(const ModelContext& context);

}  // namespace tzrec::models
