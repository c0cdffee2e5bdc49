#include "models/multi_tower_din.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include <unistd.h>

#include <gtest/gtest.h>

#include "common/error.h"
#include "models/model_test_util.h"
#include "models/modules/din_encoder.h"
#include "models/modules/jit_module.h"

namespace tzrec::models {
namespace {

using testing::BuildModelFrom;
using testing::StateNames;
using testing::StateTensor;

// item (query) and a grouped sequence "click" of item ids, dim 4; the label
// of the synthetic data is 1 when the query item occurs in the sequence.
protos::EasyRecConfig Config(const std::string& din_extra = "") {
  std::string text = R"(
data_config { batch_size: 128 label_fields: "label" fg_mode: FG_NONE }
feature_configs { id_feature { feature_name: "item" expression: "item:item" num_buckets: 10 embedding_dim: 4 } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
feature_configs { sequence_feature { sequence_name: "click" sequence_length: 5 sequence_delim: "|"
  features { id_feature { feature_name: "item" expression: "item:item" num_buckets: 10 embedding_dim: 4 value_dim: 1 } }
} }
model_config {
  feature_groups { group_name: "deep" feature_names: "item" feature_names: "price" group_type: DEEP }
  feature_groups { group_name: "seq" feature_names: "item" feature_names: "click__item" group_type: SEQUENCE }
  multi_tower_din {
    towers { input: "deep" mlp { hidden_units: [8] } }
    din_towers { input: "seq" attn_mlp { hidden_units: [16, 8] )" + din_extra + R"( } }
    final { hidden_units: [8] }
  }
  metrics { auc {} }
  losses { binary_cross_entropy {} }
}
)";
  return ParsePipelineConfigText(text, "multi_tower_din_test.config");
}

at::Tensor Long(std::vector<int64_t> v) { return at::tensor(v, at::kLong); }

struct DinBatch {
  TensorMap inputs;
  at::Tensor labels;
};

DinBatch MakeBatch(int64_t rows, std::mt19937& rng) {
  std::vector<int64_t> query, seq, lengths;
  std::vector<float> price, labels;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t q = rng() % 10;
    const int64_t n = 1 + rng() % 5;
    bool hit = false;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t id = rng() % 10;
      hit = hit || id == q;
      seq.push_back(id);
    }
    query.push_back(q);
    lengths.push_back(n);
    price.push_back(static_cast<float>(rng() % 100) / 100.0f);
    labels.push_back(hit ? 1.0f : 0.0f);
  }
  DinBatch b;
  b.inputs["item.values"] = Long(query);
  b.inputs["item.lengths"] = at::ones({rows}, at::kLong);
  b.inputs["price.values"] = at::tensor(price).view({rows, 1});
  b.inputs["click__item.values"] = Long(seq);
  b.inputs["click__item.lengths"] = Long(lengths);
  b.labels = at::tensor(labels);
  return b;
}

TEST(MultiTowerDINTest, UpstreamStateDictNames) {
  auto b = BuildModelFrom(Config());
  std::vector<std::string> expected = {
      "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.item_emb.weight",
      "model.embedding_group.seq_emb_impls.__BASE__.ec_dict.4.embeddings.item_emb.weight",
      "model.embedding_group.seq_emb_impls.__BASE__.ec_dict.4.embeddings.click__item_emb.weight",
      "model.towers.deep.mlp.0.perceptron.0.weight",
      "model.towers.deep.mlp.0.perceptron.0.bias",
      "model.din_towers.0.mlp.mlp.0.perceptron.0.weight",
      "model.din_towers.0.mlp.mlp.0.perceptron.0.bias",
      "model.din_towers.0.mlp.mlp.1.perceptron.0.weight",
      "model.din_towers.0.mlp.mlp.1.perceptron.0.bias",
      "model.din_towers.0.linear.weight",
      "model.din_towers.0.linear.bias",
      "model.final_mlp.mlp.0.perceptron.0.weight",
      "model.final_mlp.mlp.0.perceptron.0.bias",
      "model.output_mlp.weight",
      "model.output_mlp.bias"};
  EXPECT_EQ(StateNames(*b.model), expected);
  // Attention MLP over [q, s, q - s, q * s] of the 4-wide sequence.
  EXPECT_EQ(StateTensor(*b.model, "model.din_towers.0.mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{16, 16}));
  // Final MLP over the deep tower (8) and the DIN output (4).
  EXPECT_EQ(StateTensor(*b.model, "model.final_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{8, 12}));
  EXPECT_EQ(b.model->output_names(), (std::vector<std::string>{"logits", "probs"}));
  // All three tables train with the sparse optimizer.
  EXPECT_EQ(b.model->SparseParameters().size(), 3u);
}

// DIN attention with hand-set weights against a row-by-row computation that
// only ever looks at each row's valid elements.
TEST(DinEncoderTest, MatchesIndependentComputationAndIgnoresPadding) {
  DinEncoderOptions options;
  options.group = "g";
  options.sequence_dim = 2;
  options.query_dim = 1;  // padded with a zero to the sequence width
  options.attn_mlp.hidden_units = {3};
  torch::jit::Module din = BuildDinEncoder(options, "din");
  din.eval();
  at::Tensor w1 = at::tensor({0.5f, -0.2f, 0.1f, 0.3f, -0.4f, 0.2f, 0.6f, -0.1f,
                              -0.3f, 0.4f, 0.2f, -0.5f, 0.1f, 0.3f, -0.2f, 0.4f,
                              0.2f, 0.1f, -0.6f, 0.2f, 0.3f, -0.1f, 0.5f, 0.2f})
                      .view({3, 8});
  at::Tensor b1 = at::tensor({0.1f, -0.2f, 0.05f});
  at::Tensor w2 = at::tensor({0.7f, -0.5f, 0.9f}).view({1, 3});
  at::Tensor b2 = at::tensor({0.2f});
  {
    at::NoGradGuard no_grad;
    for (const auto& p : din.named_parameters()) {
      if (p.name == "mlp.mlp.0.perceptron.0.weight") p.value.copy_(w1);
      if (p.name == "mlp.mlp.0.perceptron.0.bias") p.value.copy_(b1);
      if (p.name == "linear.weight") p.value.copy_(w2);
      if (p.name == "linear.bias") p.value.copy_(b2);
    }
  }
  at::Tensor query = at::tensor({0.3f, -1.0f, 0.8f}).view({3, 1});
  at::Tensor sequence = at::tensor({1.0f, 0.5f, -0.5f, 2.0f, 0.0f, 0.0f,    // row 0: 2 valid
                                    0.2f, 0.1f, 0.0f, 0.0f, 0.0f, 0.0f,     // row 1: 1 valid
                                    0.3f, -0.7f, 1.5f, 0.4f, -1.0f, 0.9f})  // row 2: 3 valid
                            .view({3, 3, 2});
  at::Tensor lengths = Long({2, 1, 3});
  auto run = [&](const at::Tensor& seq) {
    c10::Dict<std::string, at::Tensor> grouped;
    grouped.insert("g.query", query);
    grouped.insert("g.sequence", seq);
    grouped.insert("g.sequence_length", lengths);
    return din.forward({grouped}).toTensor();
  };
  at::Tensor out = run(sequence);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{3, 2}));
  for (int64_t r = 0; r < 3; ++r) {
    const int64_t n = lengths[r].item<int64_t>();
    at::Tensor q = at::cat({query[r], at::zeros({1})});
    std::vector<double> scores;
    for (int64_t i = 0; i < n; ++i) {
      at::Tensor s = sequence[r][i];
      at::Tensor h = at::relu(at::matmul(w1, at::cat({q, s, q - s, q * s})) + b1);
      scores.push_back((at::matmul(w2, h) + b2).item<double>());
    }
    double max_score = *std::max_element(scores.begin(), scores.end());
    double total = 0;
    for (double& s : scores) total += (s = std::exp(s - max_score));
    at::Tensor expected = at::zeros({2}, at::kDouble);
    for (int64_t i = 0; i < n; ++i) {
      expected += scores[i] / total * sequence[r][i].to(at::kDouble);
    }
    EXPECT_TRUE(at::allclose(out[r].to(at::kDouble), expected, 1e-5, 1e-6))
        << "row " << r << ": " << out[r] << " vs " << expected;
  }
  // Garbage after each row's length changes nothing.
  at::Tensor noisy = sequence.clone();
  noisy[0][2] = at::tensor({50.0f, -80.0f});
  noisy[1][1] = at::tensor({9.0f, 9.0f});
  noisy[1][2] = at::tensor({-7.0f, 3.0f});
  EXPECT_TRUE(at::allclose(run(noisy), out, 0, 1e-6));
}

TEST(DinEncoderTest, ConfigErrors) {
  DinEncoderOptions options;
  options.group = "g";
  options.sequence_dim = 4;
  options.query_dim = 8;
  options.attn_mlp.hidden_units = {4};
  try {
    BuildDinEncoder(options, "din_towers[0]");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("wider than its sequence"), std::string::npos) << e.what();
  }
  options.query_dim = 0;
  EXPECT_THROW(BuildDinEncoder(options, "din_towers[0]"), ConfigError);
}

TEST(MultiTowerDINTest, DiceAndBatchNormInTheAttentionMlp) {
  auto b = BuildModelFrom(Config("activation: \"Dice\" use_bn: true"));
  auto names = StateNames(*b.model);
  // Perceptron(dim=3): Linear, Transpose, BatchNorm1d, Transpose, Dice.
  for (const char* name : {"model.din_towers.0.mlp.mlp.0.perceptron.2.running_mean",
                           "model.din_towers.0.mlp.mlp.0.perceptron.4.alpha",
                           "model.din_towers.0.mlp.mlp.0.perceptron.4.bn.running_var"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  std::mt19937 rng(1);
  DinBatch batch = MakeBatch(16, rng);
  b.model->SetTraining(true);
  EXPECT_EQ(b.model->Forward(batch.inputs).at("probs").sizes(), (std::vector<int64_t>{16}));
}

// Eval AUC after training on the synthetic "query item is in the sequence"
// task for 600 batches of 128, initialisation and data drawn from `seed`.
// The towers are wider than Config()'s: with a final MLP of 8 units the task
// sits at the edge of the model's capacity, and runs plateaued at AUC
// 0.6-0.9 depending on the seed and on OpenBLAS's kernel path (the same
// seed gave 0.88 with SkylakeX kernels, 0.93 with Sandybridge, 0.96 with
// Haswell). With final [32, 16] every seed 1..8 reached 0.87-1.0 on each
// kernel path.
double TrainedAuc(uint64_t seed) {
  at::manual_seed(seed);
  std::mt19937 rng(static_cast<uint32_t>(seed) + 100);
  protos::EasyRecConfig config = Config();
  auto* din = config.mutable_model_config()->mutable_multi_tower_din();
  din->mutable_final()->clear_hidden_units();
  din->mutable_final()->add_hidden_units(32);
  din->mutable_final()->add_hidden_units(16);
  din->mutable_towers(0)->mutable_mlp()->set_hidden_units(0, 16);
  auto b = BuildModelFrom(config);
  Model& model = *b.model;
  testing::TestAdagrad optimizer(model, 0.1);
  for (int step = 0; step < 600; ++step) {
    model.SetTraining(true);
    DinBatch batch = MakeBatch(128, rng);
    at::Tensor logits = model.Forward(batch.inputs).at("logits");
    optimizer.Step(at::binary_cross_entropy_with_logits(logits, batch.labels));
  }
  model.SetTraining(false);
  at::NoGradGuard no_grad;
  DinBatch eval = MakeBatch(2048, rng);
  return testing::Auc(model.Forward(eval.inputs).at("probs"), eval.labels);
}

TEST(MultiTowerDINTest, LearnsWhetherTheQueryIsInTheSequence) {
  // The sequence length alone (longer sequences hit more often) gives ~0.67:
  // every seed must clearly beat it, and the seeds together must solve it.
  double total = 0;
  const std::vector<uint64_t> seeds = {1, 2, 3, 4, 5};
  for (uint64_t seed : seeds) {
    const double auc = TrainedAuc(seed);
    EXPECT_GT(auc, 0.8) << "seed " << seed;
    total += auc;
  }
  EXPECT_GT(total / seeds.size(), 0.93);
}

TEST(MultiTowerDINTest, SavedModuleMatchesAndTablesCanShrink) {
  at::manual_seed(3);
  auto b = BuildModelFrom(Config());
  b.model->SetTraining(false);
  std::mt19937 rng(11);
  DinBatch batch = MakeBatch(64, rng);
  at::Tensor expected = b.model->Forward(batch.inputs).at("probs");
  TensorMap state;
  for (const auto& [name, t] : b.model->StateDict()) state[name] = t;

  const auto dir = std::filesystem::temp_directory_path() /
                   ("tzrec_din_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  struct Case {
    TableStorage pooled, sequence;
    double tolerance;
  };
  for (const Case& c : {Case{TableStorage::kFp32, TableStorage::kFp32, 1e-6},
                        Case{TableStorage::kFp16, TableStorage::kFp16, 1e-3},
                        Case{TableStorage::kFp32, TableStorage::kInt8, 2e-2}}) {
    ModelBuildOptions options;
    options.table_storage = c.pooled;
    options.sequence_table_storage = c.sequence;
    auto exported = BuildModelFrom(Config(), options);
    exported.model->LoadStateDict(state, "test state");
    exported.model->SetTraining(false);
    const std::string path = (dir / (std::string(TableStorageName(c.sequence)) + ".pt")).string();
    exported.model->SaveScripted(path);
    torch::jit::Module loaded = torch::jit::load(path);
    c10::Dict<std::string, at::Tensor> dict;
    for (const auto& [k, v] : batch.inputs) dict.insert(k, v);
    at::Tensor probs = loaded.forward({dict}).toGenericDict().at("probs").toTensor();
    EXPECT_LE((probs - expected).abs().max().item<double>(), c.tolerance)
        << TableStorageName(c.pooled) << "/" << TableStorageName(c.sequence);
  }
  std::filesystem::remove_all(dir);
}

TEST(MultiTowerDINTest, EmbeddedInputsModelMatchesTheIdsModel) {
  at::manual_seed(4);
  auto ids = BuildModelFrom(Config());
  ids.model->SetTraining(false);
  ModelBuildOptions options;
  options.embedded_inputs = true;
  auto dense = BuildModelFrom(Config(), options);
  dense.model->SetTraining(false);
  EXPECT_TRUE(dense.model->SparseParameters().empty());
  TensorMap state;
  for (const auto& [name, t] : ids.model->StateDict()) state[name] = t;
  dense.model->LoadStateDict(state, "ids model");

  std::mt19937 rng(13);
  DinBatch batch = MakeBatch(32, rng);
  const std::string group = "model.embedding_group.";
  auto table = [&](const std::string& path) { return StateTensor(*ids.model, group + path); };
  const std::string bags = "emb_impls.__BASE__.ebc.embedding_bags.";
  const std::string ec = "seq_emb_impls.__BASE__.ec_dict.4.embeddings.";
  TensorMap in;
  in["item__ebc"] = table(bags + "item_emb.weight").index_select(0, batch.inputs["item.values"]);
  in["item__ec"] = table(ec + "item_emb.weight").index_select(0, batch.inputs["item.values"]);
  in["item__lengths"] = batch.inputs["item.lengths"];
  in["click__item__ec"] =
      table(ec + "click__item_emb.weight").index_select(0, batch.inputs["click__item.values"]);
  in["click__item__lengths"] = batch.inputs["click__item.lengths"];
  in["price.values"] = batch.inputs["price.values"];
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::allclose(dense.model->Forward(in).at("probs"),
                           ids.model->Forward(batch.inputs).at("probs"), 1e-6, 1e-7));
}

TEST(MultiTowerDINTest, UpstreamTaobaoConfigBuilds) {
  auto b = BuildModelFrom(testing::UpstreamConfigWithSmallTables("multi_tower_din_taobao"));
  // deep: 16 features of dim 16; seq: query and sequence 3 x 16 each.
  EXPECT_EQ(StateTensor(*b.model, "model.towers.deep.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{512, 256}));
  EXPECT_EQ(StateTensor(*b.model, "model.din_towers.0.mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{256, 192}));
  EXPECT_EQ(StateTensor(*b.model, "model.din_towers.0.linear.weight").sizes(),
            (std::vector<int64_t>{1, 64}));
  EXPECT_EQ(StateTensor(*b.model, "model.final_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{64, 128 + 48}));
  const std::string ec = "model.embedding_group.seq_emb_impls.__BASE__.ec_dict.16.embeddings.";
  for (const char* table : {"adgroup_id_emb", "cate_id_emb", "brand_emb", "click_50_seq__adgroup_id_emb",
                            "click_50_seq__cate_id_emb", "click_50_seq__brand_emb"}) {
    EXPECT_EQ(StateTensor(*b.model, ec + table + ".weight").size(1), 16) << table;
  }
}

TEST(MultiTowerDINTest, ConfigErrors) {
  auto expect_error = [](protos::EasyRecConfig config, const std::string& needle) {
    try {
      BuildModelFrom(config);
      FAIL() << needle;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  auto config = Config();
  config.mutable_model_config()->mutable_multi_tower_din()->mutable_din_towers(0)->set_input("deep");
  expect_error(config, "is not a SEQUENCE feature group");
  config = Config();
  config.mutable_model_config()->mutable_multi_tower_din()->mutable_towers(0)->set_input("seq");
  expect_error(config, "belongs in din_towers");
}

}  // namespace
}  // namespace tzrec::models
