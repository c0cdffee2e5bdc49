#include "models/deep_fm.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "config/pipeline_config.h"
#include "features/feature_factory.h"
#include "models/test_models.h"

namespace tzrec::models {
namespace {

struct Built {
  protos::EasyRecConfig config;
  FeatureList features;
  std::unique_ptr<Model> model;
};

Built Build(const std::string& extra = "", ModelBuildOptions options = {}) {
  Built b;
  b.config = testing::SmallDeepFMConfig(extra);
  b.features = CreateFeatures(b.config);
  b.model = BuildModel(b.config, FeaturePointers(b.features), options);
  return b;
}

at::Tensor Get(const Model& model, const std::string& name) {
  for (const auto& [n, t] : model.StateDict()) {
    if (n == name) return t;
  }
  ADD_FAILURE() << "no tensor " << name;
  return {};
}

TEST(DeepFMTest, UpstreamStateDictNames) {
  Built b = Build();
  std::vector<std::string> names;
  for (const auto& [name, t] : b.model->StateDict()) names.push_back(name);
  std::vector<std::string> expected = {
      "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.cat_a_emb_wide.weight",
      "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.cat_b_emb_wide.weight",
      "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.cat_a_emb.weight",
      "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.cat_b_emb.weight",
      "model.deep_mlp.mlp.0.perceptron.0.weight",
      "model.deep_mlp.mlp.0.perceptron.0.bias",
      "model.deep_mlp.mlp.1.perceptron.0.weight",
      "model.deep_mlp.mlp.1.perceptron.0.bias",
      "model.output_mlp.weight",
      "model.output_mlp.bias"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(Get(*b.model, expected[0]).sizes(), (std::vector<int64_t>{10, 4}));
  EXPECT_EQ(Get(*b.model, expected[3]).sizes(), (std::vector<int64_t>{20, 4}));
  EXPECT_EQ(Get(*b.model, expected[4]).sizes(), (std::vector<int64_t>{16, 9}));
  EXPECT_EQ(b.model->SparseParameters().size(), 4u);
  EXPECT_EQ(b.model->DenseParameters().size(), 6u);
  EXPECT_EQ(b.model->output_names(), (std::vector<std::string>{"logits", "probs"}));
}

// Recomputes the prediction from the parameters, by the formula in deep_fm.h.
TEST(DeepFMTest, ForwardMatchesHandComputation) {
  Built b = Build();
  Model& m = *b.model;
  m.SetTraining(false);
  auto batch = testing::MakeSyntheticBatch(7);
  auto out = m.Forward(batch.inputs);
  const std::string bags = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  at::Tensor a = batch.inputs["cat_a.values"];
  at::Tensor b_len = batch.inputs["cat_b.lengths"];
  at::Tensor b_off = at::cumsum(b_len, 0) - b_len;
  at::Tensor b_vals = batch.inputs["cat_b.values"];
  auto pool_b = [&](const at::Tensor& table) {
    at::Tensor sum = std::get<0>(at::embedding_bag(table, b_vals, b_off, false, 0));
    return sum / at::clamp(b_len, 1).unsqueeze(1).to(at::kFloat);  // mean pooling
  };
  at::Tensor wa = at::embedding(Get(m, bags + "cat_a_emb_wide.weight"), a);
  at::Tensor wb = pool_b(Get(m, bags + "cat_b_emb_wide.weight"));
  at::Tensor ea = at::embedding(Get(m, bags + "cat_a_emb.weight"), a);
  at::Tensor eb = pool_b(Get(m, bags + "cat_b_emb.weight"));
  at::Tensor y_wide = wa.sum(1) + wb.sum(1);
  at::Tensor y_fm = ((ea + eb) * (ea + eb) - ea * ea - eb * eb).mul(0.5).sum(1);
  at::Tensor deep = at::cat({ea, eb, batch.inputs["price.values"]}, 1);
  at::Tensor h = at::relu(at::linear(deep, Get(m, "model.deep_mlp.mlp.0.perceptron.0.weight"),
                                     Get(m, "model.deep_mlp.mlp.0.perceptron.0.bias")));
  h = at::relu(at::linear(h, Get(m, "model.deep_mlp.mlp.1.perceptron.0.weight"),
                          Get(m, "model.deep_mlp.mlp.1.perceptron.0.bias")));
  at::Tensor y_deep =
      at::linear(h, Get(m, "model.output_mlp.weight"), Get(m, "model.output_mlp.bias")).squeeze(1);
  at::Tensor expected = y_wide + y_fm + y_deep;
  EXPECT_TRUE(at::allclose(out.at("logits"), expected, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(out.at("probs"), at::sigmoid(expected)));
  EXPECT_EQ(out.at("logits").sizes(), (std::vector<int64_t>{7}));
}

TEST(DeepFMTest, FinalMlpTakesWideFmAndDeep) {
  Built b = Build("final { hidden_units: [5] }");
  EXPECT_EQ(Get(*b.model, "model.final_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{5, 1 + 4 + 8}));
  EXPECT_EQ(Get(*b.model, "model.output_mlp.weight").sizes(), (std::vector<int64_t>{1, 5}));
  auto out = b.model->Forward(testing::MakeSyntheticBatch(3).inputs);
  EXPECT_EQ(out.at("probs").sizes(), (std::vector<int64_t>{3}));
}

TEST(DeepFMTest, Int8TablesPredictCloseToFp32) {
  Built fp32 = Build();
  ModelBuildOptions quant;
  quant.table_storage = TableStorage::kInt8;
  Built int8 = Build("", quant);
  TensorMap state;
  for (const auto& [name, t] : fp32.model->StateDict()) state[name] = t;
  int8.model->LoadStateDict(state, "fp32 model");
  fp32.model->SetTraining(false);
  int8.model->SetTraining(false);
  auto batch = testing::MakeSyntheticBatch(64);
  at::Tensor p32 = fp32.model->Forward(batch.inputs).at("probs");
  at::Tensor p8 = int8.model->Forward(batch.inputs).at("probs");
  double diff = (p32 - p8).abs().max().item<double>();
  EXPECT_LT(diff, 1e-2);
  EXPECT_GT(diff, 0.0);  // really quantized
  for (const auto& [name, t] : int8.model->StateDict()) {
    if (name.find("embedding_bags") != std::string::npos) EXPECT_EQ(t.scalar_type(), at::kByte);
  }
}

TEST(DeepFMTest, SavedModuleLoadsAndPredictsTheSame) {
  Built b = Build("final { hidden_units: [5] dropout_ratio: 0.3 }");
  b.model->SetTraining(false);
  auto batch = testing::MakeSyntheticBatch(9);
  at::Tensor expected = b.model->Forward(batch.inputs).at("probs");
  std::string path = (std::filesystem::temp_directory_path() / "tzrec_deepfm_test.pt").string();
  b.model->SaveScripted(path);
  torch::jit::Module loaded = torch::jit::load(path);
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [k, v] : batch.inputs) dict.insert(k, v);
  auto out = loaded.forward({dict}).toGenericDict();
  EXPECT_TRUE(at::equal(out.at("probs").toTensor(), expected));
  std::filesystem::remove(path);
}

TEST(DeepFMTest, MissingInputIsNamed) {
  Built b = Build();
  auto batch = testing::MakeSyntheticBatch(4);
  batch.inputs.erase("cat_b.lengths");
  try {
    b.model->Forward(batch.inputs);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cat_b.lengths"), std::string::npos) << e.what();
  }
}

TEST(DeepFMTest, ConfigErrors) {
  auto config = testing::SmallDeepFMConfig();
  FeatureList features = CreateFeatures(config);
  auto* groups = config.mutable_model_config()->mutable_feature_groups();
  groups->erase(groups->begin() + 1);  // no fm group: FM reads deep, whose dims differ
  try {
    BuildModel(config, FeaturePointers(features));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("same embedding dim"), std::string::npos) << e.what();
  }
  groups->erase(groups->begin());  // no wide group
  EXPECT_THROW(BuildModel(config, FeaturePointers(features)), ConfigError);
  config.mutable_model_config()->clear_deepfm();
  config.mutable_model_config()->mutable_mmoe();
  try {
    BuildModel(config, FeaturePointers(features));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("mmoe"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tzrec::models
