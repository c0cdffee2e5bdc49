// Optimizers for the two parameter sets upstream trains separately:
//
//  - sparse (train_config.sparse_optimizer): embedding tables, whose gradients
//    arrive sparse (embedding_bag(sparse=True)). Updates are row-wise and lazy
//    like fbgemm's fused optimizers upstream uses: only the rows a batch looked
//    up change, and their state;
//  - dense (train_config.dense_optimizer): every other parameter, with
//    torch.optim's update rules.
//
// tzrec implements the update rules itself (rather than torch::optim) because
// libtorch has no sparse Adam, row-wise Adagrad or Adadelta, and because a
// plain name -> tensor state is what checkpoints store: `<param>.<slot>`, e.g.
// "model.deep_mlp.mlp.0.perceptron.0.weight.exp_avg".
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "config/protos/optimizer.pb.h"
#include "models/model.h"
#include "train/learning_rate.h"

namespace tzrec::train {

using NamedParameters = std::vector<std::pair<std::string, at::Tensor>>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // Applies one update with the gradients now in the parameters' .grad(), at
  // the position (global step, epoch) the schedule reads. Parameters without
  // a gradient are skipped.
  void Step(int64_t global_step, int64_t epoch);
  void ZeroGrad();

  // Learning rate at a position.
  double LearningRate(int64_t global_step, int64_t epoch) const {
    return schedule_->At(base_lr_, global_step, epoch);
  }

  // State tensors by "<param>.<slot>".
  const models::TensorMap& state() const { return state_; }
  // Restores state saved by state(): entries of this optimizer's parameters
  // are taken (shape-checked where a slot has the parameter's shape); others
  // are ignored. A parameter without saved state starts fresh.
  void LoadState(const models::TensorMap& state, const std::string& source);

  const NamedParameters& parameters() const { return params_; }

  // The name torchrec's fused optimizer gives a slot of this optimizer in
  // checkpoints ("<table>.<name>"), for sparse optimizers whose slot names
  // differ from it; dense optimizers keep torch.optim's names ("exp_avg").
  virtual std::string CheckpointSlotName(const std::string& slot) const { return slot; }
  // The inverse: the slot a checkpoint name restores.
  virtual std::string SlotFromCheckpointName(const std::string& name) const { return name; }

 protected:
  Optimizer(NamedParameters params, double base_lr, std::unique_ptr<LearningRateSchedule> schedule)
      : params_(std::move(params)), base_lr_(base_lr), schedule_(std::move(schedule)) {}

  // Updates one parameter; `grad` is dense for dense optimizers and a
  // coalesced sparse COO tensor for sparse ones.
  virtual void Update(const std::string& name, at::Tensor& param, const at::Tensor& grad,
                      double lr) = 0;

  // The state slot `<name>.<slot>`, created by `init` on first use.
  at::Tensor& Slot(const std::string& name, const std::string& slot,
                   const std::function<at::Tensor()>& init);

 private:
  NamedParameters params_;
  double base_lr_;
  std::unique_ptr<LearningRateSchedule> schedule_;
  models::TensorMap state_;
};

// ConfigError naming the config field for optimizers tzrec does not implement
// (sparse: lars_sgd, lamb, partial_rowwise_*, adadelta, rmsprop; dense:
// part_optimizers, ema) or a missing optimizer.
std::unique_ptr<Optimizer> CreateSparseOptimizer(const protos::SparseOptimizer& config,
                                                 NamedParameters params);
std::unique_ptr<Optimizer> CreateDenseOptimizer(const protos::DenseOptimizer& config,
                                                NamedParameters params);

}  // namespace tzrec::train
