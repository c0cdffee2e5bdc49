// Writing a file so that every failure is seen: each write(2) and the final
// close(2) are checked, and a failure is an Error naming the file with the
// system's reason ("cannot write <path>: No space left on device" /
// "File too large"). Buffered streams hide exactly these failures: an
// std::ofstream's last flush happens in close(), whose result nobody reads,
// and libtorch's own file writer never checks it, so a full disk or a file
// size limit (RLIMIT_FSIZE) could publish a truncated file as complete.
// Every publish-by-rename writer (export staging, checkpoint saves, predict
// outputs) writes its bytes through this, then renames (common/staging.h).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace tzrec {

class FileWriter {
 public:
  // Creates (or truncates) `path`; Error naming it when that fails.
  explicit FileWriter(std::string path);
  // Closes without checking: an abandoned write (the caller removes the file).
  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  // Writes all of `bytes`; Error naming the file and errno on failure.
  void Write(std::string_view bytes);
  void Write(const void* data, size_t size) { Write(std::string_view(static_cast<const char*>(data), size)); }
  // Closes the file, checking the result. Writing after Close is an Error.
  void Close();

  // A sink for writers that take a callback (libtorch's ExportModule). It
  // never throws and always reports every byte taken: after a failure it
  // drops the rest, so the caller runs to its end (libtorch 1.13 turns a short
  // count into an exception thrown again from a destructor, which terminates
  // the process); Close() / RethrowFailure() then report the failure.
  std::function<size_t(const void*, size_t)> Sink();
  bool failed() const { return failure_errno_ != 0; }
  // Throws the Error for the first failure a Sink saw; nothing if none.
  void RethrowFailure() const;

  const std::string& path() const { return path_; }
  size_t bytes_written() const { return bytes_written_; }

 private:
  // write(2) until done; 0 or the errno of the failure.
  int WriteAll(const char* data, size_t size);

  std::string path_;
  int fd_ = -1;
  size_t bytes_written_ = 0;
  int failure_errno_ = 0;
};

// "cannot write <path>: <strerror(error)>", the one message of a failed write.
std::string WriteErrorMessage(const std::string& path, int error);

// Writes `content` to `path` (created or truncated), every step checked.
void WriteWholeFile(const std::string& path, std::string_view content);

}  // namespace tzrec
