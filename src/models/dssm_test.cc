#include "models/dssm.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "common/error.h"
#include "models/match_model.h"
#include "models/model_test_util.h"
#include "models/modules/jit_module.h"

namespace tzrec::models {
namespace {

using testing::BuildModelFrom;
using testing::StateNames;
using testing::StateTensor;

constexpr int64_t kIds = 200;

protos::EasyRecConfig Config(const std::string& extra = "in_batch_negative: true",
                             const std::string& metrics = "metrics { recall_at_k { top_k: 1 } }",
                             const std::string& loss = "softmax_cross_entropy {}") {
  std::string text = R"(
data_config { batch_size: 32 label_fields: "clk" fg_mode: FG_NONE }
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" hash_bucket_size: 200 embedding_dim: 8 } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" hash_bucket_size: 200 embedding_dim: 8 } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
model_config {
  feature_groups { group_name: "user" feature_names: "user_id" group_type: DEEP }
  feature_groups { group_name: "item" feature_names: "item_id" feature_names: "price" group_type: DEEP }
  dssm {
    user_tower { input: "user" mlp { hidden_units: [16] } }
    item_tower { input: "item" mlp { hidden_units: [16, 12] } }
    output_dim: 6
    )" + extra + R"(
  }
  )" + metrics + R"(
  losses { )" + loss + R"( }
}
)";
  return ParsePipelineConfigText(text, "small_dssm.config");
}

// Each user clicks one item: item = (7 * user + 3) mod kIds.
TensorMap Batch(int64_t size) {
  TensorMap b;
  at::Tensor user = at::randperm(kIds, at::kLong).slice(0, 0, size);
  b["user_id.values"] = user;
  b["user_id.lengths"] = at::ones({size}, at::kLong);
  b["item_id.values"] = (user * 7 + 3).remainder(kIds);
  b["item_id.lengths"] = at::ones({size}, at::kLong);
  b["price.values"] = at::rand({size, 1});
  return b;
}

TEST(DSSMTest, UpstreamStateDictNames) {
  auto b = BuildModelFrom(Config());
  const std::string bags = ".embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  std::vector<std::string> expected = {"model.user_tower" + bags + "user_id_emb.weight",
                                       "model.user_tower.mlp.mlp.0.perceptron.0.weight",
                                       "model.user_tower.mlp.mlp.0.perceptron.0.bias",
                                       "model.user_tower.output.weight",
                                       "model.user_tower.output.bias",
                                       "model.item_tower" + bags + "item_id_emb.weight",
                                       "model.item_tower.mlp.mlp.0.perceptron.0.weight",
                                       "model.item_tower.mlp.mlp.0.perceptron.0.bias",
                                       "model.item_tower.mlp.mlp.1.perceptron.0.weight",
                                       "model.item_tower.mlp.mlp.1.perceptron.0.bias",
                                       "model.item_tower.output.weight",
                                       "model.item_tower.output.bias"};
  EXPECT_EQ(StateNames(*b.model), expected);
  EXPECT_EQ(StateTensor(*b.model, "model.item_tower.output.weight").sizes(),
            (std::vector<int64_t>{6, 12}));
  EXPECT_EQ(b.model->output_names(), (std::vector<std::string>{"similarity"}));
  EXPECT_EQ(b.model->SparseParameters().size(), 2u);
  ASSERT_EQ(b.model->tasks().size(), 1u);
  EXPECT_EQ(b.model->tasks()[0].label_name, "clk");
}

TEST(DSSMTest, TowersShareNamesAndReproduceTheSimilarity) {
  auto b = BuildModelFrom(Config("in_batch_negative: true temperature: 0.5 similarity: COSINE"));
  TensorMap state;
  for (const auto& [name, t] : b.model->StateDict()) state[name] = t;
  auto user = BuildMatchTower(b.config, FeaturePointers(b.features), "user");
  auto item = BuildMatchTower(b.config, FeaturePointers(b.features), "item");
  user->LoadStateDict(state, "dssm");
  item->LoadStateDict(state, "dssm");
  for (const auto& [name, t] : user->StateDict()) {
    EXPECT_EQ(name.rfind("model.user_tower.", 0), 0u) << name;
    EXPECT_TRUE(state.count(name)) << name;
  }
  EXPECT_EQ(user->StateDict().size() + item->StateDict().size(), state.size());
  EXPECT_EQ(user->output_names(), (std::vector<std::string>{"user_tower_emb"}));
  EXPECT_EQ(item->output_names(), (std::vector<std::string>{"item_tower_emb"}));
  EXPECT_EQ(user->SparseParameters().size(), 1u);

  b.model->SetTraining(false);
  user->SetTraining(false);
  item->SetTraining(false);
  TensorMap batch = Batch(9);
  at::Tensor sim = b.model->Forward(batch).at("similarity");
  at::Tensor u = user->Forward(batch).at("user_tower_emb");
  at::Tensor i = item->Forward(batch).at("item_tower_emb");
  EXPECT_EQ(sim.sizes(), (std::vector<int64_t>{9, 9}));
  EXPECT_EQ(u.sizes(), (std::vector<int64_t>{9, 6}));
  EXPECT_TRUE(at::allclose(u.norm(2, 1), at::ones({9}), 1e-5, 1e-6));  // COSINE
  EXPECT_TRUE(at::allclose(sim, at::mm(u, i.t()) / 0.5, 1e-5, 1e-6));
}

TEST(DSSMTest, TowerMatchesHandComputation) {
  auto b = BuildModelFrom(Config());
  auto user = BuildMatchTower(b.config, FeaturePointers(b.features), "user");
  user->SetTraining(false);
  TensorMap batch = Batch(4);
  at::Tensor e = at::embedding(
      StateTensor(*user, "model.user_tower.embedding_group.emb_impls.__BASE__.ebc.embedding_bags."
                         "user_id_emb.weight"),
      batch["user_id.values"]);
  at::Tensor h = at::relu(at::linear(e, StateTensor(*user, "model.user_tower.mlp.mlp.0.perceptron.0.weight"),
                                     StateTensor(*user, "model.user_tower.mlp.mlp.0.perceptron.0.bias")));
  at::Tensor expected = at::linear(h, StateTensor(*user, "model.user_tower.output.weight"),
                                   StateTensor(*user, "model.user_tower.output.bias"));
  EXPECT_TRUE(at::allclose(user->Forward(batch).at("user_tower_emb"), expected, 1e-5, 1e-6));
}

// Without in-batch negatives, the item rows are B positives then sampled
// negatives: similarity = [u . positive, u . negatives^T].
TEST(DSSMTest, SampledNegativeSimilarity) {
  torch::jit::Module m = NewModule("SimProbe");
  DefineMethods(m, "def forward(self, u: Tensor, i: Tensor) -> Tensor:\n" +
                       SimilaritySource(false, 2.0, "u", "i") + "    return sim\n");
  at::Tensor u = at::randn({3, 4});
  at::Tensor i = at::randn({5, 4});
  at::Tensor sim = m.forward({u, i}).toTensor();
  at::Tensor expected =
      at::cat({(u * i.slice(0, 0, 3)).sum(1, true), at::mm(u, i.slice(0, 3).t())}, 1) / 2.0;
  EXPECT_EQ(sim.sizes(), (std::vector<int64_t>{3, 3}));
  EXPECT_TRUE(at::allclose(sim, expected, 1e-5, 1e-6));
}

// In-batch softmax training (upstream's loss: cross entropy of similarity
// against arange(B)) learns which item each user clicks.
TEST(DSSMTest, LearnsInBatchRetrieval) {
  at::manual_seed(13);
  auto b = BuildModelFrom(Config());
  Model& m = *b.model;
  testing::TestAdagrad optimizer(m, 0.2);
  auto recall_at_1 = [&] {
    at::NoGradGuard no_grad;
    m.SetTraining(false);
    int64_t hits = 0, total = 0;
    for (int i = 0; i < 8; ++i) {
      at::Tensor sim = m.Forward(Batch(32)).at("similarity");
      hits += (sim.argmax(1) == at::arange(32)).sum().item<int64_t>();
      total += 32;
    }
    return static_cast<double>(hits) / total;
  };
  const double before = recall_at_1();
  for (int step = 0; step < 600; ++step) {
    m.SetTraining(true);
    at::Tensor sim = m.Forward(Batch(32)).at("similarity");
    optimizer.Step(at::cross_entropy_loss(sim, at::arange(32)));
  }
  const double after = recall_at_1();
  EXPECT_GT(after, 0.5) << "before training " << before;
  EXPECT_GT(after, before + 0.3);
}

TEST(DSSMTest, UpstreamTaobaoConfig) {
  auto config = testing::UpstreamConfigWithSmallTables("dssm_taobao");
  // The negative sampler's attr_fields put the item features in the __NEG__
  // data group: their tables sit under that key, as upstream names them.
  auto b = BuildModelFrom(config);
  const auto names = StateNames(*b.model);
  auto has = [&](const std::string& name) { return std::find(names.begin(), names.end(), name) != names.end(); };
  EXPECT_TRUE(has("model.item_tower.embedding_group.emb_impls.__NEG__.ebc.embedding_bags.adgroup_id_emb.weight"));
  EXPECT_TRUE(has("model.user_tower.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.user_id_emb.weight"));
  EXPECT_TRUE(has("model.user_tower.embedding_group.seq_emb_impls.__BASE__.ec_dict.16.embeddings."
                  "click_50_seq__adgroup_id_emb.weight"));
  // user: 10 features + the pooled click sequence (3 x 16).
  EXPECT_EQ(StateTensor(*b.model, "model.user_tower.mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{512, 208}));
  EXPECT_EQ(StateTensor(*b.model, "model.item_tower.mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{512, 96}));
  EXPECT_EQ(StateTensor(*b.model, "model.user_tower.output.weight").sizes(),
            (std::vector<int64_t>{64, 128}));
}

// A config whose item features read a negative sampler's fields (__NEG__).
protos::EasyRecConfig SampledConfig() {
  auto config = Config("");
  auto* sampler = config.mutable_data_config()->mutable_negative_sampler();
  sampler->set_input_path("items");
  sampler->set_num_sample(16);
  sampler->set_item_id_field("item_id");
  sampler->add_attr_fields("item_id");
  sampler->add_attr_fields("price");
  return config;
}

// Trained against sampled negatives (the item rows are B positives, then N
// sampled items; upstream's loss: cross entropy against column 0), DSSM
// learns to rank each user's item above random ones.
TEST(DSSMTest, LearnsAgainstSampledNegatives) {
  constexpr int64_t kBatch = 32, kSampled = 16;
  auto sampled_batch = [&] {
    TensorMap b = Batch(kBatch);
    at::Tensor negatives = at::randint(kIds, {kSampled}, at::kLong);
    b["item_id.values"] = at::cat({b["item_id.values"], negatives});
    b["item_id.lengths"] = at::ones({kBatch + kSampled}, at::kLong);
    b["price.values"] = at::rand({kBatch + kSampled, 1});
    return b;
  };
  double sum = 0;
  for (uint64_t seed : {13, 14, 15}) {
    at::manual_seed(seed);
    auto b = BuildModelFrom(SampledConfig());
    Model& m = *b.model;
    testing::TestAdagrad optimizer(m, 0.2);
    auto recall_at_1 = [&] {
      at::NoGradGuard no_grad;
      m.SetTraining(false);
      int64_t hits = 0;
      for (int i = 0; i < 8; ++i) {
        at::Tensor sim = m.Forward(sampled_batch()).at("similarity");
        EXPECT_EQ(sim.sizes(), (std::vector<int64_t>{kBatch, 1 + kSampled}));
        hits += (sim.argmax(1) == 0).sum().item<int64_t>();
      }
      return static_cast<double>(hits) / (8 * kBatch);
    };
    const double before = recall_at_1();
    for (int step = 0; step < 800; ++step) {
      m.SetTraining(true);
      at::Tensor sim = m.Forward(sampled_batch()).at("similarity");
      optimizer.Step(at::cross_entropy_loss(sim, at::zeros({kBatch}, at::kLong)));
    }
    const double after = recall_at_1();
    // Chance is 1/17; measured 0.52-0.91 across seeds and BLAS kernel paths.
    EXPECT_GT(after, 0.3) << "seed " << seed << ", before training " << before;
    sum += after;
  }
  EXPECT_GT(sum / 3, 0.55);
}

TEST(DSSMTest, DataGroupsDoNotMixInAGroup) {
  auto config = SampledConfig();
  // user_id joins the item group: __BASE__ and __NEG__ features in one group.
  config.mutable_model_config()->mutable_feature_groups(1)->add_feature_names("user_id");
  try {
    BuildModelFrom(config);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("different data groups"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("__NEG__: item_id,price"), std::string::npos) << e.what();
  }
}

TEST(DSSMTest, ConfigErrors) {
  auto expect_error = [](const protos::EasyRecConfig& config, const std::string& text) {
    try {
      FeatureList features = CreateFeatures(config);
      BuildModel(config, FeaturePointers(features));
      ADD_FAILURE() << "no error for " << text;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  expect_error(Config("", "metrics { auc {} }"), "recall_at_k");
  expect_error(Config("", "", "binary_cross_entropy {}"), "softmax_cross_entropy");
  auto config = Config();
  config.mutable_model_config()->mutable_dssm()->mutable_item_tower()->set_input("nope");
  expect_error(config, "'nope'");
  config = Config();
  config.mutable_model_config()->mutable_dssm()->mutable_user_tower()->clear_mlp();
  expect_error(config, "user_tower.mlp");
  auto built = BuildModelFrom(Config());
  EXPECT_THROW(BuildMatchTower(built.config, FeaturePointers(built.features), "context"), Error);
}

}  // namespace
}  // namespace tzrec::models
