// The `tzrec` binaries: dispatch to the registered subcommands and turn every
// error into one line on stderr and a non-zero exit code.
//
// Built twice (CMakeLists.txt): tzrec-full (TZREC_FULL) with every subcommand,
// and tzrec with the config-only ones, which never load libtorch; tzrec execs
// tzrec-full (from its own directory, same arguments) for everything else,
// --help included, so that one command line works the same either way.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <string>

#include <spdlog/spdlog.h>

#include "cli/subcommand.h"
#include "common/blas_kernels.h"
#include "common/error.h"
#include "common/progress.h"
#ifdef TZREC_FULL
#include <torch/version.h>

#include "data/tensor_memory.h"
#endif

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

namespace {

#ifndef TZREC_FULL
// Whether this binary runs `argv` itself: a subcommand it registered.
bool RunsHere(int argc, char** argv) {
  if (argc < 2) return false;
  for (const auto& sub : tzrec::cli::Registry()) {
    if (sub.name == argv[1]) return true;
  }
  return false;
}

// Replaces this process with tzrec-full from this binary's directory.
int ExecFull(char** argv) {
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string path = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string(argv[0]);
  path = path.substr(0, path.rfind('/') + 1) + "tzrec-full";
  ::execv(path.c_str(), argv);
  std::fprintf(stderr, "tzrec: error: cannot run %s: %s (tzrec-full belongs beside tzrec)\n", path.c_str(),
               std::strerror(errno));
  return tzrec::kExitFailure;
}
#endif

// The registered subcommands' names, sorted, comma-separated.
std::string KnownSubcommands() {
  std::vector<std::string> names;
  for (const auto& sub : tzrec::cli::Registry()) names.push_back(sub.name);
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// The one-line refusal of a command line that names no known subcommand
// (before CLI11, which would print its help and exit 0 for `tzrec x --help`);
// empty when argv[1] is an option (--help, --version) or a known subcommand.
std::string SubcommandError(int argc, char** argv) {
  if (argc < 2) return "a subcommand is required (known: " + KnownSubcommands() + ")";
  const std::string name = argv[1];
  if (name.rfind('-', 0) == 0) return "";
  for (const auto& sub : tzrec::cli::Registry()) {
    if (sub.name == name) return "";
  }
  return "unknown subcommand '" + name + "' (known: " + KnownSubcommands() + ")";
}

// What --version prints: the full binary also names the libtorch it runs on.
std::string VersionText() {
  std::string text = std::string("tzrec ") + TZREC_VERSION;
#ifdef TZREC_FULL
  text += std::string(" (libtorch ") + TORCH_VERSION + ")";
#endif
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tzrec;
  // OpenBLAS chooses its kernels when it is loaded (common/blas_kernels.h):
  // the environment must say which before tzrec-full starts.
#ifdef TZREC_FULL
  if (const std::string core = OpenBlasCoreTypeToForce(false); !core.empty()) {
    // Started directly, not through tzrec: start again with them.
    ::setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    ::execv("/proc/self/exe", argv);
  }
  data::InstallTensorMemoryPolicy();
#else
  if (!RunsHere(argc, argv)) {
    if (const std::string core = OpenBlasCoreTypeToForce(true); !core.empty()) {
      ::setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    }
    return ExecFull(argv);
  }
#endif
  InstallTerminalLogger("tzrec");
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S] [%l] %v");

  if (const std::string error = SubcommandError(argc, argv); !error.empty()) {
    std::fprintf(stderr, "tzrec: error: %s\n", error.c_str());
    return kExitConfigError;
  }

  CLI::App app{"tzrec: TorchEasyRec-compatible training, export and prediction in C++"};
  app.set_version_flag("--version", VersionText());
  app.require_subcommand(1);
  // Every flag's --help line shows its default (subcommands inherit this).
  app.option_defaults()->always_capture_default();

  auto subcommands = cli::Registry();
  std::sort(subcommands.begin(), subcommands.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  std::map<CLI::App*, std::function<int()>> runners;
  for (auto& sub : subcommands) {
    CLI::App* sub_app = app.add_subcommand(sub.name, sub.description);
    runners[sub_app] = sub.setup(*sub_app);
    // A required flag has no default to show ("--num_rows INT=0 REQUIRED").
    for (CLI::Option* option : sub_app->get_options()) {
      if (option->get_required()) option->default_str("");
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version: CLI11 prints them and exits 0.
    if (e.get_exit_code() == 0) return app.exit(e);
    // A flag error is one line like every other error (CLI11's own output adds
    // "Run with --help ..." on a second line), naming the subcommand to ask.
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    const std::string help = argc >= 2 && argv[1][0] != '-' ? std::string("tzrec ") + argv[1] + " --help"
                                                            : std::string("tzrec --help");
    std::fprintf(stderr, "tzrec: error: %s (see `%s`)\n", message.c_str(), help.c_str());
    return kExitConfigError;
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
