#include "models/modules/mlp.h"

#include <cctype>
#include <cmath>
#include <map>

#include "common/error.h"
#include "models/modules/jit_module.h"

namespace tzrec::models {
namespace {

at::Tensor Uniform(std::vector<int64_t> shape, double bound) {
  return at::empty(shape, at::kFloat).uniform_(-bound, bound);
}

// "nn.LeakyReLU(negative_slope=0.1)" -> {"nn.LeakyReLU", {negative_slope: 0.1}}.
std::pair<std::string, std::map<std::string, double>> ParseActivation(const std::string& spec,
                                                                      const std::string& where) {
  std::string text = spec;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.erase(0, 1);
  std::map<std::string, double> params;
  auto open = text.find('(');
  if (open == std::string::npos) return {text, params};
  std::string name = text.substr(0, open);
  std::string args = text.substr(open + 1);
  while (!args.empty() && args.back() == ')') args.pop_back();
  size_t start = 0;
  while (start < args.size()) {
    size_t comma = args.find(',', start);
    std::string kv = args.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? args.size() : comma + 1;
    if (kv.find_first_not_of(' ') == std::string::npos) continue;
    auto eq = kv.find('=');
    if (eq == std::string::npos) FailConfig("{}: cannot parse activation argument '{}' in '{}'", where, kv, spec);
    std::string key = kv.substr(0, eq);
    key.erase(0, key.find_first_not_of(' '));
    key.erase(key.find_last_not_of(' ') + 1);
    try {
      params[key] = std::stod(kv.substr(eq + 1));
    } catch (const std::exception&) {
      FailConfig("{}: activation argument '{}' in '{}' is not a number", where, kv, spec);
    }
  }
  return {name, params};
}

double Param(const std::map<std::string, double>& params, const std::string& key, double fallback) {
  auto it = params.find(key);
  return it == params.end() ? fallback : it->second;
}

// The activation of a perceptron, in place where the operator has an in-place
// form: its input is the fresh output of the linear (or norm) layer before it,
// which nothing else reads, and the backward passes of those layers do not
// read their outputs. In place saves one activation-sized buffer per layer,
// which at batch 4096 is what makes malloc give memory back to the kernel
// and fault it in again on every call.
torch::jit::Module PerceptronActivation(const std::string& spec, int64_t features,
                                        const std::string& where, int dim) {
  static const std::map<std::string, std::string> in_place = {
      {"nn.ReLU", "torch.relu_(x)"}, {"nn.Sigmoid", "torch.sigmoid_(x)"}, {"nn.Tanh", "torch.tanh_(x)"}};
  // [B, L, C] perceptrons (sequence attention) keep the out-of-place form: a
  // 3-D linear's output can be a view, which autograd does not let change in place.
  auto it = in_place.find(ParseActivation(spec, where).first);
  if (dim != 2 || it == in_place.end()) return BuildActivation(spec, features, where, dim);
  torch::jit::Module m = NewModule("Activation");
  DefineMethods(m, "def forward(self, x: Tensor) -> Tensor:\n    return " + it->second + "\n");
  return m;
}

}  // namespace

torch::jit::Module BuildLinear(int64_t in_features, int64_t out_features, bool bias) {
  torch::jit::Module m = NewModule("Linear");
  double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  AddParameter(m, "weight", Uniform({out_features, in_features}, bound));
  if (bias) {
    AddParameter(m, "bias", Uniform({out_features}, bound));
    DefineMethods(m, "def forward(self, x: Tensor) -> Tensor:\n"
                     "    return torch.linear(x, self.weight, self.bias)\n");
  } else {
    DefineMethods(m, "def forward(self, x: Tensor) -> Tensor:\n"
                     "    return torch.linear(x, self.weight)\n");
  }
  return m;
}

torch::jit::Module BuildBatchNorm1d(int64_t features, bool affine) {
  torch::jit::Module m = NewModule("BatchNorm1d");
  if (affine) {
    AddParameter(m, "weight", at::ones({features}));
    AddParameter(m, "bias", at::zeros({features}));
  }
  AddBuffer(m, "running_mean", at::zeros({features}));
  AddBuffer(m, "running_var", at::ones({features}));
  AddBuffer(m, "num_batches_tracked", at::zeros({}, at::kLong));
  // momentum 0.1, eps 1e-5: torch.nn.BatchNorm1d defaults. In training,
  // batch_norm updates running statistics in place.
  DefineMethods(m, fmt::format(
                       "def forward(self, x: Tensor) -> Tensor:\n"
                       "    if self.training:\n"
                       "        self.num_batches_tracked.add_(1)\n"
                       "    return torch.batch_norm(x, {}, self.running_mean,\n"
                       "                            self.running_var, self.training, 0.1, 1e-5, False)\n",
                       affine ? "self.weight, self.bias" : "None, None"));
  return m;
}

torch::jit::Module BuildTranspose() {
  torch::jit::Module m = NewModule("Transpose");
  DefineMethods(m, "def forward(self, x: Tensor) -> Tensor:\n    return x.transpose(1, 2)\n");
  return m;
}

torch::jit::Module BuildLayerNorm(int64_t features) {
  torch::jit::Module m = NewModule("LayerNorm");
  AddParameter(m, "weight", at::ones({features}));
  AddParameter(m, "bias", at::zeros({features}));
  DefineMethods(m, fmt::format("def forward(self, x: Tensor) -> Tensor:\n"
                               "    return torch.layer_norm(x, [{}], self.weight, self.bias, 1e-5, False)\n",
                               features));
  return m;
}

torch::jit::Module BuildDropout(double ratio) {
  torch::jit::Module m = NewModule("Dropout");
  // '#' keeps the decimal point: TorchScript reads "0" as an int, which
  // torch.dropout's float argument refuses.
  DefineMethods(m, fmt::format("def forward(self, x: Tensor) -> Tensor:\n"
                               "    return torch.dropout(x, {:#.17g}, self.training)\n",
                               ratio));
  return m;
}

torch::jit::Module BuildActivation(const std::string& spec, int64_t features,
                                   const std::string& where, int dim) {
  auto [name, params] = ParseActivation(spec, where);
  std::string body;
  if (name == "Dice") {
    // x_p = sigmoid(bn(x)); alpha * (1 - x_p) * x + x_p * x, normalised over
    // the channel axis (moved to axis 1 for a [B, L, C] input).
    torch::jit::Module dice = NewModule("Dice");
    AddChild(dice, "bn", BuildBatchNorm1d(features, /*affine=*/false));
    AddParameter(dice, "alpha", at::zeros({features}));
    if (dim == 3) {
      DefineMethods(dice, "def forward(self, x: Tensor) -> Tensor:\n"
                          "    x = x.transpose(1, 2)\n"
                          "    x_p = torch.sigmoid(self.bn.forward(x))\n"
                          "    out = self.alpha.unsqueeze(1) * (1 - x_p) * x + x_p * x\n"
                          "    return out.transpose(1, 2)\n");
    } else {
      DefineMethods(dice, "def forward(self, x: Tensor) -> Tensor:\n"
                          "    x_p = torch.sigmoid(self.bn.forward(x))\n"
                          "    return self.alpha * (1 - x_p) * x + x_p * x\n");
    }
    return dice;
  }
  torch::jit::Module m = NewModule("Activation");
  if (name == "nn.ReLU") {
    body = "torch.relu(x)";
  } else if (name == "nn.Sigmoid") {
    body = "torch.sigmoid(x)";
  } else if (name == "nn.Tanh") {
    body = "torch.tanh(x)";
  } else if (name == "nn.GELU") {
    body = "torch.gelu(x)";
  } else if (name == "nn.SiLU") {
    body = "torch.silu(x)";
  } else if (name == "nn.Identity") {
    body = "x";
  } else if (name == "nn.ELU") {
    body = fmt::format("torch.elu(x, {:.17g})", Param(params, "alpha", 1.0));
  } else if (name == "nn.LeakyReLU") {
    body = fmt::format("torch.leaky_relu(x, {:.17g})", Param(params, "negative_slope", 0.01));
  } else if (name == "nn.PReLU") {
    int64_t n = static_cast<int64_t>(Param(params, "num_parameters", 1));
    AddParameter(m, "weight", at::full({n}, Param(params, "init", 0.25)));
    body = "torch.prelu(x, self.weight)";
  } else {
    FailConfig("{}: activation '{}' is not supported (supported: nn.ReLU, nn.Sigmoid, nn.Tanh, "
               "nn.GELU, nn.SiLU, nn.ELU, nn.LeakyReLU, nn.PReLU, nn.Identity, Dice)",
               where, spec);
  }
  DefineMethods(m, "def forward(self, x: Tensor) -> Tensor:\n    return " + body + "\n");
  return m;
}

MlpOptions MlpFromProto(const protos::MLP& mlp) {
  MlpOptions options;
  options.hidden_units.assign(mlp.hidden_units().begin(), mlp.hidden_units().end());
  options.dropout_ratio.assign(mlp.dropout_ratio().begin(), mlp.dropout_ratio().end());
  options.activation = mlp.activation();
  options.use_bn = mlp.use_bn();
  options.bias = mlp.bias();
  options.use_ln = mlp.use_ln();
  return options;
}

torch::jit::Module BuildMlp(int64_t in_features, const MlpOptions& options,
                            const std::string& where) {
  const size_t layers = options.hidden_units.size();
  if (layers == 0) FailConfig("{}.hidden_units: must have at least one layer", where);
  if (options.use_bn && options.use_ln) {
    FailConfig("{}: use_bn and use_ln cannot both be true", where);
  }
  std::vector<double> dropout = options.dropout_ratio;
  if (dropout.empty()) dropout.assign(layers, 0.0);
  if (dropout.size() == 1) dropout.assign(layers, dropout[0]);
  if (dropout.size() != layers) {
    FailConfig("{}.dropout_ratio: has {} values but hidden_units has {} layers", where,
               dropout.size(), layers);
  }

  torch::jit::Module mlp = NewModule("MLP");
  torch::jit::Module list = NewModule("ModuleList");
  std::string forward = "def forward(self, x: Tensor) -> Tensor:\n";
  int64_t in = in_features;
  for (size_t i = 0; i < layers; ++i) {
    int64_t out = options.hidden_units[i];
    if (out <= 0) FailConfig("{}.hidden_units[{}]: must be positive, got {}", where, i, out);
    torch::jit::Module perceptron = NewModule("Perceptron");
    torch::jit::Module seq = NewModule("Sequential");
    std::vector<torch::jit::Module> parts;
    parts.push_back(BuildLinear(in, out, options.use_bn ? false : options.bias));
    if (options.use_bn) {
      if (options.dim == 3) parts.push_back(BuildTranspose());
      parts.push_back(BuildBatchNorm1d(out));
      if (options.dim == 3) parts.push_back(BuildTranspose());
    }
    if (options.use_ln) parts.push_back(BuildLayerNorm(out));
    if (!options.activation.empty()) {
      parts.push_back(PerceptronActivation(options.activation, out, where + ".activation", options.dim));
    }
    if (dropout[i] > 0.0) parts.push_back(BuildDropout(dropout[i]));
    std::string body = "def forward(self, x: Tensor) -> Tensor:\n";
    for (size_t j = 0; j < parts.size(); ++j) {
      AddChild(seq, std::to_string(j), parts[j]);
      body += fmt::format("    x = getattr(self.perceptron, \"{}\").forward(x)\n", j);
    }
    body += "    return x\n";
    AddChild(perceptron, "perceptron", seq);
    DefineMethods(perceptron, body);
    AddChild(list, std::to_string(i), perceptron);
    forward += fmt::format("    x = getattr(self.mlp, \"{}\").forward(x)\n", i);
    in = out;
  }
  forward += "    return x\n";
  AddChild(mlp, "mlp", list);
  DefineMethods(mlp, forward);
  return mlp;
}

}  // namespace tzrec::models
