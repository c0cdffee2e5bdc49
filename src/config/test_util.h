// Helpers shared by the tests that read upstream's example configs
// (TZREC_SHARED_DIR/upstream) and by the config tests' scratch files.
// Header-only, like every shared test helper: each area's test binary that
// includes it compiles it.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "common/test_support.h"

namespace tzrec::testing {

// The 17 upstream example directories under TZREC_SHARED_DIR/upstream, sorted.
inline std::vector<std::string> UpstreamConfigNames() {
  std::vector<std::string> names;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(TZREC_SHARED_DIR) + "/upstream")) {
    if (entry.is_directory() && std::filesystem::exists(entry.path() / "pipeline.config")) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline std::string UpstreamConfigPath(const std::string& name) {
  return std::string(TZREC_SHARED_DIR) + "/upstream/" + name + "/pipeline.config";
}

// One scratch directory per test binary run, removed at process exit.
inline std::filesystem::path SharedScratchDir() {
  static const ScratchDir scratch;
  return scratch.path();
}

// Writes `content` to SharedScratchDir()/name and returns the path.
inline std::string WriteScratchFile(const std::string& name, const std::string& content) {
  const auto path = SharedScratchDir() / name;
  std::filesystem::create_directories(path.parent_path());
  WriteTextFile(path.string(), content);
  return path.string();
}

}  // namespace tzrec::testing
