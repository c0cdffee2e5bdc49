#include "models/ple.h"

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

// Two layers: 1 expert per task + 2 shared (width 5), then 2 per task + 1
// shared (width 4).
const char kTwoLayers[] = R"(
    extraction_networks { network_name: "l1" expert_num_per_task: 1 share_num: 2
                          task_expert_net { hidden_units: [5] } share_expert_net { hidden_units: [5] } }
    extraction_networks { network_name: "l2" expert_num_per_task: 2 share_num: 1
                          task_expert_net { hidden_units: [6, 4] } share_expert_net { hidden_units: [4] } })";

BuiltModel BuildSmall() {
  return BuildModelFrom(testing::SmallMultiTaskConfig(std::string("ple {") + kTwoLayers +
                                                      testing::TwoTaskTowers() + "}"));
}

TEST(PLETest, BuildsUpstreamExampleWithUpstreamNames) {
  BuiltModel b = BuildModelFrom(LoadPipelineConfig(std::string(TZREC_SHARED_DIR) +
                                                   "/upstream/ple_taobao/pipeline.config"));
  EXPECT_EQ(b.model->type(), "ple");
  EXPECT_EQ(b.model->output_names(),
            (std::vector<std::string>{"logits_ctr", "probs_ctr", "logits_cvr", "probs_cvr"}));
  auto s = StateMap(*b.model);
  const int64_t in = s.at("model._extraction_nets.0._shared_layers.0.mlp.0.perceptron.0.weight").size(1);
  // Layer 1: 2 experts per task, 2 shared -> shared gate over 2*2+2, task gates over 2+2.
  EXPECT_EQ(s.at("model._extraction_nets.0._shared_gate.weight").sizes(), (std::vector<int64_t>{6, in}));
  EXPECT_EQ(s.at("model._extraction_nets.0._task_gates.1.weight").sizes(), (std::vector<int64_t>{4, in}));
  EXPECT_EQ(s.at("model._extraction_nets.0._task_layers.1.1.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{1024, in}));
  EXPECT_FALSE(s.count("model._extraction_nets.0._task_layers.1.2.mlp.0.perceptron.0.weight"));
  // Layer 2 reads layer 1's 256-wide outputs; 3 per task and 3 shared.
  EXPECT_EQ(s.at("model._extraction_nets.1._shared_gate.weight").sizes(), (std::vector<int64_t>{9, 256}));
  EXPECT_EQ(s.at("model._extraction_nets.1._shared_layers.2.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{256, 256}));
  // Layer 3 is the last: no shared gate; 4 per task + 4 shared.
  EXPECT_FALSE(s.count("model._extraction_nets.2._shared_gate.weight"));
  EXPECT_EQ(s.at("model._extraction_nets.2._task_gates.0.weight").sizes(), (std::vector<int64_t>{8, 64}));
  EXPECT_EQ(s.at("model._extraction_nets.2._shared_layers.3.mlp.2.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(s.at("model._task_tower.0.tower_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{256, 32}));
  EXPECT_EQ(s.at("model._task_tower.1.linear.weight").sizes(), (std::vector<int64_t>{1, 64}));
}

TEST(PLETest, StateDictOrderFollowsUpstream) {
  BuiltModel b = BuildSmall();
  std::vector<std::string> names = testing::StateNames(*b.model);
  std::vector<std::string> weights;
  for (const std::string& n : names) {
    if (n.size() > 7 && n.compare(n.size() - 7, 7, ".weight") == 0 && n.find("embedding_group") == std::string::npos) {
      weights.push_back(n.substr(6, n.size() - 13));
    }
  }
  std::vector<std::string> expected = {
      "_extraction_nets.0._shared_layers.0.mlp.0.perceptron.0",
      "_extraction_nets.0._shared_layers.1.mlp.0.perceptron.0",
      "_extraction_nets.0._shared_gate",
      "_extraction_nets.0._task_layers.0.0.mlp.0.perceptron.0",
      "_extraction_nets.0._task_layers.1.0.mlp.0.perceptron.0",
      "_extraction_nets.0._task_gates.0",
      "_extraction_nets.0._task_gates.1",
      "_extraction_nets.1._shared_layers.0.mlp.0.perceptron.0",
      "_extraction_nets.1._task_layers.0.0.mlp.0.perceptron.0",
      "_extraction_nets.1._task_layers.0.0.mlp.1.perceptron.0",
      "_extraction_nets.1._task_layers.0.1.mlp.0.perceptron.0",
      "_extraction_nets.1._task_layers.0.1.mlp.1.perceptron.0",
      "_extraction_nets.1._task_layers.1.0.mlp.0.perceptron.0",
      "_extraction_nets.1._task_layers.1.0.mlp.1.perceptron.0",
      "_extraction_nets.1._task_layers.1.1.mlp.0.perceptron.0",
      "_extraction_nets.1._task_layers.1.1.mlp.1.perceptron.0",
      "_extraction_nets.1._task_gates.0",
      "_extraction_nets.1._task_gates.1",
      "_task_tower.0.tower_mlp.mlp.0.perceptron.0",
      "_task_tower.0.linear",
      "_task_tower.1.tower_mlp.mlp.0.perceptron.0",
      "_task_tower.1.linear"};
  EXPECT_EQ(weights, expected);
  auto s = StateMap(*b.model);
  EXPECT_EQ(s.at("model._extraction_nets.0._shared_gate.weight").sizes(), (std::vector<int64_t>{4, 9}));
  EXPECT_EQ(s.at("model._extraction_nets.1._shared_layers.0.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(s.at("model._extraction_nets.1._task_gates.1.weight").sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(s.at("model._task_tower.1.tower_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{8, 4}));
}

at::Tensor Gate(const std::map<std::string, at::Tensor>& s, const std::string& gate, const at::Tensor& selector,
                const std::vector<at::Tensor>& experts) {
  at::Tensor g = at::softmax(testing::Linear(s, gate, selector), 1);
  at::Tensor out = at::zeros_like(experts[0]);
  for (size_t e = 0; e < experts.size(); ++e) out = out + g.select(1, e).unsqueeze(1) * experts[e];
  return out;
}

// Recomputes both towers from the parameters, by the formula in
// modules/extraction_net.h.
TEST(PLETest, ForwardMatchesHandComputation) {
  BuiltModel b = BuildSmall();
  Model& m = *b.model;
  m.SetTraining(false);
  TensorMap batch = testing::MakeMultiTaskBatch(10);
  auto out = m.Forward(batch);
  auto s = StateMap(m);
  const std::string l1 = "model._extraction_nets.0.", l2 = "model._extraction_nets.1.";
  at::Tensor x = testing::AllGroup(s, batch);
  // Layer 1.
  std::vector<at::Tensor> shared = {testing::ReluMlp(s, l1 + "_shared_layers.0", x, 1),
                                    testing::ReluMlp(s, l1 + "_shared_layers.1", x, 1)};
  std::vector<at::Tensor> task_experts, task_out;
  for (int t = 0; t < 2; ++t) {
    at::Tensor e = testing::ReluMlp(s, l1 + "_task_layers." + std::to_string(t) + ".0", x, 1);
    task_experts.push_back(e);
    task_out.push_back(Gate(s, l1 + "_task_gates." + std::to_string(t), x, {e, shared[0], shared[1]}));
  }
  at::Tensor shared_out =
      Gate(s, l1 + "_shared_gate", x, {task_experts[0], task_experts[1], shared[0], shared[1]});
  // Layer 2 (last): task outputs only.
  at::Tensor shared2 = testing::ReluMlp(s, l2 + "_shared_layers.0", shared_out, 1);
  for (int t = 0; t < 2; ++t) {
    std::string ts = std::to_string(t);
    at::Tensor e0 = testing::ReluMlp(s, l2 + "_task_layers." + ts + ".0", task_out[t], 2);
    at::Tensor e1 = testing::ReluMlp(s, l2 + "_task_layers." + ts + ".1", task_out[t], 2);
    at::Tensor h = Gate(s, l2 + "_task_gates." + ts, task_out[t], {e0, e1, shared2});
    h = testing::ReluMlp(s, "model._task_tower." + ts + ".tower_mlp", h, 1);
    at::Tensor logits = testing::Linear(s, "model._task_tower." + ts + ".linear", h).squeeze(1);
    std::string name = t == 0 ? "ctr" : "cvr";
    EXPECT_TRUE(at::allclose(out.at("logits_" + name), logits, 1e-5, 1e-6)) << name;
    EXPECT_TRUE(at::allclose(out.at("probs_" + name), at::sigmoid(logits), 1e-5, 1e-6)) << name;
  }
}

TEST(PLETest, ConfigErrors) {
  testing::ExpectMultiTaskConfigError("ple {" + testing::TwoTaskTowers() + "}", "model_config.ple.extraction_networks");
  testing::ExpectMultiTaskConfigError(R"(ple { extraction_networks { network_name: "l1" expert_num_per_task: 1 share_num: 1
                        task_expert_net { hidden_units: [5] } share_expert_net { hidden_units: [4] } } )" +
                        testing::TwoTaskTowers() + "}",
                    "model_config.ple.extraction_networks[0]: task_expert_net and share_expert_net must end in the same width");
  testing::ExpectMultiTaskConfigError(R"(ple { extraction_networks { network_name: "l1" expert_num_per_task: 1
                        task_expert_net { hidden_units: [5] } } )" +
                        testing::TwoTaskTowers() + "}",
                    "model_config.ple.extraction_networks[0].share_expert_net");
}

}  // namespace
}  // namespace tzrec::models
