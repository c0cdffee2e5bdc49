// Progress for long work (training, export of large tables, prediction): a
// single self-overwriting line on a terminal, nothing at all when stderr is not
// a terminal (logs, CI), so logs stay quiet. Log lines written through the
// logger InstallTerminalLogger() sets clear the progress line first and redraw
// it after themselves, so the two never run into each other.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tzrec {

// Makes spdlog's default logger write to stderr (coloured on a terminal)
// around the progress line. `name` is the logger's name.
void InstallTerminalLogger(const std::string& name);

class Progress {
 public:
  // `total` may be 0 when unknown. `unit` names what is counted ("rows", "steps").
  Progress(std::string label, uint64_t total, std::string unit);
  ~Progress();

  // Sets the absolute count done; redraws at most ~10 times a second.
  void Update(uint64_t done, const std::string& extra = "");
  // Draws the final state and ends the line.
  void Finish();

  // Whether progress is drawn at all (stderr is a terminal).
  static bool Enabled();

 private:
  void Draw(const std::string& extra);

  std::string label_, unit_;
  uint64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool enabled_, finished_ = false;
};

}  // namespace tzrec
