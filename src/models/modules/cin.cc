#include "models/modules/cin.h"

#include <cmath>

#include "common/error.h"
#include "models/modules/jit_module.h"

namespace tzrec::models {
namespace {

// torch.nn.Conv1d(in_channels, out_channels, kernel_size=1) with its default
// initialisation: weight and bias uniform in +-1/sqrt(in_channels).
torch::jit::Module BuildPointwiseConv1d(int64_t in_channels, int64_t out_channels) {
  torch::jit::Module conv = NewModule("Conv1d");
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_channels));
  AddParameter(conv, "weight",
               at::empty({out_channels, in_channels, 1}, at::kFloat).uniform_(-bound, bound));
  AddParameter(conv, "bias", at::empty({out_channels}, at::kFloat).uniform_(-bound, bound));
  DefineMethods(conv, "def forward(self, x: Tensor) -> Tensor:\n"
                      "    return torch.conv1d(x, self.weight, self.bias, [1], [0], [1], 1)\n");
  return conv;
}

}  // namespace

torch::jit::Module BuildCIN(int64_t feature_num, const std::vector<int64_t>& cin_layer_size,
                            const std::string& where) {
  if (feature_num < 1) FailConfig("{}: CIN needs at least one feature", where);
  if (cin_layer_size.empty()) FailConfig("{}.cin_layer_size: needs at least one layer", where);
  torch::jit::Module cin = NewModule("CIN");
  torch::jit::Module layers = NewModule("ModuleList");
  std::string src = "def forward(self, x0: Tensor) -> Tensor:\n"
                    "    x = x0\n";
  std::string sums;
  int64_t rows = feature_num;
  for (size_t i = 0; i < cin_layer_size.size(); ++i) {
    const int64_t size = cin_layer_size[i];
    if (size < 1) FailConfig("{}.cin_layer_size[{}]: must be positive, got {}", where, i, size);
    AddChild(layers, std::to_string(i), BuildPointwiseConv1d(rows * feature_num, size));
    // [B, rows, 1, D] * [B, 1, N, D] -> [B, rows, N, D]: every row of the
    // previous layer times every input feature, flattened row-major as
    // upstream's einsum("bhd,bfd->bhfd").view(B, rows * N, D).
    src += fmt::format(
        "    z = torch.reshape(torch.unsqueeze(x, 2) * torch.unsqueeze(x0, 1), [x0.size(0), {}, x0.size(2)])\n"
        "    x = getattr(self.cin_layers, \"{}\").forward(z)\n"
        "    sum_{} = torch.sum(x, [2])\n",
        rows * feature_num, i, i);
    sums += fmt::format("{}sum_{}", i ? ", " : "", i);
    rows = size;
  }
  src += "    return torch.cat([" + sums + "], 1)\n";
  AddChild(cin, "cin_layers", layers);
  DefineMethods(cin, src);
  return cin;
}

}  // namespace tzrec::models
