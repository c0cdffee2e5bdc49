#include "serve/model_versions.h"

#include <filesystem>

#include <spdlog/spdlog.h>

#include "artifacts/manifest.h"

namespace tzrec::serve {

namespace fs = std::filesystem;

std::optional<std::string> NewestExport(const std::string& base_dir) {
  std::optional<std::pair<fs::file_time_type, std::string>> newest;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(base_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || !entry.is_directory(ec)) continue;
    const fs::path manifest = entry.path() / artifacts::kExportManifestFile;
    const fs::file_time_type written = fs::last_write_time(manifest, ec);
    if (ec) continue;  // not published (yet)
    if (!newest || std::make_pair(written, name) > *newest) newest.emplace(written, name);
  }
  if (!newest) return std::nullopt;
  return (fs::path(base_dir) / newest->second).string();
}

VersionWatcher::VersionWatcher(std::string base_dir, std::string serving, ModelHolder& holder,
                               LoadFn load, std::chrono::milliseconds interval)
    : base_dir_(std::move(base_dir)), serving_(std::move(serving)), holder_(holder), load_(std::move(load)), interval_(interval),
      thread_([this] { Poll(); }) {}

VersionWatcher::~VersionWatcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void VersionWatcher::Poll() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [&] { return stopping_; })) {
    lock.unlock();
    const std::optional<std::string> newest = NewestExport(base_dir_);
    if (newest && *newest != serving_ && !broken_.count(*newest)) {
      spdlog::info("tzrec serve: loading {}", *newest);
      try {
        holder_.Swap(load_(*newest));
        serving_ = *newest;
        spdlog::info("tzrec serve: now serving {}", *newest);
      } catch (const std::exception& e) {
        spdlog::error("tzrec serve: {} cannot be served, keeping {}: {}", *newest, serving_,
                      e.what());
        broken_.insert(*newest);
      }
    }
    lock.lock();
  }
}

}  // namespace tzrec::serve
