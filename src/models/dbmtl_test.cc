#include "models/dbmtl.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "config/pipeline_config.h"
#include "models/model_test_util.h"
#include "models/test_multi_task.h"

namespace tzrec::models {
namespace {

using testing::BuildModelFrom;
using testing::BuiltModel;
using testing::StateMap;

std::string Upstream(const std::string& name) {
  return std::string(TZREC_SHARED_DIR) + "/upstream/" + name + "/pipeline.config";
}

// ctr: mlp [8]; cvr: mlp [8], relation to ctr through relation_mlp [3].
std::string SmallDBMTL(const std::string& head) {
  return "dbmtl { " + head +
         testing::TwoTaskTowers("", R"(relation_tower_names: "ctr" relation_mlp { hidden_units: [3] })") +
         "}";
}

TEST(DBMTLTest, BuildsUpstreamExampleWithUpstreamNames) {
  BuiltModel b = BuildModelFrom(LoadPipelineConfig(Upstream("dbmtl_taobao")));
  EXPECT_EQ(b.model->type(), "dbmtl");
  EXPECT_EQ(b.model->output_names(),
            (std::vector<std::string>{"logits_ctr", "probs_ctr", "logits_cvr", "probs_cvr"}));
  auto s = StateMap(*b.model);
  EXPECT_EQ(s.at("model.bottom_mlp.mlp.0.perceptron.0.weight").size(0), 512);
  for (const char* tower : {"ctr", "cvr"}) {
    std::string p = std::string("model.task_mlps.") + tower + ".mlp.";
    EXPECT_EQ(s.at(p + "0.perceptron.0.weight").sizes(), (std::vector<int64_t>{256, 512}));
    EXPECT_EQ(s.at(p + "2.perceptron.0.weight").sizes(), (std::vector<int64_t>{64, 128}));
  }
  // cvr's relation MLP reads cat[cvr task net, ctr task net] = 64 + 64.
  EXPECT_EQ(s.at("model.relation_mlps.cvr.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{64, 128}));
  EXPECT_FALSE(s.count("model.relation_mlps.ctr.mlp.0.perceptron.0.weight"));
  EXPECT_EQ(s.at("model.task_outputs.0.weight").sizes(), (std::vector<int64_t>{1, 64}));
  EXPECT_EQ(s.at("model.task_outputs.1.weight").sizes(), (std::vector<int64_t>{1, 64}));
  for (const auto& [name, t] : s) EXPECT_EQ(name.find("model.mmoe."), std::string::npos) << name;
}

TEST(DBMTLTest, BuildsUpstreamJrcExample) {
  BuiltModel b = BuildModelFrom(LoadPipelineConfig(Upstream("dbmtl_taobao_jrc")));
  EXPECT_EQ(b.model->output_names(),
            (std::vector<std::string>{"logits_ctr", "probs_ctr", "probs1_ctr", "logits_cvr",
                                      "probs_cvr", "probs1_cvr"}));
  EXPECT_EQ(StateMap(*b.model).at("model.task_outputs.1.weight").size(0), 2);
}

TEST(DBMTLTest, StateDictOrderFollowsUpstream) {
  BuiltModel b = BuildModelFrom(testing::SmallMultiTaskConfig(SmallDBMTL(
      "bottom_mlp { hidden_units: [7] } expert_mlp { hidden_units: [6] } num_expert: 2 ")));
  std::vector<std::string> names = testing::StateNames(*b.model);
  std::vector<std::string> dense(names.begin() + 2, names.end());
  std::vector<std::string> expected = {
      "model.bottom_mlp.mlp.0.perceptron.0.weight",   "model.bottom_mlp.mlp.0.perceptron.0.bias",
      "model.mmoe.expert_mlps.0.mlp.0.perceptron.0.weight",
      "model.mmoe.expert_mlps.0.mlp.0.perceptron.0.bias",
      "model.mmoe.expert_mlps.1.mlp.0.perceptron.0.weight",
      "model.mmoe.expert_mlps.1.mlp.0.perceptron.0.bias",
      "model.mmoe.gate_finals.0.weight",               "model.mmoe.gate_finals.0.bias",
      "model.mmoe.gate_finals.1.weight",               "model.mmoe.gate_finals.1.bias",
      "model.task_mlps.ctr.mlp.0.perceptron.0.weight", "model.task_mlps.ctr.mlp.0.perceptron.0.bias",
      "model.task_mlps.cvr.mlp.0.perceptron.0.weight", "model.task_mlps.cvr.mlp.0.perceptron.0.bias",
      "model.relation_mlps.cvr.mlp.0.perceptron.0.weight",
      "model.relation_mlps.cvr.mlp.0.perceptron.0.bias",
      "model.task_outputs.0.weight",                   "model.task_outputs.0.bias",
      "model.task_outputs.1.weight",                   "model.task_outputs.1.bias"};
  EXPECT_EQ(dense, expected);
  auto s = StateMap(*b.model);
  EXPECT_EQ(s.at("model.mmoe.expert_mlps.0.mlp.0.perceptron.0.weight").sizes(), (std::vector<int64_t>{6, 7}));
  EXPECT_EQ(s.at("model.task_mlps.ctr.mlp.0.perceptron.0.weight").sizes(), (std::vector<int64_t>{8, 6}));
  EXPECT_EQ(s.at("model.relation_mlps.cvr.mlp.0.perceptron.0.weight").sizes(), (std::vector<int64_t>{3, 16}));
  EXPECT_EQ(s.at("model.task_outputs.1.weight").sizes(), (std::vector<int64_t>{1, 3}));
}

// Recomputes both towers from the parameters, by the formula in dbmtl.h.
TEST(DBMTLTest, ForwardMatchesHandComputation) {
  BuiltModel b = BuildModelFrom(testing::SmallMultiTaskConfig(SmallDBMTL("bottom_mlp { hidden_units: [7] } ")));
  Model& m = *b.model;
  m.SetTraining(false);
  TensorMap batch = testing::MakeMultiTaskBatch(13);
  auto out = m.Forward(batch);
  auto s = StateMap(m);
  at::Tensor net = testing::ReluMlp(s, "model.bottom_mlp", testing::AllGroup(s, batch), 1);
  at::Tensor ctr = testing::ReluMlp(s, "model.task_mlps.ctr", net, 1);
  at::Tensor cvr = testing::ReluMlp(s, "model.task_mlps.cvr", net, 1);
  at::Tensor cvr_rel = testing::ReluMlp(s, "model.relation_mlps.cvr", at::cat({cvr, ctr}, 1), 1);
  at::Tensor ctr_logits = testing::Linear(s, "model.task_outputs.0", ctr).squeeze(1);
  at::Tensor cvr_logits = testing::Linear(s, "model.task_outputs.1", cvr_rel).squeeze(1);
  EXPECT_TRUE(at::allclose(out.at("logits_ctr"), ctr_logits, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(out.at("logits_cvr"), cvr_logits, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(out.at("probs_cvr"), at::sigmoid(cvr_logits), 1e-5, 1e-6));
  EXPECT_EQ(out.at("probs_ctr").sizes(), (std::vector<int64_t>{13}));
}

// Without bottom MLP, experts or tower MLPs every tower reads the group, and
// a relation chain passes relation nets on (c reads b's relation net).
TEST(DBMTLTest, RelationChainWithoutMlps) {
  BuiltModel b = BuildModelFrom(testing::SmallMultiTaskConfig(R"(dbmtl {
    task_towers { tower_name: "a" label_name: "clk" losses { binary_cross_entropy {} } }
    task_towers { tower_name: "b" label_name: "buy" losses { binary_cross_entropy {} }
                  relation_tower_names: "a" relation_mlp { hidden_units: [4] } }
    task_towers { tower_name: "c" label_name: "buy" losses { l2_loss {} }
                  relation_tower_names: ["a", "b"] relation_mlp { hidden_units: [2] } }
  })"));
  auto s = StateMap(*b.model);
  EXPECT_EQ(s.at("model.relation_mlps.b.mlp.0.perceptron.0.weight").sizes(), (std::vector<int64_t>{4, 18}));
  EXPECT_EQ(s.at("model.relation_mlps.c.mlp.0.perceptron.0.weight").sizes(), (std::vector<int64_t>{2, 22}));
  EXPECT_EQ(s.at("model.task_outputs.0.weight").sizes(), (std::vector<int64_t>{1, 9}));
  b.model->SetTraining(false);
  TensorMap batch = testing::MakeMultiTaskBatch(6);
  auto out = b.model->Forward(batch);
  at::Tensor x = testing::AllGroup(s, batch);
  at::Tensor rb = testing::ReluMlp(s, "model.relation_mlps.b", at::cat({x, x}, 1), 1);
  at::Tensor rc = testing::ReluMlp(s, "model.relation_mlps.c", at::cat({x, x, rb}, 1), 1);
  EXPECT_TRUE(at::allclose(out.at("y_c"), testing::Linear(s, "model.task_outputs.2", rc).squeeze(1), 1e-5, 1e-6));
}

TEST(DBMTLTest, ConfigErrors) {
  const std::string bce = " losses { binary_cross_entropy {} } ";
  testing::ExpectMultiTaskConfigError(R"(dbmtl { task_towers { tower_name: "a" label_name: "clk" )" + bce +
                        R"(relation_tower_names: "b" relation_mlp { hidden_units: [2] } }
                           task_towers { tower_name: "b" label_name: "buy" )" + bce + "} }",
                    "model_config.dbmtl.task_towers[0].relation_tower_names: 'b' must be a task tower listed before");
  testing::ExpectMultiTaskConfigError(R"(dbmtl { task_towers { tower_name: "a" label_name: "clk" )" + bce +
                        R"(relation_tower_names: "zz" relation_mlp { hidden_units: [2] } } })",
                    "'zz' is not a task tower");
  testing::ExpectMultiTaskConfigError("dbmtl { mask_net { n_mask_blocks: 1 mask_block { aggregation_dim: 2 hidden_dim: 2 } } " +
                        testing::TwoTaskTowers() + "}",
                    "model_config.dbmtl.mask_net");
  // label_name defaults to label_fields by order; a third tower has none.
  testing::ExpectMultiTaskConfigError(R"(dbmtl { task_towers { tower_name: "a" )" + bce + R"(}
                               task_towers { tower_name: "b" )" + bce + R"(}
                               task_towers { tower_name: "c" )" + bce + "} }",
                    "model_config.dbmtl.task_towers[2].label_name");
}

TEST(DBMTLTest, LabelNameDefaultsToLabelFieldsInOrder) {
  const std::string bce = " losses { binary_cross_entropy {} } ";
  BuiltModel b = BuildModelFrom(testing::SmallMultiTaskConfig(
      R"(dbmtl { task_towers { tower_name: "a" )" + bce + R"(} task_towers { tower_name: "b" )" + bce + "} }"));
  EXPECT_EQ(b.model->tasks()[0].label_name, "clk");
  EXPECT_EQ(b.model->tasks()[1].label_name, "buy");
}

}  // namespace
}  // namespace tzrec::models
