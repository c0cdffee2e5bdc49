// Sequence encoders of a DEEP group's sequence_groups (FeatureGroupConfig
// .sequence_encoders), as upstream's tzrec.modules.sequence: each reads the
// "<input>.query" / "<input>.sequence" / "<input>.sequence_length" tensors of
// one sequence group and gives one [B, width] tensor that is appended to the
// DEEP group's features.
//   din_encoder       DIN target attention (din_encoder.h), width = sequence
//   simple_attention  softmax(sequence . query) over the valid elements,
//                     weighted sum of the sequence; query and sequence equally wide
//   pooling_encoder   sum, or mean over the valid elements, of the sequence
#pragma once

#include <cstdint>
#include <string>

#include <torch/script.h>

#include "config/protos/seq_encoder.pb.h"

namespace tzrec::models {

struct SequenceEncoder {
  // forward(grouped: Dict[str, Tensor]) -> Tensor[B, output_dim]
  torch::jit::Module module;
  int64_t output_dim = 0;
};

// `input` is the sequence group the encoder reads (its configured input, or
// the group's only sequence group); ConfigError naming `where` for encoder
// types tzrec does not build (multi_window_din_encoder, self_attention_encoder)
// or dims that do not fit.
SequenceEncoder BuildSequenceEncoder(const protos::SeqEncoderConfig& config,
                                     const std::string& input, int64_t query_dim,
                                     int64_t sequence_dim, const std::string& where);

}  // namespace tzrec::models
