#include "checkpoint/torch_archive.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <isa-l/crc.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/csrc/jit/serialization/unpickler.h>

#include "common/error.h"

namespace tzrec::checkpoint {

std::shared_ptr<MappedFile> MappedFile::Open(const std::string& path) {
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file->fd_ < 0) {
    if (errno == ENOENT) Fail("cannot read {}: no such file", path);
    Fail("cannot read {}: {}", path, std::strerror(errno));
  }
  struct stat st;
  if (fstat(file->fd_, &st) != 0) Fail("cannot read {}: {}", path, std::strerror(errno));
  if (S_ISDIR(st.st_mode)) Fail("cannot read {}: it is a directory", path);
  file->size_ = st.st_size;
  if (file->size_ > 0) {
    void* base = mmap(nullptr, static_cast<size_t>(file->size_), PROT_READ, MAP_PRIVATE, file->fd_, 0);
    if (base == MAP_FAILED) Fail("cannot map {}: {}", path, std::strerror(errno));
    file->base_ = static_cast<char*>(base);
  }
  return file;
}

MappedFile::~MappedFile() {
  if (base_ != nullptr) munmap(base_, static_cast<size_t>(size_));
  if (fd_ >= 0) close(fd_);
}

bool MappedFile::Contains(const void* p) const {
  auto* c = static_cast<const char*>(p);
  return base_ != nullptr && c >= base_ && c < base_ + size_;
}

void MappedFile::ReadBytes(int64_t offset, int64_t length, void* dest, const std::string& what) const {
  char* out = static_cast<char*>(dest);
  while (length > 0) {
    // One pread moves at most ~2 GiB on Linux; loop until done.
    const ssize_t got = pread(fd_, out, static_cast<size_t>(std::min<int64_t>(length, 1LL << 30)),
                              static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) Fail("cannot read {} from {}: {}", what, path_, got < 0 ? std::strerror(errno) : "file truncated");
    out += got;
    offset += got;
    length -= got;
  }
}

void MappedFile::Release(const void* begin, int64_t bytes) const {
  if (bytes <= 0 || !Contains(begin)) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t first = reinterpret_cast<uintptr_t>(begin) & ~(page - 1);
  const uintptr_t last = (reinterpret_cast<uintptr_t>(begin) + static_cast<uintptr_t>(bytes) + page - 1) & ~(page - 1);
  madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

void MappedFile::CopyOut(const at::Tensor& source, const at::Tensor& target, const std::string& what) const {
  const bool file_backed = source.numel() > 0 && Contains(source.data_ptr());
  VerifyRecord(source, what, /*drop_pages=*/true);
  if (file_backed && source.is_contiguous() && target.is_contiguous()) {
    ReadBytes(static_cast<const char*>(source.data_ptr()) - base_, static_cast<int64_t>(source.nbytes()),
              target.data_ptr(), what);
    return;
  }
  target.copy_(source);
  if (!file_backed) return;
  // The bytes the strided view spans, from its first element to its last.
  int64_t extent = 1;
  for (int64_t d = 0; d < source.dim(); ++d) extent += (source.size(d) - 1) * source.stride(d);
  Release(source.data_ptr(), extent * static_cast<int64_t>(source.element_size()));
}

namespace {

// The first line of a libtorch error (its messages carry source locations).
std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// Storage of the zip's entries, by full entry name.
struct ZipEntryInfo {
  bool stored = true;  // not compressed
  uint64_t size = 0;       // uncompressed
  uint64_t comp_size = 0;  // bytes in the archive
  uint32_t crc = 0;
};

// Deflate expands at most ~1032:1; a compressed entry declaring more is a
// lie that would make the inflating reader allocate it.
constexpr uint64_t kMaxDeflateRatio = 1100;

// An entry name that could point outside the archive's own tree.
bool UnsafeEntryName(const std::string& name) {
  if (name.empty() || name[0] == '/' || name[0] == '\\') return true;
  if (name.size() >= 2 && name[1] == ':') return true;  // "C:..."
  size_t begin = 0;
  while (begin <= name.size()) {
    size_t end = name.find_first_of("/\\", begin);
    if (end == std::string::npos) end = name.size();
    if (name.compare(begin, end - begin, "..") == 0) return true;
    begin = end + 1;
  }
  return false;
}

std::map<std::string, ZipEntryInfo> ListZipEntries(const char* data, int64_t length, const std::string& what) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t* source = zip_source_buffer_create(data, static_cast<zip_uint64_t>(length), 0, &ze);
  zip_t* archive = source == nullptr ? nullptr : zip_open_from_source(source, ZIP_RDONLY, &ze);
  if (archive == nullptr) {
    std::string message = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    if (source != nullptr) zip_source_free(source);
    Fail("cannot read {}: not a PyTorch tensor file ({})", what, message);
  }
  zip_error_fini(&ze);
  std::unique_ptr<zip_t, void (*)(zip_t*)> guard(archive, [](zip_t* z) { zip_discard(z); });  // frees the source
  std::map<std::string, ZipEntryInfo> entries;
  const zip_int64_t count = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t st;
    if (zip_stat_index(archive, static_cast<zip_uint64_t>(i), 0, &st) != 0) continue;
    if ((st.valid & ZIP_STAT_NAME) == 0) continue;
    const std::string name = st.name;
    if (UnsafeEntryName(name)) Fail("cannot read {}: zip entry \"{}\" names a path outside the archive", what, name);
    ZipEntryInfo info;
    info.stored = (st.valid & ZIP_STAT_COMP_METHOD) == 0 || st.comp_method == ZIP_CM_STORE;
    info.size = (st.valid & ZIP_STAT_SIZE) ? st.size : 0;
    info.comp_size = (st.valid & ZIP_STAT_COMP_SIZE) ? st.comp_size : info.size;
    if ((st.valid & ZIP_STAT_CRC) == 0) Fail("cannot read {}: zip entry {} has no CRC-32", what, name);
    info.crc = st.crc;
    if (info.comp_size > static_cast<uint64_t>(length) || (info.stored && info.size != info.comp_size) ||
        (!info.stored && info.size > info.comp_size * kMaxDeflateRatio + 64)) {
      Fail("cannot read {}: zip entry {} declares {} bytes ({} stored), more than the archive's {} bytes can hold",
           what, name, info.size, info.comp_size, length);
    }
    entries[name] = info;
  }
  return entries;
}

// The zip CRC-32 (IEEE, reflected: the values of zlib's crc32) of
// [data, data + size). ISA-L's: ~25 GB/s against zlib's ~5 on this machine
// (docs/benchmarks.md).
uint32_t Crc32Of(const char* data, uint64_t size) {
  return crc32_gzip_refl(0, reinterpret_cast<const unsigned char*>(data), size);
}

// The same for `size` bytes of `file` from `offset`, read with pread in 4 MiB
// blocks: no page of the mapping is touched (faulting them in costs more than
// the copy, and they would count towards the process' memory).
uint32_t Crc32OfFile(const MappedFile& file, int64_t offset, uint64_t size, const std::string& what) {
  constexpr uint64_t kBlock = 4ULL << 20;
  std::vector<unsigned char> buffer(static_cast<size_t>(std::min(kBlock, size)));
  uint32_t crc = 0;
  for (uint64_t at = 0; at < size; at += kBlock) {
    const uint64_t n = std::min(kBlock, size - at);
    file.ReadBytes(offset + static_cast<int64_t>(at), static_cast<int64_t>(n), buffer.data(), what);
    crc = crc32_gzip_refl(crc, buffer.data(), n);
  }
  return crc;
}

[[noreturn]] void FailCrc(const std::string& path, const std::string& subject, const std::string& entry, uint32_t got,
                          uint32_t want) {
  Fail("{} is corrupted: {} fails its CRC-32 check (zip entry {}: computed {:08x}, the entry says {:08x})", path,
       subject, entry, got, want);
}

// What a tensor record's storage holds on to: the mapping (or the inflated
// copy of a compressed record), and what is needed to check the record once
// (VerifyRecord).
struct RecordRef {
  std::shared_ptr<const MappedFile> file;
  at::DataPtr inflated;  // set for a compressed record: the bytes begin points at
  const char* begin = nullptr;
  uint64_t size = 0;
  uint32_t crc = 0;
  std::string entry;  // the zip entry's full name
  std::mutex mutex;
  bool verified = false;
};

void ReleaseRecordRef(void* ctx) { delete static_cast<RecordRef*>(ctx); }

// The record a storage views, or nullptr when it is not one of ours.
RecordRef* RecordOf(const c10::Storage& storage) {
  const c10::DataPtr& data_ptr = storage.data_ptr();
  return data_ptr.get_deleter() == &ReleaseRecordRef ? static_cast<RecordRef*>(data_ptr.get_context()) : nullptr;
}

// Every tensor in `value` views bytes inside its record: the pickle declares
// each storage's element count, and a count past the record would make the
// views read past it (outside the mapping).
void CheckStorages(const c10::IValue& value, const std::string& what) {
  if (value.isTensor()) {
    const at::Tensor& tensor = value.toTensor();
    if (!tensor.defined() || !tensor.has_storage()) return;
    const RecordRef* ref = RecordOf(tensor.storage());
    if (ref == nullptr) return;
    const uint64_t nbytes = tensor.storage().nbytes();
    if (nbytes > ref->size) {
      Fail("cannot read {}: a {} tensor of shape {} declares a storage of {} bytes, its record {} holds {}", what,
           c10::toString(tensor.scalar_type()), c10::str(tensor.sizes()), nbytes, ref->entry, ref->size);
    }
  } else if (value.isGenericDict()) {
    for (const auto& item : value.toGenericDict()) CheckStorages(item.value(), what);
  } else if (value.isList()) {
    for (const c10::IValue& item : value.toListRef()) CheckStorages(item, what);
  } else if (value.isTuple()) {
    for (const c10::IValue& item : value.toTupleRef().elements()) CheckStorages(item, what);
  }
}

// PyTorchStreamReader over a byte range of the mapping.
class SliceAdapter : public caffe2::serialize::ReadAdapterInterface {
 public:
  SliceAdapter(const char* data, size_t size) : data_(data), size_(size) {}
  size_t size() const override { return size_; }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= size_) return 0;
    n = std::min<size_t>(n, size_ - pos);
    std::memcpy(buf, data_ + pos, n);
    return n;
  }

 private:
  const char* data_;
  size_t size_;
};

}  // namespace

std::string WidenLongInts(const std::string& in) {
  enum Arg { kNone, kFixed, kLen1, kLen4, kLen8, kLine, kTwoLines };
  struct Op {
    Arg arg;
    int size;
  };
  auto op_of = [](unsigned char c) -> std::optional<Op> {
    switch (c) {
      case 0x80: case 'K': case 'h': case 'q': case 0x82: return Op{kFixed, 1};  // PROTO BININT1 BINGET BINPUT EXT1
      case 'M': case 0x83: return Op{kFixed, 2};                                   // BININT2 EXT2
      case 'J': case 'j': case 'r': case 0x84: return Op{kFixed, 4};               // BININT LONG_BINGET LONG_BINPUT EXT4
      case 'G': return Op{kFixed, 8};                                              // BINFLOAT
      case 'X': case 'B': case 'T': case 0x8b: return Op{kLen4, 0};                // BINUNICODE BINBYTES BINSTRING LONG4
      case 0x8c: case 'C': case 'U': case 0x8a: return Op{kLen1, 0};               // SHORT_BINUNICODE SHORT_BINBYTES SHORT_BINSTRING LONG1
      case 0x8d: case 0x8e: return Op{kLen8, 0};                                   // BINUNICODE8 BINBYTES8
      case 'I': case 'L': case 'F': case 'S': case 'V': case 'P': case 'g': case 'p':
        return Op{kLine, 0};
      case 'c': case 'i': return Op{kTwoLines, 0};                                 // GLOBAL INST
      case '(': case '.': case '0': case '1': case '2': case 'N': case 0x88: case 0x89:
      case '}': case ']': case ')': case 't': case 0x85: case 0x86: case 0x87: case 'a':
      case 'e': case 's': case 'u': case 'b': case 'R': case 'Q': case 0x81: case 0x92:
      case 0x93: case 0x94: case 'd': case 'l': case 'o': case 0x8f: case 0x90: case 0x91:
        return Op{kNone, 0};
      default:
        return std::nullopt;
    }
  };
  std::string out;
  out.reserve(in.size() + 64);
  size_t pos = 0;
  auto little = [&](size_t at, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
    return v;
  };
  while (pos < in.size()) {
    const unsigned char c = static_cast<unsigned char>(in[pos]);
    const std::optional<Op> op = op_of(c);
    if (!op) return in;
    size_t end = pos + 1;
    switch (op->arg) {
      case kNone: break;
      case kFixed: end += op->size; break;
      case kLen1: end += 1 + (end < in.size() ? little(end, 1) : 0); break;
      case kLen4: end += 4 + (end + 4 <= in.size() ? little(end, 4) : 0); break;
      case kLen8: end += 8 + (end + 8 <= in.size() ? little(end, 8) : 0); break;
      case kLine:
      case kTwoLines: {
        for (int line = 0; line < (op->arg == kLine ? 1 : 2); ++line) {
          end = in.find('\n', end);
          if (end == std::string::npos) return in;
          ++end;
        }
        break;
      }
    }
    if (end > in.size()) return in;
    const size_t length = c == 0x8a ? static_cast<size_t>(little(pos + 1, 1)) : 0;
    if (c == 0x8a && length > 0 && length < 8) {
      // Sign-extend the little-endian two's-complement bytes.
      const bool negative = (static_cast<unsigned char>(in[pos + 1 + length]) & 0x80) != 0;
      out += static_cast<char>(0x8a);
      out += static_cast<char>(8);
      out.append(in, pos + 2, length);
      out.append(8 - length, negative ? static_cast<char>(0xFF) : '\0');
    } else {
      out.append(in, pos, end - pos);
    }
    if (c == '.') {
      out.append(in, end, std::string::npos);
      return out;
    }
    pos = end;
  }
  return out;
}


namespace {

// LoadTorchArchive without its catch of c10::Error.
c10::IValue LoadTorchArchiveRecords(const std::shared_ptr<MappedFile>& file, int64_t begin, int64_t length,
                                    const std::string& what) {
  if (begin < 0 || length < 0 || begin + length > file->size()) {
    Fail("cannot read {}: bytes [{}, {}) run past the end of {} ({} bytes)", what, begin, begin + length,
         file->path(), file->size());
  }
  const char* data = file->data() + begin;
  const std::map<std::string, ZipEntryInfo> zip_entries = ListZipEntries(data, length, what);
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(
        std::make_shared<SliceAdapter>(data, static_cast<size_t>(length)));
  } catch (const c10::Error& e) {
    Fail("cannot read {}: not a PyTorch tensor file ({})", what, FirstLine(e.what_without_backtrace()));
  }
  // Records are "<archive>/data.pkl", "<archive>/data/<key>"; the archive
  // name is the file's stem for torch.save to a path and "archive" otherwise.
  std::string prefix;
  if (!zip_entries.empty()) {
    const std::string& first = zip_entries.begin()->first;
    prefix = first.substr(0, first.find('/') + 1);
  }
  if (!reader->hasRecord("data.pkl")) Fail("cannot read {}: not a PyTorch tensor file (no data.pkl)", what);
  // The stored entry of a record (its CRC-32 and sizes); Error when absent.
  auto entry_of = [&](const std::string& name) -> const std::pair<const std::string, ZipEntryInfo>& {
    auto it = zip_entries.find(prefix + name);
    if (it == zip_entries.end()) Fail("cannot read {}: record {} is missing", what, name);
    if (it->second.stored) {
      const uint64_t offset = reader->getRecordOffset(name);
      if (offset > static_cast<uint64_t>(length) || it->second.size > static_cast<uint64_t>(length) - offset) {
        Fail("cannot read {}: zip entry {} runs past the end of the archive", what, it->first);
      }
    }
    return *it;
  };
  const auto& pickle_entry = entry_of("data.pkl");
  at::DataPtr record;
  size_t record_size = 0;
  std::tie(record, record_size) = reader->getRecord("data.pkl");
  const uint32_t pickle_crc = Crc32Of(static_cast<const char*>(record.get()), record_size);
  if (pickle_crc != pickle_entry.second.crc) {
    FailCrc(file->path(), what == file->path() ? "its tensor index" : "the tensor index of " + what,
            pickle_entry.first, pickle_crc, pickle_entry.second.crc);
  }
  const std::string pickle = WidenLongInts(std::string(static_cast<const char*>(record.get()), record_size));
  size_t pickle_pos = 0;
  auto read_pickle = [&](char* buffer, size_t n) -> size_t {
    n = std::min(n, pickle.size() - pickle_pos);
    std::memcpy(buffer, pickle.data() + pickle_pos, n);
    pickle_pos += n;
    return n;
  };
  auto read_record = [&](const std::string& key) -> at::DataPtr {
    const auto& [entry, info] = entry_of("data/" + key);
    auto* ref = new RecordRef();
    ref->file = file;
    ref->size = info.size;
    ref->crc = info.crc;
    ref->entry = entry;
    if (info.stored) {
      ref->begin = data + reader->getRecordOffset("data/" + key);
    } else {
      // Compressed (torch.save never writes these): inflated now.
      size_t inflated_size = 0;
      std::tie(ref->inflated, inflated_size) = reader->getRecord("data/" + key);
      ref->begin = static_cast<const char*>(ref->inflated.get());
      ref->size = inflated_size;
    }
    return at::DataPtr(const_cast<char*>(ref->begin), ref, &ReleaseRecordRef, at::Device(at::kCPU));
  };
  try {
    torch::jit::Unpickler unpickler(read_pickle, nullptr, nullptr, read_record, c10::nullopt);
    unpickler.set_version(reader->version());
    c10::IValue value = unpickler.parse_ivalue();
    CheckStorages(value, what);
    return value;
  } catch (const c10::Error& e) {
    Fail("cannot read {}: not a PyTorch tensor file ({})", what, FirstLine(e.what_without_backtrace()));
  }
}

}  // namespace

c10::IValue LoadTorchArchive(const std::shared_ptr<MappedFile>& file, int64_t begin, int64_t length,
                             const std::string& what) {
  // libtorch's reader throws c10::Error not only when it opens an archive it
  // cannot read but at any later call (hasRecord, getRecordOffset,
  // getRecord: e.g. a record the zip directory lists under a name it cannot
  // locate; found by fuzz/torch_archive_fuzzer): each becomes one Error.
  try {
    return LoadTorchArchiveRecords(file, begin, length, what);
  } catch (const c10::Error& e) {
    Fail("cannot read {}: not a PyTorch tensor file ({})", what, FirstLine(e.what_without_backtrace()));
  }
}

void VerifyRecord(const at::Tensor& tensor, const std::string& what, bool drop_pages) {
  if (!tensor.defined() || !tensor.has_storage()) return;
  RecordRef* ref = RecordOf(tensor.storage());
  if (ref == nullptr) return;
  std::lock_guard<std::mutex> lock(ref->mutex);
  if (ref->verified) return;
  // Through the mapping when the caller views it next (its pages are needed
  // anyway); else with pread.
  const bool in_file = ref->file->Contains(ref->begin);
  const uint32_t crc = drop_pages && in_file
                           ? Crc32OfFile(*ref->file, ref->begin - ref->file->data(), ref->size, what)
                           : Crc32Of(ref->begin, ref->size);
  if (crc != ref->crc) FailCrc(ref->file->path(), what, ref->entry, crc, ref->crc);
  ref->verified = true;
}

namespace {

// VerifyTorchArchiveFile without its catch of c10::Error.
void VerifyTorchArchiveEntries(const std::string& path) {
  const std::shared_ptr<MappedFile> file = MappedFile::Open(path);
  const std::map<std::string, ZipEntryInfo> entries = ListZipEntries(file->data(), file->size(), path);
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(
        std::make_shared<SliceAdapter>(file->data(), static_cast<size_t>(file->size())));
  } catch (const c10::Error& e) {
    Fail("cannot read {}: not a PyTorch archive ({})", path, FirstLine(e.what_without_backtrace()));
  }
  if (entries.empty()) return;
  const std::string& first = entries.begin()->first;
  const std::string prefix = first.substr(0, first.find('/') + 1);
  for (const auto& [name, info] : entries) {
    // Entries outside the archive's folder are never read by libtorch.
    if (name.compare(0, prefix.size(), prefix) != 0 || name.back() == '/') continue;
    const std::string record = name.substr(prefix.size());
    uint32_t crc = 0;
    if (info.stored) {
      const uint64_t offset = reader->getRecordOffset(record);
      if (offset > static_cast<uint64_t>(file->size()) || info.size > static_cast<uint64_t>(file->size()) - offset) {
        Fail("cannot read {}: zip entry {} runs past the end of the archive", path, name);
      }
      crc = Crc32OfFile(*file, static_cast<int64_t>(offset), info.size, name);
    } else {
      at::DataPtr inflated;
      size_t inflated_size = 0;
      std::tie(inflated, inflated_size) = reader->getRecord(record);
      crc = Crc32Of(static_cast<const char*>(inflated.get()), inflated_size);
    }
    if (crc != info.crc) FailCrc(path, "record " + record, name, crc, info.crc);
  }
}

}  // namespace

void VerifyTorchArchiveFile(const std::string& path) {
  // As in LoadTorchArchive: libtorch may throw at any call, not only when opening.
  try {
    VerifyTorchArchiveEntries(path);
  } catch (const c10::Error& e) {
    Fail("cannot read {}: not a PyTorch archive ({})", path, FirstLine(e.what_without_backtrace()));
  }
}

}  // namespace tzrec::checkpoint
