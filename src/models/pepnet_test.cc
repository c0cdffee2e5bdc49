#include "models/pepnet.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "config/pipeline_config.h"
#include "models/model_test_util.h"
#include "models/test_models.h"
#include "models/test_multi_task.h"
#include "models/test_multi_task_learning.h"

namespace tzrec::models {
namespace {

using testing::BuildModelFrom;
using testing::BuiltModel;
using testing::StateMap;
using State = std::map<std::string, at::Tensor>;
using Shapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;

const char kTwoTowers[] = R"(
    task_towers { tower_name: "ctr" label_name: "clk" mlp { hidden_units: [6] }
                  metrics { auc {} } losses { binary_cross_entropy {} } }
    task_towers { tower_name: "cvr" label_name: "buy" mlp { hidden_units: [6] }
                  metrics { auc {} } losses { binary_cross_entropy {} } })";

// The small features with groups all [cat_a, cat_b, price] (width 9),
// domain [cat_a] (4) and uia [cat_b, price] (5) when `groups` says so, labels
// clk, buy and dom (the domain index), and `pepnet_body` inside pepnet {}.
protos::EasyRecConfig PepConfig(const std::string& pepnet_body, bool domain_group = true,
                                bool uia_group = true) {
  std::string text = testing::SmallFeaturesConfigHead(
                         200, R"(label_fields: "clk" label_fields: "buy" label_fields: "dom")") +
                     R"(
model_config {
  feature_groups { group_name: "all" feature_names: "cat_a" feature_names: "cat_b" feature_names: "price" group_type: DEEP }
)";
  if (domain_group) text += R"(  feature_groups { group_name: "domain" feature_names: "cat_a" group_type: DEEP })" "\n";
  if (uia_group) text += R"(  feature_groups { group_name: "uia" feature_names: "cat_b" feature_names: "price" group_type: DEEP })" "\n";
  text += "  pepnet { " + pepnet_body + " }\n}\n";
  return ParsePipelineConfigText(text, "small_pepnet.config");
}

const std::string kFull = std::string("domain_input_name: \"dom\" task_domain_num: 2 epnet_hidden_unit: 7 "
                                      "ppnet_hidden_units: [8, 5] ppnet_dropout_ratio: 0.2 ") + kTwoTowers;

// MakeMultiTaskBatch plus the domain label dom = cat_a % 2.
TensorMap MakeDomainBatch(int64_t rows, double noise = 0.05) {
  TensorMap batch = testing::MakeMultiTaskBatch(rows, noise);
  batch["dom"] = batch.at("cat_a.values").remainder(2);
  return batch;
}

at::Tensor GateNU(const State& s, const std::string& prefix, const at::Tensor& x, double gamma = 2.0) {
  at::Tensor h = at::relu(testing::Linear(s, prefix + ".dense_layers.0", x));
  return gamma * at::sigmoid(testing::Linear(s, prefix + ".dense_layers.2", h));
}

TEST(PEPNetTest, UpstreamStateDictNames) {
  BuiltModel b = BuildModelFrom(testing::UpstreamConfigWithSmallTables("pepnet_taobao"));
  EXPECT_EQ(b.model->type(), "pepnet");
  const std::string bags = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  Shapes tables, dense;
  for (const auto& [name, t] : b.model->StateDict()) {
    (name.rfind(bags, 0) == 0 ? tables : dense).push_back({name, t.sizes().vec()});
  }
  // One table per feature (shared by the groups that repeat it), 16 wide;
  // price: 98 boundaries, 99 buckets.
  ASSERT_EQ(tables.size(), 16u);
  EXPECT_EQ(tables[0], (Shapes::value_type{bags + "user_id_emb.weight", {1000, 16}}));
  EXPECT_EQ(tables[15], (Shapes::value_type{bags + "price_emb.weight", {99, 16}}));
  // all: 16 x 16 = 256; domain: occupation, 16; uia: 13 x 16 = 208.
  Shapes expected = {
      {"model.epnet.gate_nu.dense_layers.0.weight", {256, 272}},
      {"model.epnet.gate_nu.dense_layers.0.bias", {256}},
      {"model.epnet.gate_nu.dense_layers.2.weight", {256, 256}},
      {"model.epnet.gate_nu.dense_layers.2.bias", {256}},
  };
  const std::vector<int64_t> units = {512, 256};
  for (const char* part : {"linears", "gate_nus"}) {
    for (int task = 0; task < 2; ++task) {
      int64_t in = 256;
      for (int layer = 0; layer < 2; ++layer) {
        const std::string p = fmt::format("model.ppnet.{}.{}.", part, task * 2 + layer);
        const int64_t out = units[layer];
        if (std::string(part) == "linears") {
          expected.push_back({p + "weight", {out, in}});
          expected.push_back({p + "bias", {out}});
        } else {
          expected.push_back({p + "dense_layers.0.weight", {out, 256 + 208}});
          expected.push_back({p + "dense_layers.0.bias", {out}});
          expected.push_back({p + "dense_layers.2.weight", {out, out}});
          expected.push_back({p + "dense_layers.2.bias", {out}});
        }
        in = out;
      }
    }
  }
  // task_domain_num 3: towers k = task * 3 + domain.
  for (int k = 0; k < 6; ++k) {
    const std::string p = fmt::format("model._task_tower.{}.", k);
    int64_t in = 256;
    int layer = 0;
    for (int64_t out : {256, 128, 64}) {
      expected.push_back({fmt::format("{}tower_mlp.mlp.{}.perceptron.0.weight", p, layer), {out, in}});
      expected.push_back({fmt::format("{}tower_mlp.mlp.{}.perceptron.0.bias", p, layer), {out}});
      in = out;
      ++layer;
    }
    expected.push_back({p + "linear.weight", {1, 64}});
    expected.push_back({p + "linear.bias", {1}});
  }
  EXPECT_EQ(dense, expected);
  std::vector<std::string> outputs;
  for (const char* tower : {"ctr", "cvr"}) {
    for (int d = 0; d < 3; ++d) {
      for (const char* kind : {"logits", "probs"}) outputs.push_back(fmt::format("{}_{}_{}", kind, tower, d));
    }
  }
  EXPECT_EQ(b.model->output_names(), outputs);
  ASSERT_EQ(b.model->tasks().size(), 2u);
  EXPECT_EQ(b.model->tasks()[1].suffix, "_cvr");
  EXPECT_EQ(b.model->tasks()[1].label_name, "buy");
}

// Everything recomputed from the parameters by upstream's formulas
// (personalized_net.h); the label picks each row's domain.
TEST(PEPNetTest, ForwardMatchesHandComputation) {
  BuiltModel b = BuildModelFrom(PepConfig(kFull));
  b.model->SetTraining(false);
  TensorMap batch = MakeDomainBatch(12);
  auto out = b.model->Forward(batch);
  State s = StateMap(*b.model);
  at::Tensor all = testing::AllGroup(s, batch);  // [cat_a 4, cat_b 4, price 1]
  at::Tensor domain = all.slice(1, 0, 4);
  at::Tensor uia = all.slice(1, 4, 9);
  at::Tensor main = GateNU(s, "model.epnet.gate_nu", at::cat({domain, all}, 1)) * all;
  at::Tensor gate_input = at::cat({uia, main}, 1);
  at::Tensor dom = batch.at("dom");
  for (int task = 0; task < 2; ++task) {
    at::Tensor x = main;
    for (int layer = 0; layer < 2; ++layer) {
      const std::string k = std::to_string(task * 2 + layer);
      x = at::relu(testing::Linear(s, "model.ppnet.linears." + k, x)) *
          GateNU(s, "model.ppnet.gate_nus." + k, gate_input);
    }
    const std::string tower = task == 0 ? "ctr" : "cvr";
    std::vector<at::Tensor> per_domain;
    for (int d = 0; d < 2; ++d) {
      const std::string p = "model._task_tower." + std::to_string(task * 2 + d);
      at::Tensor logits =
          testing::Linear(s, p + ".linear", testing::ReluMlp(s, p + ".tower_mlp", x, 1)).squeeze(1);
      const std::string suffix = fmt::format("_{}_{}", tower, d);
      EXPECT_TRUE(at::allclose(out.at("logits" + suffix), logits, 1e-5, 1e-6)) << suffix;
      EXPECT_TRUE(at::allclose(out.at("probs" + suffix), at::sigmoid(logits), 1e-5, 1e-6)) << suffix;
      per_domain.push_back(logits);
    }
    at::Tensor picked = at::where(dom == 1, per_domain[1], per_domain[0]);
    EXPECT_TRUE(at::allclose(out.at("logits_" + tower), picked, 1e-5, 1e-6)) << tower;
    EXPECT_TRUE(at::allclose(out.at("probs_" + tower), at::sigmoid(picked), 1e-5, 1e-6)) << tower;
  }
  ASSERT_GT(dom.sum().item<int64_t>(), 0);
  ASSERT_LT(dom.sum().item<int64_t>(), 12);
  EXPECT_FALSE(at::allclose(out.at("logits_ctr_0"), out.at("logits_ctr_1")));
}

// Without the domain and uia groups PEPNet is towers over the "all" group.
TEST(PEPNetTest, WithoutPersonalisationGroupsTowersReadTheMainGroup) {
  BuiltModel b = BuildModelFrom(PepConfig(kTwoTowers, /*domain_group=*/false, /*uia_group=*/false));
  b.model->SetTraining(false);
  EXPECT_EQ(b.model->output_names(),
            (std::vector<std::string>{"logits_ctr", "probs_ctr", "logits_cvr", "probs_cvr"}));
  State s = StateMap(*b.model);
  EXPECT_FALSE(s.count("model.epnet.gate_nu.dense_layers.0.weight"));
  EXPECT_FALSE(s.count("model.ppnet.linears.0.weight"));
  TensorMap batch = MakeDomainBatch(7);
  auto out = b.model->Forward(batch);
  at::Tensor all = testing::AllGroup(s, batch);
  at::Tensor logits = testing::Linear(s, "model._task_tower.1.linear",
                                      testing::ReluMlp(s, "model._task_tower.1.tower_mlp", all, 1));
  EXPECT_TRUE(at::allclose(out.at("logits_cvr"), logits.squeeze(1), 1e-5, 1e-6));
  // The EPNet alone: towers read the rescaled main group.
  BuiltModel e = BuildModelFrom(PepConfig(kTwoTowers, /*domain_group=*/true, /*uia_group=*/false));
  State es = StateMap(*e.model);
  EXPECT_EQ(es.at("model.epnet.gate_nu.dense_layers.0.weight").sizes(), (std::vector<int64_t>{9, 13}));
  EXPECT_EQ(es.at("model._task_tower.0.tower_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{6, 9}));
}

TEST(PEPNetTest, LearnsSyntheticRule) {
  testing::ExpectMultiTaskLearns([] { return BuildModelFrom(PepConfig(kFull)); }, 0.8, 150,
                                 {{"ctr", "clk"}, {"cvr", "buy"}},
                                 [](int64_t rows, double noise) { return MakeDomainBatch(rows, noise); });
}

// The export sees no labels: it predicts every domain.
TEST(PEPNetTest, SavedModuleLoadsAndPredictsEveryDomain) {
  BuiltModel b = BuildModelFrom(PepConfig(kFull));
  b.model->SetTraining(false);
  TensorMap batch = MakeDomainBatch(9);
  auto expected = b.model->Forward(batch);
  std::string path = (std::filesystem::temp_directory_path() /
                      ("tzrec_pepnet_test_" + std::to_string(::getpid()) + ".pt")).string();
  b.model->SaveScripted(path);
  torch::jit::Module loaded = torch::jit::load(path);
  std::filesystem::remove(path);
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [k, v] : batch) {
    if (k != "dom" && k != "clk" && k != "buy") dict.insert(k, v);
  }
  auto out = loaded.forward({dict}).toGenericDict();
  EXPECT_EQ(out.size(), 8u);
  EXPECT_FALSE(out.contains("probs_ctr"));
  EXPECT_TRUE(at::equal(out.at("probs_cvr_1").toTensor(), expected.at("probs_cvr_1")));
  EXPECT_TRUE(at::equal(out.at("logits_ctr_0").toTensor(), expected.at("logits_ctr_0")));
}

TEST(PEPNetTest, ConfigErrors) {
  auto expect_error = [](const protos::EasyRecConfig& config, const std::string& fragment) {
    try {
      BuildModelFrom(config);
      ADD_FAILURE() << "no error for " << fragment;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  protos::EasyRecConfig no_all = PepConfig(kFull);
  no_all.mutable_model_config()->mutable_feature_groups(0)->set_group_name("main");
  expect_error(no_all, "pepnet needs a DEEP feature group named 'all'");
  expect_error(PepConfig(std::string("domain_input_name: \"occupation\" ppnet_hidden_units: [4] ") + kTwoTowers),
               "model_config.pepnet.domain_input_name: 'occupation'");
  expect_error(PepConfig(std::string("ppnet_hidden_units: [4, 3] ppnet_dropout_ratio: [0.1, 0.1, 0.1] ") + kTwoTowers),
               "model_config.pepnet.ppnet_dropout_ratio");
  expect_error(PepConfig(kTwoTowers), "model_config.pepnet.ppnet_hidden_units: must not be empty");
  expect_error(PepConfig(std::string("ppnet_hidden_units: [4] ppnet_activation: \"nn.Bogus\" ") + kTwoTowers),
               "model_config.pepnet.ppnet_activation");
  expect_error(PepConfig("ppnet_hidden_units: [4]"), "model_config.pepnet.task_towers");
}

}  // namespace
}  // namespace tzrec::models
