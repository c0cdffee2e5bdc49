#include "models/modules/masknet.h"

#include <cstdio>
#include <cstdlib>

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/modules/mlp.h"

namespace tzrec::models {
namespace {

// The double Python's protobuf hands out for a float32 field: the shortest
// decimal that reads back to the same float (0.7f -> 0.7, not 0.699999988).
double ShortestFloatValue(float value) {
  char text[64];
  for (int precision = 1; precision <= 9; ++precision) {
    std::snprintf(text, sizeof(text), "%.*g", precision, static_cast<double>(value));
    if (std::strtof(text, nullptr) == value) return std::strtod(text, nullptr);
  }
  return static_cast<double>(value);
}

}  // namespace

int64_t MaskBlockAggregationDim(int64_t input_dim, const protos::MaskBlock& config,
                                const std::string& where) {
  if (config.reduction_ratio() == 0.0f && config.aggregation_dim() == 0) {
    FailConfig("{}: either aggregation_dim or reduction_ratio must be set", where);
  }
  int64_t dim = config.aggregation_dim();
  if (config.reduction_ratio() != 0.0f) {
    // Python's int() truncates toward zero, as the cast does.
    dim = static_cast<int64_t>(static_cast<double>(input_dim) *
                               ShortestFloatValue(config.reduction_ratio()));
  }
  if (dim <= 0) {
    FailConfig("{}: the aggregation dim (input dim {} x reduction_ratio {}) must be positive, got {}",
               where, input_dim, config.reduction_ratio(), dim);
  }
  return dim;
}

torch::jit::Module BuildMaskBlock(int64_t input_dim, int64_t mask_input_dim,
                                  const protos::MaskBlock& config, const std::string& where) {
  if (config.hidden_dim() == 0) FailConfig("{}.hidden_dim: must be positive", where);
  const int64_t aggregation_dim = MaskBlockAggregationDim(input_dim, config, where);
  const int64_t hidden_dim = config.hidden_dim();

  torch::jit::Module block = NewModule("MaskBlock");
  torch::jit::Module mask_generator = NewModule("Sequential");
  AddChild(mask_generator, "0", BuildLinear(mask_input_dim, aggregation_dim, /*bias=*/true));
  AddChild(mask_generator, "1", BuildActivation("nn.ReLU", aggregation_dim, where));
  AddChild(mask_generator, "2", BuildLinear(aggregation_dim, input_dim, /*bias=*/true));
  torch::jit::Module ffn = NewModule("Sequential");
  AddChild(ffn, "0", BuildLinear(input_dim, hidden_dim, /*bias=*/true));
  AddChild(ffn, "1", BuildLayerNorm(hidden_dim));
  AddChild(ffn, "2", BuildActivation("nn.ReLU", hidden_dim, where));
  for (torch::jit::Module* seq : {&mask_generator, &ffn}) {
    DefineMethods(*seq, "def forward(self, x: Tensor) -> Tensor:\n"
                        "    x = getattr(self, \"0\").forward(x)\n"
                        "    x = getattr(self, \"1\").forward(x)\n"
                        "    return getattr(self, \"2\").forward(x)\n");
  }
  AddChild(block, "mask_generator", mask_generator);
  AddChild(block, "ffn", ffn);
  DefineMethods(block, "def forward(self, feature_input: Tensor, mask_input: Tensor) -> Tensor:\n"
                       "    weights = self.mask_generator.forward(mask_input)\n"
                       "    return self.ffn.forward(feature_input * weights)\n");
  return block;
}

MaskNetModule BuildMaskNetModule(int64_t feature_dim, const protos::MaskNetModule& config,
                                 const std::string& where) {
  const int64_t n_blocks = config.n_mask_blocks();
  if (n_blocks == 0) FailConfig("{}.n_mask_blocks: must be at least 1", where);
  const std::string block_where = where + ".mask_block";

  MaskNetModule out;
  out.module = NewModule("MaskNetModule");
  AddChild(out.module, "ln_emb", BuildLayerNorm(feature_dim));
  torch::jit::Module blocks = NewModule("ModuleList");
  std::string src = "def forward(self, feature_emb: Tensor) -> Tensor:\n"
                    "    ln_emb = self.ln_emb.forward(feature_emb)\n";
  if (config.use_parallel()) {
    std::string parts;
    for (int64_t i = 0; i < n_blocks; ++i) {
      AddChild(blocks, std::to_string(i),
               BuildMaskBlock(feature_dim, feature_dim, config.mask_block(), block_where));
      parts += fmt::format("{}getattr(self.mask_blocks, \"{}\").forward(ln_emb, feature_emb)",
                           i == 0 ? "" : ", ", i);
    }
    src += fmt::format("    hidden = torch.cat([{}], -1)\n", parts);
    out.output_dim = static_cast<int64_t>(config.mask_block().hidden_dim()) * n_blocks;
  } else {
    int64_t input_dim = feature_dim;
    for (int64_t i = 0; i < n_blocks; ++i) {
      AddChild(blocks, std::to_string(i),
               BuildMaskBlock(input_dim, feature_dim, config.mask_block(), block_where));
      src += fmt::format("    hidden = getattr(self.mask_blocks, \"{}\").forward({}, feature_emb)\n",
                         i, i == 0 ? "ln_emb" : "hidden");
      input_dim = config.mask_block().hidden_dim();
    }
    out.output_dim = input_dim;
  }
  AddChild(out.module, "mask_blocks", blocks);
  if (config.has_top_mlp()) {
    AddChild(out.module, "top_mlp",
             BuildMlp(out.output_dim, MlpFromProto(config.top_mlp()), where + ".top_mlp"));
    src += "    hidden = self.top_mlp.forward(hidden)\n";
    out.output_dim = config.top_mlp().hidden_units(config.top_mlp().hidden_units_size() - 1);
  }
  src += "    return hidden\n";
  DefineMethods(out.module, src);
  return out;
}

}  // namespace tzrec::models
