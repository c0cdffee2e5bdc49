// `tzrec train_eval`: train with checkpoints and evaluation, upstream's flags.
#include "cli/subcommand.h"
#include "train/train_eval.h"

namespace tzrec::cli {
namespace {

std::function<int()> Setup(CLI::App& app) {
  auto options = std::make_shared<train::TrainEvalOptions>();
  app.add_option("--pipeline_config_path", options->pipeline_config_path, "path to pipeline.config")
      ->required();
  app.add_option("--model_dir", options->model_dir, "overrides the config's model_dir");
  app.add_option("--train_input_path", options->train_input_path,
                 "overrides the config's train_input_path (comma-separated paths or globs)");
  app.add_option("--eval_input_path", options->eval_input_path, "overrides the config's eval_input_path");
  app.add_flag("--continue_train", options->continue_train,
               "resume from the latest checkpoint of model_dir (model and optimizer state)");
  app.add_option("--fine_tune_checkpoint", options->fine_tune_checkpoint,
                 "overrides train_config.fine_tune_checkpoint: start from this checkpoint's model");
  app.add_flag("--ignore_restore_optimizer", options->ignore_restore_optimizer,
               "when resuming, restore the model but not the optimizer state");
  return [options]() {
    train::TrainAndEvaluate(*options);
    return 0;
  };
}

const bool kRegistered =
    Register({"train_eval", "train a model with checkpoints and evaluation (writes model_dir)", Setup});

}  // namespace
}  // namespace tzrec::cli
