// MultiTower (model_config.multi_tower), as upstream's
// tzrec.models.multi_tower: one MLP per tower over the feature group its
// `input` names (towers.<group>), their outputs concatenated in tower order,
// then final_mlp (when `final` is set) and output_mlp.
#pragma once

#include <memory>
#include <string>

#include "models/model.h"
#include "models/modules/embedding_group.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildMultiTower(const ModelContext& context);

// The MLP towers of `towers` (multi_tower's, or multi_tower_din's non-DIN
// ones): one MLP per entry over the group its input names, added to `dict` (a
// ModuleDict keyed by that group, as upstream) and called in `src` as t0, t1,
// ... from `grouped`. Config errors name `where`.towers[i]; `model` names the
// model in layout errors. With `sequence_hint`, a tower over a SEQUENCE group
// is refused with that hint (multi_tower_din: "it belongs in din_towers").
struct MlpTowers {
  std::string outputs;    // "t0, t1, ..."
  int64_t total_dim = 0;  // sum of the towers' output widths
};
MlpTowers AddMlpTowers(const google::protobuf::RepeatedPtrField<protos::Tower>& towers,
                       const EmbeddingGroupLayout& layout, const std::string& where,
                       const std::string& model, torch::jit::Module& dict, std::string& src,
                       const char* sequence_hint = nullptr);

}  // namespace tzrec::models
