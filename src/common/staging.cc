#include "common/staging.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <spdlog/spdlog.h>

namespace tzrec {

namespace fs = std::filesystem;

std::string StagingPath(const std::string& target) {
  return target + kStagingInfix + std::to_string(::getpid());
}

std::optional<StagingName> ParseStagingName(const std::string& file_name) {
  const size_t at = file_name.rfind(kStagingInfix);
  if (at == std::string::npos || at == 0) return std::nullopt;
  const std::string digits = file_name.substr(at + sizeof(kStagingInfix) - 1);
  if (digits.empty() || digits.size() > 9 || digits[0] == '0') return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return StagingName{file_name.substr(0, at), std::stol(digits)};
}

bool ProcessAlive(long pid) {
  if (pid <= 0) return true;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

std::vector<std::string> RemoveStaleStaging(const std::string& dir,
                                            const std::function<bool(const std::string&)>& matches) {
  // Listed first, removed after: no removal while the directory is read.
  std::vector<std::pair<fs::path, long>> stale;
  std::error_code ec;
  fs::directory_iterator it(dir.empty() ? "." : dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::optional<StagingName> staging = ParseStagingName(it->path().filename().string());
    if (!staging || !matches(staging->target)) continue;
    if (staging->pid == static_cast<long>(::getpid()) || ProcessAlive(staging->pid)) continue;
    stale.emplace_back(it->path(), staging->pid);
  }
  std::vector<std::string> removed;
  for (const auto& [path, pid] : stale) {
    std::error_code remove_ec;
    fs::remove_all(path, remove_ec);
    if (remove_ec) {
      spdlog::warn("cannot remove {} (left by process {}, which is gone): {}", path.string(), pid,
                   remove_ec.message());
      continue;
    }
    spdlog::info("removed {}, left by process {}, which was stopped before it finished", path.string(), pid);
    removed.push_back(path.string());
  }
  return removed;
}

std::vector<std::string> RemoveStaleStaging(const std::string& target) {
  std::string path = target;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const fs::path p(path);
  const std::string name = p.filename().string();
  return RemoveStaleStaging(p.parent_path().string(), [&name](const std::string& t) { return t == name; });
}

}  // namespace tzrec
