// WuKong (model_config.wukong), as upstream's tzrec.models.wukong:
//   sparse: the "sparse" group (the only group when there is one), N
//           embeddings of one width D, viewed as [B, N, D];
//   dense:  with more than one group and a "dense" group, dense_mlp over it
//           ([B, D]: its last hidden unit must be D), prepended as feature 0;
//   _wukong_layers: WuKongLayers (modules/wukong_layer.h) in turn, each
//           mapping [B, n, D] to [B, lcb_feature_num + fmb_feature_num, D];
//   final_mlp over the flattened features, then output_mlp.
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildWuKong(const ModelContext& context);

}  // namespace tzrec::models
