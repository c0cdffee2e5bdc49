#include "models/modules/mmoe.h"

#include "common/error.h"
#include "models/modules/jit_module.h"

namespace tzrec::models {

torch::jit::Module BuildMMoE(int64_t in_features, const MMoEOptions& options,
                             const std::string& where) {
  if (options.num_expert <= 0) {
    FailConfig("{}.num_expert: must be positive, got {}", where, options.num_expert);
  }
  if (options.num_task <= 0) FailConfig("{}.task_towers: at least one task tower is needed", where);
  torch::jit::Module mmoe = NewModule("MMoE");
  torch::jit::Module experts = NewModule("ModuleList");
  std::string stack;
  for (int64_t e = 0; e < options.num_expert; ++e) {
    AddChild(experts, std::to_string(e), BuildMlp(in_features, options.expert_mlp, where + ".expert_mlp"));
    stack += fmt::format("{}getattr(self.expert_mlps, \"{}\").forward(x)", e ? ", " : "", e);
  }
  AddChild(mmoe, "expert_mlps", experts);

  int64_t gate_in = in_features;
  if (options.gate_mlp) {
    torch::jit::Module gates = NewModule("ModuleList");
    for (int64_t t = 0; t < options.num_task; ++t) {
      AddChild(gates, std::to_string(t), BuildMlp(in_features, *options.gate_mlp, where + ".gate_mlp"));
    }
    AddChild(mmoe, "gate_mlps", gates);
    gate_in = options.gate_mlp->hidden_units.back();
  }
  torch::jit::Module finals = NewModule("ModuleList");
  for (int64_t t = 0; t < options.num_task; ++t) {
    AddChild(finals, std::to_string(t), BuildLinear(gate_in, options.num_expert, /*bias=*/true));
  }
  AddChild(mmoe, "gate_finals", finals);

  std::string src = "def forward(self, x: Tensor) -> List[Tensor]:\n";
  src += "    experts = torch.stack([" + stack + "], 1)\n";
  src += "    result: List[Tensor] = []\n";
  for (int64_t t = 0; t < options.num_task; ++t) {
    std::string gate_input =
        options.gate_mlp ? fmt::format("getattr(self.gate_mlps, \"{}\").forward(x)", t) : "x";
    src += fmt::format("    gate = getattr(self.gate_finals, \"{}\").forward({})\n", t, gate_input);
    src += "    gate = torch.unsqueeze(torch.softmax(gate, 1), 1)\n";
    src += "    result.append(torch.squeeze(torch.matmul(gate, experts), 1))\n";
  }
  src += "    return result\n";
  DefineMethods(mmoe, src);
  return mmoe;
}

}  // namespace tzrec::models
