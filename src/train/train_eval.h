// The train_eval and eval jobs, as upstream's tzrec/main.py runs them: load the
// config, build features, data and model, train with checkpoints and an
// evaluation after each, or evaluate one checkpoint.
#pragma once

#include <map>
#include <string>

#include "config/protos/pipeline.pb.h"

namespace tzrec::train {

struct TrainEvalOptions {
  std::string pipeline_config_path;
  // Each overrides the config's field when not empty.
  std::string model_dir;
  std::string train_input_path;
  std::string eval_input_path;
  std::string fine_tune_checkpoint;
  // Resume from the latest checkpoint of model_dir (model and optimizer state)
  // and continue its step count. Without it, a model_dir that already holds
  // checkpoints is refused, as upstream does.
  bool continue_train = false;
  // With continue_train or a fine-tune checkpoint: restore the model only.
  bool ignore_restore_optimizer = false;
};

// Trains config.model_config, writing model_dir/pipeline.config, the
// model.ckpt-<step> checkpoints and model_dir/train_eval_result_v2.txt.
void TrainAndEvaluate(const TrainEvalOptions& options);

struct EvalOptions {
  std::string pipeline_config_path;
  // A model.ckpt-<step> directory; empty: the latest of model_dir.
  std::string checkpoint_path;
  std::string eval_input_path;  // overrides the config's when not empty
  // Written into model_dir (upstream's default name), one JSON line.
  std::string eval_result_filename = "eval_result.txt";
};

// Evaluates a checkpoint; returns the metrics (also logged and written).
std::map<std::string, double> Evaluate(const EvalOptions& options);

}  // namespace tzrec::train
