// ExtractionNet: one layer of PLE (progressive layered extraction), laid out
// like upstream's tzrec.modules.extraction_net.ExtractionNet:
//   _shared_layers.<s>    share_num shared expert MLPs over the shared input
//   _shared_gate          Linear to (num_task * expert_num_per_task + share_num)
//                         gate logits over every expert (not in the last layer)
//   _task_layers.<t>.<e>  expert_num_per_task expert MLPs per task, over that
//                         task's input
//   _task_gates.<t>       Linear to (expert_num_per_task + share_num) gate logits
// Task t's output is the softmax-gated sum of its own experts and the shared
// experts; the shared output gates all task experts and the shared experts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/script.h>

#include "models/modules/mlp.h"

namespace tzrec::models {

struct ExtractionNetOptions {
  int64_t expert_num_per_task = 0;
  int64_t share_num = 0;
  MlpOptions task_expert_net;
  std::optional<MlpOptions> share_expert_net;
  // The last layer of a PLE: no shared output, so no _shared_gate.
  bool final_layer = false;
};

struct ExtractionNet {
  // forward(task_inputs: List[Tensor], shared_input: Tensor) -> List[Tensor]:
  // one output per task, followed by the shared output unless final_layer.
  torch::jit::Module module;
  // Widths of the outputs, in the same order (task outputs, then shared).
  std::vector<int64_t> output_dims;
};

// `task_in_features` has one input width per task. `where` names the config
// message (e.g. "model_config.ple.extraction_networks[0]").
ExtractionNet BuildExtractionNet(const std::vector<int64_t>& task_in_features,
                                 int64_t shared_in_features, const ExtractionNetOptions& options,
                                 const std::string& where);

}  // namespace tzrec::models
