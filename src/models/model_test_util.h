// Test helpers for the model zoo tests (header only: included by *_test.cc
// files, never by library code): a small config with the features of
// testing::MakeSyntheticBatch, state-dict name listing, a minimal training
// loop and an exact AUC, so models tests need nothing from train/.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <numeric>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/test_support.h"
#include "config/pipeline_config.h"
#include "config/test_util.h"
#include "features/feature_factory.h"
#include "models/model.h"
#include "models/test_models.h"
#include "models/test_multi_task.h"

namespace tzrec::models::testing {

// Features cat_a (10 buckets), cat_b (20 buckets, mean pooling), both dim 4,
// and price (raw, dim 1); label "label"; `model_config_body` is the inside
// of model_config (groups, model, losses, metrics).
inline protos::EasyRecConfig SmallModelConfig(const std::string& model_config_body) {
  std::string text = R"(
data_config { batch_size: 256 label_fields: "label" fg_mode: FG_NONE }
feature_configs { id_feature { feature_name: "cat_a" expression: "user:cat_a" hash_bucket_size: 10 embedding_dim: 4 } }
feature_configs { id_feature { feature_name: "cat_b" expression: "item:cat_b" hash_bucket_size: 20 embedding_dim: 4 pooling: "mean" } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
model_config {
)" + model_config_body + "\n}\n";
  return ParsePipelineConfigText(text, "small_model.config");
}

// Building SmallMultiTaskConfig(model_block) fails with a ConfigError whose
// message holds `fragment`.
inline void ExpectMultiTaskConfigError(const std::string& model_block, const std::string& fragment) {
  try {
    BuildModelFrom(SmallMultiTaskConfig(model_block));
    ADD_FAILURE() << "no error for " << model_block;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

inline std::vector<std::string> StateNames(const Model& model) {
  std::vector<std::string> names;
  for (const auto& [name, t] : model.StateDict()) names.push_back(name);
  return names;
}

inline at::Tensor StateTensor(const Model& model, const std::string& name) {
  for (const auto& [n, t] : model.StateDict()) {
    if (n == name) return t;
  }
  ADD_FAILURE() << "no tensor " << name;
  return at::zeros({0});
}

// Exact ROC AUC (ties count one half), by the pair-count reference.
inline double Auc(const at::Tensor& scores, const at::Tensor& labels) {
  at::Tensor s = scores.detach().to(at::kDouble).contiguous().view(-1);
  at::Tensor l = labels.detach().to(at::kDouble).contiguous().view(-1);
  return tzrec::testing::PairCountAuc(std::vector<double>(s.data_ptr<double>(), s.data_ptr<double>() + s.numel()),
                                      std::vector<double>(l.data_ptr<double>(), l.data_ptr<double>() + l.numel()));
}

// Adagrad on every parameter (sparse table gradients made dense: the test
// tables are tiny).
class TestAdagrad {
 public:
  TestAdagrad(const Model& model, double lr) : lr_(lr) {
    for (const auto& [name, p] : model.SparseParameters()) params_.push_back(p);
    for (const auto& [name, p] : model.DenseParameters()) params_.push_back(p);
    for (const auto& p : params_) sums_.push_back(at::zeros_like(p));
  }
  void Step(const at::Tensor& loss) {
    for (auto& p : params_) {
      if (p.grad().defined()) p.mutable_grad() = at::Tensor();
    }
    loss.backward();
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) {
      at::Tensor g = params_[i].grad();
      if (!g.defined()) continue;
      if (g.is_sparse()) g = g.to_dense();
      sums_[i].add_(g * g);
      params_[i].sub_(lr_ * g / (sums_[i].sqrt() + 1e-10));
    }
  }

 private:
  double lr_;
  std::vector<at::Tensor> params_, sums_;
};

// Trains a binary rank model on MakeSyntheticBatch data (label: cat_a < 5)
// with BCE on `logits`, then returns the eval AUC of `probs` on fresh rows.
inline double TrainRankModelAuc(Model& model, int steps, double lr = 0.05) {
  TestAdagrad optimizer(model, lr);
  for (int step = 0; step < steps; ++step) {
    model.SetTraining(true);
    SyntheticBatch batch = MakeSyntheticBatch(128, 0.05);
    at::Tensor logits = model.Forward(batch.inputs).at("logits");
    optimizer.Step(at::binary_cross_entropy_with_logits(logits, batch.labels));
  }
  model.SetTraining(false);
  at::NoGradGuard no_grad;
  SyntheticBatch eval = MakeSyntheticBatch(1024, 0.0);
  return Auc(model.Forward(eval.inputs).at("probs"), eval.labels);
}


// The seeds every rank "learns" test trains under: a rule learnt under one
// seed only could be luck of that seed's initialisation and batches.
inline constexpr int kLearningSeeds[] = {3, 7, 11};

// For each of kLearningSeeds: seeds torch, builds a model with `build` (a
// BuildResult with .model), trains it on the synthetic rule and expects the
// eval AUC above `min_auc` (the rule is learnt to ~0.95 and above).
template <typename Build>
void ExpectLearnsSyntheticRule(Build build, double min_auc = 0.8, int steps = 150) {
  for (int seed : kLearningSeeds) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    at::manual_seed(seed);
    auto built = build();
    EXPECT_GT(TrainRankModelAuc(*built.model, steps), min_auc);
  }
}

// An upstream example config (../shared/upstream/<name>/pipeline.config) with
// every num_buckets / hash_bucket_size above `max_rows` lowered to it, so the
// model builds in a test's memory; structure and names stay upstream's.
inline protos::EasyRecConfig UpstreamConfigWithSmallTables(const std::string& name,
                                                           int64_t max_rows = 1000) {
  const std::string path = tzrec::testing::UpstreamConfigPath(name);
  std::string text = tzrec::testing::ReadTextFile(path);
  static const std::regex rows(R"((num_buckets|hash_bucket_size): *(\d+))");
  std::string out;
  std::sregex_iterator it(text.begin(), text.end(), rows), end;
  size_t last = 0;
  for (; it != end; ++it) {
    const std::smatch& m = *it;
    out += text.substr(last, m.position(0) - last);
    int64_t n = std::min<int64_t>(std::stoll(m[2].str()), max_rows);
    out += m[1].str() + ": " + std::to_string(n);
    last = m.position(0) + m.length(0);
  }
  out += text.substr(last);
  return ParsePipelineConfigText(out, path);
}

}  // namespace tzrec::models::testing
