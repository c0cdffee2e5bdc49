#include "export/export_staging.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/file_writer.h"
#include "common/staging.h"

namespace tzrec::exporting {

namespace fs = std::filesystem;

namespace {

bool IsRemote(const std::string& path) { return path.find("://") != std::string::npos; }

std::string WithoutTrailingSlash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// The loser of a race for export_dir: upstream's message, then what happened.
[[noreturn]] void FailTakenMeanwhile(const std::string& to) {
  Fail("directory {} already exist. It appeared while this export ran (another export to the same "
       "directory published first); nothing of this export was kept.",
       to);
}

// rename(2) that fails with EEXIST/ENOTEMPTY instead of replacing `to` (a plain
// rename would replace an empty directory created by someone else meanwhile).
// Two exports to one export_dir at once both stage in their own directories;
// this rename is where exactly one of them wins, whole.
void RenameNoReplace(const std::string& from, const std::string& to) {
#ifdef RENAME_NOREPLACE
  if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return;
  if (errno != EINVAL && errno != ENOSYS) {
    if (errno == EEXIST || errno == ENOTEMPTY) FailTakenMeanwhile(to);
    Fail("cannot move {} to {}: {}", from, to, std::strerror(errno));
  }
#endif
  // File systems without RENAME_NOREPLACE: check, then rename (which still
  // refuses a non-empty directory).
  std::error_code ec;
  if (fs::exists(fs::symlink_status(to, ec))) FailTakenMeanwhile(to);
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY) FailTakenMeanwhile(to);
    Fail("cannot move {} to {}: {}", from, to, std::strerror(errno));
  }
}

// Exports to the same export_dir still running (their staging's owner is
// alive). Not refused here: a pid can be reused by an unrelated process, and
// the publishing rename decides between live exports anyway.
void WarnOfRunningExports(const std::string& export_dir) {
  const fs::path target(export_dir);
  const std::string name = target.filename().string();
  std::error_code ec;
  fs::directory_iterator it(target.parent_path().empty() ? fs::path(".") : target.parent_path(), ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::optional<StagingName> staging = ParseStagingName(it->path().filename().string());
    if (!staging || staging->target != name || staging->pid == static_cast<long>(::getpid()) ||
        !ProcessAlive(staging->pid)) {
      continue;
    }
    spdlog::warn("another export to {} is running (process {}, staging {}); the first to finish publishes "
                 "it and the other fails",
                 export_dir, staging->pid, it->path().string());
  }
}

}  // namespace

void RefuseExistingExportDir(const std::string& export_dir) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(export_dir, ec))) {
    Fail("directory {} already exist.", export_dir);
  }
}

std::unique_ptr<ExportStaging> ExportStaging::Begin(const std::string& export_dir_arg,
                                                    const std::string& published_dir) {
  if (export_dir_arg.empty()) FailConfig("--export_dir is empty");
  if (IsRemote(export_dir_arg)) {
    FailConfig("--export_dir {}: a remote export directory is staged locally by the export "
               "command; this is a local writer",
               export_dir_arg);
  }
  const std::string export_dir = WithoutTrailingSlash(export_dir_arg);
  RefuseExistingExportDir(export_dir);

  // Parents that do not exist yet, deepest first, so a failed export can take
  // back the ones it created.
  std::vector<std::string> created;
  fs::path parent = fs::path(export_dir).parent_path();
  std::error_code ec;
  for (fs::path p = parent; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    created.push_back(p.string());
    if (p == p.parent_path()) break;
  }
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) Fail("cannot create {}: {}", parent.string(), ec.message());
  }
  // Staging directories of exports to the same place that were killed.
  RemoveStaleStaging(export_dir);
  WarnOfRunningExports(export_dir);
  const std::string staging = StagingPath(export_dir);
  fs::remove_all(staging, ec);  // left over from a killed run with the same pid
  if (!fs::create_directory(staging, ec) || ec) {
    Fail("cannot create staging directory {}: {}", staging, ec.message());
  }
  return std::unique_ptr<ExportStaging>(new ExportStaging(
      export_dir, published_dir.empty() ? export_dir : WithoutTrailingSlash(published_dir), staging, created));
}

ExportStaging::ExportStaging(std::string export_dir, std::string published_dir, std::string staging_dir,
                             std::vector<std::string> created_parents)
    : export_dir_(std::move(export_dir)),
      published_dir_(std::move(published_dir)),
      staging_dir_(std::move(staging_dir)),
      created_parents_(std::move(created_parents)) {}

ExportStaging::~ExportStaging() {
  if (!finished_) RemoveStaging();
}

void ExportStaging::RemoveStaging() noexcept {
  std::error_code ec;
  fs::remove_all(staging_dir_, ec);
  if (ec) spdlog::warn("could not remove staging directory {}: {}", staging_dir_, ec.message());
  for (const std::string& dir : created_parents_) {
    if (!fs::remove(dir, ec)) break;  // not empty (someone else's files) or gone
  }
}

namespace {

// `relative` names something inside the export: no absolute path, no "..".
void RequireInside(const std::string& relative, const std::string& export_dir) {
  const fs::path p(relative);
  bool inside = !p.is_absolute();
  for (const fs::path& part : p) inside = inside && part != "..";
  if (!inside) Fail("cannot write {} into export {}: the name leads out of it", relative, export_dir);
}

}  // namespace

std::string ExportStaging::LocalPath(const std::string& relative) const {
  RequireInside(relative, export_dir_);
  const fs::path path = fs::path(staging_dir_) / relative;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) Fail("cannot create {}: {}", path.parent_path().string(), ec.message());
  return path.string();
}

std::string ExportStaging::LocalDir(const std::string& relative) const {
  RequireInside(relative, export_dir_);
  const fs::path path = relative.empty() ? fs::path(staging_dir_) : fs::path(staging_dir_) / relative;
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) Fail("cannot create {}: {}", path.string(), ec.message());
  return path.string();
}

std::string ExportStaging::FinalPath(const std::string& relative) const {
  if (relative.empty()) return published_dir_;
  // Not fs::path: "s3://b/p" must keep its double slash.
  return published_dir_ + "/" + relative;
}

void ExportStaging::WriteFile(const std::string& relative, const std::string& content) const {
  WriteWholeFile(LocalPath(relative), content);
}

void ExportStaging::CopyFile(const std::string& source, const std::string& relative) const {
  std::error_code ec;
  if (!fs::is_regular_file(source, ec)) Fail("asset file {} does not exist", source);
  const std::string target = LocalPath(relative);
  fs::copy_file(source, target, fs::copy_options::overwrite_existing, ec);
  if (ec) Fail("cannot copy {} to {}: {}", source, target, ec.message());
}

void ExportStaging::Publish() {
  if (finished_) Fail("export {} was already published", export_dir_);
  finished_ = true;
  try {
    RenameNoReplace(staging_dir_, export_dir_);
  } catch (...) {
    RemoveStaging();
    throw;
  }
}

}  // namespace tzrec::exporting
