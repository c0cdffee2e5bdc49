// Implementation of test_util.h. Named *_test.cc so it is compiled into the
// test binary only, never into the library.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "config/test_util.h"

namespace tzrec::testing {

std::vector<std::string> UpstreamConfigNames() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(TZREC_SHARED_DIR) + "/upstream")) {
    if (entry.is_directory() && std::filesystem::exists(entry.path() / "pipeline.config")) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string UpstreamConfigPath(const std::string& name) {
  return std::string(TZREC_SHARED_DIR) + "/upstream/" + name + "/pipeline.config";
}

namespace {
struct Scratch {
  std::filesystem::path path;
  Scratch() {
    path = std::filesystem::temp_directory_path() / ("tzrec_config_tests_" + std::to_string(getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};
}  // namespace

std::filesystem::path SharedScratchDir() {
  static Scratch scratch;
  return scratch.path;
}

std::string WriteScratchFile(const std::string& name, const std::string& content) {
  auto path = SharedScratchDir() / name;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return path.string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}


}  // namespace tzrec::testing
