#include "models/modules/fm.h"

#include "models/modules/jit_module.h"

namespace tzrec::models {

torch::jit::Module BuildFactorizationMachine() {
  torch::jit::Module fm = NewModule("FactorizationMachine");
  DefineMethods(fm,
                "def forward(self, x: Tensor) -> Tensor:\n"
                "    sum_of_input = torch.sum(x, [1])\n"
                "    sum_of_square = torch.sum(x * x, [1])\n"
                "    return 0.5 * (sum_of_input * sum_of_input - sum_of_square)\n");
  return fm;
}

}  // namespace tzrec::models
