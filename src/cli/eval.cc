// `tzrec eval`: evaluate a checkpoint on the eval input, upstream's flags.
#include <spdlog/spdlog.h>

#include "cli/subcommand.h"
#include "train/train_eval.h"

namespace tzrec::cli {
namespace {

std::function<int()> Setup(CLI::App& app) {
  auto options = std::make_shared<train::EvalOptions>();
  app.add_option("--pipeline_config_path", options->pipeline_config_path, "path to pipeline.config")
      ->required();
  app.add_option("--checkpoint_path", options->checkpoint_path,
                 "model.ckpt-<step> directory to evaluate (default: the latest in model_dir)");
  app.add_option("--eval_input_path", options->eval_input_path, "overrides the config's eval_input_path");
  app.add_option("--eval_result_filename", options->eval_result_filename,
                 "file in model_dir receiving the metrics as one JSON line");
  return [options]() {
    train::Evaluate(*options);
    return 0;
  };
}

const bool kRegistered = Register({"eval", "evaluate a checkpoint on the eval input", Setup});

}  // namespace
}  // namespace tzrec::cli
