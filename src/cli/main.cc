// The `tzrec` binary: dispatches to the registered subcommands and turns every
// error into one line on stderr and a non-zero exit code.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/subcommand.h"
#include "common/error.h"
#include "data/tensor_memory.h"

namespace tzrec::cli {

std::vector<Subcommand>& Registry() {
  static std::vector<Subcommand> registry;
  return registry;
}

bool Register(Subcommand subcommand) {
  Registry().push_back(std::move(subcommand));
  return true;
}

}  // namespace tzrec::cli

int main(int argc, char** argv) {
  using namespace tzrec;
  data::InstallTensorMemoryPolicy();
  spdlog::set_default_logger(spdlog::stderr_color_st("tzrec"));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S] [%l] %v");

  CLI::App app{"tzrec: TorchEasyRec-compatible training, export and prediction in C++"};
  app.set_version_flag("--version", std::string("tzrec ") + TZREC_VERSION);
  app.require_subcommand(1);

  auto subcommands = cli::Registry();
  std::sort(subcommands.begin(), subcommands.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  std::map<CLI::App*, std::function<int()>> runners;
  for (auto& sub : subcommands) {
    CLI::App* sub_app = app.add_subcommand(sub.name, sub.description);
    runners[sub_app] = sub.setup(*sub_app);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitConfigError;
  }

  try {
    for (auto& [sub_app, run] : runners) {
      if (sub_app->parsed()) return run();
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "tzrec: error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tzrec: error: %s\n", e.what());
    return kExitFailure;
  }
  return kExitFailure;
}
