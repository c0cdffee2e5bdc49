// `tzrec validate_config`: load a pipeline.config, check it, print a summary.
// Exit 0 when valid, 2 on a config error (or, with --strict, when tzrec cannot
// build a feature type or the model).
#include <cstdio>
#include <string>

#include "cli/subcommand.h"
#include "config/pipeline_config.h"
#include "validation/summary.h"
#include "validation/validate.h"

namespace tzrec::cli {
namespace {

struct Flags {
  std::string pipeline_config_path;
  bool strict = false;
};

int Run(const Flags& flags) {
  protos::EasyRecConfig config = LoadPipelineConfig(flags.pipeline_config_path);
  ValidatePipelineConfig(config);
  std::printf("pipeline config: %s\n%s", flags.pipeline_config_path.c_str(),
              SummarizePipelineConfig(config).c_str());
  std::fflush(stdout);  // the summary comes before a --strict error on stderr
  if (flags.strict) CheckSupported(config);
  std::printf("valid\n");
  return 0;
}

const bool kRegistered = Register({
    "validate_config",
    "Check a pipeline.config and print a summary of its features, groups and model",
    [](CLI::App& app) -> std::function<int()> {
      auto flags = std::make_shared<Flags>();
      app.add_option("--pipeline_config_path", flags->pipeline_config_path,
                     "path to pipeline.config (text format, or JSON when it ends in .json)")
          ->required();
      app.add_flag("--strict", flags->strict,
                   "also fail when tzrec does not support a feature type or the model type");
      return [flags] { return Run(*flags); };
    },
});

}  // namespace
}  // namespace tzrec::cli
