// DINEncoder: target attention of a query over a padded sequence, as
// upstream's tzrec.modules.sequence.DINEncoder (Deep Interest Network).
//
// For a SEQUENCE group `g` it reads grouped["g.query"] [B, Dq],
// grouped["g.sequence"] [B, L, D] and grouped["g.sequence_length"] [B]:
//   q      = query zero-padded to D (Dq <= D), repeated over L
//   a      = linear(mlp([q, s, q - s, q * s]))      -> one score per element
//   scores = softmax over elements, elements at or beyond the row's length
//            masked out (score -2^31 + 1, so they get no weight)
//   output = sum of scores * s                      -> [B, D]
// Children are named as upstream's: mlp (an MLP over rank-3 input) and
// linear (hidden_units[-1] -> 1).
#pragma once

#include <cstdint>
#include <string>

#include <torch/script.h>

#include "models/modules/mlp.h"

namespace tzrec::models {

struct DinEncoderOptions {
  std::string group;           // the SEQUENCE group read
  int64_t sequence_dim = 0;    // D
  int64_t query_dim = 0;       // Dq
  MlpOptions attn_mlp;         // dim is forced to 3
  int64_t max_seq_length = 0;  // > 0: only the first elements are attended
};

// Module with forward(grouped: Dict[str, Tensor]) -> Tensor[B, D]. ConfigError
// naming `where` when the query is empty or wider than the sequence.
torch::jit::Module BuildDinEncoder(const DinEncoderOptions& options, const std::string& where);

}  // namespace tzrec::models
