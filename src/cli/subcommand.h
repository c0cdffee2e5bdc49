// Subcommand registry for the `tzrec` binary. Each file in cli/ registers one
// subcommand, named after upstream's Python module (train_eval, export, ...),
// so adding a subcommand never touches main.cc. Keep subcommands thin: parse
// flags, call the library.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace tzrec::cli {

// Adds the subcommand's flags to `app` and returns the function that runs it
// (after parsing) and returns the exit code.
using SetupFn = std::function<std::function<int()>(CLI::App& app)>;

struct Subcommand {
  std::string name;
  std::string description;
  SetupFn setup;
};

std::vector<Subcommand>& Registry();

// Use at namespace scope: `static const bool kRegistered = Register({...});`
bool Register(Subcommand subcommand);

}  // namespace tzrec::cli
