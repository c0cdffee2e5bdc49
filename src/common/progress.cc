#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace tzrec {

bool Progress::Enabled() {
  static const bool enabled = isatty(STDERR_FILENO) == 1;
  return enabled;
}

Progress::Progress(std::string label, uint64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total),
      start_(std::chrono::steady_clock::now()), last_draw_(start_), enabled_(Enabled()) {}

Progress::~Progress() { Finish(); }

void Progress::Update(uint64_t done, const std::string& extra) {
  done_ = done;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  Draw(extra);
}

void Progress::Draw(const std::string& extra) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = secs > 0 ? done_ / secs : 0.0;
  std::string count = total_ ? fmt::format("{}/{} {}", done_, total_, unit_)
                             : fmt::format("{} {}", done_, unit_);
  std::fprintf(stderr, "\r\033[K%s: %s (%.0f %s/s)%s%s", label_.c_str(), count.c_str(), rate,
               unit_.c_str(), extra.empty() ? "" : " ", extra.c_str());
  std::fflush(stderr);
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  Draw("");
  std::fputc('\n', stderr);
}

}  // namespace tzrec
