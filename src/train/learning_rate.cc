#include "train/learning_rate.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/error.h"

namespace tzrec::train {
namespace {

class ConstantSchedule : public LearningRateSchedule {
 public:
  double Rate(double base_lr, int64_t) const override { return base_lr; }
  bool by_epoch() const override { return true; }
};

// Linear warmup from `start` to base_lr over `size` counts.
double Warmup(double base_lr, double start, int64_t count, int64_t size) {
  double scale = static_cast<double>(count) / static_cast<double>(size);
  return (base_lr - start) * scale + start;
}

class ExponentialDecaySchedule : public LearningRateSchedule {
 public:
  ExponentialDecaySchedule(const protos::ExponentialDecayLR& c, const std::string& where) : c_(c) {
    if (c.decay_size() == 0) FailConfig("{}.exponential_decay_learning_rate.decay_size: must be > 0", where);
  }
  double Rate(double base_lr, int64_t count) const override {
    if (count < static_cast<int64_t>(c_.warmup_size())) {
      return Warmup(base_lr, c_.warmup_learning_rate(), count, c_.warmup_size());
    }
    double p = static_cast<double>(count - c_.warmup_size()) / c_.decay_size();
    if (c_.staircase()) p = std::floor(p);
    return std::max(base_lr * std::pow(static_cast<double>(c_.decay_factor()), p),
                    static_cast<double>(c_.min_learning_rate()));
  }
  bool by_epoch() const override { return c_.by_epoch(); }

 private:
  protos::ExponentialDecayLR c_;
};

class ManualStepSchedule : public LearningRateSchedule {
 public:
  ManualStepSchedule(const protos::ManualStepLR& c, const std::string& where) : c_(c) {
    if (c.schedule_sizes_size() != c.learning_rates_size()) {
      FailConfig("{}.manual_step_learning_rate: {} schedule_sizes but {} learning_rates", where,
                 c.schedule_sizes_size(), c.learning_rates_size());
    }
    if (c.schedule_sizes_size() == 0) {
      FailConfig("{}.manual_step_learning_rate: schedule_sizes is empty", where);
    }
  }
  double Rate(double base_lr, int64_t count) const override {
    // Index of the first schedule size >= count (Python bisect_left).
    auto begin = c_.schedule_sizes().begin();
    auto idx = std::lower_bound(begin, c_.schedule_sizes().end(), static_cast<uint32_t>(count)) - begin;
    if (idx > 0) return c_.learning_rates(static_cast<int>(idx - 1));
    if (c_.warmup()) {
      double scale = static_cast<double>(count) / c_.schedule_sizes(0);
      return (c_.learning_rates(0) - base_lr) * scale + base_lr;
    }
    return base_lr;
  }
  bool by_epoch() const override { return c_.by_epoch(); }

 private:
  protos::ManualStepLR c_;
};

class CosineSchedule : public LearningRateSchedule {
 public:
  CosineSchedule(const protos::CosineAnnealingLR& c, const std::string& where) : c_(c) {
    if (c.t_max() == 0) FailConfig("{}.cosine_annealing_learning_rate.T_max: must be > 0", where);
  }
  double Rate(double base_lr, int64_t count) const override {
    if (count < static_cast<int64_t>(c_.warmup_size())) {
      return Warmup(base_lr, c_.warmup_learning_rate(), count, c_.warmup_size());
    }
    double t = std::min<double>(count - c_.warmup_size(), c_.t_max());
    double cos_scale = 0.5 * (1 + std::cos(M_PI * t / c_.t_max()));
    return c_.min_learning_rate() + (base_lr - c_.min_learning_rate()) * cos_scale;
  }
  bool by_epoch() const override { return c_.by_epoch(); }

 private:
  protos::CosineAnnealingLR c_;
};

class CosineRestartSchedule : public LearningRateSchedule {
 public:
  CosineRestartSchedule(const protos::CosineAnnealingWarmRestartsLR& c, const std::string& where)
      : c_(c) {
    if (c.t_0() == 0) {
      FailConfig("{}.cosine_annealing_warm_restarts_learning_rate.T_0: must be > 0", where);
    }
    if (c.t_mult() == 0) {
      FailConfig("{}.cosine_annealing_warm_restarts_learning_rate.T_mult: must be >= 1", where);
    }
  }
  double Rate(double base_lr, int64_t count) const override {
    if (count < static_cast<int64_t>(c_.warmup_size())) {
      return Warmup(base_lr, c_.warmup_learning_rate(), count, c_.warmup_size());
    }
    int64_t t = count - c_.warmup_size();
    int64_t period = c_.t_0();
    while (t >= period) {
      t -= period;
      period *= c_.t_mult();
    }
    double cos_scale = 0.5 * (1 + std::cos(M_PI * static_cast<double>(t) / period));
    return c_.min_learning_rate() + (base_lr - c_.min_learning_rate()) * cos_scale;
  }
  bool by_epoch() const override { return c_.by_epoch(); }

 private:
  protos::CosineAnnealingWarmRestartsLR c_;
};

template <typename Config>
std::unique_ptr<LearningRateSchedule> Create(const Config& config, const std::string& where) {
  if (config.has_exponential_decay_learning_rate()) {
    return std::make_unique<ExponentialDecaySchedule>(config.exponential_decay_learning_rate(), where);
  }
  if (config.has_manual_step_learning_rate()) {
    return std::make_unique<ManualStepSchedule>(config.manual_step_learning_rate(), where);
  }
  if (config.has_cosine_annealing_learning_rate()) {
    return std::make_unique<CosineSchedule>(config.cosine_annealing_learning_rate(), where);
  }
  if (config.has_cosine_annealing_warm_restarts_learning_rate()) {
    return std::make_unique<CosineRestartSchedule>(
        config.cosine_annealing_warm_restarts_learning_rate(), where);
  }
  return std::make_unique<ConstantSchedule>();
}

}  // namespace

std::unique_ptr<LearningRateSchedule> CreateSchedule(const protos::SparseOptimizer& config,
                                                     const std::string& where) {
  return Create(config, where);
}

std::unique_ptr<LearningRateSchedule> CreateSchedule(const protos::DenseOptimizer& config,
                                                     const std::string& where) {
  return Create(config, where);
}

}  // namespace tzrec::train
