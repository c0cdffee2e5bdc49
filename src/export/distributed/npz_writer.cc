#include "export/distributed/npz_writer.h"

#include <zip.h>

#include <cstring>
#include <exception>
#include <filesystem>

#include <fmt/format.h>

#include "common/error.h"

namespace tzrec::exporting::distributed {

namespace {

// Entries get a fixed time (1980-01-01, the zip epoch), so that exporting the
// same checkpoint twice gives identical archives.
constexpr time_t kEntryTime = 315532800;

// numpy pads the header so that the data starts at a multiple of this.
constexpr size_t kNpyAlignment = 64;

std::string ShapeLiteral(const std::vector<int64_t>& shape) {
  // A Python tuple: (), (3,), (3, 4).
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

std::string ZipErrorText(zip_t* archive) {
  return archive != nullptr ? zip_strerror(archive) : "unknown error";
}

}  // namespace

std::string NpyHeader(const std::string& descr, const std::vector<int64_t>& shape) {
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr,
                                 ShapeLiteral(shape));
  // magic (6) + version (2) + length (2 or 4) + dict + padding + '\n'.
  for (int major : {1, 2}) {
    const size_t prefix = major == 1 ? 10 : 12;
    size_t total = prefix + dict.size() + 1;
    total = (total + kNpyAlignment - 1) / kNpyAlignment * kNpyAlignment;
    const size_t header_len = total - prefix;
    if (major == 1 && header_len > 0xFFFF) continue;
    std::string out("\x93NUMPY", 6);
    out += static_cast<char>(major);
    out += '\0';
    for (size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((header_len >> (8 * i)) & 0xFF);
    out += dict;
    out.append(header_len - dict.size() - 1, ' ');
    out += '\n';
    return out;
  }
  Fail("npy header for shape {} is too long", ShapeLiteral(shape));
}

struct NpzWriter::Archive {
  zip_t* zip = nullptr;
};

// One entry's bytes, as libzip pulls them: the npy header, then the blocks of
// a fresh producer. Any exception is kept for Close() to rethrow.
struct NpzWriter::EntrySource {
  std::string entry_name;
  std::string header;
  uint64_t data_bytes = 0;
  std::function<BlockProducer()> make_producer;

  BlockProducer producer;
  std::vector<char> block;
  size_t block_pos = 0;
  uint64_t position = 0;  // bytes handed out since open
  bool producer_done = false;
  zip_error_t error;
  std::exception_ptr failure;

  uint64_t total() const { return header.size() + data_bytes; }

  zip_int64_t Fail(std::exception_ptr e) {
    failure = e;
    zip_error_set(&error, ZIP_ER_READ, 0);
    return -1;
  }

  zip_int64_t Read(char* out, uint64_t length) {
    uint64_t written = 0;
    while (written < length && position < total()) {
      if (position < header.size()) {
        const uint64_t n = std::min<uint64_t>(length - written, header.size() - position);
        std::memcpy(out + written, header.data() + position, n);
        written += n;
        position += n;
        continue;
      }
      if (block_pos == block.size()) {
        if (producer_done) break;
        block.clear();
        block_pos = 0;
        const size_t got = producer(block);
        block.resize(got);
        if (got == 0) {
          producer_done = true;
          break;
        }
      }
      const uint64_t n = std::min<uint64_t>({length - written, block.size() - block_pos,
                                             total() - position});
      std::memcpy(out + written, block.data() + block_pos, n);
      written += n;
      block_pos += n;
      position += n;
    }
    if (written == 0 && position < total()) {
      throw Error(fmt::format("array {} produced {} of its {} data bytes", entry_name,
                              position - header.size(), data_bytes));
    }
    return static_cast<zip_int64_t>(written);
  }

  static zip_int64_t Callback(void* user, void* data, zip_uint64_t length, zip_source_cmd_t command) {
    auto* self = static_cast<EntrySource*>(user);
    try {
      switch (command) {
        case ZIP_SOURCE_OPEN:
          self->producer = self->make_producer();
          self->block.clear();
          self->block_pos = 0;
          self->position = 0;
          self->producer_done = false;
          return 0;
        case ZIP_SOURCE_READ:
          return self->Read(static_cast<char*>(data), length);
        case ZIP_SOURCE_CLOSE:
          self->producer = nullptr;
          std::vector<char>().swap(self->block);
          return 0;
        case ZIP_SOURCE_STAT: {
          auto* st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, length, &self->error);
          if (st == nullptr) return -1;
          zip_stat_init(st);
          st->size = self->total();
          st->mtime = kEntryTime;
          st->valid |= ZIP_STAT_SIZE | ZIP_STAT_MTIME;
          return sizeof(zip_stat_t);
        }
        case ZIP_SOURCE_ERROR:
          return zip_error_to_data(&self->error, data, length);
        case ZIP_SOURCE_FREE:
          return 0;
        case ZIP_SOURCE_SUPPORTS:
          return ZIP_SOURCE_SUPPORTS_READABLE;
        default:
          zip_error_set(&self->error, ZIP_ER_OPNOTSUPP, 0);
          return -1;
      }
    } catch (...) {
      return self->Fail(std::current_exception());
    }
  }
};

NpzWriter::NpzWriter(std::string path) : path_(std::move(path)), archive_(new Archive) {
  int error = 0;
  archive_->zip = zip_open(path_.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (archive_->zip == nullptr) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, error);
    std::string message = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    tzrec::Fail("cannot create {}: {}", path_, message);
  }
}

NpzWriter::~NpzWriter() {
  if (archive_->zip != nullptr) zip_discard(archive_->zip);
  for (auto& source : sources_) zip_error_fini(&source->error);
}

void NpzWriter::AddArray(const std::string& name, const std::string& descr,
                         const std::vector<int64_t>& shape, uint64_t data_bytes,
                         std::function<BlockProducer()> make_producer) {
  auto source = std::make_unique<EntrySource>();
  source->entry_name = name + ".npy";
  source->header = NpyHeader(descr, shape);
  source->data_bytes = data_bytes;
  source->make_producer = std::move(make_producer);
  zip_error_init(&source->error);
  zip_source_t* zs = zip_source_function(archive_->zip, &EntrySource::Callback, source.get());
  if (zs == nullptr) tzrec::Fail("cannot add {} to {}: {}", source->entry_name, path_, ZipErrorText(archive_->zip));
  const zip_int64_t index = zip_file_add(archive_->zip, source->entry_name.c_str(), zs, ZIP_FL_ENC_UTF_8);
  if (index < 0) {
    zip_source_free(zs);
    tzrec::Fail("cannot add {} to {}: {}", source->entry_name, path_, ZipErrorText(archive_->zip));
  }
  zip_set_file_compression(archive_->zip, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
  zip_file_set_mtime(archive_->zip, static_cast<zip_uint64_t>(index), kEntryTime, 0);
  sources_.push_back(std::move(source));
}

void NpzWriter::Close() {
  if (zip_close(archive_->zip) == 0) {
    archive_->zip = nullptr;
    return;
  }
  const std::string message = ZipErrorText(archive_->zip);
  zip_discard(archive_->zip);
  archive_->zip = nullptr;
  std::error_code ec;
  std::filesystem::remove(path_, ec);
  for (auto& source : sources_) {
    if (source->failure) std::rethrow_exception(source->failure);
  }
  tzrec::Fail("cannot write {}: {}", path_, message);
}

}  // namespace tzrec::exporting::distributed
