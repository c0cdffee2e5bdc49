// The "learns" check for multi-task models (header only, for *_test.cc): the
// multi-task twin of model_test_util.h's ExpectLearnsSyntheticRule, on the
// two-label batches of testing::MakeMultiTaskBatch (clk: cat_a < 5; buy: clk
// and price > 0.5).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "models/model_test_util.h"
#include "models/test_multi_task.h"

namespace tzrec::models::testing {

// A batch of `rows` for training (`noise` > 0) or evaluation (noise 0); the
// default is MakeMultiTaskBatch. Models reading more labels add them here.
using MultiTaskBatchMaker = std::function<TensorMap(int64_t rows, double noise)>;

// Trains `model` with the sum of every tower's BCE on logits_<tower> against
// its label (towers: tower name -> label), then returns each tower's eval AUC
// of probs_<tower>.
inline std::map<std::string, double> TrainMultiTaskAucs(
    Model& model, const std::map<std::string, std::string>& towers, int steps,
    const MultiTaskBatchMaker& make_batch, double lr = 0.05) {
  TestAdagrad optimizer(model, lr);
  for (int step = 0; step < steps; ++step) {
    model.SetTraining(true);
    TensorMap batch = make_batch(128, 0.05);
    auto out = model.Forward(batch);
    at::Tensor loss;
    for (const auto& [tower, label] : towers) {
      at::Tensor l = at::binary_cross_entropy_with_logits(out.at("logits_" + tower), batch.at(label));
      loss = loss.defined() ? loss + l : l;
    }
    optimizer.Step(loss);
  }
  model.SetTraining(false);
  at::NoGradGuard no_grad;
  TensorMap eval = make_batch(1024, 0.0);
  auto out = model.Forward(eval);
  std::map<std::string, double> aucs;
  for (const auto& [tower, label] : towers) aucs[tower] = Auc(out.at("probs_" + tower), eval.at(label));
  return aucs;
}

// For each of kLearningSeeds: seeds torch, builds a model with `build` (a
// BuiltModel), trains it and expects every tower's AUC above `min_auc`.
template <typename Build>
void ExpectMultiTaskLearns(Build build, double min_auc = 0.8, int steps = 150,
                           const std::map<std::string, std::string>& towers = {{"ctr", "clk"},
                                                                               {"cvr", "buy"}},
                           MultiTaskBatchMaker make_batch = nullptr) {
  if (!make_batch) make_batch = [](int64_t rows, double noise) { return MakeMultiTaskBatch(rows, noise); };
  for (int seed : kLearningSeeds) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    at::manual_seed(seed);
    auto built = build();
    for (const auto& [tower, auc] : TrainMultiTaskAucs(*built.model, towers, steps, make_batch)) {
      EXPECT_GT(auc, min_auc) << tower;
    }
  }
}

}  // namespace tzrec::models::testing
