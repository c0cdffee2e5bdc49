#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/error.h"
#include "train/loss.h"

namespace tzrec::train {

double BinaryAuc(const at::Tensor& scores, const at::Tensor& labels) {
  at::Tensor s = scores.detach().to(at::kDouble).contiguous().view(-1);
  at::Tensor l = labels.detach().to(at::kDouble).contiguous().view(-1);
  const int64_t n = s.numel();
  const double* sp = s.data_ptr<double>();
  const double* lp = l.data_ptr<double>();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return sp[a] < sp[b]; });
  // Mann-Whitney: sum of (1-based, tie-averaged) ranks of the positives.
  double rank_sum = 0, positives = 0;
  for (int64_t i = 0; i < n;) {
    int64_t j = i;
    while (j < n && sp[order[j]] == sp[order[i]]) ++j;
    const double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (int64_t k = i; k < j; ++k) {
      if (lp[order[k]] > 0.5) {
        rank_sum += rank;
        positives += 1;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(n) - positives;
  if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
  return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives);
}

double BinnedAuc(const at::Tensor& scores, const at::Tensor& labels, int64_t thresholds) {
  if (thresholds < 2) Fail("auc: thresholds must be at least 2, got {}", thresholds);
  at::Tensor s = scores.detach().to(at::kDouble).contiguous().view(-1);
  at::Tensor positive = labels.detach().to(at::kDouble).contiguous().view(-1) > 0.5;
  // torchmetrics compares in the scores' precision against float32 cut points.
  at::Tensor cuts = at::linspace(0.0, 1.0, thresholds, at::kFloat).to(at::kDouble);
  at::Tensor above = s.unsqueeze(1) >= cuts.unsqueeze(0);  // [N, T]
  at::Tensor tp = (above & positive.unsqueeze(1)).sum(0).to(at::kDouble);
  at::Tensor fp = (above & positive.logical_not().unsqueeze(1)).sum(0).to(at::kDouble);
  const double positives = positive.sum().item<double>();
  const double negatives = static_cast<double>(s.numel()) - positives;
  if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
  // Cut points descending: the ROC curve from (fpr, tpr) near (0, 0) to (1, 1).
  at::Tensor tpr = (tp / positives).flip(0);
  at::Tensor fpr = (fp / negatives).flip(0);
  return at::trapz(tpr, fpr).item<double>();
}

double GroupedAuc(const at::Tensor& scores, const at::Tensor& labels, const at::Tensor& keys) {
  at::Tensor k = keys.detach().to(at::kLong).contiguous().view(-1);
  at::Tensor s = scores.detach().contiguous().view(-1);
  at::Tensor l = labels.detach().contiguous().view(-1);
  if (k.numel() != s.numel() || l.numel() != s.numel()) {
    Fail("grouped_auc: {} scores, {} labels and {} grouping keys differ in number", s.numel(),
         l.numel(), k.numel());
  }
  // A stable sort keeps each group's rows in input order.
  at::Tensor order = std::get<1>(k.sort(/*stable=*/true, 0, false));
  at::Tensor sorted_keys = k.index_select(0, order);
  at::Tensor counts = std::get<2>(at::unique_consecutive(sorted_keys, false, true));
  const int64_t* count = counts.data_ptr<int64_t>();
  double sum = 0;
  int64_t groups = 0;
  int64_t start = 0;
  for (int64_t g = 0; g < counts.numel(); ++g) {
    at::Tensor rows = order.slice(0, start, start + count[g]);
    start += count[g];
    at::Tensor group_labels = l.index_select(0, rows);
    const double mean = group_labels.to(at::kDouble).mean().item<double>();
    if (!(mean > 0 && mean < 1)) continue;  // one class only: no AUC
    sum += BinaryAuc(s.index_select(0, rows), group_labels);
    ++groups;
  }
  if (groups == 0) return std::numeric_limits<double>::quiet_NaN();
  return sum / static_cast<double>(groups);
}

at::Tensor FirstIdPerRow(const models::TensorMap& batch, const std::string& feature,
                         const std::string& user) {
  auto values = batch.find(feature + ".values");
  auto lengths = batch.find(feature + ".lengths");
  if (values == batch.end() || lengths == batch.end()) {
    Fail("{}: '{}' is not a sparse feature of the batch", user, feature);
  }
  at::Tensor len = lengths->second.to(at::kLong);
  at::Tensor offsets = at::cumsum(len, 0) - len;
  at::Tensor ids = values->second.to(at::kLong).view(-1);
  // Rows without ids read position 0 and are then zeroed.
  at::Tensor first = ids.numel() == 0 ? at::zeros_like(len)
                                      : ids.index_select(0, at::clamp_max(offsets, ids.numel() - 1));
  return at::where(len > 0, first, at::zeros_like(first));
}

MetricSet::MetricSet(const std::vector<models::Task>& tasks) {
  for (const models::Task& task : tasks) {
    // Evaluation runs in eval mode, where such a task has no outputs.
    if (task.training_only) continue;
    for (const protos::MetricConfig& config : task.metrics) {
      Metric m;
      m.label = task.label_name;
      m.num_class = task.num_class;
      switch (config.metric_case()) {
        case protos::MetricConfig::kAuc:
          m.kind = "auc";
          m.prediction = task.num_class == 1 ? "probs" : "probs1";
          m.thresholds = config.auc().thresholds();
          break;
        case protos::MetricConfig::kGroupedAuc:
          if (task.num_class > 2) {
            FailConfig("model_config.metrics: grouped_auc needs num_class <= 2, got {}",
                       task.num_class);
          }
          if (config.grouped_auc().grouping_key().empty()) {
            FailConfig("model_config.metrics: grouped_auc needs a grouping_key");
          }
          m.kind = "grouped_auc";
          m.prediction = task.num_class == 1 ? "probs" : "probs1";
          m.grouping_key = config.grouped_auc().grouping_key();
          break;
        case protos::MetricConfig::kAccuracy:
          m.kind = "accuracy";
          m.prediction = "probs";
          m.threshold = config.accuracy().threshold();
          break;
        case protos::MetricConfig::kMeanAbsoluteError:
          m.kind = "mean_absolute_error";
          m.prediction = "y";
          break;
        case protos::MetricConfig::kMeanSquaredError:
          m.kind = "mean_squared_error";
          m.prediction = "y";
          break;
        default: {
          const auto* field = config.GetDescriptor()->FindFieldByNumber(config.metric_case());
          FailConfig("model_config.metrics: {} is not supported by tzrec yet (supported: auc, "
                     "grouped_auc, accuracy, mean_absolute_error, mean_squared_error)",
                     field ? field->name() : "(unset)");
        }
      }
      m.name = m.kind + task.suffix;
      m.prediction += task.suffix;
      metrics_.push_back(std::move(m));
    }
    for (const protos::LossConfig& loss : task.losses) {
      Metric m;
      m.kind = "loss";
      m.label = task.label_name;
      m.name = m.loss_name = LossName(loss, task.suffix);
      metrics_.push_back(std::move(m));
    }
  }
}

void MetricSet::Update(const c10::Dict<std::string, at::Tensor>& predictions,
                       const models::TensorMap& batch,
                       const std::map<std::string, at::Tensor>& losses) {
  for (Metric& m : metrics_) {
    if (m.kind == "loss") {
      auto it = losses.find(m.loss_name);
      if (it == losses.end()) continue;
      // Upstream's MeanMetric weights each batch's loss by its row count.
      auto label = batch.find(m.label);
      double rows = label == batch.end() ? 1.0 : static_cast<double>(label->second.size(0));
      m.sum += it->second.item<double>() * rows;
      m.weight += rows;
      continue;
    }
    auto pred = predictions.find(m.prediction);
    if (pred == predictions.end()) Fail("metric {} needs model output '{}'", m.name, m.prediction);
    auto label = batch.find(m.label);
    if (label == batch.end()) Fail("metric {} needs label '{}' in the batch", m.name, m.label);
    m.scores.push_back(pred->value().detach());
    m.labels.push_back(label->second);
    if (m.kind == "grouped_auc") m.keys.push_back(FirstIdPerRow(batch, m.grouping_key, "grouped_auc.grouping_key"));
  }
}

std::map<std::string, double> MetricSet::Compute() const {
  std::map<std::string, double> out;
  for (const Metric& m : metrics_) {
    if (m.kind == "loss") {
      if (m.weight > 0) out[m.name] = m.sum / m.weight;
      continue;
    }
    if (m.scores.empty()) continue;
    at::Tensor scores = at::cat(m.scores);
    at::Tensor labels = at::cat(m.labels);
    if (m.kind == "auc") {
      out[m.name] = m.thresholds > 0 ? BinnedAuc(scores, labels, m.thresholds)
                                     : BinaryAuc(scores, labels);
    } else if (m.kind == "grouped_auc") {
      out[m.name] = GroupedAuc(scores, labels, at::cat(m.keys));
    } else if (m.kind == "accuracy") {
      at::Tensor predicted = m.num_class > 1 ? scores.argmax(1) : (scores >= m.threshold).to(at::kLong);
      out[m.name] = (predicted == labels.to(at::kLong)).to(at::kDouble).mean().item<double>();
    } else if (m.kind == "mean_absolute_error") {
      out[m.name] = (scores - labels.to(scores.dtype())).abs().to(at::kDouble).mean().item<double>();
    } else if (m.kind == "mean_squared_error") {
      out[m.name] = (scores - labels.to(scores.dtype())).pow(2).to(at::kDouble).mean().item<double>();
    }
  }
  return out;
}

void MetricSet::Reset() {
  for (Metric& m : metrics_) {
    m.scores.clear();
    m.labels.clear();
    m.keys.clear();
    m.sum = m.weight = 0;
  }
}

}  // namespace tzrec::train
