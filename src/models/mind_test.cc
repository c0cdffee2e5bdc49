#include "models/mind.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "common/error.h"
#include "models/match_model.h"
#include "models/model_test_util.h"

namespace tzrec::models {
namespace {

using testing::BuildModelFrom;
using testing::StateNames;
using testing::StateTensor;

constexpr int64_t kItems = 200;
constexpr int64_t kClusters = 40;  // item % kClusters
constexpr int64_t kMaxSeqLen = 6;
constexpr int64_t kMaxK = 3;

protos::EasyRecConfig Config(const std::string& extra = "in_batch_negative: true",
                             const std::string& capsule_extra = "") {
  std::string text = R"(
data_config { batch_size: 32 label_fields: "clk" fg_mode: FG_NONE }
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" hash_bucket_size: 200 embedding_dim: 8 } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" hash_bucket_size: 200 embedding_dim: 8 } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
feature_configs { sequence_id_feature { feature_name: "hist_item" expression: "user:hist_item" sequence_length: 6
                                        sequence_delim: "|" hash_bucket_size: 200 embedding_dim: 8 } }
model_config {
  feature_groups { group_name: "user" feature_names: "user_id" group_type: DEEP }
  feature_groups { group_name: "item" feature_names: "item_id" feature_names: "price" group_type: DEEP }
  feature_groups { group_name: "hist" feature_names: "hist_item" group_type: SEQUENCE }
  mind {
    user_tower {
      input: "user"
      history_input: "hist"
      user_mlp { hidden_units: [16, 8] }
      hist_seq_mlp { hidden_units: [16, 12] }
      capsule_config { max_k: 3 max_seq_len: 6 high_dim: 10 num_iters: 3 squash_pow: 0.2 )" +
                     capsule_extra + R"( }
      concat_mlp { hidden_units: [16] bias: false }
    }
    item_tower { input: "item" mlp { hidden_units: [16] } }
    output_dim: 6
    simi_pow: 20
    )" + extra + R"(
  }
  metrics { recall_at_k { top_k: 1 } }
  losses { softmax_cross_entropy {} }
}
)";
  return ParsePipelineConfigText(text, "small_mind.config");
}

// Each row's history holds 1-6 items of one cluster (item % kClusters) and
// its positive item is another item of that cluster; user ids are noise.
TensorMap Batch(int64_t size) {
  TensorMap b;
  at::Tensor cluster = at::randperm(kClusters, at::kLong).slice(0, 0, std::min(size, kClusters));
  if (size > kClusters) cluster = at::cat({cluster, at::randint(kClusters, {size - kClusters}, at::kLong)});
  const int64_t per_cluster = kItems / kClusters;
  at::Tensor lengths = at::randint(1, kMaxSeqLen + 1, {size}, at::kLong);
  at::Tensor row = at::repeat_interleave(at::arange(size), lengths);
  at::Tensor hist = cluster.index_select(0, row) + kClusters * at::randint(per_cluster, {row.size(0)}, at::kLong);
  b["user_id.values"] = at::randint(200, {size}, at::kLong);
  b["user_id.lengths"] = at::ones({size}, at::kLong);
  b["hist_item.values"] = hist;
  b["hist_item.lengths"] = lengths;
  b["item_id.values"] = cluster + kClusters * at::randint(per_cluster, {size}, at::kLong);
  b["item_id.lengths"] = at::ones({size}, at::kLong);
  b["price.values"] = at::rand({size, 1});
  return b;
}

const std::string kUserBags = "model.user_tower.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
const std::string kUserSeq = "model.user_tower.embedding_group.seq_emb_impls.__BASE__.ec_dict.8.embeddings.";
const std::string kItemBags = "model.item_tower.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";

TEST(MINDTest, UpstreamStateDictNames) {
  auto b = BuildModelFrom(Config());
  std::vector<std::string> expected = {kUserBags + "user_id_emb.weight",
                                       kUserSeq + "hist_item_emb.weight",
                                       "model.user_tower.user_mlp.mlp.0.perceptron.0.weight",
                                       "model.user_tower.user_mlp.mlp.0.perceptron.0.bias",
                                       "model.user_tower.user_mlp_out.weight",
                                       "model.user_tower.user_mlp_out.bias",
                                       "model.user_tower._hist_seq_mlp.mlp.0.perceptron.0.weight",
                                       "model.user_tower._hist_seq_mlp_out.weight",
                                       "model.user_tower._capsule_layer.bilinear_matrix",
                                       "model.user_tower._concat_mlp.mlp.0.perceptron.0.weight",
                                       "model.user_tower.output.weight",
                                       kItemBags + "item_id_emb.weight",
                                       "model.item_tower.mlp.mlp.0.perceptron.0.weight",
                                       "model.item_tower.mlp.mlp.0.perceptron.0.bias",
                                       "model.item_tower.output.weight",
                                       "model.item_tower.output.bias"};
  EXPECT_EQ(StateNames(*b.model), expected);
  auto shape = [&](const std::string& name) { return StateTensor(*b.model, name).sizes().vec(); };
  EXPECT_EQ(shape("model.user_tower.user_mlp.mlp.0.perceptron.0.weight"), (std::vector<int64_t>{16, 8}));
  EXPECT_EQ(shape("model.user_tower.user_mlp_out.weight"), (std::vector<int64_t>{8, 16}));
  EXPECT_EQ(shape("model.user_tower._hist_seq_mlp.mlp.0.perceptron.0.weight"), (std::vector<int64_t>{16, 8}));
  EXPECT_EQ(shape("model.user_tower._hist_seq_mlp_out.weight"), (std::vector<int64_t>{12, 16}));
  EXPECT_EQ(shape("model.user_tower._capsule_layer.bilinear_matrix"), (std::vector<int64_t>{12, 10}));
  EXPECT_EQ(shape("model.user_tower._concat_mlp.mlp.0.perceptron.0.weight"), (std::vector<int64_t>{16, 18}));
  EXPECT_EQ(shape("model.user_tower.output.weight"), (std::vector<int64_t>{6, 16}));
  EXPECT_EQ(b.model->SparseParameters().size(), 3u);
  EXPECT_EQ(b.model->output_names(), (std::vector<std::string>{"similarity"}));
}

// hist_seq_mlp with one layer is a bias-free Linear named _hist_seq_mlp; no
// hist_seq_mlp feeds the sequence to the capsules as is.
TEST(MINDTest, HistorySequenceMlpVariants) {
  auto config = Config();
  auto* hist = config.mutable_model_config()->mutable_mind()->mutable_user_tower()->mutable_hist_seq_mlp();
  hist->clear_hidden_units();
  hist->add_hidden_units(5);
  auto b = BuildModelFrom(config);
  EXPECT_EQ(StateTensor(*b.model, "model.user_tower._hist_seq_mlp.weight").sizes().vec(),
            (std::vector<int64_t>{5, 8}));
  EXPECT_EQ(StateTensor(*b.model, "model.user_tower._capsule_layer.bilinear_matrix").sizes().vec(),
            (std::vector<int64_t>{5, 10}));
  config.mutable_model_config()->mutable_mind()->mutable_user_tower()->clear_hist_seq_mlp();
  auto c = BuildModelFrom(config);
  for (const std::string& name : StateNames(*c.model)) EXPECT_EQ(name.find("_hist_seq_mlp"), std::string::npos);
  EXPECT_EQ(StateTensor(*c.model, "model.user_tower._capsule_layer.bilinear_matrix").sizes().vec(),
            (std::vector<int64_t>{8, 10}));
}

// Upstream's capsule routing from the state dict, given the initial logits.
at::Tensor Capsules(const Model& m, at::Tensor x, const at::Tensor& len, const at::Tensor& logits0,
                    at::Tensor* mask_out) {
  const int64_t b = x.size(0);
  if (x.size(1) < kMaxSeqLen) x = at::cat({x, at::zeros({b, kMaxSeqLen - x.size(1), x.size(2)})}, 1);
  at::Tensor seq_mask = at::arange(kMaxSeqLen).unsqueeze(0) < len.unsqueeze(1);
  x = x * seq_mask.unsqueeze(-1).to(at::kFloat);
  at::Tensor n = at::clamp(at::log2(len.to(at::kFloat)), 1, kMaxK);
  at::Tensor mask = at::arange(kMaxK).unsqueeze(0).to(at::kFloat) < n.unsqueeze(1);
  at::Tensor thresh = (mask.unsqueeze(1).to(at::kFloat) * 2 - 1) * INFINITY;
  at::Tensor low = at::matmul(x, StateTensor(m, "model.user_tower._capsule_layer.bilinear_matrix"));
  at::Tensor low_norm = low / low.norm(2, {-1}, true).clamp_min(1e-12);
  at::Tensor logits = logits0, high;
  for (int it = 0; it < 3; ++it) {
    logits = at::softmax(at::minimum(logits, thresh) * 20, 2) * seq_mask.unsqueeze(2).to(at::kFloat);
    high = at::bmm(logits.transpose(1, 2), low);
    if (it < 2) logits = logits + at::bmm(low_norm, high.transpose(1, 2));
  }
  at::Tensor norm = high.norm(2, {-1}, true).clamp_min(1e-7);
  high = at::pow(norm * norm / (1 + norm * norm), 0.2) / norm * high;
  *mask_out = mask;
  return high * mask.unsqueeze(-1).to(at::kFloat);
}

// The full model's similarity recomputed from the parameters by MIND's
// definition (user tower, item tower, label-aware attention), with the
// routing logits drawn from the same seed.
TEST(MINDTest, SimilarityMatchesHandComputation) {
  auto b = BuildModelFrom(Config("in_batch_negative: true temperature: 0.5"));
  const Model& m = *b.model;
  b.model->SetTraining(false);
  TensorMap batch = Batch(5);
  auto linear = [&](const at::Tensor& x, const std::string& prefix, bool bias = true) {
    return at::linear(x, StateTensor(m, prefix + "weight"),
                      bias ? StateTensor(m, prefix + "bias") : at::Tensor());
  };
  auto normalize = [](const at::Tensor& x) { return x / x.norm(2, {-1}, true).clamp_min(1e-12); };
  at::Tensor user = at::embedding(StateTensor(m, kUserBags + "user_id_emb.weight"), batch["user_id.values"]);
  user = linear(at::relu(linear(user, "model.user_tower.user_mlp.mlp.0.perceptron.0.")),
                "model.user_tower.user_mlp_out.");
  // The history padded to the batch's longest sequence.
  at::Tensor lengths = batch["hist_item.lengths"];
  const int64_t longest = lengths.max().item<int64_t>();
  at::Tensor hist = at::zeros({5, longest, 8});
  at::Tensor rows = at::embedding(StateTensor(m, kUserSeq + "hist_item_emb.weight"), batch["hist_item.values"]);
  for (int64_t r = 0, offset = 0; r < 5; ++r) {
    const int64_t n = lengths[r].item<int64_t>();
    hist[r].slice(0, 0, n).copy_(rows.slice(0, offset, offset + n));
    offset += n;
  }
  hist = linear(at::relu(linear(hist, "model.user_tower._hist_seq_mlp.mlp.0.perceptron.0.", false)),
                "model.user_tower._hist_seq_mlp_out.", false);
  at::manual_seed(17);
  at::Tensor logits0 = at::randn({5, kMaxSeqLen, kMaxK});
  at::Tensor mask;
  at::Tensor caps = Capsules(m, hist, lengths, logits0, &mask);
  at::Tensor weight = mask.unsqueeze(-1).to(at::kFloat);
  at::Tensor x = at::cat({user.unsqueeze(1).expand({5, kMaxK, 8}), caps}, -1) * weight;
  x = at::relu(linear(x, "model.user_tower._concat_mlp.mlp.0.perceptron.0.", false)) * weight;
  at::Tensor interests = normalize(linear(x, "model.user_tower.output.", false));

  at::Tensor item = at::cat({at::embedding(StateTensor(m, kItemBags + "item_id_emb.weight"), batch["item_id.values"]),
                             batch["price.values"]}, 1);
  item = normalize(linear(at::relu(linear(item, "model.item_tower.mlp.mlp.0.perceptron.0.")),
                          "model.item_tower.output."));
  at::Tensor att = at::bmm(interests, item.unsqueeze(-1)).squeeze(-1);  // [B, K]
  att = at::masked_fill(att, mask.logical_not(), -INFINITY);
  at::Tensor user_emb = (at::softmax(att * 20, 1).unsqueeze(-1) * interests).sum(1);
  at::Tensor expected = at::mm(user_emb, item.t()) / 0.5;

  at::manual_seed(17);
  at::Tensor sim = b.model->Forward(batch).at("similarity");
  EXPECT_TRUE(at::allclose(sim, expected, 1e-5, 1e-5)) << sim << expected;
}

TEST(MINDTest, TowersShareNamesAndGiveInterests) {
  auto b = BuildModelFrom(Config("in_batch_negative: true temperature: 0.5"));
  TensorMap state;
  for (const auto& [name, t] : b.model->StateDict()) state[name] = t;
  auto user = BuildMatchTower(b.config, FeaturePointers(b.features), "user");
  auto item = BuildMatchTower(b.config, FeaturePointers(b.features), "item");
  user->LoadStateDict(state, "mind");
  item->LoadStateDict(state, "mind");
  for (const auto& [name, t] : user->StateDict()) EXPECT_EQ(name.rfind("model.user_tower.", 0), 0u) << name;
  EXPECT_EQ(user->StateDict().size() + item->StateDict().size(), state.size());
  EXPECT_EQ(user->output_names(), (std::vector<std::string>{"user_tower_emb"}));
  EXPECT_EQ(item->SparseParameters().size(), 1u);

  b.model->SetTraining(false);
  user->SetTraining(false);
  item->SetTraining(false);
  TensorMap batch = Batch(7);
  at::manual_seed(4);
  at::Tensor sim = b.model->Forward(batch).at("similarity");
  at::manual_seed(4);
  at::Tensor interests = user->Forward(batch).at("user_tower_emb");
  at::Tensor i = item->Forward(batch).at("item_tower_emb");
  EXPECT_EQ(interests.sizes(), (std::vector<int64_t>{7, kMaxK, 6}));
  // COSINE: valid interests have unit norm, masked ones are zero.
  at::Tensor norms = interests.norm(2, {-1});
  EXPECT_TRUE(at::all(at::logical_or((norms - 1).abs() < 1e-5, norms == 0)).item<bool>());
  EXPECT_TRUE(at::all(norms.select(1, 0) > 0.99).item<bool>());
  // The full model's similarity from the exported towers: label-aware attention.
  at::Tensor att = at::bmm(interests, i.unsqueeze(-1)).squeeze(-1);
  att = at::masked_fill(att, norms == 0, -INFINITY);
  at::Tensor u = (at::softmax(att * 20, 1).unsqueeze(-1) * interests).sum(1);
  EXPECT_TRUE(at::allclose(sim, at::mm(u, i.t()) / 0.5, 1e-5, 1e-5));
  // The routing noise is drawn per call: another seed gives other interests.
  at::manual_seed(5);
  EXPECT_FALSE(at::allclose(user->Forward(batch).at("user_tower_emb"), interests));
}

// In-batch softmax training learns that a row's item shares the cluster of
// its history, under several seeds.
TEST(MINDTest, LearnsInterestsFromTheHistory) {
  double sum = 0;
  for (uint64_t seed : {3, 7, 11}) {
    at::manual_seed(seed);
    auto b = BuildModelFrom(Config("in_batch_negative: true temperature: 0.1"));
    Model& m = *b.model;
    testing::TestAdagrad optimizer(m, 0.1);
    auto recall_at_1 = [&] {
      at::NoGradGuard no_grad;
      m.SetTraining(false);
      int64_t hits = 0;
      for (int i = 0; i < 8; ++i) {
        at::Tensor sim = m.Forward(Batch(32)).at("similarity");
        hits += (sim.argmax(1) == at::arange(32)).sum().item<int64_t>();
      }
      return static_cast<double>(hits) / (8 * 32);
    };
    const double before = recall_at_1();
    for (int step = 0; step < 300; ++step) {
      m.SetTraining(true);
      at::Tensor sim = m.Forward(Batch(32)).at("similarity");
      optimizer.Step(at::cross_entropy_loss(sim, at::arange(32)));
    }
    const double after = recall_at_1();
    // Chance is 1/32; clusters are distinct within a batch. Measured
    // 0.61-0.71 over these seeds with OpenBLAS's Haswell and SkylakeX
    // kernels, down to 0.34 for one seed with Sandybridge's: each seed must
    // be far above chance, the seeds together well above.
    EXPECT_GT(after, 0.25) << "seed " << seed << ", before training " << before;
    EXPECT_GT(after, before + 0.2) << "seed " << seed;
    sum += after;
  }
  EXPECT_GT(sum / 3, 0.4);
}

TEST(MINDTest, UpstreamTaobaoConfig) {
  auto b = BuildModelFrom(testing::UpstreamConfigWithSmallTables("mind_taobao"));
  auto shape = [&](const std::string& name) { return StateTensor(*b.model, name).sizes().vec(); };
  // user: user_id and pid x 16, 8 features x 8; history: 16 + 8 + 8.
  EXPECT_EQ(shape("model.user_tower.user_mlp.mlp.0.perceptron.0.weight"), (std::vector<int64_t>{256, 96}));
  EXPECT_EQ(shape("model.user_tower._hist_seq_mlp.mlp.0.perceptron.0.weight"), (std::vector<int64_t>{256, 32}));
  EXPECT_EQ(shape("model.user_tower._capsule_layer.bilinear_matrix"), (std::vector<int64_t>{128, 64}));
  EXPECT_EQ(shape("model.user_tower._concat_mlp.mlp.1.perceptron.0.weight"), (std::vector<int64_t>{128, 256}));
  EXPECT_EQ(shape("model.user_tower.output.weight"), (std::vector<int64_t>{32, 128}));
  EXPECT_EQ(shape("model.item_tower.output.weight"), (std::vector<int64_t>{32, 128}));
  EXPECT_EQ(shape("model.user_tower.embedding_group.seq_emb_impls.__BASE__.ec_dict.16.embeddings."
                  "click_50_seq__adgroup_id_emb.weight"),
            (std::vector<int64_t>{1000, 16}));
}

TEST(MINDTest, ConfigErrors) {
  auto expect_error = [](const protos::EasyRecConfig& config, const std::string& text) {
    try {
      FeatureList features = CreateFeatures(config);
      BuildModel(config, FeaturePointers(features));
      ADD_FAILURE() << "no error for " << text;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  auto config = Config();
  config.mutable_model_config()->mutable_mind()->mutable_user_tower()->set_history_input("item");
  expect_error(config, "mind.user_tower.history_input: 'item' must be a SEQUENCE group");
  config = Config();
  config.mutable_model_config()->mutable_mind()->mutable_user_tower()->mutable_user_mlp()->clear_hidden_units();
  expect_error(config, "mind.user_tower.user_mlp.hidden_units: needs at least 2 layers");
  config = Config();
  config.mutable_model_config()->mutable_mind()->mutable_item_tower()->set_input("nope");
  expect_error(config, "mind.item_tower.input: no feature group named 'nope'");
  expect_error(Config("", "routing_init_method: \"uniform\""), "capsule_config.routing_init_method");
  expect_error(Config("temperature: 0"), "mind.temperature");
}

}  // namespace
}  // namespace tzrec::models
