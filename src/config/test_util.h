// Helpers shared by the config tests: the upstream fixture configs and a
// scratch directory per test binary run.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/test_support.h"

namespace tzrec::testing {

// The 17 upstream example directories under TZREC_SHARED_DIR/upstream, sorted.
std::vector<std::string> UpstreamConfigNames();
std::string UpstreamConfigPath(const std::string& name);

// A fresh directory under the system temp dir, removed at process exit.
std::filesystem::path SharedScratchDir();

// Writes `content` to SharedScratchDir()/name and returns the path.
std::string WriteScratchFile(const std::string& name, const std::string& content);

std::string ReadFile(const std::string& path);


}  // namespace tzrec::testing
