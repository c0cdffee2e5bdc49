#include "models/rocket_launching.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "common/error.h"
#include "models/model_test_util.h"

namespace tzrec::models {
namespace {

using testing::AllGroup;
using testing::BuildModelFrom;
using testing::Linear;
using testing::ReluMlp;
using testing::StateMap;
using testing::StateNames;
using testing::StateTensor;

// One DEEP group "all" [cat_a, cat_b, price] (width 9).
protos::EasyRecConfig Config(const std::string& rocket = "", const std::string& heads = "") {
  const std::string body = rocket.empty() ? R"(
    share_mlp { hidden_units: [8] }
    booster_mlp { hidden_units: [8, 6, 4] }
    light_mlp { hidden_units: [6, 4] }
    feature_based_distillation: true)"
                                          : rocket;
  const std::string losses = heads.empty() ? "metrics { auc {} }\n  losses { binary_cross_entropy {} }" : heads;
  return testing::SmallModelConfig(
      "  feature_groups { group_name: \"all\" feature_names: \"cat_a\" feature_names: \"cat_b\" "
      "feature_names: \"price\" group_type: DEEP }\n  rocket_launching {" + body + "\n  }\n  " + losses);
}

c10::Dict<std::string, at::Tensor> ToDict(const TensorMap& inputs) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [k, v] : inputs) dict.insert(k, v);
  return dict;
}

TEST(RocketLaunchingTest, UpstreamStateDictNames) {
  auto b = BuildModelFrom(Config());
  const std::string bags = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  std::vector<std::string> expected = {bags + "cat_a_emb.weight", bags + "cat_b_emb.weight",
                                       "model.share_mlp.mlp.0.perceptron.0.weight",
                                       "model.share_mlp.mlp.0.perceptron.0.bias"};
  for (int i = 0; i < 3; ++i) {
    expected.push_back("model.booster_mlp.mlp." + std::to_string(i) + ".perceptron.0.weight");
    expected.push_back("model.booster_mlp.mlp." + std::to_string(i) + ".perceptron.0.bias");
  }
  expected.push_back("model.booster_linear.weight");
  expected.push_back("model.booster_linear.bias");
  for (int i = 0; i < 2; ++i) {
    expected.push_back("model.light_mlp.mlp." + std::to_string(i) + ".perceptron.0.weight");
    expected.push_back("model.light_mlp.mlp." + std::to_string(i) + ".perceptron.0.bias");
  }
  expected.push_back("model.light_linear.weight");
  expected.push_back("model.light_linear.bias");
  EXPECT_EQ(StateNames(*b.model), expected);
  auto shape = [&](const std::string& name) { return StateTensor(*b.model, name).sizes().vec(); };
  EXPECT_EQ(shape("model.share_mlp.mlp.0.perceptron.0.weight"), (std::vector<int64_t>{8, 9}));
  EXPECT_EQ(shape("model.booster_mlp.mlp.0.perceptron.0.weight"), (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(shape("model.booster_mlp.mlp.2.perceptron.0.weight"), (std::vector<int64_t>{4, 6}));
  EXPECT_EQ(shape("model.booster_linear.weight"), (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(shape("model.light_mlp.mlp.0.perceptron.0.weight"), (std::vector<int64_t>{6, 8}));
  EXPECT_EQ(shape("model.light_linear.weight"), (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(shape("model.light_linear.bias"), (std::vector<int64_t>{1}));
  // Served outputs are the light net's; the booster is a training-only task.
  EXPECT_EQ(b.model->output_names(), (std::vector<std::string>{"logits_light", "probs_light"}));
  ASSERT_EQ(b.model->tasks().size(), 2u);
  EXPECT_EQ(b.model->tasks()[0].suffix, "_booster");
  EXPECT_TRUE(b.model->tasks()[0].training_only);
  EXPECT_EQ(b.model->tasks()[1].suffix, "_light");
  EXPECT_FALSE(b.model->tasks()[1].training_only);
}

TEST(RocketLaunchingTest, WithoutShareMlpBothNetsReadTheGroup) {
  auto b = BuildModelFrom(Config("booster_mlp { hidden_units: [5] } light_mlp { hidden_units: [3] }"));
  EXPECT_EQ(StateTensor(*b.model, "model.booster_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{5, 9}));
  EXPECT_EQ(StateTensor(*b.model, "model.light_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{3, 9}));
  for (const std::string& name : StateNames(*b.model)) EXPECT_EQ(name.find("share_mlp"), std::string::npos);
}

// Recomputes both nets from the parameters, by the formulas in rocket_launching.h.
TEST(RocketLaunchingTest, ForwardMatchesHandComputation) {
  auto b = BuildModelFrom(Config());
  Model& m = *b.model;
  auto batch = testing::MakeSyntheticBatch(7);
  auto state = StateMap(m);
  at::Tensor share = at::relu(Linear(state, "model.share_mlp.mlp.0.perceptron.0", AllGroup(state, batch.inputs)));
  at::Tensor light_0 = ReluMlp(state, "model.light_mlp", share, 1);
  at::Tensor light_1 = at::relu(Linear(state, "model.light_mlp.mlp.1.perceptron.0", light_0));
  at::Tensor light = Linear(state, "model.light_linear", light_1).squeeze(1);
  at::Tensor booster_2 = ReluMlp(state, "model.booster_mlp", share, 3);
  at::Tensor booster_1 = ReluMlp(state, "model.booster_mlp", share, 2);
  at::Tensor booster = Linear(state, "model.booster_linear", booster_2).squeeze(1);

  m.SetTraining(false);
  auto eval = m.Forward(batch.inputs);
  EXPECT_EQ(eval.size(), 2u);  // logits_light, probs_light only
  EXPECT_TRUE(at::allclose(eval.at("logits_light"), light, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(eval.at("probs_light"), at::sigmoid(light), 1e-5, 1e-6));
  EXPECT_EQ(eval.at("logits_light").sizes(), (std::vector<int64_t>{7}));

  m.SetTraining(true);
  auto train = m.Forward(batch.inputs);
  // Light layers [6, 4] against booster [8, 6, 4]: 0 -> 1, 1 -> 2.
  std::vector<std::string> keys;
  for (const auto& entry : train) keys.push_back(entry.key());
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"booster_1", "booster_2", "light_0", "light_1", "logits_booster",
                                            "logits_light", "probs_booster", "probs_light"}));
  EXPECT_TRUE(at::allclose(train.at("logits_light"), light, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(train.at("logits_booster"), booster, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(train.at("probs_booster"), at::sigmoid(booster), 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(train.at("light_0"), light_0, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(train.at("light_1"), light_1, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(train.at("booster_1"), booster_1, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(train.at("booster_2"), booster_2, 1e-5, 1e-6));
}

TEST(RocketLaunchingTest, SoftmaxOutputsAreSuffixed) {
  auto b = BuildModelFrom(Config("", "num_class: 2\n  metrics { auc {} }\n  losses { softmax_cross_entropy {} }"));
  EXPECT_EQ(b.model->output_names(), (std::vector<std::string>{"logits_light", "probs_light", "probs1_light"}));
  b.model->SetTraining(true);
  auto out = b.model->Forward(testing::MakeSyntheticBatch(5).inputs);
  EXPECT_EQ(out.at("logits_booster").sizes(), (std::vector<int64_t>{5, 2}));
  EXPECT_EQ(out.at("probs1_booster").sizes(), (std::vector<int64_t>{5}));
  EXPECT_EQ(out.at("probs_light").sizes(), (std::vector<int64_t>{5, 2}));
}

TEST(RocketLaunchingTest, DistillationLayerPairsTakeTheFirstBoosterLayerOfTheSameWidth) {
  protos::RocketLaunching cfg;
  for (int u : {256, 128, 64, 32, 64}) cfg.mutable_booster_mlp()->add_hidden_units(u);
  for (int u : {96, 64, 32}) cfg.mutable_light_mlp()->add_hidden_units(u);
  EXPECT_EQ(DistillationLayerPairs(cfg), (std::vector<std::pair<int, int>>{{1, 2}, {2, 3}}));
}

// The distillation losses recomputed from the training-mode outputs.
TEST(RocketLaunchingTest, DistillationLossesMatchHandComputation) {
  for (const char* function : {"COSINE", "EUCLID"}) {
    SCOPED_TRACE(function);
    auto b = BuildModelFrom(Config(std::string(R"(
      booster_mlp { hidden_units: [8, 6] }
      light_mlp { hidden_units: [6] }
      feature_based_distillation: true
      feature_distillation_function: )") + function));
    b.model->SetTraining(true);
    auto out = b.model->Forward(testing::MakeSyntheticBatch(9).inputs);
    const at::Tensor light = out.at("light_0"), booster = out.at("booster_1");
    const at::Tensor hint = (out.at("logits_light") - out.at("logits_booster")).pow(2).mean();
    at::Tensor w = at::rand({9}) + 0.5;
    const at::Tensor wn = w / w.mean();
    at::Tensor sim, sim_weighted;
    if (std::string(function) == "COSINE") {
      at::Tensor cos = at::cosine_similarity(light, booster, 1, 1e-12);
      sim = -0.1 * cos.mean();
      sim_weighted = -0.1 * (cos * wn).mean();
    } else {
      sim = (light - booster).pow(2).sum().sqrt();
      sim_weighted = ((light - booster).pow(2).sum(1) * wn).sum().sqrt();
    }
    auto losses = b.model->TrainingLosses(out, at::Tensor());
    ASSERT_EQ(losses.size(), 2u);
    EXPECT_TRUE(at::allclose(losses.at("hint_l2_loss"), hint, 1e-5, 1e-6));
    EXPECT_TRUE(at::allclose(losses.at("similarity_0_1"), sim, 1e-5, 1e-6));
    auto weighted = b.model->TrainingLosses(out, w);
    EXPECT_TRUE(at::allclose(weighted.at("hint_l2_loss"),
                             ((out.at("logits_light") - out.at("logits_booster")).pow(2) * wn).mean(), 1e-5, 1e-6));
    EXPECT_TRUE(at::allclose(weighted.at("similarity_0_1"), sim_weighted, 1e-5, 1e-6));

    // Without feature_based_distillation only the hint loss remains; eval
    // outputs give none.
    b.model->SetTraining(false);
    EXPECT_TRUE(b.model->TrainingLosses(b.model->Forward(testing::MakeSyntheticBatch(3).inputs), {}).empty());
  }
  auto plain = BuildModelFrom(Config("booster_mlp { hidden_units: [8, 6] } light_mlp { hidden_units: [6] }"));
  plain.model->SetTraining(true);
  auto out = plain.model->Forward(testing::MakeSyntheticBatch(4).inputs);
  EXPECT_FALSE(out.contains("light_0"));
  auto losses = plain.model->TrainingLosses(out, {});
  EXPECT_EQ(losses.size(), 1u);
  EXPECT_TRUE(losses.count("hint_l2_loss"));
}

// The light net reads the shared part detached, and every distillation loss
// detaches the booster: light-side losses train the light net alone.
TEST(RocketLaunchingTest, LightLossesTrainOnlyTheLightNet) {
  auto b = BuildModelFrom(Config());
  Model& m = *b.model;
  m.SetTraining(true);
  auto batch = testing::MakeSyntheticBatch(16);
  auto out = m.Forward(batch.inputs);
  at::Tensor loss = at::binary_cross_entropy_with_logits(out.at("logits_light"), batch.labels);
  for (const auto& [name, l] : m.TrainingLosses(out, {})) loss = loss + l;
  loss.backward();
  for (const auto& [name, t] : m.StateDict()) {
    const bool light = name.find("model.light_") == 0;
    const bool has_grad = t.grad().defined() && t.grad().abs().sum().item<double>() > 0;
    EXPECT_EQ(has_grad, light) << name;
  }
}

TEST(RocketLaunchingTest, LearnsSyntheticRule) {
  for (int seed : testing::kLearningSeeds) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    at::manual_seed(seed);
    // Wider than Config()'s nets: a 4-unit ReLU layer can die on one seed.
    auto b = BuildModelFrom(Config(R"(
      share_mlp { hidden_units: [16] }
      booster_mlp { hidden_units: [16, 8] }
      light_mlp { hidden_units: [8] }
      feature_based_distillation: true)"));
    Model& m = *b.model;
    testing::TestAdagrad optimizer(m, 0.05);
    for (int step = 0; step < 150; ++step) {
      m.SetTraining(true);
      auto batch = testing::MakeSyntheticBatch(128, 0.05);
      auto out = m.Forward(batch.inputs);
      // As the trainer: each net's classifier loss plus the distillation losses.
      at::Tensor loss = at::binary_cross_entropy_with_logits(out.at("logits_booster"), batch.labels) +
                        at::binary_cross_entropy_with_logits(out.at("logits_light"), batch.labels);
      for (const auto& [name, l] : m.TrainingLosses(out, {})) loss = loss + l;
      optimizer.Step(loss);
    }
    m.SetTraining(false);
    at::NoGradGuard no_grad;
    auto eval = testing::MakeSyntheticBatch(1024, 0.0);
    EXPECT_GT(testing::Auc(m.Forward(eval.inputs).at("probs_light"), eval.labels), 0.8);
    // The teacher learnt too (its outputs exist in training mode; no dropout here).
    m.SetTraining(true);
    EXPECT_GT(testing::Auc(m.Forward(eval.inputs).at("probs_booster"), eval.labels), 0.8);
  }
}

TEST(RocketLaunchingTest, SavedModuleServesTheLightNet) {
  auto b = BuildModelFrom(Config());
  b.model->SetTraining(false);
  auto batch = testing::MakeSyntheticBatch(9);
  auto expected = b.model->Forward(batch.inputs);
  const std::string path = (std::filesystem::temp_directory_path() / "tzrec_rocket_launching_test.pt").string();
  b.model->SaveScripted(path);
  torch::jit::Module loaded = torch::jit::load(path);
  auto out = loaded.forward({ToDict(batch.inputs)}).toGenericDict();
  std::filesystem::remove(path);
  EXPECT_EQ(out.size(), 2u);
  EXPECT_TRUE(at::equal(out.at("probs_light").toTensor(), expected.at("probs_light")));
  EXPECT_TRUE(at::equal(out.at("logits_light").toTensor(), expected.at("logits_light")));
}

TEST(RocketLaunchingTest, UpstreamCriteoConfigBuilds) {
  auto b = BuildModelFrom(testing::UpstreamConfigWithSmallTables("rocket_launching_criteo"));
  // 13 raw ints + 26 ids of dim 16; no share_mlp.
  EXPECT_EQ(StateTensor(*b.model, "model.booster_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{256, 13 + 26 * 16}));
  EXPECT_EQ(StateTensor(*b.model, "model.light_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{96, 13 + 26 * 16}));
  EXPECT_EQ(StateTensor(*b.model, "model.light_linear.weight").sizes(), (std::vector<int64_t>{2, 32}));
  EXPECT_EQ(b.model->output_names(), (std::vector<std::string>{"logits_light", "probs_light", "probs1_light"}));
  EXPECT_EQ(DistillationLayerPairs(b.config.model_config().rocket_launching()),
            (std::vector<std::pair<int, int>>{{1, 2}, {2, 3}}));
}

TEST(RocketLaunchingTest, ConfigErrors) {
  auto expect_error = [](const protos::EasyRecConfig& config, const std::string& fragment) {
    try {
      BuildModelFrom(config);
      ADD_FAILURE() << "no error, expected " << fragment;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error(Config("booster_mlp { } light_mlp { hidden_units: [3] }"),
               "model_config.rocket_launching.booster_mlp.hidden_units");
  expect_error(Config("", "variational_dropout {}\n  losses { binary_cross_entropy {} }"),
               "model_config.variational_dropout");
  expect_error(Config("", "num_class: 2\n  losses { binary_cross_entropy {} }"), "num_class");
}

}  // namespace
}  // namespace tzrec::models
