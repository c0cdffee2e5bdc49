// CapsuleLayer: MIND's behaviour-to-interest dynamic routing, laid out like
// upstream's tzrec.modules.capsule.CapsuleLayer (one parameter,
// bilinear_matrix [input_dim, high_dim], initialised N(0, 1)).
//
// forward(inputs: Tensor[B, S, input_dim], seq_len: Tensor[B]) ->
//   (interests [B, max_k, high_dim], capsule_mask bool [B, max_k]):
//   - the sequence is cut or zero-padded to max_seq_len and masked to seq_len;
//   - each row gets max(1, min(max_k, log2(seq_len))) capsules (every row
//     max_k with const_caps_num), the rest masked;
//   - routing logits start as N(0, 1) noise drawn on every call, as upstream
//     does in training and inference alike (routing_init_method "normal"; zeros
//     with "zeros"), times routing_logits_stddev;
//   - num_iters rounds of softmax(scale * logits) over capsules, the last one
//     giving the squashed interests.
// The noise comes from the default generator, so seeding torch before a call
// makes the result reproducible.
#pragma once

#include <cstdint>
#include <string>

#include <torch/script.h>

#include "config/protos/module.pb.h"

namespace tzrec::models {

// `where` names the config field, for error messages.
torch::jit::Module BuildCapsuleLayer(const protos::B2ICapsule& config, int64_t input_dim,
                                     const std::string& where);

}  // namespace tzrec::models
