#include "models/modules/extraction_net.h"

#include "common/error.h"
#include "models/modules/jit_module.h"

namespace tzrec::models {

ExtractionNet BuildExtractionNet(const std::vector<int64_t>& task_in_features,
                                 int64_t shared_in_features, const ExtractionNetOptions& options,
                                 const std::string& where) {
  const int64_t num_task = static_cast<int64_t>(task_in_features.size());
  if (num_task == 0) FailConfig("{}: the model has no task towers", where);
  if (!options.share_expert_net) {
    FailConfig("{}.share_expert_net: must be set (it gives the shared experts' and the shared "
               "output's layers)",
               where);
  }
  if (options.expert_num_per_task + options.share_num == 0) {
    FailConfig("{}: expert_num_per_task and share_num are both 0, a task has no experts", where);
  }
  if (options.task_expert_net.hidden_units.empty()) {
    FailConfig("{}.task_expert_net.hidden_units: must have at least one layer", where);
  }
  if (options.share_expert_net->hidden_units.empty()) {
    FailConfig("{}.share_expert_net.hidden_units: must have at least one layer", where);
  }
  const int64_t task_out = options.task_expert_net.hidden_units.back();
  const int64_t share_out = options.share_expert_net->hidden_units.back();
  // Gates mix task and shared experts, so both must have one width.
  if (options.share_num > 0 && options.expert_num_per_task > 0 && task_out != share_out) {
    FailConfig("{}: task_expert_net and share_expert_net must end in the same width to be gated "
               "together, got {} and {}",
               where, task_out, share_out);
  }

  ExtractionNet net;
  net.module = NewModule("ExtractionNet");
  torch::jit::Module& m = net.module;
  std::string src =
      "def forward(self, task_inputs: List[Tensor], shared_input: Tensor) -> List[Tensor]:\n";

  torch::jit::Module shared_layers = NewModule("ModuleList");
  std::vector<std::string> shared_experts;
  for (int64_t s = 0; s < options.share_num; ++s) {
    AddChild(shared_layers, std::to_string(s),
             BuildMlp(shared_in_features, *options.share_expert_net, where + ".share_expert_net"));
    src += fmt::format("    shared_{} = getattr(self._shared_layers, \"{}\").forward(shared_input)\n", s, s);
    shared_experts.push_back(fmt::format("shared_{}", s));
  }
  AddChild(m, "_shared_layers", shared_layers);
  if (!options.final_layer) {
    AddChild(m, "_shared_gate",
             BuildLinear(shared_in_features, num_task * options.expert_num_per_task + options.share_num,
                         /*bias=*/true));
  }

  auto join = [](const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  };
  auto gated = [](const std::string& gate_layer, const std::string& selector,
                  const std::string& experts) {
    return fmt::format(
        "torch.squeeze(torch.matmul(torch.unsqueeze(torch.softmax({}.forward({}), 1), 1), "
        "torch.stack([{}], 1)), 1)",
        gate_layer, selector, experts);
  };

  torch::jit::Module task_layers = NewModule("ModuleList");
  torch::jit::Module task_gates = NewModule("ModuleList");
  std::vector<std::string> all_task_experts;
  src += "    result: List[Tensor] = []\n";
  for (int64_t t = 0; t < num_task; ++t) {
    torch::jit::Module experts = NewModule("ModuleList");
    std::vector<std::string> names;
    for (int64_t e = 0; e < options.expert_num_per_task; ++e) {
      AddChild(experts, std::to_string(e),
               BuildMlp(task_in_features[t], options.task_expert_net, where + ".task_expert_net"));
      std::string name = fmt::format("task_{}_{}", t, e);
      src += fmt::format("    {} = getattr(getattr(self._task_layers, \"{}\"), \"{}\").forward(task_inputs[{}])\n",
                         name, t, e, t);
      names.push_back(name);
    }
    AddChild(task_layers, std::to_string(t), experts);
    AddChild(task_gates, std::to_string(t),
             BuildLinear(task_in_features[t], options.expert_num_per_task + options.share_num,
                         /*bias=*/true));
    std::vector<std::string> gated_experts = names;
    gated_experts.insert(gated_experts.end(), shared_experts.begin(), shared_experts.end());
    src += fmt::format("    result.append({})\n",
                       gated(fmt::format("getattr(self._task_gates, \"{}\")", t),
                             fmt::format("task_inputs[{}]", t), join(gated_experts)));
    all_task_experts.insert(all_task_experts.end(), names.begin(), names.end());
    net.output_dims.push_back(options.expert_num_per_task > 0 ? task_out : share_out);
  }
  AddChild(m, "_task_layers", task_layers);
  AddChild(m, "_task_gates", task_gates);
  if (!options.final_layer) {
    std::vector<std::string> everything = all_task_experts;
    everything.insert(everything.end(), shared_experts.begin(), shared_experts.end());
    src += fmt::format("    result.append({})\n",
                       gated("self._shared_gate", "shared_input", join(everything)));
    net.output_dims.push_back(options.share_num > 0 ? share_out : task_out);
  }
  src += "    return result\n";
  DefineMethods(m, src);
  return net;
}

}  // namespace tzrec::models
