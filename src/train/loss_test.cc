#include "train/loss.h"

#include <cmath>

#include <gtest/gtest.h>

#include "common/error.h"

namespace tzrec::train {
namespace {

double LogSoftmaxAt(std::vector<double> logits, size_t i) {
  double total = 0;
  for (double l : logits) total += std::exp(l);
  return logits[i] - std::log(total);
}

TEST(JrcLossTest, MatchesHandComputation) {
  // Sessions 1, 1, 2; labels 1, 0, 1.
  at::Tensor logits = at::tensor({0.2f, 1.1f, 0.7f, -0.3f, -0.5f, 0.4f}).view({3, 2});
  at::Tensor labels = at::tensor({1, 0, 1}, at::kLong);
  at::Tensor sessions = at::tensor({1, 1, 2}, at::kLong);
  const double alpha = 0.3;
  at::Tensor per_row = JrcLossPerRow(logits, labels, sessions, alpha);
  // Row 0 (positive): its logit 1 against row 1's logit 1 (row 2 is another session).
  const double session0 = -LogSoftmaxAt({1.1, -0.3}, 0);
  // Row 1 (negative): its logit 0 against the positive row 0's logit 0.
  const double session1 = -LogSoftmaxAt({0.7, 0.2}, 0);
  // Row 2 (positive, alone in its session): nothing to compete with.
  const double session2 = 0.0;
  const double ce0 = -LogSoftmaxAt({0.2, 1.1}, 1);
  const double ce1 = -LogSoftmaxAt({0.7, -0.3}, 0);
  const double ce2 = -LogSoftmaxAt({-0.5, 0.4}, 1);
  std::vector<double> expected = {alpha * ce0 + (1 - alpha) * session0,
                                  alpha * ce1 + (1 - alpha) * session1,
                                  alpha * ce2 + (1 - alpha) * session2};
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(per_row[i].item<double>(), expected[i], 1e-5) << i;

  models::Task task;
  task.num_class = 2;
  protos::LossConfig loss;
  loss.mutable_jrc_loss()->set_session_name("user_id");
  loss.mutable_jrc_loss()->set_alpha(alpha);
  c10::Dict<std::string, at::Tensor> predictions;
  predictions.insert("logits", logits);
  at::Tensor mean = ComputeLoss(loss, task, predictions, labels, {}, sessions);
  EXPECT_NEAR(mean.item<double>(), (expected[0] + expected[1] + expected[2]) / 3, 1e-5);
  EXPECT_THROW(ComputeLoss(loss, task, predictions, labels, {}), Error);
}

}  // namespace
}  // namespace tzrec::train
