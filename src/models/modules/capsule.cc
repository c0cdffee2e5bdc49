#include "models/modules/capsule.h"

#include <fmt/format.h>

#include "common/error.h"
#include "models/modules/jit_module.h"

namespace tzrec::models {

torch::jit::Module BuildCapsuleLayer(const protos::B2ICapsule& config, int64_t input_dim,
                                     const std::string& where) {
  const int64_t max_k = config.max_k();
  const int64_t max_seq_len = config.max_seq_len();
  const int64_t num_iters = config.num_iters();
  if (max_k <= 0) FailConfig("{}.max_k: must be positive", where);
  if (max_seq_len <= 0) FailConfig("{}.max_seq_len: must be positive", where);
  if (config.high_dim() == 0) FailConfig("{}.high_dim: must be positive", where);
  if (num_iters <= 0) FailConfig("{}.num_iters: must be positive", where);
  const std::string& init = config.routing_init_method();
  if (init != "normal" && init != "zeros") {
    FailConfig("{}.routing_init_method: '{}' is not one of normal, zeros", where, init);
  }
  if (input_dim <= 0) FailConfig("{}: the capsules' input has no width", where);

  torch::jit::Module layer = NewModule("CapsuleLayer");
  AddParameter(layer, "bilinear_matrix", at::randn({input_dim, static_cast<int64_t>(config.high_dim())}));

  // Float literals printed repr-exact from the config's float32 values.
  const auto literal = [](double v) { return fmt::format("{:.17g}", v); };
  std::string src;
  // Upstream's sequence_mask: positions j < length (lengths may be float).
  src += "def sequence_mask(self, lengths: Tensor, max_len: int) -> Tensor:\n"
         "    positions = torch.arange(0, max_len, device=lengths.device)\n"
         "    return positions.unsqueeze(0) < lengths.unsqueeze(1)\n";
  src += fmt::format(
      "def squash(self, x: Tensor) -> Tensor:\n"
      "    norm = torch.clamp_min(torch.norm(x, 2, [-1], True), 1e-7)\n"
      "    squared = norm * norm\n"
      "    return torch.pow(squared / (1 + squared), {}) / norm * x\n",
      literal(config.squash_pow()));

  src += "def dynamic_routing(self, inputs: Tensor, seq_mask: Tensor, capsule_mask: Tensor) -> Tensor:\n";
  src += fmt::format("    shape = [inputs.size(0), inputs.size(1), {}]\n", max_k);
  if (init == "normal") {
    src += "    logits = torch.randn(shape, dtype=inputs.dtype, device=inputs.device)\n";
  } else {
    src += "    logits = torch.zeros(shape, dtype=inputs.dtype, device=inputs.device)\n";
  }
  src += fmt::format("    logits = logits.detach() * {}\n", literal(config.routing_logits_stddev()));
  src += "    thresh = (capsule_mask.unsqueeze(1).float() * 2 - 1) * float(\"inf\")\n"
         "    seq_weight = seq_mask.unsqueeze(2).float()\n"
         "    low = torch.einsum(\"bsl,lh->bsh\", [inputs, self.bilinear_matrix])\n"
         "    low_detached = low.detach()\n"
         "    low_detached_norm = low_detached / torch.clamp_min(torch.norm(low_detached, 2, [-1], True), 1e-12)\n";
  // The rounds unrolled: all but the last refine the logits on detached
  // vectors; the last gives the interests with gradients.
  for (int64_t i = 0; i < num_iters; ++i) {
    src += "    logits = torch.minimum(logits, thresh)\n";
    src += fmt::format("    logits = torch.softmax(logits * {}, 2)\n", literal(config.routing_logits_scale()));
    src += "    logits = logits * seq_weight\n";
    if (i + 1 < num_iters) {
      src += "    high = torch.einsum(\"bsh,bsk->bkh\", [low_detached, logits])\n"
             "    logits = logits + torch.einsum(\"bkh,bsh->bsk\", [high, low_detached_norm])\n";
    } else {
      src += "    high = self.squash(torch.einsum(\"bsh,bsk->bkh\", [low, logits]))\n";
    }
  }
  src += "    return high\n";

  src += "def forward(self, inputs: Tensor, seq_len: Tensor) -> Tuple[Tensor, Tensor]:\n";
  // Cut to max_seq_len, then zero-pad up to it.
  src += fmt::format(
      "    inputs = inputs[:, :{0}, :]\n"
      "    padding = torch.zeros([inputs.size(0), {0} - inputs.size(1), inputs.size(2)], dtype=inputs.dtype, "
      "device=inputs.device)\n"
      "    inputs = torch.cat([inputs, padding], 1)\n"
      "    seq_mask = self.sequence_mask(seq_len, {0})\n"
      "    inputs = inputs * seq_mask.unsqueeze(-1).float()\n",
      max_seq_len);
  if (config.const_caps_num()) {
    src += fmt::format("    n_capsules = seq_len.float() * 0.0 + {}\n", max_k);
  } else {
    src += fmt::format(
        "    n_capsules = torch.clamp(torch.log2(seq_len.float()), 1.0, {}.0)\n", max_k);
  }
  src += fmt::format(
      "    capsule_mask = self.sequence_mask(n_capsules, {})\n"
      "    interests = self.dynamic_routing(inputs, seq_mask, capsule_mask)\n"
      "    interests = interests * capsule_mask.unsqueeze(-1).float()\n"
      "    return interests, capsule_mask\n",
      max_k);
  DefineMethods(layer, src);
  return layer;
}

}  // namespace tzrec::models
