// Learning-rate schedules of optimizer.proto (constant, exponential decay,
// manual step, cosine annealing, cosine annealing with warm restarts), with
// upstream's formulas from tzrec/optim/lr_scheduler.py.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/protos/optimizer.pb.h"

namespace tzrec::train {

class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  // Learning rate for a base rate after `count` scheduler steps: the global
  // step for step schedules, the epoch for by_epoch ones.
  virtual double Rate(double base_lr, int64_t count) const = 0;
  // Schedules counting epochs (upstream steps them once per epoch).
  virtual bool by_epoch() const = 0;

  // The learning rate at a training position.
  double At(double base_lr, int64_t global_step, int64_t epoch) const {
    return base_lr == 0 ? 0 : Rate(base_lr, by_epoch() ? epoch : global_step);
  }
};

// From the learning_rate oneof of a SparseOptimizer / DenseOptimizer (unset:
// constant). ConfigError naming `where` for invalid settings.
std::unique_ptr<LearningRateSchedule> CreateSchedule(const protos::SparseOptimizer& config,
                                                     const std::string& where);
std::unique_ptr<LearningRateSchedule> CreateSchedule(const protos::DenseOptimizer& config,
                                                     const std::string& where);

}  // namespace tzrec::train
