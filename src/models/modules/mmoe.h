// MMoE module (multi-gate mixture of experts), laid out like upstream's
// tzrec.modules.mmoe.MMoE:
//   expert_mlps.<e>   num_expert MLPs over the input
//   gate_mlps.<t>     optional per-task MLP in front of the gate
//   gate_finals.<t>   per-task Linear to num_expert gate logits
// Task t's output is the softmax(gate_t)-weighted sum of the experts' outputs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <torch/script.h>

#include "models/modules/mlp.h"

namespace tzrec::models {

struct MMoEOptions {
  MlpOptions expert_mlp;
  std::optional<MlpOptions> gate_mlp;
  int64_t num_expert = 3;
  int64_t num_task = 1;
};

// Module with forward(x: Tensor[B, in_features]) -> List[Tensor], one
// [B, expert_mlp.hidden_units[-1]] tensor per task. `where` names the config
// message (e.g. "model_config.mmoe"), for error messages.
torch::jit::Module BuildMMoE(int64_t in_features, const MMoEOptions& options,
                             const std::string& where);

}  // namespace tzrec::models
