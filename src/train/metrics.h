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

// ROC AUC over `thresholds` evenly spaced cut points in [0, 1] (a score counts
// as positive at a cut point when score >= it), trapezoids between the ROC
// points: torchmetrics' binary AUROC with `thresholds`, which upstream's `auc`
// metric is (AUC.thresholds, default 200). NaN when the labels hold only one
// class.
double BinnedAuc(const at::Tensor& scores, const at::Tensor& labels, int64_t thresholds);

// Upstream's grouped_auc: the exact AUC of each group of rows sharing a
// grouping key, averaged over the groups that hold both classes (each group
// weighs the same, whatever its size). NaN when no group holds both classes.
double GroupedAuc(const at::Tensor& scores, const at::Tensor& labels, const at::Tensor& keys);

// The first id of each row of sparse feature `feature` (data["<feature>.values"]
// / ".lengths"), 0 for a row without ids, as upstream's to_padded_dense(1)[:, 0]
// reads grouped_auc's grouping_key and jrc_loss's session_name. `user` names
// the config field for the error when the feature is not in the batch.
at::Tensor FirstIdPerRow(const models::TensorMap& batch, const std::string& feature,
                         const std::string& user);

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
    int64_t thresholds = 0;  // auc: > 0 for the binned AUC
    std::string grouping_key;  // grouped_auc: the feature whose first id groups rows
    int num_class = 1;
    // Collected values.
    std::vector<at::Tensor> scores, labels, keys;
    double sum = 0, weight = 0;
  };
  std::vector<Metric> metrics_;
};

}  // namespace tzrec::train
