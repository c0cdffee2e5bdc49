#include "models/modules/personalized_net.h"

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/modules/mlp.h"

namespace tzrec::models {
namespace {

// A zero ratio is the identity; BuildDropout would print it as the int 0,
// which torch.dropout does not accept.
torch::jit::Module LayerDropout(double ratio) {
  if (ratio > 0.0) return BuildDropout(ratio);
  torch::jit::Module m = NewModule("Dropout");
  DefineMethods(m, "def forward(self, x: Tensor) -> Tensor:\n    return x\n");
  return m;
}

}  // namespace

torch::jit::Module BuildGateNU(int64_t input_dim, int64_t hidden_dim, int64_t output_dim,
                               double gamma) {
  torch::jit::Module gate = NewModule("GateNU");
  // Only the Linear entries of upstream's Sequential hold parameters; keeping
  // their indices keeps the state-dict names.
  torch::jit::Module layers = NewModule("Sequential");
  AddChild(layers, "0", BuildLinear(input_dim, hidden_dim, /*bias=*/true));
  AddChild(layers, "2", BuildLinear(hidden_dim, output_dim, /*bias=*/true));
  AddChild(gate, "dense_layers", layers);
  DefineMethods(gate, fmt::format(
                          "def forward(self, x: Tensor) -> Tensor:\n"
                          "    h = torch.relu(getattr(self.dense_layers, \"0\").forward(x))\n"
                          "    return {:.17g} * torch.sigmoid(getattr(self.dense_layers, \"2\").forward(h))\n",
                          gamma));
  return gate;
}

torch::jit::Module BuildEPNet(int64_t main_dim, int64_t domain_dim, int64_t hidden_dim,
                              double gamma) {
  torch::jit::Module epnet = NewModule("EPNet");
  AddChild(epnet, "gate_nu", BuildGateNU(domain_dim + main_dim, hidden_dim, main_dim, gamma));
  DefineMethods(epnet, "def forward(self, main: Tensor, domain: Tensor) -> Tensor:\n"
                       "    scale = self.gate_nu.forward(torch.cat([domain, main.detach()], -1))\n"
                       "    return scale * main\n");
  return epnet;
}

torch::jit::Module BuildPPNet(int64_t main_dim, int64_t uia_dim, const PPNetOptions& options,
                              const std::string& where) {
  const std::vector<int64_t>& units = options.hidden_units;
  const size_t num_layers = units.size();
  if (num_layers == 0) FailConfig("{}.ppnet_hidden_units: must not be empty", where);
  for (int64_t u : units) {
    if (u <= 0) FailConfig("{}.ppnet_hidden_units: every unit must be positive, got {}", where, u);
  }
  if (options.num_task < 1) FailConfig("{}.task_towers: PPNet needs at least one task", where);
  std::vector<double> dropout = options.dropout_ratio;
  if (dropout.empty()) dropout.assign(num_layers, 0.0);
  if (dropout.size() == 1) dropout.assign(num_layers, dropout[0]);
  if (dropout.size() != num_layers) {
    FailConfig("{}.ppnet_dropout_ratio: has {} values for {} ppnet_hidden_units (give one, or one "
               "per layer)", where, dropout.size(), num_layers);
  }
  for (double r : dropout) {
    if (r < 0.0 || r >= 1.0) FailConfig("{}.ppnet_dropout_ratio: {} is not in [0, 1)", where, r);
  }

  torch::jit::Module ppnet = NewModule("PPNet");
  torch::jit::Module linears = NewModule("ModuleList");
  torch::jit::Module activations = NewModule("ModuleList");
  torch::jit::Module dropouts = NewModule("ModuleList");
  torch::jit::Module gate_nus = NewModule("ModuleList");
  std::string src = "def forward(self, main: Tensor, uia: Tensor) -> List[Tensor]:\n";
  src += "    gate_input = torch.cat([uia, main.detach()], -1)\n";
  src += "    outputs: List[Tensor] = []\n";
  for (int64_t task = 0; task < options.num_task; ++task) {
    int64_t in = main_dim;
    src += "    x = main\n";
    for (size_t layer = 0; layer < num_layers; ++layer) {
      const std::string k = std::to_string(task * static_cast<int64_t>(num_layers) + static_cast<int64_t>(layer));
      AddChild(linears, k, BuildLinear(in, units[layer], /*bias=*/true));
      AddChild(activations, k,
               BuildActivation(options.activation, units[layer], where + ".ppnet_activation", 2));
      AddChild(dropouts, k, LayerDropout(dropout[layer]));
      AddChild(gate_nus, k, BuildGateNU(main_dim + uia_dim, units[layer], units[layer], options.gamma));
      src += fmt::format("    x = getattr(self.linears, \"{0}\").forward(x)\n"
                         "    x = getattr(self.activations, \"{0}\").forward(x)\n"
                         "    x = x * getattr(self.gate_nus, \"{0}\").forward(gate_input)\n"
                         "    x = getattr(self.dropout_ratios, \"{0}\").forward(x)\n",
                         k);
      in = units[layer];
    }
    src += "    outputs.append(x)\n";
  }
  src += "    return outputs\n";
  AddChild(ppnet, "linears", linears);
  AddChild(ppnet, "activations", activations);
  AddChild(ppnet, "dropout_ratios", dropouts);
  AddChild(ppnet, "gate_nus", gate_nus);
  DefineMethods(ppnet, src);
  return ppnet;
}

}  // namespace tzrec::models
