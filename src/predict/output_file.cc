#include "predict/output_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "common/error.h"
#include "common/staging.h"

namespace tzrec::predict {

namespace fs = std::filesystem;

AtomicOutputFile::AtomicOutputFile(std::string path) : path_(std::move(path)) {
  if (path_.empty()) Fail("predict_output_path is empty");
  std::error_code ec;
  if (fs::exists(fs::symlink_status(path_, ec))) {
    Fail("predict_output_path {} already exists; remove it or choose another path", path_);
  }
  const fs::path parent = fs::path(path_).parent_path();
  for (fs::path p = parent; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    created_dirs_.push_back(p.string());
    if (p == p.parent_path()) break;
  }
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) Fail("cannot create directory {} for predict_output_path: {}", parent.string(), ec.message());
  }
  RemoveStaleStaging(path_);  // left by killed runs writing the same output
  temp_path_ = StagingPath(path_);
  file_ = std::fopen(temp_path_.c_str(), "wb");
  if (file_ == nullptr) {
    const int error = errno;
    Discard();
    Fail("cannot write {}: {}", temp_path_, std::strerror(error));
  }
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
}

AtomicOutputFile::~AtomicOutputFile() {
  if (!committed_) Discard();
}

void AtomicOutputFile::Discard() {
  if (file_ != nullptr) {
    std::fclose(file_);
    file_ = nullptr;
  }
  if (!temp_path_.empty()) std::remove(temp_path_.c_str());
  std::error_code ec;
  for (const std::string& dir : created_dirs_) {
    if (!fs::remove(dir, ec)) break;  // not empty (someone else's files) or gone
  }
}

void AtomicOutputFile::Write(std::string_view bytes) {
  if (file_ == nullptr) Fail("internal: write to {} after it was closed", path_);
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    Fail("cannot write {}: {}", temp_path_, std::strerror(errno));
  }
}

void AtomicOutputFile::Commit() {
  if (committed_) return;
  if (file_ == nullptr) Fail("internal: commit of {} after it was closed", path_);
  const bool flushed = std::fflush(file_) == 0;
  const int flush_errno = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!flushed || !closed) {
    Fail("cannot write {}: {}", temp_path_, std::strerror(flushed ? errno : flush_errno));
  }
  // link() fails when the final name was taken meanwhile, where rename() would
  // silently replace it; rename is the fallback on file systems without links.
  if (::link(temp_path_.c_str(), path_.c_str()) == 0) {
    std::remove(temp_path_.c_str());
  } else if (errno == EEXIST) {
    Fail("predict_output_path {} already exists; remove it or choose another path", path_);
  } else if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    Fail("cannot move {} to {}: {}", temp_path_, path_, std::strerror(errno));
  }
  committed_ = true;
}

}  // namespace tzrec::predict
