#include "models/dc2vr.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "models/model_test_util.h"
#include "models/test_multi_task.h"
#include "models/test_multi_task_learning.h"

namespace tzrec::models {
namespace {

using testing::BuildModelFrom;
using testing::BuiltModel;
using testing::StateMap;
using State = std::map<std::string, at::Tensor>;
using Shapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;

// bottom [8] -> MMoE (2 experts [6]) -> ctr mlp [5]; cvr mlp [5] intervened
// on by ctr (low rank 3).
const char kSmall[] = R"(dc2vr {
    bottom_mlp { hidden_units: [8] } expert_mlp { hidden_units: [6] } num_expert: 2
    task_towers { tower_name: "ctr" label_name: "clk" mlp { hidden_units: [5] }
                  metrics { auc {} } losses { binary_cross_entropy {} } }
    task_towers { tower_name: "cvr" label_name: "buy" mlp { hidden_units: [5] }
                  intervention_tower_names: "ctr" low_rank_dim: 3
                  metrics { auc {} } losses { binary_cross_entropy {} } }
  })";

BuiltModel BuildSmall() { return BuildModelFrom(testing::SmallMultiTaskConfig(kSmall)); }

const std::string kRotate = "model.intervention.cvr.";

// torch.nn.utils.parametrizations.orthogonal's householder map, as
// intervention.h writes it.
at::Tensor OrthogonalWeight(const State& s, const std::string& layer) {
  const at::Tensor& x = s.at(layer + ".parametrizations.weight.original");
  at::Tensor a = at::tril(x, -1);
  at::Tensor tau = 2.0 / (1.0 + (a * a).sum(-2));
  at::Tensor q = at::linalg_householder_product(a, tau) * x.diagonal(0, -2, -1).to(at::kInt).unsqueeze(-2);
  return at::matmul(s.at(layer + ".parametrizations.weight.0.base"), q);
}

TEST(DC2VRTest, UpstreamStateDictNames) {
  BuiltModel b = BuildSmall();
  EXPECT_EQ(b.model->type(), "dc2vr");
  const std::string bags = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  const Shapes expected = {
      {bags + "cat_a_emb.weight", {10, 4}},
      {bags + "cat_b_emb.weight", {20, 4}},
      {"model.bottom_mlp.mlp.0.perceptron.0.weight", {8, 9}},
      {"model.bottom_mlp.mlp.0.perceptron.0.bias", {8}},
      {"model.mmoe.expert_mlps.0.mlp.0.perceptron.0.weight", {6, 8}},
      {"model.mmoe.expert_mlps.0.mlp.0.perceptron.0.bias", {6}},
      {"model.mmoe.expert_mlps.1.mlp.0.perceptron.0.weight", {6, 8}},
      {"model.mmoe.expert_mlps.1.mlp.0.perceptron.0.bias", {6}},
      {"model.mmoe.gate_finals.0.weight", {2, 8}},
      {"model.mmoe.gate_finals.0.bias", {2}},
      {"model.mmoe.gate_finals.1.weight", {2, 8}},
      {"model.mmoe.gate_finals.1.bias", {2}},
      {"model.task_mlps.ctr.mlp.0.perceptron.0.weight", {5, 6}},
      {"model.task_mlps.ctr.mlp.0.perceptron.0.bias", {5}},
      {"model.task_mlps.cvr.mlp.0.perceptron.0.weight", {5, 6}},
      {"model.task_mlps.cvr.mlp.0.perceptron.0.bias", {5}},
      {kRotate + "base_rotate_layer.parametrizations.weight.original", {5, 3}},
      {kRotate + "source_rotate_layer.parametrizations.weight.original", {5, 3}},
      {"model.task_outputs.0.weight", {1, 5}},
      {"model.task_outputs.0.bias", {1}},
      {"model.task_outputs.1.weight", {1, 5}},
      {"model.task_outputs.1.bias", {1}},
      // Model::StateDict lists buffers after the parameters.
      {kRotate + "base_rotate_layer.parametrizations.weight.0.base", {5, 5}},
      {kRotate + "source_rotate_layer.parametrizations.weight.0.base", {5, 5}},
  };
  Shapes actual;
  for (const auto& [name, t] : b.model->StateDict()) actual.push_back({name, t.sizes().vec()});
  EXPECT_EQ(actual, expected);
  // Trained: everything but the orthogonal bases (buffers) and the tables.
  EXPECT_EQ(b.model->DenseParameters().size(), expected.size() - 2 - 2);
  EXPECT_EQ(b.model->output_names(),
            (std::vector<std::string>{"logits_ctr", "probs_ctr", "logits_cvr", "probs_cvr"}));
}

// Upstream's initialisation: original = -I, so W = base[:, :3], orthonormal.
TEST(DC2VRTest, RotationsStartOrthonormal) {
  BuiltModel b = BuildSmall();
  State s = StateMap(*b.model);
  for (const char* layer : {"base_rotate_layer", "source_rotate_layer"}) {
    const std::string p = kRotate + layer;
    at::Tensor original = s.at(p + ".parametrizations.weight.original");
    EXPECT_TRUE(at::equal(original, -at::eye(5, 3))) << layer;
    at::Tensor base = s.at(p + ".parametrizations.weight.0.base");
    EXPECT_TRUE(at::allclose(at::matmul(base.t(), base), at::eye(5), 1e-5, 1e-5)) << layer;
    at::Tensor w = OrthogonalWeight(s, p);
    EXPECT_TRUE(at::allclose(w, base.slice(1, 0, 3), 1e-5, 1e-6)) << layer;
  }
  EXPECT_FALSE(at::allclose(s.at(kRotate + "base_rotate_layer.parametrizations.weight.0.base"),
                            s.at(kRotate + "source_rotate_layer.parametrizations.weight.0.base")));
}

// Both towers recomputed from the parameters after some training (so that
// the householder parameters are no longer -I).
TEST(DC2VRTest, ForwardMatchesHandComputation) {
  at::manual_seed(5);
  BuiltModel b = BuildSmall();
  testing::TrainMultiTaskAucs(*b.model, {{"ctr", "clk"}, {"cvr", "buy"}}, 20,
                              [](int64_t rows, double noise) { return testing::MakeMultiTaskBatch(rows, noise); });
  b.model->SetTraining(false);
  TensorMap batch = testing::MakeMultiTaskBatch(11);
  auto out = b.model->Forward(batch);
  State s = StateMap(*b.model);
  ASSERT_FALSE(at::allclose(s.at(kRotate + "base_rotate_layer.parametrizations.weight.original"),
                            -at::eye(5, 3)));
  at::Tensor net = testing::ReluMlp(s, "model.bottom_mlp", testing::AllGroup(s, batch), 1);
  std::vector<at::Tensor> experts;
  for (int e = 0; e < 2; ++e) experts.push_back(testing::ReluMlp(s, "model.mmoe.expert_mlps." + std::to_string(e), net, 1));
  std::vector<at::Tensor> task_net;
  for (int t = 0; t < 2; ++t) {
    at::Tensor g = at::softmax(testing::Linear(s, "model.mmoe.gate_finals." + std::to_string(t), net), 1);
    at::Tensor mixed = g.select(1, 0).unsqueeze(1) * experts[0] + g.select(1, 1).unsqueeze(1) * experts[1];
    task_net.push_back(testing::ReluMlp(s, std::string("model.task_mlps.") + (t == 0 ? "ctr" : "cvr"), mixed, 1));
  }
  at::Tensor wb = OrthogonalWeight(s, kRotate + "base_rotate_layer");
  at::Tensor ws = OrthogonalWeight(s, kRotate + "source_rotate_layer");
  EXPECT_TRUE(at::allclose(at::matmul(wb.t(), wb), at::eye(3), 1e-5, 1e-5));
  at::Tensor cvr_net = at::matmul(at::matmul(task_net[1], wb) - at::matmul(task_net[0], ws), wb.t()) + task_net[1];
  at::Tensor ctr = testing::Linear(s, "model.task_outputs.0", task_net[0]).squeeze(1);
  at::Tensor cvr = testing::Linear(s, "model.task_outputs.1", cvr_net).squeeze(1);
  EXPECT_TRUE(at::allclose(out.at("logits_ctr"), ctr, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(out.at("logits_cvr"), cvr, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(out.at("probs_cvr"), at::sigmoid(cvr), 1e-5, 1e-6));
}

TEST(DC2VRTest, LearnsSyntheticRule) {
  testing::ExpectMultiTaskLearns([] { return BuildSmall(); });
}

TEST(DC2VRTest, SavedModuleLoadsAndPredictsTheSame) {
  BuiltModel b = BuildSmall();
  b.model->SetTraining(false);
  TensorMap batch = testing::MakeMultiTaskBatch(9);
  auto expected = b.model->Forward(batch);
  std::string path = (std::filesystem::temp_directory_path() /
                      ("tzrec_dc2vr_test_" + std::to_string(::getpid()) + ".pt")).string();
  b.model->SaveScripted(path);
  torch::jit::Module loaded = torch::jit::load(path);
  std::filesystem::remove(path);
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [k, v] : batch) dict.insert(k, v);
  auto out = loaded.forward({dict}).toGenericDict();
  EXPECT_EQ(out.size(), 4u);
  EXPECT_TRUE(at::equal(out.at("probs_cvr").toTensor(), expected.at("probs_cvr")));
}

TEST(DC2VRTest, ConfigErrors) {
  const std::string head = "dc2vr { ";
  const std::string bce = " losses { binary_cross_entropy {} } ";
  const std::string ctr = R"(task_towers { tower_name: "ctr" label_name: "clk" mlp { hidden_units: [5] } )" + bce + "} ";
  testing::ExpectMultiTaskConfigError(
      head + ctr + R"(task_towers { tower_name: "cvr" label_name: "buy" low_rank_dim: 3 )" + bce + "} }",
      "model_config.dc2vr.task_towers[1].intervention_tower_names: a tower with low_rank_dim");
  testing::ExpectMultiTaskConfigError(
      head + R"(task_towers { tower_name: "cvr" label_name: "buy" low_rank_dim: 3 intervention_tower_names: "ctr" )" +
          bce + "} " + ctr + "}",
      "'ctr' must be a task tower listed before 'cvr'");
  testing::ExpectMultiTaskConfigError(
      head + ctr + R"(task_towers { tower_name: "cvr" label_name: "buy" low_rank_dim: 5 mlp { hidden_units: [5] } intervention_tower_names: "ctr" )" +
          bce + "} }",
      "model_config.dc2vr.task_towers[1].low_rank_dim: 5");
  testing::ExpectMultiTaskConfigError(
      head + ctr + R"(task_towers { tower_name: "cvr" label_name: "buy" low_rank_dim: 2 intervention_tower_names: "cxr" )" +
          bce + "} }",
      "'cxr' is not a task tower");
}

}  // namespace
}  // namespace tzrec::models
