#include "train/match_loss.h"

#include "common/error.h"
#include "config/model_type.h"
#include "models/match_model.h"
#include "train/loss.h"

namespace tzrec::train {
namespace {

at::Tensor Similarity(const c10::Dict<std::string, at::Tensor>& predictions, const std::string& key) {
  auto it = predictions.find(key);
  if (it == predictions.end()) Fail("model output '{}' needed by the match loss is missing", key);
  return it->value();
}

}  // namespace

std::optional<MatchObjective> MatchObjectiveOf(const protos::EasyRecConfig& config) {
  const std::string type = ModelType(config.model_config());
  if (FamilyOf(type) != ModelFamily::kMatch) return std::nullopt;
  MatchObjective objective;
  const google::protobuf::Message* model = ModelMessage(config.model_config());
  const auto* field = model->GetDescriptor()->FindFieldByName("in_batch_negative");
  if (field != nullptr && field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_BOOL) {
    objective.in_batch_negative = model->GetReflection()->GetBool(*model, field);
  }
  if (!objective.in_batch_negative && config.data_config().sampler_case() ==
                                           protos::DataConfig::SAMPLER_NOT_SET) {
    FailConfig("model_config.{}.in_batch_negative: false trains against sampled negatives: set "
               "data_config.negative_sampler, or in_batch_negative: true",
               type);
  }
  return objective;
}

at::Tensor MatchLabels(const at::Tensor& similarity, const MatchObjective& objective) {
  const int64_t rows = similarity.size(0);
  auto options = at::TensorOptions().dtype(at::kLong).device(similarity.device());
  return objective.in_batch_negative ? at::arange(rows, options) : at::zeros({rows}, options);
}

at::Tensor ComputeMatchLoss(const protos::LossConfig& loss, const models::Task& task,
                            const MatchObjective& objective,
                            const c10::Dict<std::string, at::Tensor>& predictions,
                            const at::Tensor& sample_weight) {
  if (loss.loss_case() != protos::LossConfig::kSoftmaxCrossEntropy) {
    FailConfig("loss {}: a match model supports only softmax_cross_entropy", LossName(loss, ""));
  }
  at::Tensor sim = Similarity(predictions, models::kSimilarityOutput + task.suffix);
  at::Tensor per_row = at::cross_entropy_loss(sim, MatchLabels(sim, objective), {},
                                              at::Reduction::None, -100,
                                              loss.softmax_cross_entropy().label_smoothing());
  if (!sample_weight.defined()) return per_row.mean();
  at::Tensor w = sample_weight.to(at::kFloat);
  at::Tensor mean = w.mean();
  return at::where(mean == 0, at::zeros_like(mean), (per_row * w).mean() / mean);
}

int64_t RecallHits(const at::Tensor& similarity, const at::Tensor& labels, int64_t k) {
  const int64_t top = std::min<int64_t>(k, similarity.size(1));
  at::Tensor top_idx = std::get<1>(similarity.topk(top, 1, true, true));
  return (top_idx == labels.unsqueeze(1)).any(1).sum().item<int64_t>();
}

MatchMetricSet::MatchMetricSet(const std::vector<models::Task>& tasks,
                               const MatchObjective& objective)
    : objective_(objective) {
  for (const models::Task& task : tasks) {
    for (const protos::MetricConfig& metric : task.metrics) {
      if (metric.metric_case() != protos::MetricConfig::kRecallAtK) {
        FailConfig("model_config.metrics: a match model supports only recall_at_k");
      }
      Recall r;
      r.k = metric.recall_at_k().top_k();
      r.name = fmt::format("recall@{}{}", r.k, task.suffix);
      r.prediction = models::kSimilarityOutput + task.suffix;
      recalls_.push_back(r);
    }
    for (const protos::LossConfig& loss : task.losses) {
      losses_.push_back({LossName(loss, task.suffix), models::kSimilarityOutput + task.suffix});
    }
  }
}

void MatchMetricSet::Update(const c10::Dict<std::string, at::Tensor>& predictions,
                            const std::map<std::string, at::Tensor>& losses) {
  for (Recall& r : recalls_) {
    at::Tensor sim = Similarity(predictions, r.prediction).detach();
    r.hits += RecallHits(sim, MatchLabels(sim, objective_), r.k);
    r.total += sim.size(0);
  }
  for (Loss& l : losses_) {
    auto it = losses.find(l.name);
    if (it == losses.end()) continue;
    const double rows = static_cast<double>(Similarity(predictions, l.prediction).size(0));
    l.sum += it->second.item<double>() * rows;
    l.rows += rows;
  }
}

std::map<std::string, double> MatchMetricSet::Compute() const {
  std::map<std::string, double> out;
  for (const Recall& r : recalls_) {
    if (r.total > 0) out[r.name] = static_cast<double>(r.hits) / static_cast<double>(r.total);
  }
  for (const Loss& l : losses_) {
    if (l.rows > 0) out[l.name] = l.sum / l.rows;
  }
  return out;
}

}  // namespace tzrec::train
