#include "train/metrics.h"

#include <cmath>

#include <gtest/gtest.h>

#include "common/error.h"

namespace tzrec::train {
namespace {

at::Tensor Long(std::vector<int64_t> v) { return at::tensor(v, at::kLong); }
at::Tensor Float(std::vector<float> v) { return at::tensor(v, at::kFloat); }

TEST(GroupedAucTest, AveragesTheGroupsThatHoldBothClasses) {
  // Group 1: positives 0.35, 0.8 against negatives 0.1, 0.4 -> 3 of 4 pairs.
  // Group 2: the positive 0.9 beats both negatives -> 1.
  // Group 3: positives only -> left out. Group 4: a tie -> 1/2.
  at::Tensor keys = Long({1, 2, 1, 3, 1, 2, 1, 3, 2, 4, 4});
  at::Tensor scores = Float({0.1f, 0.9f, 0.4f, 0.2f, 0.35f, 0.3f, 0.8f, 0.7f, 0.6f, 0.5f, 0.5f});
  at::Tensor labels = Long({0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0});
  EXPECT_DOUBLE_EQ(GroupedAuc(scores, labels, keys), (0.75 + 1.0 + 0.5) / 3);
  // Every group has one class only.
  EXPECT_TRUE(std::isnan(GroupedAuc(Float({0.1f, 0.2f}), Long({1, 0}), Long({5, 6}))));
  EXPECT_THROW(GroupedAuc(Float({0.1f}), Long({1, 0}), Long({5, 6})), Error);
}

TEST(GroupedAucTest, GroupingKeyIsTheFirstIdOfEachRow) {
  models::TensorMap batch;
  batch["user.values"] = Long({7, 3, 4, 9});
  batch["user.lengths"] = Long({1, 0, 2, 1});
  EXPECT_TRUE(at::equal(FirstIdPerRow(batch, "user", "t"), Long({7, 0, 3, 9})));
  batch["user.values"] = Long({});
  batch["user.lengths"] = Long({0, 0});
  EXPECT_TRUE(at::equal(FirstIdPerRow(batch, "user", "t"), Long({0, 0})));
  EXPECT_THROW(FirstIdPerRow(batch, "price", "t"), Error);
}

TEST(GroupedAucTest, MetricSetCollectsKeysAcrossBatches) {
  models::Task task;
  task.label_name = "clk";
  protos::MetricConfig grouped;
  grouped.mutable_grouped_auc()->set_grouping_key("user");
  task.metrics = {grouped};
  MetricSet metrics({task});
  auto update = [&](std::vector<int64_t> users, std::vector<float> probs, std::vector<int64_t> clk) {
    c10::Dict<std::string, at::Tensor> predictions;
    predictions.insert("probs", Float(probs));
    models::TensorMap batch;
    batch["user.values"] = Long(users);
    batch["user.lengths"] = at::ones({static_cast<int64_t>(users.size())}, at::kLong);
    batch["clk"] = Long(clk);
    metrics.Update(predictions, batch, {});
  };
  // User 1's rows come in two batches: 0.2 (neg), 0.6 (pos) | 0.7 (neg) -> 1/2.
  update({1, 2, 1}, {0.2f, 0.9f, 0.6f}, {0, 1, 1});
  update({2, 1}, {0.1f, 0.7f}, {0, 0});
  auto result = metrics.Compute();
  EXPECT_DOUBLE_EQ(result.at("grouped_auc"), (0.5 + 1.0) / 2);
  metrics.Reset();
  update({1, 1}, {0.2f, 0.9f}, {0, 1});
  EXPECT_DOUBLE_EQ(metrics.Compute().at("grouped_auc"), 1.0);
}

TEST(GroupedAucTest, NeedsAGroupingKey) {
  models::Task task;
  protos::MetricConfig grouped;
  grouped.mutable_grouped_auc();
  task.metrics = {grouped};
  EXPECT_THROW(MetricSet({task}), ConfigError);
}

TEST(BinnedAucTest, CountsScoresAtOrAboveEachCutPoint) {
  // Cut points 0, 0.5, 1: every score is above 0.5, so the ROC curve only has
  // (0, 0) and (1, 1) -> 0.5, where the exact AUC is 1.
  at::Tensor scores = Float({0.6f, 0.7f, 0.9f, 0.55f});
  at::Tensor labels = Long({0, 1, 1, 0});
  EXPECT_DOUBLE_EQ(BinnedAuc(scores, labels, 3), 0.5);
  EXPECT_DOUBLE_EQ(BinaryAuc(scores, labels), 1.0);
  // Cut point 0.5 separates the classes: (0, 0), (0, 1), (1, 1) -> 1.
  EXPECT_DOUBLE_EQ(BinnedAuc(Float({0.2f, 0.6f, 0.7f, 0.4f}), Long({0, 1, 1, 0}), 3), 1.0);
  // A score equal to a cut point counts as above it: 0.5 >= 0.5.
  EXPECT_DOUBLE_EQ(BinnedAuc(Float({0.5f, 0.4f}), Long({1, 0}), 3), 1.0);
  EXPECT_TRUE(std::isnan(BinnedAuc(Float({0.5f}), Long({1}), 200)));
}

TEST(BinnedAucTest, TwoHundredCutPointsApproachTheExactAuc) {
  at::manual_seed(1);
  at::Tensor labels = at::randint(0, 2, {4000}, at::kLong);
  at::Tensor scores = at::sigmoid(labels.to(at::kFloat) + at::randn({4000}));
  EXPECT_NEAR(BinnedAuc(scores, labels, 200), BinaryAuc(scores, labels), 2e-3);
}

}  // namespace
}  // namespace tzrec::train
