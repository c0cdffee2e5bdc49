// An output file that appears under its final name complete or not at all.
//
// Content is written to "<path>.tmp-<pid>" beside the final path; Commit()
// moves it into place, refusing to replace a file that exists by then. If the
// object is destroyed without Commit (an error on the way: a full disk too),
// the temporary file is removed, and so are the directories created for it
// (ParquetWriter's output directory), so a failed run never leaves a
// partial output behind; one
// left by a killed run is removed by the next run writing the same path
// (common/staging.h).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace tzrec::predict {

class AtomicOutputFile {
 public:
  // Fails when `path` exists or its directory cannot be created or written;
  // missing parent directories are created.
  explicit AtomicOutputFile(std::string path);
  ~AtomicOutputFile();
  AtomicOutputFile(const AtomicOutputFile&) = delete;
  AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;

  void Write(std::string_view bytes);
  // Flushes, closes and moves the file to its final name.
  void Commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  void Discard();

  std::string path_;
  std::string temp_path_;
  std::vector<std::string> created_dirs_;  // deepest first; removed on Discard when empty
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

}  // namespace tzrec::predict
