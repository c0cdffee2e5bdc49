#include "models/simple_multi_task.h"

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

// ctr: mlp [8, 6]; cvr: no mlp (Linear straight on the group).
const char kTowers[] = R"(simple_multi_task {
    task_towers { tower_name: "ctr" label_name: "clk" mlp { hidden_units: [8, 6] }
                  metrics { auc {} } losses { binary_cross_entropy {} } }
    task_towers { tower_name: "cvr" label_name: "buy"
                  metrics { auc {} } losses { binary_cross_entropy {} } }
  })";

BuiltModel BuildSmall() { return BuildModelFrom(testing::SmallMultiTaskConfig(kTowers)); }

// Names and shapes in module order, as the structure in simple_multi_task.h
// (MMoE's `_task_tower` list) lays them out.
TEST(SimpleMultiTaskTest, UpstreamStateDictNames) {
  BuiltModel b = BuildSmall();
  const std::string bags = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {bags + "cat_a_emb.weight", {10, 4}},
      {bags + "cat_b_emb.weight", {20, 4}},
      {"model._task_tower.0.tower_mlp.mlp.0.perceptron.0.weight", {8, 9}},
      {"model._task_tower.0.tower_mlp.mlp.0.perceptron.0.bias", {8}},
      {"model._task_tower.0.tower_mlp.mlp.1.perceptron.0.weight", {6, 8}},
      {"model._task_tower.0.tower_mlp.mlp.1.perceptron.0.bias", {6}},
      {"model._task_tower.0.linear.weight", {1, 6}},
      {"model._task_tower.0.linear.bias", {1}},
      {"model._task_tower.1.linear.weight", {1, 9}},
      {"model._task_tower.1.linear.bias", {1}},
  };
  std::vector<std::pair<std::string, std::vector<int64_t>>> actual;
  for (const auto& [name, t] : b.model->StateDict()) actual.push_back({name, t.sizes().vec()});
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(b.model->type(), "simple_multi_task");
  EXPECT_EQ(b.model->output_names(),
            (std::vector<std::string>{"logits_ctr", "probs_ctr", "logits_cvr", "probs_cvr"}));
  ASSERT_EQ(b.model->tasks().size(), 2u);
  EXPECT_EQ(b.model->tasks()[1].suffix, "_cvr");
  EXPECT_EQ(b.model->tasks()[1].label_name, "buy");
  EXPECT_EQ(b.model->SparseParameters().size(), 2u);
}

// Both towers recomputed from the parameters: tower(all group).
TEST(SimpleMultiTaskTest, ForwardMatchesHandComputation) {
  BuiltModel b = BuildSmall();
  b.model->SetTraining(false);
  TensorMap batch = testing::MakeMultiTaskBatch(13);
  auto out = b.model->Forward(batch);
  auto s = StateMap(*b.model);
  at::Tensor x = testing::AllGroup(s, batch);
  at::Tensor ctr = testing::Linear(
      s, "model._task_tower.0.linear", testing::ReluMlp(s, "model._task_tower.0.tower_mlp", x, 2));
  at::Tensor cvr = testing::Linear(s, "model._task_tower.1.linear", x);
  EXPECT_EQ(out.at("logits_ctr").sizes(), (std::vector<int64_t>{13}));
  EXPECT_TRUE(at::allclose(out.at("logits_ctr"), ctr.squeeze(1), 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(out.at("probs_ctr"), at::sigmoid(ctr.squeeze(1)), 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(out.at("logits_cvr"), cvr.squeeze(1), 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(out.at("probs_cvr"), at::sigmoid(cvr.squeeze(1)), 1e-5, 1e-6));
}

TEST(SimpleMultiTaskTest, LearnsSyntheticRule) {
  testing::ExpectMultiTaskLearns([] { return BuildSmall(); });
}

TEST(SimpleMultiTaskTest, OutputsFollowEachTowersLoss) {
  BuiltModel b = BuildModelFrom(testing::SmallMultiTaskConfig(R"(simple_multi_task {
    task_towers { tower_name: "cls" label_name: "clk" num_class: 3
                  losses { softmax_cross_entropy {} } metrics { accuracy {} } }
    task_towers { tower_name: "price" label_name: "buy" losses { l2_loss {} } }
  })"));
  EXPECT_EQ(b.model->output_names(), (std::vector<std::string>{"logits_cls", "probs_cls", "y_price"}));
  auto out = b.model->Forward(testing::MakeMultiTaskBatch(5));
  EXPECT_EQ(out.at("probs_cls").sizes(), (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(out.at("y_price").sizes(), (std::vector<int64_t>{5}));
}

TEST(SimpleMultiTaskTest, SavedModuleLoadsAndPredictsTheSame) {
  BuiltModel b = BuildSmall();
  b.model->SetTraining(false);
  TensorMap batch = testing::MakeMultiTaskBatch(9);
  auto expected = b.model->Forward(batch);
  std::string path = (std::filesystem::temp_directory_path() /
                      ("tzrec_simple_multi_task_test_" + std::to_string(::getpid()) + ".pt")).string();
  b.model->SaveScripted(path);
  torch::jit::Module loaded = torch::jit::load(path);
  std::filesystem::remove(path);
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [k, v] : batch) dict.insert(k, v);
  auto out = loaded.forward({dict}).toGenericDict();
  EXPECT_EQ(out.size(), 4u);
  EXPECT_TRUE(at::equal(out.at("probs_cvr").toTensor(), expected.at("probs_cvr")));
  EXPECT_TRUE(at::equal(out.at("logits_ctr").toTensor(), expected.at("logits_ctr")));
}

TEST(SimpleMultiTaskTest, ConfigErrors) {
  testing::ExpectMultiTaskConfigError("simple_multi_task { }",
                                      "model_config.simple_multi_task.task_towers: a multi-task model needs");
  testing::ExpectMultiTaskConfigError(
      R"(simple_multi_task { task_towers { tower_name: "a" label_name: "clk" } })",
      "model_config.simple_multi_task.task_towers[0].losses");
  testing::ExpectMultiTaskConfigError(std::string(kTowers) + " use_pareto_loss_weight: true",
                                      "model_config.use_pareto_loss_weight");
}

}  // namespace
}  // namespace tzrec::models
