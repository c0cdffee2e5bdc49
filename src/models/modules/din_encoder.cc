#include "models/modules/din_encoder.h"

#include "common/error.h"
#include "models/modules/jit_module.h"

namespace tzrec::models {

torch::jit::Module BuildDinEncoder(const DinEncoderOptions& options, const std::string& where) {
  const int64_t d = options.sequence_dim;
  const int64_t dq = options.query_dim;
  if (d <= 0) FailConfig("{}: group '{}' has no sequence features", where, options.group);
  if (dq <= 0) FailConfig("{}: group '{}' has no query features", where, options.group);
  if (dq > d) {
    FailConfig("{}: group '{}' has a query ({} wide) wider than its sequence ({} wide)", where,
               options.group, dq, d);
  }
  MlpOptions mlp = options.attn_mlp;
  mlp.dim = 3;
  torch::jit::Module din = NewModule("DINEncoder");
  AddChild(din, "mlp", BuildMlp(4 * d, mlp, where + ".attn_mlp"));
  AddChild(din, "linear", BuildLinear(mlp.hidden_units.back(), 1, /*bias=*/true));

  std::string src = "def forward(self, grouped: Dict[str, Tensor]) -> Tensor:\n";
  src += fmt::format("    query = grouped[{}]\n", PyStr(options.group + ".query"));
  src += fmt::format("    sequence = grouped[{}]\n", PyStr(options.group + ".sequence"));
  src += fmt::format("    length = grouped[{}]\n", PyStr(options.group + ".sequence_length"));
  if (options.max_seq_length > 0) {
    src += fmt::format("    length = torch.clamp_max(length, {0})\n"
                       "    sequence = sequence[:, :{0}, :]\n",
                       options.max_seq_length);
  }
  src += "    max_len = sequence.size(1)\n";
  src += "    mask = torch.arange(max_len).unsqueeze(0) < length.unsqueeze(1)\n";
  if (dq < d) src += fmt::format("    query = torch.constant_pad_nd(query, [0, {}], 0.0)\n", d - dq);
  src += "    queries = query.unsqueeze(1).expand([-1, max_len, -1])\n"
         "    attn = torch.cat([queries, sequence, queries - sequence, queries * sequence], -1)\n"
         "    attn = self.linear.forward(self.mlp.forward(attn)).transpose(1, 2)\n"
         // Upstream's padding score, -2^31 + 1: exp() of it underflows to 0.
         "    padding = torch.ones_like(attn) * -2147483647.0\n"
         "    scores = torch.where(mask.unsqueeze(1), attn, padding)\n"
         "    scores = torch.softmax(scores, -1)\n"
         "    return torch.matmul(scores, sequence).squeeze(1)\n";
  DefineMethods(din, src);
  return din;
}

}  // namespace tzrec::models
