// xDeepFM (model_config.xdeepfm), as upstream's tzrec.models.xdeepfm.xDeepFM:
//   cin:  CIN (modules/cin.h) over the "wide" group, its N features of
//         wide_embedding_dim each seen as [B, N, wide_embedding_dim]
//   deep: MLP over the "deep" group
//   y = output_mlp(final(cat[cin, deep]))   (output_mlp: Linear with bias)
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildXDeepFM(const ModelContext& context);

}  // namespace tzrec::models
