#include "checkpoint/tensor_file_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/unpickler.h>

#include "common/error.h"

namespace tzrec::checkpoint {

namespace {

// The first line of a libtorch error (its messages carry source locations).
std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// Storage sizes of the zip's entries, by full entry name.
struct ZipEntryInfo {
  bool stored = true;  // not compressed
  uint64_t size = 0;
};

std::map<std::string, ZipEntryInfo> ListZipEntries(const std::string& path) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_RDONLY, &error);
  if (archive == nullptr) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, error);
    std::string message = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    Fail("cannot read {}: not a PyTorch tensor file ({})", path, message);
  }
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
  zip_discard(archive);
  return entries;
}

// libtorch 1.13's unpickler reads an integer pickled as LONG1 only when it has
// 8 bytes, as libtorch's own pickler writes them; Python's pickler writes the
// shortest form (5 bytes for the 2.24e9 elements of a 140M x 16 table), so
// torch.save files with a tensor of 2^31 elements or more would not load.
// This rewrites every shorter LONG1 to its sign-extended 8-byte form. It walks
// the opcodes of pickle protocols 0-3 (torch.save writes protocol 2); on
// anything it does not know (e.g. protocol 4 frames, whose lengths a rewrite
// would break) it returns the pickle unchanged.
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

}  // namespace

int64_t TensorEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t TensorEntry::nbytes() const { return numel() * static_cast<int64_t>(c10::elementSize(dtype)); }

int64_t TensorEntry::rows() const { return shape.empty() ? 1 : shape[0]; }

// The whole file mapped read-only. Tensors built on it hold a reference, so
// the mapping lives as long as any of them.
struct TensorFileReader::Mapping {
  int fd = -1;
  char* base = nullptr;
  int64_t size = 0;

  ~Mapping() {
    if (base != nullptr) munmap(base, static_cast<size_t>(size));
    if (fd >= 0) close(fd);
  }
  bool Contains(const void* p) const {
    auto* c = static_cast<const char*>(p);
    return base != nullptr && c >= base && c < base + size;
  }
};

namespace {

void ReleaseMappingRef(void* ctx) { delete static_cast<std::shared_ptr<void>*>(ctx); }

}  // namespace

TensorFileReader::TensorFileReader(const std::string& path) : path_(path) {
  auto mapping = std::make_shared<Mapping>();
  mapping->fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (mapping->fd < 0) {
    if (errno == ENOENT) Fail("cannot read {}: no such file", path);
    Fail("cannot read {}: {}", path, std::strerror(errno));
  }
  struct stat st;
  if (fstat(mapping->fd, &st) != 0) Fail("cannot read {}: {}", path, std::strerror(errno));
  mapping->size = st.st_size;
  if (mapping->size > 0) {
    void* base = mmap(nullptr, static_cast<size_t>(mapping->size), PROT_READ, MAP_PRIVATE,
                      mapping->fd, 0);
    if (base == MAP_FAILED) Fail("cannot map {}: {}", path, std::strerror(errno));
    mapping->base = static_cast<char*>(base);
  }
  mapping_ = mapping;

  const std::map<std::string, ZipEntryInfo> zip_entries = ListZipEntries(path);
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    Fail("cannot read {}: not a PyTorch tensor file ({})", path, FirstLine(e.what_without_backtrace()));
  }
  // Records are "<archive>/data.pkl", "<archive>/data/<key>"; the archive
  // name is the file's stem for torch.save and "archive" for libtorch.
  std::string prefix;
  if (!zip_entries.empty()) {
    const std::string& first = zip_entries.begin()->first;
    prefix = first.substr(0, first.find('/') + 1);
  }

  if (!reader->hasRecord("data.pkl")) Fail("cannot read {}: not a PyTorch tensor file (no data.pkl)", path);
  at::DataPtr record;
  size_t record_size = 0;
  std::tie(record, record_size) = reader->getRecord("data.pkl");
  const std::string pickle =
      WidenLongInts(std::string(static_cast<const char*>(record.get()), record_size));
  size_t pickle_pos = 0;
  auto read_pickle = [&](char* buffer, size_t length) -> size_t {
    length = std::min(length, pickle.size() - pickle_pos);
    std::memcpy(buffer, pickle.data() + pickle_pos, length);
    pickle_pos += length;
    return length;
  };
  auto read_record = [&](const std::string& key) -> at::DataPtr {
    const std::string record = "data/" + key;
    auto it = zip_entries.find(prefix + record);
    if (it == zip_entries.end()) Fail("cannot read {}: tensor record {} is missing", path, record);
    if (!it->second.stored) {
      // Compressed: inflate it now (torch.save never writes these).
      return std::move(std::get<0>(reader->getRecord(record)));
    }
    const size_t offset = reader->getRecordOffset(record);
    if (static_cast<int64_t>(offset + it->second.size) > mapping_->size) {
      Fail("cannot read {}: tensor record {} runs past the end of the file", path, record);
    }
    return at::DataPtr(mapping_->base + offset, new std::shared_ptr<void>(mapping_),
                       &ReleaseMappingRef, at::Device(at::kCPU));
  };

  c10::IValue value;
  try {
    torch::jit::Unpickler unpickler(read_pickle, nullptr, nullptr, read_record, c10::nullopt);
    unpickler.set_version(reader->version());
    value = unpickler.parse_ivalue();
  } catch (const c10::Error& e) {
    Fail("cannot read {}: not a PyTorch tensor file ({})", path, FirstLine(e.what_without_backtrace()));
  }
  if (!value.isGenericDict()) Fail("cannot read {}: expected a dict of tensors", path);
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString() || !item.value().isTensor()) {
      Fail("cannot read {}: expected a dict of str -> tensor", path);
    }
    at::Tensor tensor = item.value().toTensor();
    TensorEntry entry;
    entry.name = item.key().toStringRef();
    entry.dtype = tensor.scalar_type();
    entry.shape = tensor.sizes().vec();
    index_[entry.name] = entries_.size();
    entries_.push_back(std::move(entry));
    views_.push_back(std::move(tensor));
  }
}

TensorFileReader::~TensorFileReader() = default;

const TensorEntry* TensorFileReader::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

const TensorEntry& TensorFileReader::Entry(const std::string& name) const {
  const TensorEntry* entry = Find(name);
  if (entry == nullptr) Fail("{} has no tensor {}", path_, name);
  return *entry;
}

const at::Tensor& TensorFileReader::View(const std::string& name) const {
  Entry(name);
  return views_[index_.at(name)];
}

void TensorFileReader::ReadBytes(int64_t offset, int64_t length, void* dest,
                                 const std::string& name) const {
  char* out = static_cast<char*>(dest);
  while (length > 0) {
    // One pread moves at most ~2 GiB on Linux; loop until done.
    const ssize_t got = pread(mapping_->fd, out, static_cast<size_t>(std::min<int64_t>(length, 1LL << 30)),
                              static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      Fail("cannot read tensor {} from {}: {}", name, path_, got < 0 ? std::strerror(errno) : "file truncated");
    }
    out += got;
    offset += got;
    length -= got;
  }
}

at::Tensor TensorFileReader::Read(const std::string& name) const {
  const TensorEntry& entry = Entry(name);
  if (entry.shape.empty()) return View(name).clone();
  return ReadRows(name, 0, entry.rows());
}

at::Tensor TensorFileReader::ReadRows(const std::string& name, int64_t begin, int64_t end) const {
  const TensorEntry& entry = Entry(name);
  std::vector<int64_t> shape = entry.shape;
  if (!shape.empty()) shape[0] = std::max<int64_t>(0, end - begin);
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(entry.dtype));
  ReadRowsInto(name, begin, end, out.data_ptr());
  return out;
}

int64_t TensorFileReader::RowBytes(const std::string& name) const {
  const TensorEntry& entry = Entry(name);
  return entry.rows() == 0 ? 0 : entry.nbytes() / entry.rows();
}

void TensorFileReader::ReadRowsInto(const std::string& name, int64_t begin, int64_t end,
                                    void* dest) const {
  const TensorEntry& entry = Entry(name);
  if (entry.shape.empty()) Fail("tensor {} of {} is a scalar: it has no rows", name, path_);
  if (begin < 0 || end < begin || end > entry.rows()) {
    Fail("rows [{}, {}) are outside tensor {} of {} ({} rows)", begin, end, name, path_, entry.rows());
  }
  if (end == begin || RowBytes(name) == 0) return;
  const at::Tensor rows = View(name).narrow(0, begin, end - begin);
  const bool file_backed = mapping_->Contains(rows.data_ptr());
  if (file_backed && rows.is_contiguous()) {
    // The bytes lie in the file as they are: read them without mapping.
    const int64_t offset = static_cast<const char*>(rows.data_ptr()) - mapping_->base;
    ReadBytes(offset, (end - begin) * RowBytes(name), dest, name);
    return;
  }
  std::vector<int64_t> shape = entry.shape;
  shape[0] = end - begin;
  at::from_blob(dest, shape, at::TensorOptions().dtype(entry.dtype)).copy_(rows);
  // A strided view was read through the mapping: give its pages back.
  if (file_backed) Release(name);
}

at::Tensor TensorFileReader::Map(const std::string& name) const { return View(name); }

void TensorFileReader::Release(const std::string& name) const {
  const at::Tensor& view = View(name);
  if (view.numel() == 0 || !mapping_->Contains(view.data_ptr())) return;
  const at::Storage& storage = view.storage();
  const char* begin = static_cast<const char*>(storage.data());
  const char* end = begin + storage.nbytes();
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t first = reinterpret_cast<uintptr_t>(begin) & ~(page - 1);
  const uintptr_t last = (reinterpret_cast<uintptr_t>(end) + page - 1) & ~(page - 1);
  // Private, never-written pages of a file mapping: dropping them loses
  // nothing, a later access reads them from the file again.
  madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

std::unordered_map<std::string, at::Tensor> TensorFileReader::ReadAll() const {
  std::unordered_map<std::string, at::Tensor> out;
  for (const TensorEntry& entry : entries_) out[entry.name] = Read(entry.name);
  return out;
}

}  // namespace tzrec::checkpoint
