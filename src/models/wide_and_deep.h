// WideAndDeep (model_config.wide_and_deep), as upstream's
// tzrec.models.wide_and_deep:
//   wide: sum of the "wide" group's embeddings -> [B, 1]
//   deep: deep_mlp over the "deep" group
//   with `final`: output_mlp(final_mlp(cat[wide, deep]))
//   without:      wide + output_mlp(deep)
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildWideAndDeep(const ModelContext& context);

}  // namespace tzrec::models
