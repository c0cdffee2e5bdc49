#include "models/modules/sequence_encoder.h"

#include "common/error.h"
#include "models/modules/din_encoder.h"
#include "models/modules/jit_module.h"
#include "models/modules/mlp.h"

namespace tzrec::models {
namespace {

// Source lines reading the group's tensors, cut to `max_len` when > 0.
std::string ReadGroup(const std::string& input, int64_t max_len, bool query) {
  std::string src;
  if (query) src += fmt::format("    query = grouped[{}]\n", PyStr(input + ".query"));
  src += fmt::format("    sequence = grouped[{}]\n", PyStr(input + ".sequence"));
  src += fmt::format("    length = grouped[{}]\n", PyStr(input + ".sequence_length"));
  if (max_len > 0) {
    src += fmt::format("    length = torch.clamp_max(length, {0})\n"
                       "    sequence = sequence[:, :{0}, :]\n",
                       max_len);
  }
  return src;
}

}  // namespace

SequenceEncoder BuildSequenceEncoder(const protos::SeqEncoderConfig& config,
                                     const std::string& input, int64_t query_dim,
                                     int64_t sequence_dim, const std::string& where) {
  SequenceEncoder encoder;
  encoder.output_dim = sequence_dim;
  switch (config.seq_module_case()) {
    case protos::SeqEncoderConfig::kDinEncoder: {
      const protos::DINEncoder& din = config.din_encoder();
      if (din.attn_mlp().hidden_units_size() == 0) FailConfig("{}.attn_mlp: needs hidden_units", where);
      DinEncoderOptions options;
      options.group = input;
      options.sequence_dim = sequence_dim;
      options.query_dim = query_dim;
      options.attn_mlp = MlpFromProto(din.attn_mlp());
      options.max_seq_length = din.max_seq_length();
      encoder.module = BuildDinEncoder(options, where);
      return encoder;
    }
    case protos::SeqEncoderConfig::kSimpleAttention: {
      if (query_dim != sequence_dim) {
        FailConfig("{}: simple_attention needs query and sequence of one width, group '{}' has "
                   "{} and {}",
                   where, input, query_dim, sequence_dim);
      }
      encoder.module = NewModule("SimpleAttention");
      std::string src = "def forward(self, grouped: Dict[str, Tensor]) -> Tensor:\n";
      src += ReadGroup(input, config.simple_attention().max_seq_length(), true);
      src += "    max_len = sequence.size(1)\n"
             "    mask = torch.arange(max_len).unsqueeze(0) < length.unsqueeze(1)\n"
             "    attn = torch.matmul(sequence, query.unsqueeze(2)).squeeze(2)\n"
             "    padding = torch.ones_like(attn) * -2147483647.0\n"
             "    scores = torch.softmax(torch.where(mask, attn, padding), -1)\n"
             "    return torch.matmul(scores.unsqueeze(1), sequence).squeeze(1)\n";
      DefineMethods(encoder.module, src);
      return encoder;
    }
    case protos::SeqEncoderConfig::kPoolingEncoder: {
      const protos::PoolingEncoder& pooling = config.pooling_encoder();
      if (pooling.pooling_type() != "sum" && pooling.pooling_type() != "mean") {
        FailConfig("{}.pooling_type: '{}' is not sum or mean", where, pooling.pooling_type());
      }
      encoder.module = NewModule("PoolingEncoder");
      std::string src = "def forward(self, grouped: Dict[str, Tensor]) -> Tensor:\n";
      src += ReadGroup(input, pooling.max_seq_length(), false);
      src += "    feature = torch.sum(sequence, 1)\n";
      if (pooling.pooling_type() == "mean") {
        src += "    feature = feature / torch.clamp_min(length, 1).unsqueeze(1).to(feature.dtype)\n";
      }
      src += "    return feature\n";
      DefineMethods(encoder.module, src);
      return encoder;
    }
    default: {
      const auto* field = config.GetDescriptor()->FindFieldByNumber(config.seq_module_case());
      FailConfig("{}: sequence encoder {} is not supported by tzrec yet (supported: din_encoder, "
                 "simple_attention, pooling_encoder)",
                 where, field ? field->name() : "(unset)");
    }
  }
}

}  // namespace tzrec::models
