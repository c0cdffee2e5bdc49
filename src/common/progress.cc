#include "common/progress.h"

#include <unistd.h>

#include <cstdio>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace tzrec {
namespace {

// The progress line now on the terminal (empty: none), and the lock that
// orders its drawing against log lines from any thread.
struct TerminalLine {
  std::mutex mutex;
  std::string text;
};

TerminalLine& Line() {
  static TerminalLine line;
  return line;
}

// Writes each log message through `inner` with the progress line cleared
// before it and drawn again after it.
class AroundProgressSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit AroundProgressSink(spdlog::sink_ptr inner) : inner_(std::move(inner)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    TerminalLine& line = Line();
    std::lock_guard<std::mutex> lock(line.mutex);
    if (!line.text.empty()) {
      std::fputs("\r\033[K", stderr);
      std::fflush(stderr);
    }
    inner_->log(msg);
    inner_->flush();
    if (!line.text.empty()) {
      std::fputs(line.text.c_str(), stderr);
      std::fflush(stderr);
    }
  }
  void flush_() override { inner_->flush(); }
  void set_pattern_(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter_(std::unique_ptr<spdlog::formatter> formatter) override {
    inner_->set_formatter(std::move(formatter));
  }

 private:
  spdlog::sink_ptr inner_;
};

}  // namespace

void InstallTerminalLogger(const std::string& name) {
  auto inner = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto sink = std::make_shared<AroundProgressSink>(std::move(inner));
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(name, std::move(sink)));
}

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
  TerminalLine& line = Line();
  std::lock_guard<std::mutex> lock(line.mutex);
  line.text = fmt::format("{}: {} ({:.0f} {}/s){}{}", label_, count, rate, unit_,
                          extra.empty() ? "" : " ", extra);
  std::fprintf(stderr, "\r\033[K%s", line.text.c_str());
  std::fflush(stderr);
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  Draw("");
  TerminalLine& line = Line();
  std::lock_guard<std::mutex> lock(line.mutex);
  line.text.clear();  // the finished line stays on screen; log lines go below it
  std::fputc('\n', stderr);
}

}  // namespace tzrec
