// Test-only: runs one of tzrec's optimizers over given gradients, so that
// tests/py/test_optimizers_vs_torch.py can judge it against the same optimizer
// in stock PyTorch / torchrec / fbgemm on the same numbers.
//
// stdin, one JSON object:
//   {"sparse": false, "config": "<DenseOptimizer or SparseOptimizer text proto>",
//    "param": [[...], ...],                        // float32 rows
//    "grads": [[[...], ...], ...]}                 // dense: one full gradient per step
//   sparse: "grads": [{"rows": [i, ...], "values": [[...], ...]}, ...]
// stdout: {"params": [<param after step 1>, <after step 2>, ...]}
#include <google/protobuf/text_format.h>

#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "train/optimizer.h"

namespace {

using tzrec::train::NamedParameters;

at::Tensor Matrix(const nlohmann::json& rows) {
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t d = n == 0 ? 0 : static_cast<int64_t>(rows[0].size());
  at::Tensor t = at::empty({n, d}, at::kFloat);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) t[i][j] = rows[i][j].get<double>();
  }
  return t;
}

nlohmann::json Rows(const at::Tensor& t) {
  nlohmann::json out = nlohmann::json::array();
  at::Tensor c = t.contiguous();
  for (int64_t i = 0; i < c.size(0); ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (int64_t j = 0; j < c.size(1); ++j) row.push_back(c[i][j].item<float>());
    out.push_back(row);
  }
  return out;
}

template <typename Config>
Config ParseConfig(const std::string& text) {
  Config config;
  if (!google::protobuf::TextFormat::ParseFromString(text, &config)) {
    throw std::runtime_error("bad optimizer config: " + text);
  }
  return config;
}

}  // namespace

int main() {
  try {
    std::stringstream input;
    input << std::cin.rdbuf();
    const nlohmann::json request = nlohmann::json::parse(input.str());
    const bool sparse = request.at("sparse").get<bool>();
    at::Tensor param = Matrix(request.at("param")).set_requires_grad(true);
    NamedParameters params = {{"w", param}};
    const std::string config = request.at("config").get<std::string>();
    std::unique_ptr<tzrec::train::Optimizer> optimizer =
        sparse ? tzrec::train::CreateSparseOptimizer(ParseConfig<tzrec::protos::SparseOptimizer>(config), params)
               : tzrec::train::CreateDenseOptimizer(ParseConfig<tzrec::protos::DenseOptimizer>(config), params);
    nlohmann::json steps = nlohmann::json::array();
    int64_t step = 0;
    for (const nlohmann::json& grad : request.at("grads")) {
      if (sparse) {
        std::vector<int64_t> rows = grad.at("rows").get<std::vector<int64_t>>();
        at::Tensor index = at::tensor(rows, at::kLong).unsqueeze(0);
        param.mutable_grad() = at::sparse_coo_tensor(index, Matrix(grad.at("values")), param.sizes());
      } else {
        param.mutable_grad() = Matrix(grad);
      }
      optimizer->Step(step++, 0);
      optimizer->ZeroGrad();
      steps.push_back(Rows(param.detach()));
    }
    std::cout << nlohmann::json{{"params", steps}}.dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "optimizer_probe: " << e.what() << "\n";
    return 1;
  }
}
