#include "models/modules/wukong_layer.h"

#include <cmath>

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/modules/mlp.h"

namespace tzrec::models {
namespace {

// torch.nn.init.kaiming_uniform_ with its defaults (a = 0, fan_in, leaky_relu
// gain sqrt(2)); a 2-D tensor's fan_in is its size(1).
at::Tensor KaimingUniform(int64_t rows, int64_t cols) {
  const double bound = std::sqrt(6.0 / static_cast<double>(cols));
  return at::empty({rows, cols}, at::kFloat).uniform_(-bound, bound);
}

}  // namespace

torch::jit::Module BuildLinearCompressBlock(int64_t feature_num_in, int64_t feature_num_out) {
  torch::jit::Module m = NewModule("LinearCompressBlock");
  AddParameter(m, "weight", KaimingUniform(feature_num_in, feature_num_out));
  DefineMethods(m, "def forward(self, inputs: Tensor) -> Tensor:\n"
                   "    outputs = torch.matmul(inputs.permute(0, 2, 1), self.weight)\n"
                   "    return outputs.permute(0, 2, 1)\n");
  return m;
}

torch::jit::Module BuildFactorizationMachineBlock(int64_t input_dim, int64_t feature_num_in,
                                                  int64_t feature_num_out,
                                                  int64_t compressed_feature_num,
                                                  const protos::MLP& feature_num_mlp,
                                                  const std::string& where) {
  if (feature_num_mlp.hidden_units_size() == 0) {
    FailConfig("{}.feature_num_mlp.hidden_units: must have at least one layer", where);
  }
  const int64_t flat = feature_num_in * compressed_feature_num;
  torch::jit::Module m = NewModule("FactorizationMachineBlock");
  AddParameter(m, "weight", KaimingUniform(feature_num_in, compressed_feature_num));
  AddChild(m, "norm", BuildLayerNorm(flat));
  AddChild(m, "mlp", BuildMlp(flat, MlpFromProto(feature_num_mlp), where + ".feature_num_mlp"));
  const int64_t mlp_out = feature_num_mlp.hidden_units(feature_num_mlp.hidden_units_size() - 1);
  AddChild(m, "feature_out_liner", BuildLinear(mlp_out, feature_num_out * input_dim, /*bias=*/true));
  DefineMethods(m, fmt::format(
                       "def forward(self, inputs: Tensor) -> Tensor:\n"
                       "    compressed = torch.matmul(inputs.permute(0, 2, 1), self.weight)\n"
                       "    outputs = torch.reshape(torch.matmul(inputs, compressed), [-1, {}])\n"
                       "    outputs = self.mlp.forward(self.norm.forward(outputs))\n"
                       "    outputs = self.feature_out_liner.forward(outputs)\n"
                       "    return torch.reshape(outputs, [-1, {}, {}])\n",
                       flat, feature_num_out, input_dim));
  return m;
}

WuKongLayer BuildWuKongLayer(int64_t input_dim, int64_t feature_num,
                             const protos::WuKongLayer& config, const std::string& where) {
  const int64_t lcb_num = config.lcb_feature_num();
  const int64_t fmb_num = config.fmb_feature_num();
  if (lcb_num == 0) FailConfig("{}.lcb_feature_num: must be positive", where);
  if (fmb_num == 0) FailConfig("{}.fmb_feature_num: must be positive", where);
  if (config.compressed_feature_num() == 0) {
    FailConfig("{}.compressed_feature_num: must be positive", where);
  }
  WuKongLayer layer;
  layer.output_feature_num = lcb_num + fmb_num;
  layer.module = NewModule("WuKongLayer");
  AddChild(layer.module, "lcb", BuildLinearCompressBlock(feature_num, lcb_num));
  AddChild(layer.module, "fmb",
           BuildFactorizationMachineBlock(input_dim, feature_num, fmb_num,
                                          config.compressed_feature_num(),
                                          config.feature_num_mlp(), where));
  AddChild(layer.module, "norm", BuildLayerNorm(input_dim));
  std::string residual = "inputs";
  if (feature_num != layer.output_feature_num) {
    AddChild(layer.module, "residual_projection",
             BuildLinearCompressBlock(feature_num, layer.output_feature_num));
    residual = "self.residual_projection.forward(inputs)";
  }
  DefineMethods(layer.module,
                fmt::format("def forward(self, inputs: Tensor) -> Tensor:\n"
                            "    outputs = torch.cat([self.fmb.forward(inputs), self.lcb.forward(inputs)], 1)\n"
                            "    return self.norm.forward(outputs + {})\n",
                            residual));
  return layer;
}

}  // namespace tzrec::models
