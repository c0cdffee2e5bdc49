#include "train/loss.h"

#include "common/error.h"

namespace tzrec::train {
namespace {

at::Tensor Prediction(const c10::Dict<std::string, at::Tensor>& predictions, const std::string& key) {
  auto it = predictions.find(key);
  if (it == predictions.end()) Fail("model output '{}' needed by the loss is missing", key);
  return it->value();
}

// Mean of per-row losses, weighted by sample weights normalised to mean 1.
at::Tensor Reduce(const at::Tensor& per_row, const at::Tensor& sample_weight) {
  if (!sample_weight.defined()) return per_row.mean();
  at::Tensor w = sample_weight.to(at::kFloat);
  at::Tensor mean = w.mean();
  at::Tensor normalised = at::where(mean == 0, at::zeros_like(w), w / mean);
  return (per_row * normalised).mean();
}

}  // namespace

at::Tensor JrcLossPerRow(const at::Tensor& logits, const at::Tensor& labels,
                         const at::Tensor& session_ids, double alpha) {
  at::Tensor y = labels.to(at::kLong).view(-1);
  const int64_t batch = y.size(0);
  at::Tensor ce = at::cross_entropy_loss(logits, y, {}, at::Reduction::None);
  at::Tensor yf = y.to(logits.scalar_type());
  at::Tensor ids = session_ids.view(-1);
  at::Tensor other_session = 1 - (ids.unsqueeze(1) == ids.unsqueeze(0)).to(logits.scalar_type());
  at::Tensor off_diagonal = 1 - at::eye(batch, logits.options());
  // Row i of each matrix is the competition of sample i: every sample's logit
  // of i's class, with samples of other sessions and the other samples of i's
  // own class pushed to -1e9. Sample i's loss is -log softmax at column i.
  auto compete = [&](const at::Tensor& column_logits, const at::Tensor& same_class) {
    at::Tensor penalty = (other_session + off_diagonal * same_class.unsqueeze(0)) * -1e9;
    at::Tensor rows = column_logits.unsqueeze(0).expand({batch, batch}) + penalty;
    return -at::log_softmax(rows, 1).diagonal();
  };
  at::Tensor positive = compete(logits.select(1, 1), yf);
  at::Tensor negative = compete(logits.select(1, 0), 1 - yf);
  at::Tensor session = at::where(y == 1, positive, negative);
  return alpha * ce + (1 - alpha) * session;
}

std::string LossName(const protos::LossConfig& loss, const std::string& suffix) {
  const auto* field = loss.GetDescriptor()->FindFieldByNumber(loss.loss_case());
  return (field ? field->name() : std::string("loss")) + suffix;
}

at::Tensor ComputeLoss(const protos::LossConfig& loss, const models::Task& task,
                       const c10::Dict<std::string, at::Tensor>& predictions,
                       const at::Tensor& label, const at::Tensor& sample_weight,
                       const at::Tensor& session_ids) {
  const std::string& s = task.suffix;
  switch (loss.loss_case()) {
    case protos::LossConfig::kBinaryCrossEntropy: {
      at::Tensor logits = Prediction(predictions, "logits" + s);
      at::Tensor y = label.to(at::kFloat);
      double smoothing = loss.binary_cross_entropy().label_smoothing();
      if (smoothing > 0) y = y * (1.0 - smoothing) + 0.5 * smoothing;
      at::Tensor per_row = at::binary_cross_entropy_with_logits(logits, y, {}, {}, at::Reduction::None);
      return Reduce(per_row, sample_weight);
    }
    case protos::LossConfig::kBinaryFocalLoss: {
      // Binary cross entropy weighted by the (constant) focal factor.
      at::Tensor logits = Prediction(predictions, "logits" + s);
      at::Tensor y = label.to(at::kFloat);
      const double gamma = loss.binary_focal_loss().gamma();
      const double alpha = loss.binary_focal_loss().alpha();
      at::Tensor p = at::sigmoid(logits).detach();
      at::Tensor weight = alpha * y * (1 - p).pow(gamma) + (1 - alpha) * (1 - y) * p.pow(gamma);
      at::Tensor ce = at::binary_cross_entropy_with_logits(logits, y, {}, {}, at::Reduction::None);
      return Reduce(weight * ce, sample_weight);
    }
    case protos::LossConfig::kSoftmaxCrossEntropy: {
      at::Tensor logits = Prediction(predictions, "logits" + s);
      at::Tensor per_row = at::cross_entropy_loss(logits, label.to(at::kLong), {}, at::Reduction::None,
                                                  -100, loss.softmax_cross_entropy().label_smoothing());
      return Reduce(per_row, sample_weight);
    }
    case protos::LossConfig::kJrcLoss: {
      at::Tensor logits = Prediction(predictions, "logits" + s);
      if (logits.dim() != 2 || logits.size(1) != 2) {
        Fail("jrc_loss needs logits{} of shape [B, 2], got {}", s, c10::str(logits.sizes()));
      }
      if (!session_ids.defined()) Fail("jrc_loss{} needs the session ids of the batch", s);
      return Reduce(JrcLossPerRow(logits, label, session_ids, loss.jrc_loss().alpha()),
                    sample_weight);
    }
    case protos::LossConfig::kL2Loss: {
      at::Tensor y = Prediction(predictions, "y" + s);
      at::Tensor diff = y - label.to(at::kFloat);
      return Reduce(diff * diff, sample_weight);
    }
    default:
      FailConfig("loss {} is not supported by tzrec's trainer yet", LossName(loss, ""));
  }
}

}  // namespace tzrec::train
