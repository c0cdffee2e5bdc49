// The train_eval and eval commands, as upstream's tzrec.train_eval and
// tzrec.eval do them: read pipeline.config, build features, data and model,
// then train with checkpoints and evaluation, or evaluate one checkpoint.
#pragma once

#include <map>
#include <string>

namespace tzrec::train {

struct TrainEvalOptions {
  std::string pipeline_config_path;
  std::string model_dir;         // overrides config.model_dir when set
  std::string train_input_path;  // overrides config.train_input_path when set
  std::string eval_input_path;   // overrides config.eval_input_path when set
  bool continue_train = false;   // resume from the latest checkpoint of model_dir
  std::string fine_tune_checkpoint;  // overrides train_config.fine_tune_checkpoint
  bool ignore_restore_optimizer = false;
};

// Trains; writes model_dir/pipeline.config, model.ckpt-<step>/ and, with an
// eval input, train_eval_result_v2.txt. A model_dir that already holds
// checkpoints is an error unless continue_train (as upstream).
void TrainAndEvaluate(const TrainEvalOptions& options);

struct EvalOptions {
  std::string pipeline_config_path;
  std::string checkpoint_path;  // default: the latest checkpoint of model_dir
  std::string eval_input_path;  // overrides config.eval_input_path when set
  std::string eval_result_filename = "eval_result.txt";  // in model_dir
};

// Evaluates a checkpoint on the eval input (eval_config.num_steps batches when
// set), appends {"global_step": <step>, metrics...} to
// model_dir/<eval_result_filename> and returns the metrics.
std::map<std::string, double> Evaluate(const EvalOptions& options);

}  // namespace tzrec::train
