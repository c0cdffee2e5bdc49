// Compressed Interaction Network of xDeepFM, laid out like upstream's
// tzrec.modules.interaction.CIN (parameters cin_layers.<i>.weight
// [size_i, rows_{i-1} * N, 1] and cin_layers.<i>.bias [size_i], 1x1 Conv1d).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/script.h>

namespace tzrec::models {

// forward(x0: Tensor[B, N, D]) -> Tensor[B, sum(cin_layer_size)]: layer i
// takes every product x_{i-1}[h] * x0[f] (x_{-1} = x0; [B, rows*N, D]),
// mixes those rows with its 1x1 convolution into x_i [B, cin_layer_size[i], D],
// and contributes x_i summed over D. `where` names the config field.
torch::jit::Module BuildCIN(int64_t feature_num, const std::vector<int64_t>& cin_layer_size,
                            const std::string& where);

}  // namespace tzrec::models
