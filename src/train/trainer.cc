#include "train/trainer.h"

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "train/loss.h"
#include "train/metrics.h"

namespace tzrec::train {

Trainer::Trainer(models::Model& model, const protos::EasyRecConfig& config)
    : model_(model), loss_weights_(config) {
  const protos::TrainConfig& tc = config.train_config();
  if (config.data_config().sample_weight_fields_size() > 0) {
    sample_weight_ = config.data_config().sample_weight_fields(0);
  }
  sparse_ = CreateSparseOptimizer(tc.sparse_optimizer(), model.SparseParameters());
  dense_ = CreateDenseOptimizer(tc.dense_optimizer(), model.DenseParameters());
  match_ = MatchObjectiveOf(config);
}

std::map<std::string, at::Tensor> Trainer::Losses(
    const c10::Dict<std::string, at::Tensor>& predictions, const models::TensorMap& batch) const {
  at::Tensor weight;
  if (!sample_weight_.empty()) {
    auto it = batch.find(sample_weight_);
    if (it == batch.end()) Fail("sample weight '{}' is missing from the batch", sample_weight_);
    weight = it->second;
  }
  std::map<std::string, at::Tensor> losses;
  for (const models::Task& task : model_.tasks()) {
    if (task.training_only && !model_.training()) continue;
    if (match_) {
      for (const protos::LossConfig& loss : task.losses) {
        losses[LossName(loss, task.suffix)] = ComputeMatchLoss(loss, task, *match_, predictions, weight);
      }
      continue;
    }
    auto label = batch.find(task.label_name);
    if (label == batch.end()) Fail("label '{}' is missing from the batch", task.label_name);
    const TaskLossWeight task_weight = loss_weights_.For(task, batch, weight);
    for (const protos::LossConfig& loss : task.losses) {
      at::Tensor session_ids;
      if (loss.has_jrc_loss()) {
        session_ids = FirstIdPerRow(batch, loss.jrc_loss().session_name(), "jrc_loss.session_name");
      }
      losses[LossName(loss, task.suffix)] = task_weight.Apply(
          ComputeLoss(loss, task, predictions, label->second, task_weight.per_row, session_ids));
    }
  }
  if (model_.training()) {
    for (auto& [name, loss] : model_.TrainingLosses(predictions, weight)) losses[name] = loss;
  }
  return losses;
}

StepResult Trainer::Step(const models::TensorMap& batch, int64_t global_step, int64_t epoch) {
  model_.SetTraining(true);
  auto predictions = model_.Forward(batch);
  auto losses = Losses(predictions, batch);
  at::Tensor total;
  StepResult result;
  for (const auto& [name, loss] : losses) {
    total = total.defined() ? total + loss : loss;
    result.losses[name] = loss.item<double>();
  }
  sparse_->ZeroGrad();
  dense_->ZeroGrad();
  total.backward();
  sparse_->Step(global_step, epoch);
  dense_->Step(global_step, epoch);
  result.total_loss = total.item<double>();
  return result;
}

std::map<std::string, double> Trainer::Evaluate(const BatchSource& source, int64_t max_steps) {
  at::NoGradGuard no_grad;
  model_.SetTraining(false);
  models::TensorMap batch;
  int epoch = 0;
  if (match_) {
    MatchMetricSet metrics(model_.tasks(), *match_);
    for (int64_t step = 0; (max_steps <= 0 || step < max_steps) && source(batch, epoch); ++step) {
      auto predictions = model_.Forward(batch);
      metrics.Update(predictions, Losses(predictions, batch));
    }
    return metrics.Compute();
  }
  MetricSet metrics(model_.tasks());
  for (int64_t step = 0; (max_steps <= 0 || step < max_steps) && source(batch, epoch); ++step) {
    auto predictions = model_.Forward(batch);
    metrics.Update(predictions, batch, Losses(predictions, batch));
  }
  return metrics.Compute();
}

models::TensorMap Trainer::OptimizerState() const {
  models::TensorMap state = sparse_->state();
  for (const auto& [k, v] : dense_->state()) state[k] = v;
  return state;
}

void Trainer::LoadOptimizerState(const models::TensorMap& state, const std::string& source) {
  sparse_->LoadState(state, source);
  dense_->LoadState(state, source);
}

int64_t RunTrainLoop(Trainer& trainer, const protos::TrainConfig& config, const BatchSource& train,
                     const TrainLoopOptions& options, const TrainLoopHooks& hooks) {
  const int64_t num_steps = config.num_steps();
  const int64_t save_epochs = config.save_checkpoints_epochs();
  const int64_t save_steps = save_epochs > 0 ? 0 : config.save_checkpoints_steps();
  const int64_t log_steps = std::max<int64_t>(1, config.log_step_count_steps());
  int64_t last_saved = -1;

  auto save = [&](int64_t step, int64_t epoch) {
    if (step < 0 || step == last_saved) return;
    last_saved = step;
    if (hooks.save_checkpoint) hooks.save_checkpoint(step);
    if (options.has_eval && hooks.eval_source) {
      auto metrics = trainer.Evaluate(hooks.eval_source(), options.eval_steps);
      std::string text;
      for (const auto& [k, v] : metrics) text += fmt::format(" {}: {:.6f}", k, v);
      spdlog::info("eval at step {} (epoch {}):{}", step, epoch, text);
      if (hooks.on_eval) hooks.on_eval(step, metrics);
    }
  };

  int64_t step = options.start_step;
  int64_t last = step - 1;
  int current_epoch = -1;
  StepResult result;
  models::TensorMap batch;
  int epoch = 0;
  while ((num_steps <= 0 || step < num_steps) && train(batch, epoch)) {
    if (current_epoch >= 0 && epoch != current_epoch) {
      // End of an epoch: upstream saves here when save_checkpoints_epochs fits.
      if (save_epochs > 0 && last > 0 && (current_epoch + 1) % save_epochs == 0) save(last, current_epoch);
    }
    current_epoch = epoch;
    result = trainer.Step(batch, step, epoch);
    if (step % log_steps == 0) {
      std::string text;
      for (const auto& [k, v] : result.losses) text += fmt::format(" {}:{:.5f}", k, v);
      const double sparse_lr = trainer.sparse_optimizer().LearningRate(step, epoch);
      const double dense_lr = trainer.dense_optimizer().LearningRate(step, epoch);
      spdlog::info("step {} epoch {} lr sparse:{:.6g} dense:{:.6g}{} total_loss: {:.5f}", step, epoch,
                   sparse_lr, dense_lr, text, result.total_loss);
      if (hooks.on_log) hooks.on_log(step, result, sparse_lr, dense_lr);
    }
    if (save_steps > 0 && step > 0 && step % save_steps == 0) save(step, epoch);
    last = step;
    ++step;
  }
  if (current_epoch >= 0 && save_epochs > 0 && last > 0 && (current_epoch + 1) % save_epochs == 0) {
    save(last, current_epoch);
  }
  if (last >= options.start_step) {
    spdlog::info("training finished at step {} (loss {:.5f})", last, result.total_loss);
    save(last, current_epoch);
  }
  return last;
}

}  // namespace tzrec::train
