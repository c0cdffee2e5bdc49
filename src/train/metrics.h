// Evaluation metrics, named as upstream's eval results are: the metric oneof
// name plus the task suffix ("auc", "auc_ctr"), and one mean-loss metric per
// loss ("binary_cross_entropy"), averaged over rows.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "models/model.h"

namespace tzrec::train {

// Exact ROC AUC of scores against 0/1 labels (ties count one half). NaN when
// the labels hold only one class.
double BinaryAuc(const at::Tensor& scores, const at::Tensor& labels);

class MetricSet {
 public:
  // ConfigError for metric types tzrec does not compute yet.
  explicit MetricSet(const std::vector<models::Task>& tasks);

  // Adds one batch: the model's predictions, the batch (for labels) and the
  // per-task losses by LossName (for the loss metrics; may be empty).
  void Update(const c10::Dict<std::string, at::Tensor>& predictions, const models::TensorMap& batch,
              const std::map<std::string, at::Tensor>& losses);

  // Metric values by name (sorted).
  std::map<std::string, double> Compute() const;
  void Reset();

 private:
  struct Metric {
    std::string name;
    std::string kind;        // oneof name, or "loss"
    std::string prediction;  // output read ("probs", "y", ...)
    std::string label;
    std::string loss_name;   // for kind "loss"
    double threshold = 0.5;  // accuracy
    int num_class = 1;
    // Collected values.
    std::vector<at::Tensor> scores, labels;
    double sum = 0, weight = 0;
  };
  std::vector<Metric> metrics_;
};

}  // namespace tzrec::train
