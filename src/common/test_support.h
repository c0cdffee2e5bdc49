// Test-only helpers shared by the test binaries: scratch directories, small
// files, and the message of an expected error. Header-only: no library links it.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tzrec::testing {

// A fresh, empty directory for one test, removed when the object goes away.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "test";
    path_ = std::filesystem::temp_directory_path() /
            ("tzrec_test_" + std::to_string(getpid()) + "_" +
             std::to_string(counter++) + "_" + name);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& relative) const { return (path_ / relative).string(); }

 private:
  std::filesystem::path path_;
};

inline void WriteTextFile(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << content;
}

inline std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Runs `body` and returns the message of the exception it throws ("" if none).
template <typename Body>
std::string ErrorOf(Body&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// ROC AUC by counting pairs: of every (positive, negative) pair, the share
// where the positive scores higher, ties counting one half. Quadratic and
// plain on purpose: the reference the metric code (a rank sum) is checked
// against. Labels > 0.5 are positive; NaN without both classes.
inline double PairCountAuc(const std::vector<double>& scores, const std::vector<double>& labels) {
  double wins = 0, pairs = 0;
  for (size_t p = 0; p < scores.size(); ++p) {
    if (!(labels[p] > 0.5)) continue;
    for (size_t n = 0; n < scores.size(); ++n) {
      if (labels[n] > 0.5) continue;
      pairs += 1;
      wins += scores[p] > scores[n] ? 1.0 : scores[p] == scores[n] ? 0.5 : 0.0;
    }
  }
  return pairs == 0 ? std::nan("") : wins / pairs;
}

// What a command printed (stdout and stderr together) and its exit code.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// Runs `command` in a shell.
inline CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Runs `body` in a forked child whose files may not grow past `max_bytes`
// (RLIMIT_FSIZE, with SIGXFSZ ignored so a write past it fails with EFBIG,
// as on a full disk, instead of killing the process); returns what `body`
// returns, or "child failed: ..." when it threw or died. Needs no root. Keep
// `body` to plain file work: the child of a multi-threaded process must not
// wait on the parent's thread pools.
inline std::string RunWithFileSizeLimit(uint64_t max_bytes, const std::function<std::string()>& body) {
  int fds[2];
  if (pipe(fds) != 0) return "child failed: no pipe";
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    std::string result;
    try {
      signal(SIGXFSZ, SIG_IGN);
      const rlimit limit{static_cast<rlim_t>(max_bytes), static_cast<rlim_t>(max_bytes)};
      if (setrlimit(RLIMIT_FSIZE, &limit) != 0) throw std::runtime_error("setrlimit failed");
      result = body();
    } catch (const std::exception& e) {
      result = std::string("child failed: ") + e.what();
    }
    for (size_t done = 0; done < result.size();) {
      const ssize_t n = write(fds[1], result.data() + done, result.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string result;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof(buffer))) > 0) result.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "child failed: died (status " + std::to_string(status) + ")";
  return result;
}

// RunCommand with the command's files limited to `max_bytes` (RLIMIT_FSIZE,
// SIGXFSZ ignored: inherited through exec, so a program's writes past the
// limit fail with EFBIG, as on a full disk). Exact bytes, unlike the shell's
// `ulimit -f` (1024-byte blocks in bash, 512 in dash).
inline CommandResult RunCommandWithFileSizeLimit(uint64_t max_bytes, const std::string& command) {
  CommandResult result;
  int fds[2];
  if (pipe(fds) != 0) return result;
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[1]);
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{static_cast<rlim_t>(max_bytes), static_cast<rlim_t>(max_bytes)};
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(126);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof(buffer))) > 0) result.output.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

#ifdef TZREC_BINARY
// The tzrec command under test (the build's, CMake's TZREC_BINARY) with `args`.
inline CommandResult RunTzrec(const std::string& args) {
  return RunCommand(std::string("'") + TZREC_BINARY + "' " + args);
}
#endif

}  // namespace tzrec::testing
