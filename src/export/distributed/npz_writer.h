// Writes .npz archives (what numpy.savez writes and numpy.load reads) with
// libzip, streaming: an array's bytes are produced block by block while the
// archive is written, so an array larger than memory (a 140M-row embedding
// table) is never held whole.
//
// Each array becomes the entry "<name>.npy", stored uncompressed, holding a
// .npy file: numpy's format header (magic, version, a Python-literal dict
// with descr / fortran_order / shape, padded so the data starts 64-byte
// aligned) followed by the C-order data. Entries over 4 GiB get zip64 records
// (libzip adds them from the declared size).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tzrec::exporting::distributed {

// numpy's .npy header for a C-order array of dtype `descr` (e.g. "<f4",
// "|u1") and `shape`: version 1.0, or 2.0 when the dict does not fit 1.0's
// 16-bit length.
std::string NpyHeader(const std::string& descr, const std::vector<int64_t>& shape);

// Produces an array's data in order: each call fills `out` with the next
// block and returns its size; returning 0 ends the data. Throwing aborts the
// archive (Close() rethrows).
using BlockProducer = std::function<size_t(std::vector<char>& out)>;

class NpzWriter {
 public:
  // The archive is created at `path` when Close() succeeds (libzip writes a
  // temporary file beside it and renames it).
  explicit NpzWriter(std::string path);
  ~NpzWriter();
  NpzWriter(const NpzWriter&) = delete;
  NpzWriter& operator=(const NpzWriter&) = delete;

  // Adds "<name>.npy" of `shape` and dtype `descr` whose data is
  // `data_bytes` bytes long. `make_producer` is called when libzip reads the
  // entry (during Close(), possibly more than once: each call starts over).
  void AddArray(const std::string& name, const std::string& descr,
                const std::vector<int64_t>& shape, uint64_t data_bytes,
                std::function<BlockProducer()> make_producer);

  // Writes the archive. Error naming the file (or the producer's own error)
  // when it fails; then nothing is left at `path`.
  void Close();

  const std::string& path() const { return path_; }

 private:
  struct Archive;
  struct EntrySource;

  std::string path_;
  std::unique_ptr<Archive> archive_;
  std::vector<std::unique_ptr<EntrySource>> sources_;
};

}  // namespace tzrec::exporting::distributed
