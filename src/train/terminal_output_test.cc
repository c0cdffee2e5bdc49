// What a user sees when `tzrec train_eval` runs on a terminal (a pseudo-
// terminal here) and in a log: on the terminal, every log line stands on its
// own line and the progress line is redrawn below it, never run into it; in a
// log (stderr a pipe), nothing but log lines.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <filesystem>
#include <sstream>

#include "common/test_support.h"
#include "config/pipeline_config.h"
#include "data/gen_data.h"
#include "models/test_models.h"

namespace fs = std::filesystem;

namespace tzrec::train {
namespace {

struct PtyRun {
  int exit_code = -1;
  std::string output;  // every byte the program wrote to its terminal
};

// Runs `argv` with stdin, stdout and stderr on a new pseudo-terminal.
PtyRun RunOnTerminal(const std::vector<std::string>& args) {
  PtyRun run;
  int master = -1;
  struct winsize size {};
  size.ws_col = 200;
  size.ws_row = 50;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
  if (pid < 0) return run;
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(master, buffer, sizeof(buffer));
    if (n > 0) {
      run.output.append(buffer, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // EIO once the child has exited and closed the terminal
    }
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// The lines a terminal shows after `bytes`: carriage return moves to column
// 0, ESC[K erases to the end of the line, other escape sequences (colours)
// show nothing, characters overwrite what is under the cursor.
std::vector<std::string> ScreenLines(const std::string& bytes) {
  std::vector<std::string> lines(1);
  size_t column = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    std::string& line = lines.back();
    if (c == '\n') {
      lines.emplace_back();
      column = 0;
    } else if (c == '\r') {
      column = 0;
    } else if (c == '\033' && i + 1 < bytes.size() && bytes[i + 1] == '[') {
      size_t end = i + 2;
      while (end < bytes.size() && !std::isalpha(static_cast<unsigned char>(bytes[end]))) ++end;
      if (end < bytes.size() && bytes[end] == 'K') line.resize(std::min(line.size(), column));
      i = end;
    } else {
      if (column < line.size()) {
        line[column] = c;
      } else {
        line.resize(column);
        line.push_back(c);
      }
      ++column;
    }
  }
  return lines;
}

class TerminalOutputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    protos::EasyRecConfig config = models::testing::SmallDeepFMConfig();
    data::GenDataOptions gen;
    gen.output_dir = (dir_.path() / "data").string();
    gen.num_rows = 2000;
    data::GenDataSummary data = data::GenerateData(config, gen);
    config.set_train_input_path(data.train_path);
    config.set_eval_input_path(data.eval_path);
    config.set_model_dir((dir_.path() / "model").string());
    config.mutable_data_config()->set_batch_size(16);
    // Long enough for the progress line (redrawn every 0.1 s) to be on
    // screen when log lines come, every 100 steps.
    config.mutable_train_config()->set_num_steps(3000);
    config.mutable_train_config()->set_log_step_count_steps(100);
    config.mutable_train_config()->set_save_checkpoints_steps(3000);
    config_path_ = (dir_.path() / "pipeline.config").string();
    SavePipelineConfig(config, config_path_);
  }

  testing::ScratchDir dir_;
  std::string config_path_;
};

TEST_F(TerminalOutputTest, LogLinesClearTheProgressLineAndItIsRedrawnAfterThem) {
  const PtyRun run = RunOnTerminal({TZREC_BINARY, "train_eval", "--pipeline_config_path", config_path_});
  ASSERT_EQ(run.exit_code, 0) << run.output;

  int step_lines = 0, progress_lines = 0;
  for (const std::string& line : ScreenLines(run.output)) {
    const bool progress = line.find("steps/s)") != std::string::npos;
    const bool log = line.find("] [info] ") != std::string::npos;
    EXPECT_FALSE(progress && log) << "progress and log on one line: " << line;
    if (log) EXPECT_EQ(line.rfind("[", 0), 0u) << "a log line not at column 0: " << line;
    if (line.find("] [info] step ") != std::string::npos) ++step_lines;
    if (progress) ++progress_lines;
  }
  EXPECT_EQ(step_lines, 30);
  EXPECT_EQ(progress_lines, 1) << "the finished progress line stays, once";
  // The progress line was on screen while training logged (a cleared line
  // before a later log line): without that the checks above prove nothing.
  const size_t drawn = run.output.find("steps/s)");
  ASSERT_NE(drawn, std::string::npos);
  EXPECT_NE(run.output.find("\r\033[K", drawn), std::string::npos);
  EXPECT_LT(drawn, run.output.rfind("] [info] step "));
}

TEST_F(TerminalOutputTest, WithoutATerminalOnlyLogLines) {
  const auto run = testing::RunTzrec("train_eval --pipeline_config_path " + config_path_);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output.find('\r'), std::string::npos);
  EXPECT_EQ(run.output.find('\033'), std::string::npos);
  std::stringstream lines(run.output);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(line.rfind("[", 0), 0u) << "not a log line: " << line;
  }
}

}  // namespace
}  // namespace tzrec::train
