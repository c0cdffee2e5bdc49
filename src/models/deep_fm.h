// DeepFM (model_config.deepfm), as upstream's tzrec.models.deepfm:
//   wide: sum of the "wide" group's embeddings -> [B, 1]
//   fm:   factorization machine over the "fm" group (the "deep" group when
//         there is none), all members of one width D -> [B, D]
//   deep: MLP over the "deep" group
//   with `final`: output_mlp(final_mlp(cat[wide, fm, deep]))
//   without:      wide + sum(fm) + output_mlp(deep)
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildDeepFM(const ModelContext& context);

}  // namespace tzrec::models
