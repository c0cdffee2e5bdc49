// torch.save archives read in place from a read-only file mapping.
//
// torch.save writes a zip (data.pkl + one record per storage), and stores the
// records uncompressed and 64-byte aligned, so a tensor's bytes are a plain
// byte range of the file. LoadTorchArchive lets PyTorch's own unpickler build
// every tensor as a view into the mapping: opening reads only the pickle and
// the zip directory; tensor pages come in when touched. The archive may be a
// whole file (state_dict.pt) or a byte range inside one (an item of a
// torch.distributed.checkpoint `.distcp` file).
//
// Untrusted archives: every zip entry read is checked against the CRC-32 its
// zip entry carries (libtorch's reader does not check them), so a flipped byte
// is an error naming the file and the tensor instead of a silently different
// model. The pickle is checked when the archive is opened; a tensor's record
// whole on first use (VerifyRecord), so opening still reads no tensor byte (a
// table read in row blocks is checked on its first block: one larger than the
// page cache is then read from disk twice). Entry names with `..` or an
// absolute path, entries that run past the archive's end, and tensors whose
// pickle declares a storage larger than its record are refused when the
// archive is opened, before anything is allocated for them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <ATen/core/ivalue.h>

namespace tzrec::checkpoint {

// A whole file mapped read-only. Tensors viewing it hold a reference, so the
// mapping lives as long as any of them.
class MappedFile {
 public:
  // Error naming the file when it is missing or unreadable.
  static std::shared_ptr<MappedFile> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const char* data() const { return base_; }
  int64_t size() const { return size_; }
  bool Contains(const void* p) const;

  // Reads [offset, offset + length) with pread (no mapping pages touched);
  // an error names `what` when the file is shorter.
  void ReadBytes(int64_t offset, int64_t length, void* dest, const std::string& what) const;
  // Drops the mapped pages of [begin, begin + bytes): private, never-written
  // pages of a file mapping, so a later access reads them again.
  void Release(const void* begin, int64_t bytes) const;
  // Copies `source` (a view, possibly of this mapping) into `target` of the
  // same shape: with pread when both are contiguous and the source lies in
  // the file, so no mapped page is touched; else through the mapping, whose
  // pages are then dropped. The source's record is checked first
  // (VerifyRecord). `what` names the tensor in errors.
  void CopyOut(const at::Tensor& source, const at::Tensor& target, const std::string& what) const;

 private:
  MappedFile() = default;
  std::string path_;
  int fd_ = -1;
  char* base_ = nullptr;
  int64_t size_ = 0;
};

// Unpickles the torch.save archive at [begin, begin + length) of `file`.
// Tensors are views into the mapping (or, for a record some tool stored
// compressed, inflated copies). Error naming `what` when the range is not a
// PyTorch zip archive.
c10::IValue LoadTorchArchive(const std::shared_ptr<MappedFile>& file, int64_t begin, int64_t length,
                             const std::string& what);

// Checks, once per record, that the record `tensor`'s storage views (as
// LoadTorchArchive built it) has the CRC-32 its zip entry declares; Error
// naming the file, `what` (e.g. "tensor model.x.weight") and the entry when it
// does not. Reads through the mapping (for callers about to view it), or with
// `drop_pages` with pread, touching no mapped page (for callers that copy with
// pread). No-op for a tensor not viewing such a record.
void VerifyRecord(const at::Tensor& tensor, const std::string& what, bool drop_pages);

// Checks every entry of the zip file at `path` (a TorchScript archive such
// as an export's scripted_model.pt, or a torch.save file) against its CRC-32,
// with the name and size checks LoadTorchArchive makes, before something that
// does not check them (torch::jit::load) reads it. Error naming the file and
// the entry. Reads the file once, with pread.
void VerifyTorchArchiveFile(const std::string& path);

// libtorch 1.13's unpickler reads an integer pickled as LONG1 only when it
// has 8 bytes, as libtorch's own pickler writes them; Python's pickler writes
// the shortest form (5 bytes for the 2.24e9 elements of a 140M x 16 table).
// Rewrites every shorter LONG1 to its sign-extended 8-byte form (protocols
// 0-3; anything else is returned unchanged). Exposed for its test.
std::string WidenLongInts(const std::string& pickle);

}  // namespace tzrec::checkpoint
