#include "checkpoint/torch_archive.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>

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
  uint64_t size = 0;
};

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
  std::map<std::string, ZipEntryInfo> entries;
  const zip_int64_t count = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t st;
    if (zip_stat_index(archive, static_cast<zip_uint64_t>(i), 0, &st) != 0) continue;
    if ((st.valid & ZIP_STAT_NAME) == 0) continue;
    ZipEntryInfo info;
    info.stored = (st.valid & ZIP_STAT_COMP_METHOD) == 0 || st.comp_method == ZIP_CM_STORE;
    info.size = (st.valid & ZIP_STAT_SIZE) ? st.size : 0;
    entries[st.name] = info;
  }
  zip_discard(archive);  // also frees the source
  return entries;
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

void ReleaseMappingRef(void* ctx) { delete static_cast<std::shared_ptr<const MappedFile>*>(ctx); }

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


c10::IValue LoadTorchArchive(const std::shared_ptr<MappedFile>& file, int64_t begin, int64_t length,
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
  at::DataPtr record;
  size_t record_size = 0;
  std::tie(record, record_size) = reader->getRecord("data.pkl");
  const std::string pickle = WidenLongInts(std::string(static_cast<const char*>(record.get()), record_size));
  size_t pickle_pos = 0;
  auto read_pickle = [&](char* buffer, size_t n) -> size_t {
    n = std::min(n, pickle.size() - pickle_pos);
    std::memcpy(buffer, pickle.data() + pickle_pos, n);
    pickle_pos += n;
    return n;
  };
  auto read_record = [&](const std::string& key) -> at::DataPtr {
    const std::string name = "data/" + key;
    auto it = zip_entries.find(prefix + name);
    if (it == zip_entries.end()) Fail("cannot read {}: tensor record {} is missing", what, name);
    if (!it->second.stored) {
      // Compressed: inflate it now (torch.save never writes these).
      return std::move(std::get<0>(reader->getRecord(name)));
    }
    const size_t offset = reader->getRecordOffset(name);
    if (static_cast<int64_t>(offset + it->second.size) > length) {
      Fail("cannot read {}: tensor record {} runs past the end of the archive", what, name);
    }
    return at::DataPtr(const_cast<char*>(data + offset), new std::shared_ptr<const MappedFile>(file),
                       &ReleaseMappingRef, at::Device(at::kCPU));
  };
  try {
    torch::jit::Unpickler unpickler(read_pickle, nullptr, nullptr, read_record, c10::nullopt);
    unpickler.set_version(reader->version());
    return unpickler.parse_ivalue();
  } catch (const c10::Error& e) {
    Fail("cannot read {}: not a PyTorch tensor file ({})", what, FirstLine(e.what_without_backtrace()));
  }
}

}  // namespace tzrec::checkpoint
