// Training and evaluation of match (two-tower) models, as upstream's
// MatchModel.loss / update_metric: the loss is softmax cross entropy over
// the `similarity` output, whose correct column is row i for in-batch
// negatives ([B, B], labels arange(B)) or column 0 with a negative sampler
// ([B, 1 + N]); recall_at_k counts rows whose correct column is among the top
// k scores (metric name "recall@<k>", as upstream).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "config/protos/pipeline.pb.h"
#include "models/model.h"

namespace tzrec::train {

struct MatchObjective {
  bool in_batch_negative = false;
};

// Set when config's model is a match model. ConfigError when it trains
// against sampled negatives (in_batch_negative false): tzrec's data pipeline
// has no negative sampler yet, and without one the loss would be constant.
std::optional<MatchObjective> MatchObjectiveOf(const protos::EasyRecConfig& config);

// The correct column of each row of `similarity`.
at::Tensor MatchLabels(const at::Tensor& similarity, const MatchObjective& objective);

// Scalar loss; with `sample_weight`, per-row losses are averaged with
// weights normalised to mean 1 (upstream's div_no_nan(mean(l * w), mean(w))).
at::Tensor ComputeMatchLoss(const protos::LossConfig& loss, const models::Task& task,
                            const MatchObjective& objective,
                            const c10::Dict<std::string, at::Tensor>& predictions,
                            const at::Tensor& sample_weight);

// Number of rows whose correct column is among the top `k` scores.
int64_t RecallHits(const at::Tensor& similarity, const at::Tensor& labels, int64_t k);

// Eval metrics of a match model: recall@<k> per recall_at_k metric and the
// mean loss per loss (row-weighted, as MetricSet does for rank models).
class MatchMetricSet {
 public:
  MatchMetricSet(const std::vector<models::Task>& tasks, const MatchObjective& objective);
  void Update(const c10::Dict<std::string, at::Tensor>& predictions,
              const std::map<std::string, at::Tensor>& losses);
  std::map<std::string, double> Compute() const;

 private:
  struct Recall {
    std::string name, prediction;
    int64_t k = 5;
    int64_t hits = 0, total = 0;
  };
  struct Loss {
    std::string name, prediction;
    double sum = 0, rows = 0;
  };
  MatchObjective objective_;
  std::vector<Recall> recalls_;
  std::vector<Loss> losses_;
};

}  // namespace tzrec::train
