#include "models/dat.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "features/export_features.h"
#include "models/match_model.h"
#include "models/model_test_util.h"

namespace tzrec::models {
namespace {

using testing::StateNames;
using testing::StateTensor;

constexpr int64_t kIds = 200;

// user_id and item_id each feed their tower's input and augment groups
// (one table per tower), as upstream's DAT example does.
protos::EasyRecConfig Config(const std::string& extra = "in_batch_negative: true",
                             const std::string& output_dim = "6") {
  std::string text = R"(
data_config { batch_size: 32 label_fields: "clk" fg_mode: FG_NONE }
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" hash_bucket_size: 200 embedding_dim: 6 } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" hash_bucket_size: 200 embedding_dim: 6 } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
model_config {
  feature_groups { group_name: "user" feature_names: "user_id" group_type: DEEP }
  feature_groups { group_name: "item" feature_names: "item_id" feature_names: "price" group_type: DEEP }
  feature_groups { group_name: "user_augment" feature_names: "user_id" group_type: DEEP }
  feature_groups { group_name: "item_augment" feature_names: "item_id" group_type: DEEP }
  dat {
    user_tower { input: "user" augment_input: "user_augment" mlp { hidden_units: [16] } }
    item_tower { input: "item" augment_input: "item_augment" mlp { hidden_units: [16, 12] } }
    output_dim: )" + output_dim + R"(
    amm_u_weight: 0.5
    amm_i_weight: 0.25
    similarity: COSINE
    )" + extra + R"(
  }
  metrics { recall_at_k { top_k: 1 } }
  losses { softmax_cross_entropy {} }
}
)";
  return ParsePipelineConfigText(text, "small_dat.config");
}

// Built through the registry, as train_eval builds it.
struct Built {
  protos::EasyRecConfig config;
  FeatureList features;
  std::unique_ptr<Model> model;
};

Built Build(protos::EasyRecConfig config) {
  Built b{std::move(config), {}, nullptr};
  b.features = CreateFeatures(b.config);
  std::vector<const Feature*> pointers = FeaturePointers(b.features);
  b.model = BuildModel(b.config, pointers);
  return b;
}

// The tower as export builds it.
std::unique_ptr<Model> Tower(const Built& b, const std::string& tower) {
  std::vector<const Feature*> pointers = FeaturePointers(b.features);
  return BuildMatchTower(b.config, pointers, tower, {});
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

const std::string kUserBags = "model.user_tower.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
const std::string kItemBags = "model.item_tower.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";

TEST(DATTest, UpstreamStateDictNames) {
  auto b = Build(Config());
  std::vector<std::string> expected = {kUserBags + "user_id_emb.weight",
                                       "model.user_tower.mlp.mlp.0.perceptron.0.weight",
                                       "model.user_tower.mlp.mlp.0.perceptron.0.bias",
                                       "model.user_tower.output.weight",
                                       "model.user_tower.output.bias",
                                       kItemBags + "item_id_emb.weight",
                                       "model.item_tower.mlp.mlp.0.perceptron.0.weight",
                                       "model.item_tower.mlp.mlp.0.perceptron.0.bias",
                                       "model.item_tower.mlp.mlp.1.perceptron.0.weight",
                                       "model.item_tower.mlp.mlp.1.perceptron.0.bias",
                                       "model.item_tower.output.weight",
                                       "model.item_tower.output.bias"};
  EXPECT_EQ(StateNames(*b.model), expected);
  // The MLPs read [input group, augment group]: 6 + 6 and 7 + 6 wide.
  EXPECT_EQ(StateTensor(*b.model, "model.user_tower.mlp.mlp.0.perceptron.0.weight").sizes().vec(),
            (std::vector<int64_t>{16, 12}));
  EXPECT_EQ(StateTensor(*b.model, "model.item_tower.mlp.mlp.0.perceptron.0.weight").sizes().vec(),
            (std::vector<int64_t>{16, 13}));
  EXPECT_EQ(b.model->output_names(), (std::vector<std::string>{"similarity"}));
  EXPECT_EQ(b.model->SparseParameters().size(), 2u);
}

// Towers from the parameters by DAT's definition; in training the model also
// gives the augmented vectors and the detached tower embeddings.
TEST(DATTest, ForwardMatchesHandComputation) {
  auto b = Build(Config("in_batch_negative: true temperature: 0.5"));
  const Model& m = *b.model;
  TensorMap batch = Batch(5);
  auto linear = [&](const at::Tensor& x, const std::string& prefix) {
    return at::linear(x, StateTensor(m, prefix + "weight"), StateTensor(m, prefix + "bias"));
  };
  auto normalize = [](const at::Tensor& x) { return x / x.norm(2, {1}, true).clamp_min(1e-12); };
  at::Tensor user_aug = at::embedding(StateTensor(m, kUserBags + "user_id_emb.weight"), batch["user_id.values"]);
  at::Tensor item_aug = at::embedding(StateTensor(m, kItemBags + "item_id_emb.weight"), batch["item_id.values"]);
  at::Tensor u = at::relu(linear(at::cat({user_aug, user_aug}, 1), "model.user_tower.mlp.mlp.0.perceptron.0."));
  u = normalize(linear(u, "model.user_tower.output."));
  at::Tensor i = at::cat({item_aug, batch["price.values"], item_aug}, 1);
  i = at::relu(linear(i, "model.item_tower.mlp.mlp.0.perceptron.0."));
  i = at::relu(linear(i, "model.item_tower.mlp.mlp.1.perceptron.0."));
  i = normalize(linear(i, "model.item_tower.output."));

  b.model->SetTraining(false);
  auto eval = b.model->Forward(batch);
  EXPECT_EQ(eval.size(), 1u);
  EXPECT_TRUE(at::allclose(eval.at("similarity"), at::mm(u, i.t()) / 0.5, 1e-5, 1e-6));

  b.model->SetTraining(true);
  auto train = b.model->Forward(batch);
  EXPECT_TRUE(at::allclose(train.at("similarity"), at::mm(u, i.t()) / 0.5, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(train.at("user_augment"), user_aug));
  EXPECT_TRUE(at::allclose(train.at("item_augment"), item_aug));
  EXPECT_TRUE(at::allclose(train.at("user_tower_emb"), u, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(train.at("item_tower_emb"), i, 1e-5, 1e-6));
  EXPECT_FALSE(train.at("user_tower_emb").requires_grad());
  EXPECT_TRUE(train.at("user_augment").requires_grad());
}

TEST(DATTest, MimicLossesAsUpstream) {
  auto config = Config();
  const protos::DAT& dat = config.model_config().dat();
  c10::Dict<std::string, at::Tensor> p;
  // Sampled negatives: item rows are 3 positives then 2 sampled.
  p.insert("similarity", at::randn({3, 3}));
  p.insert("user_augment", at::randn({3, 4}));
  p.insert("item_augment", at::randn({5, 4}));
  p.insert("user_tower_emb", at::randn({3, 4}));
  p.insert("item_tower_emb", at::randn({5, 4}));
  auto normalize = [](const at::Tensor& x) { return x / x.norm(2, {1}, true).clamp_min(1e-12); };
  at::Tensor u_rows = (normalize(p.at("user_augment")) - p.at("item_tower_emb").slice(0, 0, 3)).square().sum(1);
  at::Tensor i_rows = (normalize(p.at("item_augment").slice(0, 0, 3)) - p.at("user_tower_emb")).square().sum(1);

  auto losses = DATMimicLosses(dat, p, at::Tensor());
  ASSERT_EQ(losses.size(), 2u);
  EXPECT_TRUE(at::allclose(losses.at("amm_loss_u"), 0.5 * u_rows.sum()));
  EXPECT_TRUE(at::allclose(losses.at("amm_loss_i"), 0.25 * i_rows.sum()));

  at::Tensor w = at::tensor({1.0f, 0.0f, 2.0f});
  losses = DATMimicLosses(dat, p, w);
  EXPECT_TRUE(at::allclose(losses.at("amm_loss_u"), (0.5 * u_rows * w).mean() / w.mean()));
  EXPECT_TRUE(at::allclose(losses.at("amm_loss_i"), (0.25 * i_rows * w).mean() / w.mean()));
  // div_no_nan: all-zero weights give 0, not NaN.
  losses = DATMimicLosses(dat, p, at::zeros({3}));
  EXPECT_EQ(losses.at("amm_loss_u").item<float>(), 0.0f);

  // Eval-mode predictions carry no augmented vectors.
  c10::Dict<std::string, at::Tensor> eval;
  eval.insert("similarity", at::randn({3, 3}));
  EXPECT_TRUE(DATMimicLosses(dat, eval, at::Tensor()).empty());
}

// The model's own training losses are the mimic losses, in training only;
// the trainer adds them to softmax_cross_entropy.
TEST(DATTest, TrainingLossesAreTheMimicLosses) {
  auto b = Build(Config("in_batch_negative: true temperature: 0.5"));
  EXPECT_EQ(b.model->type(), "dat");
  const protos::DAT& dat = b.config.model_config().dat();
  TensorMap batch = Batch(6);
  b.model->SetTraining(true);
  auto train = b.model->Forward(batch);
  const at::Tensor w = at::tensor({1.0f, 2.0f, 0.0f, 1.0f, 3.0f, 0.5f});
  for (const at::Tensor& weight : {at::Tensor(), w}) {
    auto losses = b.model->TrainingLosses(train, weight);
    auto expected = DATMimicLosses(dat, train, weight);
    ASSERT_EQ(losses.size(), 2u);
    for (const std::string name : {"amm_loss_u", "amm_loss_i"}) {
      EXPECT_TRUE(at::allclose(losses.at(name), expected.at(name))) << name;
      EXPECT_TRUE(losses.at(name).requires_grad()) << name;
    }
  }
  b.model->SetTraining(false);
  EXPECT_TRUE(b.model->TrainingLosses(b.model->Forward(batch), at::Tensor()).empty());
}

// Export serves each tower with its input and augment_input groups' features.
TEST(DATTest, ExportedTowersReadInputAndAugmentFeatures) {
  auto config = Config();
  config.mutable_model_config()->mutable_feature_groups(2)->add_feature_names("price");
  const FeatureList features = CreateFeatures(config);
  const auto sets = ExportFeatureSets(config.model_config(), FeaturePointers(features));
  ASSERT_EQ(sets.size(), 2u);
  auto names = [](const std::vector<const Feature*>& fs) {
    std::vector<std::string> out;
    for (const Feature* f : fs) out.push_back(f->name());
    return out;
  };
  EXPECT_EQ(sets[0].subdir, "user");
  EXPECT_EQ(names(sets[0].features), (std::vector<std::string>{"user_id", "price"}));
  EXPECT_EQ(sets[1].subdir, "item");
  EXPECT_EQ(names(sets[1].features), (std::vector<std::string>{"item_id", "price"}));
}

TEST(DATTest, TowersShareNamesAndReproduceTheSimilarity) {
  auto b = Build(Config("in_batch_negative: true temperature: 0.5"));
  TensorMap state;
  for (const auto& [name, t] : b.model->StateDict()) state[name] = t;
  auto user = Tower(b, "user");
  auto item = Tower(b, "item");
  user->LoadStateDict(state, "dat");
  item->LoadStateDict(state, "dat");
  for (const auto& [name, t] : user->StateDict()) EXPECT_EQ(name.rfind("model.user_tower.", 0), 0u) << name;
  EXPECT_EQ(user->StateDict().size() + item->StateDict().size(), state.size());
  EXPECT_EQ(item->output_names(), (std::vector<std::string>{"item_tower_emb"}));
  b.model->SetTraining(false);
  user->SetTraining(false);
  item->SetTraining(false);
  TensorMap batch = Batch(9);
  at::Tensor u = user->Forward(batch).at("user_tower_emb");
  at::Tensor i = item->Forward(batch).at("item_tower_emb");
  EXPECT_EQ(u.sizes(), (std::vector<int64_t>{9, 6}));
  EXPECT_TRUE(at::allclose(b.model->Forward(batch).at("similarity"), at::mm(u, i.t()) / 0.5, 1e-5, 1e-6));
}

// Trained as upstream trains it (softmax cross entropy plus the mimic
// losses), DAT learns which item each user clicks, under several seeds, and
// the augmented vectors move towards the other tower's embeddings.
TEST(DATTest, LearnsInBatchRetrievalWithMimicLosses) {
  double sum = 0;
  for (uint64_t seed : {3, 7, 11}) {
    at::manual_seed(seed);
    auto b = Build(Config("in_batch_negative: true temperature: 0.2"));
    Model& m = *b.model;
    testing::TestAdagrad optimizer(m, 0.2);
    auto evaluate = [&](double* mimic) {
      at::NoGradGuard no_grad;
      int64_t hits = 0;
      *mimic = 0;
      for (int i = 0; i < 8; ++i) {
        TensorMap batch = Batch(32);
        m.SetTraining(false);
        at::Tensor sim = m.Forward(batch).at("similarity");
        hits += (sim.argmax(1) == at::arange(32)).sum().item<int64_t>();
        m.SetTraining(true);  // no dropout: training mode only adds outputs
        *mimic += DATMimicLosses(b.config.model_config().dat(), m.Forward(batch), at::Tensor())
                      .at("amm_loss_u").item<double>();
      }
      return static_cast<double>(hits) / (8 * 32);
    };
    double mimic_before = 0, mimic_after = 0;
    const double before = evaluate(&mimic_before);
    for (int step = 0; step < 800; ++step) {
      m.SetTraining(true);
      auto predictions = m.Forward(Batch(32));
      at::Tensor loss = at::cross_entropy_loss(predictions.at("similarity"), at::arange(32));
      for (const auto& [name, mimic] : m.TrainingLosses(predictions, at::Tensor())) {
        loss = loss + mimic;
      }
      optimizer.Step(loss);
    }
    const double after = evaluate(&mimic_after);
    // Chance is 1/32; measured 0.92-0.95 over these seeds.
    EXPECT_GT(after, 0.6) << "seed " << seed << ", before training " << before;
    EXPECT_LT(mimic_after, 0.5 * mimic_before) << "seed " << seed;
    sum += after;
  }
  EXPECT_GT(sum / 3, 0.7);
}

TEST(DATTest, ConfigErrors) {
  auto expect_error = [](const protos::EasyRecConfig& config, const std::string& text) {
    try {
      Build(config);
      ADD_FAILURE() << "no error for " << text;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  expect_error(Config("", "8"), "dat.user_tower.augment_input: group 'user_augment' is 6 wide, but the tower embedding is 8");
  auto config = Config();
  config.mutable_model_config()->mutable_dat()->mutable_item_tower()->set_augment_input("nope");
  expect_error(config, "dat.item_tower.augment_input: no feature group named 'nope'");
  expect_error(Config("temperature: 0"), "dat.temperature");
  config = Config();
  config.mutable_model_config()->mutable_metrics(0)->mutable_auc();
  expect_error(config, "recall_at_k");
}

}  // namespace
}  // namespace tzrec::models
