// What the fuzz targets share: the one outcome a bad input may have (a
// tzrec::Error, which the command reports as one line), and a scratch file
// for parsers that take a path.
//
// Anything else is a finding: a crash or sanitizer report (libFuzzer stops on
// it), and any other exception escaping the parser (std::out_of_range,
// nlohmann::json's, c10::Error...): the command would report it without the
// file and field at fault, so ExpectOnlyTzrecErrors aborts on it.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <typeinfo>

#include "common/error.h"

namespace tzrec::fuzzing {

// Runs `body`; a tzrec::Error (ConfigError included) is the expected answer
// to bad input, anything else aborts with its type and message.
template <typename Body>
void ExpectOnlyTzrecErrors(Body&& body) {
  try {
    body();
  } catch (const Error& e) {
    // Bad input, reported as it should be. TZREC_FUZZ_VERBOSE=1 shows the
    // message (to check that a seed reaches past the first checks).
    static const bool verbose = std::getenv("TZREC_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "refused: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz finding: %s escaped: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
}

// A private directory under $TMPDIR for this process, removed at exit.
inline const std::filesystem::path& ScratchDir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/tzrec-fuzz-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(ScratchDir(), ec);
    });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

// Writes `bytes` to ScratchDir()/name (replacing it) and returns the path.
inline std::string WriteScratchFile(const std::string& name, std::string_view bytes) {
  const std::filesystem::path path = ScratchDir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::abort();
  }
  return path.string();
}

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace tzrec::fuzzing
