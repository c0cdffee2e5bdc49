#include "models/mmoe.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/error.h"
#include "config/pipeline_config.h"
#include "models/model_test_util.h"
#include "models/test_multi_task.h"

namespace tzrec::models {
namespace {

using testing::BuildModelFrom;
using testing::BuiltModel;
using testing::StateMap;

const char kSmallMMoE[] = "mmoe { expert_mlp { hidden_units: [6, 5] } num_expert: 3 ";

BuiltModel BuildSmall(const std::string& extra = "") {
  return BuildModelFrom(
      testing::SmallMultiTaskConfig(kSmallMMoE + extra + testing::TwoTaskTowers() + "}"));
}

TEST(MMoETest, BuildsUpstreamExampleWithUpstreamNames) {
  BuiltModel b = BuildModelFrom(LoadPipelineConfig(std::string(TZREC_SHARED_DIR) +
                                                   "/upstream/mmoe_taobao/pipeline.config"));
  EXPECT_EQ(b.model->type(), "mmoe");
  EXPECT_EQ(b.model->output_names(),
            (std::vector<std::string>{"logits_ctr", "probs_ctr", "logits_cvr", "probs_cvr"}));
  ASSERT_EQ(b.model->tasks().size(), 2u);
  EXPECT_EQ(b.model->tasks()[1].suffix, "_cvr");
  EXPECT_EQ(b.model->tasks()[1].label_name, "buy");
  auto s = StateMap(*b.model);
  const int64_t in = s.at("model.mmoe.expert_mlps.0.mlp.0.perceptron.0.weight").size(1);
  EXPECT_GT(in, 16);
  for (int e = 0; e < 3; ++e) {
    std::string p = "model.mmoe.expert_mlps." + std::to_string(e) + ".mlp.";
    EXPECT_EQ(s.at(p + "0.perceptron.0.weight").sizes(), (std::vector<int64_t>{512, in}));
    EXPECT_EQ(s.at(p + "2.perceptron.0.bias").sizes(), (std::vector<int64_t>{128}));
  }
  EXPECT_FALSE(s.count("model.mmoe.expert_mlps.3.mlp.0.perceptron.0.weight"));
  for (int t = 0; t < 2; ++t) {
    std::string g = "model.mmoe.gate_finals." + std::to_string(t) + ".weight";
    EXPECT_EQ(s.at(g).sizes(), (std::vector<int64_t>{3, in}));
    std::string p = "model._task_tower." + std::to_string(t) + ".";
    EXPECT_EQ(s.at(p + "tower_mlp.mlp.0.perceptron.0.weight").sizes(), (std::vector<int64_t>{256, 128}));
    EXPECT_EQ(s.at(p + "tower_mlp.mlp.2.perceptron.0.weight").sizes(), (std::vector<int64_t>{64, 128}));
    EXPECT_EQ(s.at(p + "linear.weight").sizes(), (std::vector<int64_t>{1, 64}));
    EXPECT_EQ(s.at(p + "linear.bias").sizes(), (std::vector<int64_t>{1}));
  }
  EXPECT_FALSE(s.count("model.mmoe.gate_mlps.0.mlp.0.perceptron.0.weight"));
}

TEST(MMoETest, StateDictOrderFollowsUpstream) {
  BuiltModel b = BuildSmall();
  std::vector<std::string> names = testing::StateNames(*b.model);
  ASSERT_GT(names.size(), 2u);
  EXPECT_EQ(names[0], "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.cat_a_emb.weight");
  EXPECT_EQ(names[1], "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.cat_b_emb.weight");
  std::vector<std::string> dense(names.begin() + 2, names.end());
  std::vector<std::string> expected;
  for (int e = 0; e < 3; ++e) {
    for (int l = 0; l < 2; ++l) {
      for (const char* w : {"weight", "bias"}) {
        expected.push_back(fmt::format("model.mmoe.expert_mlps.{}.mlp.{}.perceptron.0.{}", e, l, w));
      }
    }
  }
  for (int t = 0; t < 2; ++t) {
    for (const char* w : {"weight", "bias"}) expected.push_back(fmt::format("model.mmoe.gate_finals.{}.{}", t, w));
  }
  for (int t = 0; t < 2; ++t) {
    for (const char* w : {"weight", "bias"}) {
      expected.push_back(fmt::format("model._task_tower.{}.tower_mlp.mlp.0.perceptron.0.{}", t, w));
    }
    for (const char* w : {"weight", "bias"}) expected.push_back(fmt::format("model._task_tower.{}.linear.{}", t, w));
  }
  EXPECT_EQ(dense, expected);
  EXPECT_EQ(b.model->SparseParameters().size(), 2u);
}

// Recomputes both towers from the parameters, by the formula in mmoe.h.
TEST(MMoETest, ForwardMatchesHandComputation) {
  BuiltModel b = BuildSmall("gate_mlp { hidden_units: [4] } ");
  Model& m = *b.model;
  m.SetTraining(false);
  TensorMap batch = testing::MakeMultiTaskBatch(11);
  auto out = m.Forward(batch);
  auto s = StateMap(m);
  at::Tensor x = testing::AllGroup(s, batch);
  std::vector<at::Tensor> experts;
  for (int e = 0; e < 3; ++e) {
    experts.push_back(testing::ReluMlp(s, "model.mmoe.expert_mlps." + std::to_string(e), x, 2));
  }
  for (int t = 0; t < 2; ++t) {
    std::string ts = std::to_string(t);
    at::Tensor g = testing::ReluMlp(s, "model.mmoe.gate_mlps." + ts, x, 1);
    g = at::softmax(testing::Linear(s, "model.mmoe.gate_finals." + ts, g), 1);
    at::Tensor mixed = at::zeros_like(experts[0]);
    for (int e = 0; e < 3; ++e) mixed = mixed + g.select(1, e).unsqueeze(1) * experts[e];
    std::string p = "model._task_tower." + ts;
    at::Tensor h = testing::ReluMlp(s, p + ".tower_mlp", mixed, 1);
    at::Tensor logits = testing::Linear(s, p + ".linear", h).squeeze(1);
    std::string name = t == 0 ? "ctr" : "cvr";
    EXPECT_EQ(out.at("logits_" + name).sizes(), (std::vector<int64_t>{11}));
    EXPECT_TRUE(at::allclose(out.at("logits_" + name), logits, 1e-5, 1e-6)) << name;
    EXPECT_TRUE(at::allclose(out.at("probs_" + name), at::sigmoid(logits), 1e-5, 1e-6)) << name;
  }
  EXPECT_FALSE(at::allclose(out.at("logits_ctr"), out.at("logits_cvr")));
}

TEST(MMoETest, OutputsFollowEachTowersLoss) {
  BuiltModel b = BuildModelFrom(testing::SmallMultiTaskConfig(std::string(kSmallMMoE) + R"(
    task_towers { tower_name: "cls" label_name: "clk" num_class: 3
                  losses { softmax_cross_entropy {} } metrics { accuracy {} } }
    task_towers { tower_name: "price" label_name: "buy" losses { l2_loss {} } }
    task_towers { tower_name: "pair" label_name: "buy" num_class: 2
                  losses { softmax_cross_entropy {} } metrics { auc {} } }
  })"));
  EXPECT_EQ(b.model->output_names(),
            (std::vector<std::string>{"logits_cls", "probs_cls", "y_price", "logits_pair",
                                      "probs_pair", "probs1_pair"}));
  auto out = b.model->Forward(testing::MakeMultiTaskBatch(5));
  EXPECT_EQ(out.at("probs_cls").sizes(), (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(out.at("y_price").sizes(), (std::vector<int64_t>{5}));
  EXPECT_EQ(out.at("probs1_pair").sizes(), (std::vector<int64_t>{5}));
  EXPECT_TRUE(at::allclose(out.at("probs_cls").sum(1), at::ones({5})));
  EXPECT_EQ(StateMap(*b.model).at("model._task_tower.0.linear.weight").sizes(),
            (std::vector<int64_t>{3, 5}));
}

TEST(MMoETest, SavedModuleLoadsAndPredictsTheSame) {
  BuiltModel b = BuildSmall("gate_mlp { hidden_units: [4] dropout_ratio: 0.5 } ");
  b.model->SetTraining(false);
  TensorMap batch = testing::MakeMultiTaskBatch(9);
  auto expected = b.model->Forward(batch);
  std::string path = (std::filesystem::temp_directory_path() /
                      ("tzrec_mmoe_test_" + std::to_string(::getpid()) + ".pt")).string();
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

TEST(MMoETest, ConfigErrors) {
  const std::string mmoe = kSmallMMoE;
  const std::string bce = " losses { binary_cross_entropy {} } ";
  testing::ExpectMultiTaskConfigError(mmoe + "}", "model_config.mmoe.task_towers: a multi-task model needs");
  testing::ExpectMultiTaskConfigError(mmoe + R"(task_towers { tower_name: "a" label_name: "clk" )" + bce + R"(}
                               task_towers { tower_name: "a" label_name: "buy" )" + bce + "} }",
                    "model_config.mmoe.task_towers[1].tower_name: 'a'");
  testing::ExpectMultiTaskConfigError(mmoe + R"(task_towers { tower_name: "a" label_name: "click" )" + bce + "} }",
                    "label 'click'");
  testing::ExpectMultiTaskConfigError(mmoe + R"(task_towers { tower_name: "a" label_name: "clk" } })",
                    "model_config.mmoe.task_towers[0].losses");
  testing::ExpectMultiTaskConfigError(mmoe + R"(task_towers { tower_name: "a" label_name: "clk" num_class: 2 )" + bce + "} }",
                    "task_towers[0].losses[0]: a binary loss needs num_class 1");
  testing::ExpectMultiTaskConfigError("mmoe { expert_mlp { hidden_units: [6] } num_expert: 0 " + testing::TwoTaskTowers() + "}",
                    "model_config.mmoe.num_expert");
  testing::ExpectMultiTaskConfigError("mmoe { expert_mlp { } " + testing::TwoTaskTowers() + "}",
                    "model_config.mmoe.expert_mlp.hidden_units");
  testing::ExpectMultiTaskConfigError(kSmallMMoE + testing::TwoTaskTowers() + "} variational_dropout {}",
                    "model_config.variational_dropout");
}

}  // namespace
}  // namespace tzrec::models
