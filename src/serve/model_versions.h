// New model versions without a restart (--model_base_dir): the server serves
// the newest published export under a directory and watches it for newer
// ones. A newer export is loaded and warmed up off the request path, then
// swapped in at once; requests hold the model they started with, so the ones
// in flight finish on the old version. A broken new version is logged and
// skipped; the old one keeps serving.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "serve/served_model.h"

namespace tzrec::serve {

// The newest published export directly under `base_dir`: the subdirectory
// whose export_manifest.json (written last by an export) is newest, the
// greater name breaking ties. Subdirectories without a manifest are not
// published (yet) and do not count. nullopt when there is none.
std::optional<std::string> NewestExport(const std::string& base_dir);

// The model requests run on; swapped as a whole.
class ModelHolder {
 public:
  explicit ModelHolder(std::shared_ptr<ServedModel> model) : model_(std::move(model)) {}
  std::shared_ptr<ServedModel> Current() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return model_;
  }
  void Swap(std::shared_ptr<ServedModel> model) {
    std::lock_guard<std::mutex> lock(mutex_);
    model_.swap(model);
    // The old model is released here or by the last request holding it.
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<ServedModel> model_;
};

// Polls `base_dir` every `interval` on a thread of its own; `serving` is the
// version the holder starts with (as NewestExport named it).
class VersionWatcher {
 public:
  using LoadFn = std::function<std::shared_ptr<ServedModel>(const std::string& dir)>;
  VersionWatcher(std::string base_dir, std::string serving, ModelHolder& holder, LoadFn load,
                 std::chrono::milliseconds interval);
  ~VersionWatcher();

 private:
  void Poll();

  std::string base_dir_;
  std::string serving_;
  ModelHolder& holder_;
  LoadFn load_;
  std::chrono::milliseconds interval_;
  std::set<std::string> broken_;  // versions that failed to load: not retried
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tzrec::serve
