// Cross networks of the Deep & Cross models, laid out like upstream's
// tzrec.modules.interaction.Cross and CrossV2 so that checkpoints keep their
// names (cross.w.<i>.weight / cross.b.<i>, cross.u_kernels.<i>.weight /
// cross.v_kernels.<i>.weight|bias).
#pragma once

#include <cstdint>
#include <string>

#include <torch/script.h>

namespace tzrec::models {

// DCN v1 cross layers over x0 [B, D]:
//   x_{l+1} = (x_l . w_l) * x0 + b_l + x_l
// with w_l a Linear(D, 1, no bias) at w.<l> (Xavier-uniform) and b_l a
// [D] parameter at b.<l> (zeros). forward(x) -> Tensor[B, D].
// `where` names the config field, for error messages.
torch::jit::Module BuildCross(int64_t input_dim, int64_t cross_num, const std::string& where);

// DCN v2 low-rank cross layers over x0 [B, D]:
//   x_{l+1} = x0 * V_l(U_l x_l) + x_l
// with U_l a Linear(D, low_rank, no bias) at u_kernels.<l> and V_l a
// Linear(low_rank, D) at v_kernels.<l>. forward(x) -> Tensor[B, D].
torch::jit::Module BuildCrossV2(int64_t input_dim, int64_t cross_num, int64_t low_rank,
                                const std::string& where);

}  // namespace tzrec::models
