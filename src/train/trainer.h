// Training and evaluation of a models::Model, following upstream's
// tzrec/main.py train_eval loop.
//
// A batch is one TensorMap holding the model inputs plus the label and
// sample-weight columns (as data::BatchIterator produces it).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "config/protos/pipeline.pb.h"
#include "models/model.h"
#include "train/match_loss.h"
#include "train/metrics.h"
#include "train/optimizer.h"
#include "train/task_loss_weight.h"

namespace tzrec::train {

// Next batch into `batch` (and its 0-based epoch into `epoch`); false when
// the data is exhausted.
using BatchSource = std::function<bool(models::TensorMap& batch, int& epoch)>;

struct StepResult {
  std::map<std::string, double> losses;  // by LossName
  double total_loss = 0;
};

class Trainer {
 public:
  // Optimizers from config.train_config; sample weights from
  // config.data_config.sample_weight_fields[0] when set.
  Trainer(models::Model& model, const protos::EasyRecConfig& config);

  // One optimizer step at `global_step` (0-based; the learning-rate schedules
  // read it) in `epoch`. Switches the model to training mode.
  StepResult Step(const models::TensorMap& batch, int64_t global_step, int64_t epoch);

  // Losses of `batch` by LossName, with autograd (used by Step) or without;
  // in training mode also the model's own TrainingLosses, and only there the
  // losses of its training_only tasks.
  std::map<std::string, at::Tensor> Losses(const c10::Dict<std::string, at::Tensor>& predictions,
                                            const models::TensorMap& batch) const;

  // Eval-mode metrics (upstream names: "auc", "binary_cross_entropy", ...) over
  // the batches of `source`, at most `max_steps` of them when > 0.
  std::map<std::string, double> Evaluate(const BatchSource& source, int64_t max_steps = 0);

  Optimizer& sparse_optimizer() { return *sparse_; }
  Optimizer& dense_optimizer() { return *dense_; }
  // Both optimizers' state in one map (names do not overlap).
  models::TensorMap OptimizerState() const;
  void LoadOptimizerState(const models::TensorMap& state, const std::string& source);

  models::Model& model() { return model_; }

 private:
  models::Model& model_;
  std::string sample_weight_;
  TaskLossWeights loss_weights_;  // per-task weighting of multi-task models
  std::unique_ptr<Optimizer> sparse_;
  std::unique_ptr<Optimizer> dense_;
  // Set for match models: their loss and metrics read `similarity`.
  std::optional<MatchObjective> match_;
};

struct TrainLoopOptions {
  int64_t start_step = 0;        // first global step (last checkpoint step + 1 when continuing)
  int64_t eval_steps = 0;        // eval_config.num_steps (0: the whole eval data)
  bool has_eval = false;         // evaluate after each checkpoint
};

struct TrainLoopHooks {
  // Writes model.ckpt-<step>.
  std::function<void(int64_t step)> save_checkpoint;
  // A fresh eval source per evaluation (only when has_eval).
  std::function<BatchSource()> eval_source;
  // Called with each evaluation's metrics (e.g. to append the eval log).
  std::function<void(int64_t step, const std::map<std::string, double>&)> on_eval;
  // Called every log_step_count_steps with the step's losses and the
  // learning rates of the sparse and dense optimizers (TensorBoard).
  std::function<void(int64_t step, const StepResult&, double sparse_lr, double dense_lr)> on_log;
};

// Runs training as upstream does: global steps from start_step, at most
// train_config.num_steps in all when set; a checkpoint every
// save_checkpoints_steps steps (step > 0), or every save_checkpoints_epochs
// epochs when that is set, and a final one at the last step (never the same
// step twice); an evaluation after every checkpoint; loss and learning rates
// logged every log_step_count_steps. Returns the last step trained (-1 when
// none).
int64_t RunTrainLoop(Trainer& trainer, const protos::TrainConfig& config, const BatchSource& train,
                     const TrainLoopOptions& options, const TrainLoopHooks& hooks);

}  // namespace tzrec::train
