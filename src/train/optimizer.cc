#include "train/optimizer.h"

#include <cmath>

#include "common/error.h"

namespace tzrec::train {
namespace {

at::Tensor ZerosLike(const at::Tensor& p) { return at::zeros_like(p, at::MemoryFormat::Contiguous); }

// ---------------------------------------------------------------- dense rules
// Formulas of torch.optim's single-tensor implementations.

class DenseSgd : public Optimizer {
 public:
  DenseSgd(const protos::SGDOptimizer& c, NamedParameters p, std::unique_ptr<LearningRateSchedule> s)
      : Optimizer(std::move(p), c.lr(), std::move(s)), c_(c) {}
  void Update(const std::string& name, at::Tensor& param, const at::Tensor& grad, double lr) override {
    at::Tensor g = c_.weight_decay() != 0 ? grad + c_.weight_decay() * param : grad;
    if (c_.momentum() != 0) {
      bool fresh = false;
      at::Tensor& buf = Slot(name, "momentum_buffer", [&] { fresh = true; return g.clone(); });
      if (!fresh) buf.mul_(c_.momentum()).add_(g, 1 - c_.dampening());
      g = c_.nesterov() ? g + c_.momentum() * buf : buf;
    }
    param.add_(g, -lr);
  }

 private:
  protos::SGDOptimizer c_;
};

class DenseAdagrad : public Optimizer {
 public:
  DenseAdagrad(const protos::AdagradOptimizer& c, NamedParameters p,
               std::unique_ptr<LearningRateSchedule> s)
      : Optimizer(std::move(p), c.lr(), std::move(s)), c_(c) {}
  void Update(const std::string& name, at::Tensor& param, const at::Tensor& grad, double lr) override {
    Slot(name, "step", [] { return at::zeros({}); }).add_(1);
    at::Tensor& sum = Slot(name, "sum", [&] {
      return at::full_like(param, c_.initial_accumulator_value(), at::MemoryFormat::Contiguous);
    });
    at::Tensor g = c_.weight_decay() != 0 ? grad + c_.weight_decay() * param : grad;
    sum.addcmul_(g, g, 1);
    param.addcdiv_(g, sum.sqrt().add_(c_.eps()), -lr);
  }

 private:
  protos::AdagradOptimizer c_;
};

// Adam and AdamW (decoupled weight decay) share their moments.
template <typename Config>
class DenseAdam : public Optimizer {
 public:
  DenseAdam(const Config& c, bool decoupled, NamedParameters p, std::unique_ptr<LearningRateSchedule> s)
      : Optimizer(std::move(p), c.lr(), std::move(s)), c_(c), decoupled_(decoupled) {}
  void Update(const std::string& name, at::Tensor& param, const at::Tensor& grad, double lr) override {
    at::Tensor& step = Slot(name, "step", [] { return at::zeros({}); });
    step.add_(1);
    const double t = step.item<double>();
    at::Tensor& m = Slot(name, "exp_avg", [&] { return ZerosLike(param); });
    at::Tensor& v = Slot(name, "exp_avg_sq", [&] { return ZerosLike(param); });
    at::Tensor g = grad;
    if (c_.weight_decay() != 0) {
      if (decoupled_) {
        param.mul_(1 - lr * c_.weight_decay());
      } else {
        g = grad + c_.weight_decay() * param;
      }
    }
    const double b1 = c_.beta1(), b2 = c_.beta2();
    m.mul_(b1).add_(g, 1 - b1);
    v.mul_(b2).addcmul_(g, g, 1 - b2);
    const double bc1 = 1 - std::pow(b1, t);
    const double bc2_sqrt = std::sqrt(1 - std::pow(b2, t));
    at::Tensor denom;
    if (c_.amsgrad()) {
      at::Tensor& vmax = Slot(name, "max_exp_avg_sq", [&] { return ZerosLike(param); });
      at::maximum_out(vmax, vmax, v);
      denom = (vmax.sqrt() / bc2_sqrt).add_(c_.eps());
    } else {
      denom = (v.sqrt() / bc2_sqrt).add_(c_.eps());
    }
    param.addcdiv_(m, denom, -lr / bc1);
  }

 private:
  Config c_;
  bool decoupled_;
};

class DenseRmsprop : public Optimizer {
 public:
  DenseRmsprop(const protos::RMSpropOptimizer& c, NamedParameters p,
               std::unique_ptr<LearningRateSchedule> s)
      : Optimizer(std::move(p), c.lr(), std::move(s)), c_(c) {}
  void Update(const std::string& name, at::Tensor& param, const at::Tensor& grad, double lr) override {
    Slot(name, "step", [] { return at::zeros({}); }).add_(1);
    at::Tensor& sq = Slot(name, "square_avg", [&] { return ZerosLike(param); });
    at::Tensor g = c_.weight_decay() != 0 ? grad + c_.weight_decay() * param : grad;
    sq.mul_(c_.alpha()).addcmul_(g, g, 1 - c_.alpha());
    param.addcdiv_(g, sq.sqrt().add_(c_.eps()), -lr);
  }

 private:
  protos::RMSpropOptimizer c_;
};

class DenseAdadelta : public Optimizer {
 public:
  DenseAdadelta(const protos::AdadeltaOptimizer& c, NamedParameters p,
                std::unique_ptr<LearningRateSchedule> s)
      : Optimizer(std::move(p), c.lr(), std::move(s)), c_(c) {}
  void Update(const std::string& name, at::Tensor& param, const at::Tensor& grad, double lr) override {
    Slot(name, "step", [] { return at::zeros({}); }).add_(1);
    at::Tensor& sq = Slot(name, "square_avg", [&] { return ZerosLike(param); });
    at::Tensor& acc = Slot(name, "acc_delta", [&] { return ZerosLike(param); });
    at::Tensor g = c_.weight_decay() != 0 ? grad + c_.weight_decay() * param : grad;
    const double rho = c_.rho(), eps = c_.eps();
    sq.mul_(rho).addcmul_(g, g, 1 - rho);
    at::Tensor delta = (acc + eps).sqrt_().div_((sq + eps).sqrt_()).mul_(g);
    acc.mul_(rho).addcmul_(delta, delta, 1 - rho);
    param.add_(delta, -lr);
  }

 private:
  protos::AdadeltaOptimizer c_;
};

// --------------------------------------------------------------- sparse rules
// Row-wise updates of the rows present in a coalesced sparse gradient, with
// fbgemm's formulas (EXACT_SGD, EXACT_ADAGRAD, EXACT_ROWWISE_ADAGRAD, ADAM).

struct Rows {
  at::Tensor index;   // int64 [n]
  at::Tensor values;  // [n, dim]
};

Rows TouchedRows(const at::Tensor& grad, bool clip, double max_gradient) {
  Rows rows;
  if (grad.is_sparse()) {
    rows.index = grad._indices()[0];
    rows.values = grad._values();
  } else {  // a dense gradient touches every row
    rows.index = at::arange(grad.size(0), at::kLong);
    rows.values = grad;
  }
  if (clip) rows.values = rows.values.clamp(-max_gradient, max_gradient);
  return rows;
}

class SparseOptimizerBase : public Optimizer {
 protected:
  SparseOptimizerBase(NamedParameters p, double lr, std::unique_ptr<LearningRateSchedule> s,
                      bool clip, double max_gradient)
      : Optimizer(std::move(p), lr, std::move(s)), clip_(clip), max_gradient_(max_gradient) {}
  Rows Touched(const at::Tensor& grad) const { return TouchedRows(grad, clip_, max_gradient_); }

 private:
  bool clip_;
  double max_gradient_;
};

class SparseSgd : public SparseOptimizerBase {
 public:
  SparseSgd(const protos::FusedSGDOptimizer& c, NamedParameters p, std::unique_ptr<LearningRateSchedule> s)
      : SparseOptimizerBase(std::move(p), c.lr(), std::move(s), c.gradient_clipping(), c.max_gradient()) {}
  void Update(const std::string&, at::Tensor& param, const at::Tensor& grad, double lr) override {
    Rows r = Touched(grad);
    param.index_add_(0, r.index, r.values * -lr);
  }
};

class SparseAdagrad : public SparseOptimizerBase {
 public:
  SparseAdagrad(const protos::FusedAdagradOptimizer& c, NamedParameters p,
                std::unique_ptr<LearningRateSchedule> s)
      : SparseOptimizerBase(std::move(p), c.lr(), std::move(s), c.gradient_clipping(), c.max_gradient()),
        c_(c) {}
  void Update(const std::string& name, at::Tensor& param, const at::Tensor& grad, double lr) override {
    Rows r = Touched(grad);
    at::Tensor& sum = Slot(name, "sum", [&] {
      return at::full_like(param, c_.initial_accumulator_value(), at::MemoryFormat::Contiguous);
    });
    at::Tensor s = sum.index_select(0, r.index).addcmul_(r.values, r.values, 1);
    sum.index_copy_(0, r.index, s);
    param.index_add_(0, r.index, r.values / s.sqrt().add_(kEps) * -lr);
  }
  // torchrec names a fused optimizer's first state "momentum1".
  std::string CheckpointSlotName(const std::string& slot) const override {
    return slot == "sum" ? "momentum1" : slot;
  }
  std::string SlotFromCheckpointName(const std::string& name) const override {
    return name == "momentum1" ? "sum" : name;
  }

 private:
  static constexpr double kEps = 1e-8;
  protos::FusedAdagradOptimizer c_;
};

class SparseRowwiseAdagrad : public SparseOptimizerBase {
 public:
  SparseRowwiseAdagrad(const protos::FusedRowWiseAdagradOptimizer& c, NamedParameters p,
                       std::unique_ptr<LearningRateSchedule> s)
      : SparseOptimizerBase(std::move(p), c.lr(), std::move(s), c.gradient_clipping(), c.max_gradient()),
        c_(c) {}
  void Update(const std::string& name, at::Tensor& param, const at::Tensor& grad, double lr) override {
    Rows r = Touched(grad);
    at::Tensor g = r.values;
    at::Tensor w = param.index_select(0, r.index);
    if (c_.weight_decay_mode() == protos::L2 && c_.weight_decay() != 0) g = g + c_.weight_decay() * w;
    at::Tensor& sum = Slot(name, "momentum1", [&] { return at::zeros({param.size(0)}); });
    at::Tensor s = sum.index_select(0, r.index).add_(g.pow(2).mean(1));
    sum.index_copy_(0, r.index, s);
    at::Tensor update = g / s.sqrt().add_(kEps).unsqueeze(1);
    if (c_.weight_decay_mode() == protos::DECOUPLE && c_.weight_decay() != 0) {
      update = update + c_.weight_decay() * w;
    }
    param.index_add_(0, r.index, update * -lr);
  }

 private:
  static constexpr double kEps = 1e-8;
  protos::FusedRowWiseAdagradOptimizer c_;
};

class SparseAdam : public SparseOptimizerBase {
 public:
  SparseAdam(const protos::FusedAdamOptimizer& c, NamedParameters p, std::unique_ptr<LearningRateSchedule> s)
      : SparseOptimizerBase(std::move(p), c.lr(), std::move(s), c.gradient_clipping(), c.max_gradient()),
        c_(c) {}
  void Update(const std::string& name, at::Tensor& param, const at::Tensor& grad, double lr) override {
    Rows r = Touched(grad);
    at::Tensor& step = Slot(name, "step", [] { return at::zeros({}); });
    step.add_(1);
    const double t = step.item<double>();
    const double b1 = c_.beta1(), b2 = c_.beta2();
    at::Tensor& m = Slot(name, "exp_avg", [&] { return ZerosLike(param); });
    at::Tensor& v = Slot(name, "exp_avg_sq", [&] { return ZerosLike(param); });
    at::Tensor m_rows = m.index_select(0, r.index).mul_(b1).add_(r.values, 1 - b1);
    at::Tensor v_rows = v.index_select(0, r.index).mul_(b2).addcmul_(r.values, r.values, 1 - b2);
    m.index_copy_(0, r.index, m_rows);
    v.index_copy_(0, r.index, v_rows);
    at::Tensor m_hat = m_rows / (1 - std::pow(b1, t));
    at::Tensor v_hat = v_rows / (1 - std::pow(b2, t));
    at::Tensor update = m_hat / v_hat.sqrt().add_(kEps);
    if (c_.weight_decay() != 0) update = update + c_.weight_decay() * param.index_select(0, r.index);
    param.index_add_(0, r.index, update * -lr);
  }
  std::string CheckpointSlotName(const std::string& slot) const override {
    return slot == "exp_avg" ? "momentum1" : slot;
  }
  std::string SlotFromCheckpointName(const std::string& name) const override {
    return name == "momentum1" ? "exp_avg" : name;
  }

 private:
  static constexpr double kEps = 1e-8;
  protos::FusedAdamOptimizer c_;
};

}  // namespace

at::Tensor& Optimizer::Slot(const std::string& name, const std::string& slot,
                            const std::function<at::Tensor()>& init) {
  const std::string key = name + "." + slot;
  auto it = state_.find(key);
  if (it == state_.end()) it = state_.emplace(key, init()).first;
  return it->second;
}

void Optimizer::Step(int64_t global_step, int64_t epoch) {
  at::NoGradGuard no_grad;
  const double lr = LearningRate(global_step, epoch);
  for (auto& [name, param] : params_) {
    const at::Tensor& grad = param.grad();
    if (!grad.defined()) continue;
    at::Tensor g = grad.is_sparse() ? grad.coalesce() : grad;
    Update(name, param, g, lr);
  }
}

void Optimizer::ZeroGrad() {
  for (auto& [name, param] : params_) param.mutable_grad() = at::Tensor();
}

void Optimizer::LoadState(const models::TensorMap& state, const std::string& source) {
  for (const auto& [name, param] : params_) {
    const std::string prefix = name + ".";
    for (const auto& [key, value] : state) {
      if (key.compare(0, prefix.size(), prefix) != 0) continue;
      // Slot names never contain '.', so "<param>.<slot>" splits unambiguously.
      if (key.find('.', prefix.size()) != std::string::npos) continue;
      if (value.dim() == param.dim() && value.sizes() != param.sizes()) {
        Fail("{}: optimizer state {} has shape {}, expected {}", source, key,
             c10::str(value.sizes()), c10::str(param.sizes()));
      }
      state_[key] = value.clone();
    }
  }
}

std::unique_ptr<Optimizer> CreateSparseOptimizer(const protos::SparseOptimizer& c,
                                                 NamedParameters params) {
  const std::string where = "train_config.sparse_optimizer";
  auto schedule = CreateSchedule(c, where);
  switch (c.optimizer_case()) {
    case protos::SparseOptimizer::kSgdOptimizer:
      return std::make_unique<SparseSgd>(c.sgd_optimizer(), std::move(params), std::move(schedule));
    case protos::SparseOptimizer::kAdagradOptimizer:
      return std::make_unique<SparseAdagrad>(c.adagrad_optimizer(), std::move(params), std::move(schedule));
    case protos::SparseOptimizer::kRowwiseAdagradOptimizer:
      return std::make_unique<SparseRowwiseAdagrad>(c.rowwise_adagrad_optimizer(), std::move(params),
                                                    std::move(schedule));
    case protos::SparseOptimizer::kAdamOptimizer:
      return std::make_unique<SparseAdam>(c.adam_optimizer(), std::move(params), std::move(schedule));
    case protos::SparseOptimizer::OPTIMIZER_NOT_SET:
      FailConfig("{}: no optimizer is set", where);
    default: {
      const auto* field = c.GetDescriptor()->FindFieldByNumber(c.optimizer_case());
      FailConfig("{}.{}: not supported by tzrec yet (supported: sgd_optimizer, adagrad_optimizer, "
                 "rowwise_adagrad_optimizer, adam_optimizer)",
                 where, field ? field->name() : "?");
    }
  }
}

std::unique_ptr<Optimizer> CreateDenseOptimizer(const protos::DenseOptimizer& c,
                                                NamedParameters params) {
  const std::string where = "train_config.dense_optimizer";
  if (c.part_optimizers_size() > 0) FailConfig("{}.part_optimizers: not supported by tzrec yet", where);
  if (c.has_ema()) FailConfig("{}.ema: not supported by tzrec yet", where);
  auto schedule = CreateSchedule(c, where);
  switch (c.optimizer_case()) {
    case protos::DenseOptimizer::kSgdOptimizer:
      return std::make_unique<DenseSgd>(c.sgd_optimizer(), std::move(params), std::move(schedule));
    case protos::DenseOptimizer::kAdagradOptimizer:
      return std::make_unique<DenseAdagrad>(c.adagrad_optimizer(), std::move(params), std::move(schedule));
    case protos::DenseOptimizer::kAdamOptimizer:
      return std::make_unique<DenseAdam<protos::AdamOptimizer>>(c.adam_optimizer(), false,
                                                                std::move(params), std::move(schedule));
    case protos::DenseOptimizer::kAdamwOptimizer:
      return std::make_unique<DenseAdam<protos::AdamWOptimizer>>(c.adamw_optimizer(), true,
                                                                 std::move(params), std::move(schedule));
    case protos::DenseOptimizer::kRmspropOptimizer:
      return std::make_unique<DenseRmsprop>(c.rmsprop_optimizer(), std::move(params), std::move(schedule));
    case protos::DenseOptimizer::kAdadeltaOptimizer:
      return std::make_unique<DenseAdadelta>(c.adadelta_optimizer(), std::move(params), std::move(schedule));
    case protos::DenseOptimizer::OPTIMIZER_NOT_SET:
      FailConfig("{}: no optimizer is set", where);
  }
  FailConfig("{}: unknown optimizer", where);
}

}  // namespace tzrec::train
