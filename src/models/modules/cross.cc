#include "models/modules/cross.h"

#include <cmath>

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/modules/mlp.h"

namespace tzrec::models {

torch::jit::Module BuildCross(int64_t input_dim, int64_t cross_num, const std::string& where) {
  if (input_dim < 1) FailConfig("{}: the cross network's input is empty", where);
  torch::jit::Module cross = NewModule("Cross");
  // Upstream holds the weights in a ModuleList of Linear(D, 1) and the biases
  // in a ParameterList; an empty module per list reproduces both paths.
  torch::jit::Module weights = NewModule("ModuleList");
  torch::jit::Module biases = NewModule("ParameterList");
  // Xavier-uniform for a [1, D] weight: fan_in D, fan_out 1.
  const double bound = std::sqrt(6.0 / static_cast<double>(input_dim + 1));
  for (int64_t i = 0; i < cross_num; ++i) {
    torch::jit::Module linear = NewModule("Linear");
    AddParameter(linear, "weight", at::empty({1, input_dim}, at::kFloat).uniform_(-bound, bound));
    DefineMethods(linear, "def forward(self, x: Tensor) -> Tensor:\n"
                          "    return torch.linear(x, self.weight)\n");
    AddChild(weights, std::to_string(i), linear);
    AddParameter(biases, std::to_string(i), at::zeros({input_dim}, at::kFloat));
  }
  AddChild(cross, "w", weights);
  AddChild(cross, "b", biases);
  std::string src = "def forward(self, x: Tensor) -> Tensor:\n    x1 = x\n";
  for (int64_t i = 0; i < cross_num; ++i) {
    src += fmt::format(
        "    x1 = getattr(self.w, \"{0}\").forward(x1) * x + getattr(self.b, \"{0}\") + x1\n", i);
  }
  src += "    return x1\n";
  DefineMethods(cross, src);
  return cross;
}

torch::jit::Module BuildCrossV2(int64_t input_dim, int64_t cross_num, int64_t low_rank,
                                const std::string& where) {
  if (input_dim < 1) FailConfig("{}: the cross network's input is empty", where);
  if (low_rank < 1) FailConfig("{}.low_rank: must be at least 1, got {}", where, low_rank);
  torch::jit::Module cross = NewModule("CrossV2");
  torch::jit::Module u_kernels = NewModule("ModuleList");
  torch::jit::Module v_kernels = NewModule("ModuleList");
  for (int64_t i = 0; i < cross_num; ++i) {
    AddChild(u_kernels, std::to_string(i), BuildLinear(input_dim, low_rank, /*bias=*/false));
  }
  for (int64_t i = 0; i < cross_num; ++i) {
    AddChild(v_kernels, std::to_string(i), BuildLinear(low_rank, input_dim, /*bias=*/true));
  }
  AddChild(cross, "u_kernels", u_kernels);
  AddChild(cross, "v_kernels", v_kernels);
  std::string src = "def forward(self, x: Tensor) -> Tensor:\n    x_l = x\n";
  for (int64_t i = 0; i < cross_num; ++i) {
    src += fmt::format("    x_l_v = getattr(self.u_kernels, \"{0}\").forward(x_l)\n"
                       "    x_l_w = getattr(self.v_kernels, \"{0}\").forward(x_l_v)\n"
                       "    x_l = x * x_l_w + x_l\n",
                       i);
  }
  src += "    return x_l\n";
  DefineMethods(cross, src);
  return cross;
}

}  // namespace tzrec::models
