#include "common/file_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/error.h"

namespace tzrec {

std::string WriteErrorMessage(const std::string& path, int error) {
  return fmt::format("cannot write {}: {}", path, std::strerror(error));
}

FileWriter::FileWriter(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ < 0) throw Error(WriteErrorMessage(path_, errno));
}

FileWriter::~FileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

int FileWriter::WriteAll(const char* data, size_t size) {
  if (fd_ < 0) return EBADF;
  while (size > 0) {
    const ssize_t n = ::write(fd_, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    data += n;
    size -= static_cast<size_t>(n);
    bytes_written_ += static_cast<size_t>(n);
  }
  return 0;
}

void FileWriter::Write(std::string_view bytes) {
  if (fd_ < 0) Fail("internal: write to {} after it was closed", path_);
  if (const int error = WriteAll(bytes.data(), bytes.size()); error != 0) {
    failure_errno_ = error;
    throw Error(WriteErrorMessage(path_, error));
  }
}

void FileWriter::Close() {
  RethrowFailure();
  if (fd_ < 0) return;
  const int fd = fd_;
  fd_ = -1;
  // close(2) can report a write-back failure (NFS, some FUSE file systems).
  if (::close(fd) != 0 && errno != EINTR) {
    failure_errno_ = errno;
    throw Error(WriteErrorMessage(path_, failure_errno_));
  }
}

std::function<size_t(const void*, size_t)> FileWriter::Sink() {
  return [this](const void* data, size_t size) -> size_t {
    if (failure_errno_ == 0) failure_errno_ = WriteAll(static_cast<const char*>(data), size);
    return size;
  };
}

void FileWriter::RethrowFailure() const {
  if (failure_errno_ != 0) throw Error(WriteErrorMessage(path_, failure_errno_));
}

void WriteWholeFile(const std::string& path, std::string_view content) {
  FileWriter file(path);
  file.Write(content);
  file.Close();
}

}  // namespace tzrec
