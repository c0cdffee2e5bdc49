// TaskTower: one head of a multi-task model, laid out like upstream's
// tzrec.modules.task_tower.TaskTower: an optional MLP (`tower_mlp`) and a
// final Linear (`linear`) to num_class logits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <torch/script.h>

#include "models/modules/mlp.h"

namespace tzrec::models {

// Module with forward(x: Tensor[B, in_features]) -> Tensor[B, num_class].
// `where` names the config field, for error messages.
torch::jit::Module BuildTaskTower(int64_t in_features, int64_t num_class,
                                  const std::optional<MlpOptions>& mlp, const std::string& where);

}  // namespace tzrec::models
