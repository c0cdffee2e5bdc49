// Factorization machine: second-order interactions of N same-width embeddings.
#pragma once

#include <torch/script.h>

namespace tzrec::models {

// forward(x: Tensor[B, N, D]) -> Tensor[B, D]:
// 0.5 * ((sum_n x)^2 - sum_n x^2), as upstream's FactorizationMachine.
torch::jit::Module BuildFactorizationMachine();

}  // namespace tzrec::models
