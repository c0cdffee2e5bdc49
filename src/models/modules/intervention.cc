#include "models/modules/intervention.h"

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/modules/mlp.h"

namespace tzrec::models {
namespace {

// A random [n, n] orthogonal matrix: QR of a Gaussian one, signs fixed so
// that R's diagonal is positive (the draw torch.nn.init.orthogonal_ makes).
at::Tensor RandomOrthogonal(int64_t n) {
  auto [q, r] = at::linalg_qr(at::randn({n, n}));
  return q * at::sign(r.diagonal()).unsqueeze(0);
}

}  // namespace

torch::jit::Module BuildRotateLayer(int64_t dim, int64_t low_rank_dim) {
  if (dim <= low_rank_dim) Fail("RotateLayer: dim {} must exceed low_rank_dim {}", dim, low_rank_dim);
  torch::jit::Module orthogonal = NewModule("_Orthogonal");
  AddBuffer(orthogonal, "base", RandomOrthogonal(dim));
  DefineMethods(orthogonal,
                "def forward(self, X: Tensor) -> Tensor:\n"
                "    A = torch.tril(X, -1)\n"
                "    tau = 2.0 / (1.0 + torch.sum(A * A, -2))\n"
                "    Q = torch.linalg_householder_product(A, tau)\n"
                "    Q = Q * torch.unsqueeze(torch.diagonal(X, 0, -2, -1).int(), -2)\n"
                "    return torch.matmul(self.base, Q)\n");

  torch::jit::Module weight = NewModule("ParametrizationList");
  at::Tensor original = at::zeros({dim, low_rank_dim});
  original.diagonal().fill_(-1.0);
  AddParameter(weight, "original", original);
  AddChild(weight, "0", orthogonal);
  DefineMethods(weight, "def forward(self) -> Tensor:\n"
                        "    return getattr(self, \"0\").forward(self.original)\n");

  torch::jit::Module parametrizations = NewModule("ModuleDict");
  AddChild(parametrizations, "weight", weight);
  torch::jit::Module rotate = NewModule("RotateLayer");
  AddChild(rotate, "parametrizations", parametrizations);
  DefineMethods(rotate, "def orthogonal_weight(self) -> Tensor:\n"
                        "    return self.parametrizations.weight.forward()\n"
                        "def forward(self, x: Tensor) -> Tensor:\n"
                        "    return torch.matmul(x, self.orthogonal_weight())\n");
  return rotate;
}

torch::jit::Module BuildIntervention(int64_t base_dim, int64_t source_dim, int64_t low_rank_dim,
                                     double dropout_ratio) {
  torch::jit::Module m = NewModule("Intervention");
  AddChild(m, "base_rotate_layer", BuildRotateLayer(base_dim, low_rank_dim));
  AddChild(m, "source_rotate_layer", BuildRotateLayer(source_dim, low_rank_dim));
  std::string src =
      "def forward(self, base: Tensor, source: Tensor) -> Tensor:\n"
      "    w = self.base_rotate_layer.orthogonal_weight()\n"
      "    rotated_source = self.source_rotate_layer.forward(source.detach())\n"
      "    out = torch.matmul(torch.matmul(base, w) - rotated_source, w.t()) + base\n";
  // A zero ratio is the identity (and BuildDropout would print it as an int).
  if (dropout_ratio > 0.0) {
    AddChild(m, "dropout", BuildDropout(dropout_ratio));
    src += "    out = self.dropout.forward(out)\n";
  }
  src += "    return out\n";
  DefineMethods(m, src);
  return m;
}

}  // namespace tzrec::models
