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

MetricSet::MetricSet(const std::vector<models::Task>& tasks) {
  for (const models::Task& task : tasks) {
    for (const protos::MetricConfig& config : task.metrics) {
      Metric m;
      m.label = task.label_name;
      m.num_class = task.num_class;
      switch (config.metric_case()) {
        case protos::MetricConfig::kAuc:
          m.kind = "auc";
          m.prediction = task.num_class == 1 ? "probs" : "probs1";
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
                     "accuracy, mean_absolute_error, mean_squared_error)",
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
      out[m.name] = BinaryAuc(scores, labels);
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
    m.sum = m.weight = 0;
  }
}

}  // namespace tzrec::train
