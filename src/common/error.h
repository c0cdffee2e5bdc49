// Errors that reach the user. Every failure tzrec reports is one line naming the
// file, field or value at fault, and maps to a process exit code.
//
// Why exceptions and not a Status type: libtorch reports errors by throwing
// c10::Error, so every call into it can throw anyway; one exception type of our
// own with an exit code keeps error paths short and lets the CLI turn any failure
// into "tzrec: <message>" plus a non-zero exit in one place (cli/main.cc).
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace tzrec {

// Exit codes, shared by all subcommands.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,     // runtime failure (I/O, bad data, missing checkpoint...)
  kExitConfigError = 2, // the config (or a flag) is invalid
};

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message, int exit_code = kExitFailure)
      : std::runtime_error(std::move(message)), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// An invalid pipeline.config or flag: exit code 2.
class ConfigError : public Error {
 public:
  explicit ConfigError(std::string message) : Error(std::move(message), kExitConfigError) {}
};

template <typename... Args>
[[noreturn]] void Fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void FailConfig(fmt::format_string<Args...> format, Args&&... args) {
  throw ConfigError(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace tzrec
