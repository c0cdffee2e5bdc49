#include "artifacts/npz_reader.h"

#include <zip.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <memory>
#include <regex>

#include <ATen/ATen.h>

#include "common/error.h"

namespace tzrec::artifacts {

namespace {

at::ScalarType DtypeOf(const std::string& descr, const std::string& origin) {
  if (descr == "<f4") return at::kFloat;
  if (descr == "<f2") return at::kHalf;
  if (descr == "<f8") return at::kDouble;
  if (descr == "<i8") return at::kLong;
  if (descr == "|u1") return at::kByte;
  Fail("{}: npy dtype '{}' is not supported", origin, descr);
}

std::string ZipError(int code) {
  zip_error_t ze;
  zip_error_init_with_code(&ze, code);
  std::string message = zip_error_strerror(&ze);
  zip_error_fini(&ze);
  return message;
}

}  // namespace

NpyArray ReadNpyHeader(const std::function<void(char*, size_t)>& read, const std::string& origin,
                       uint64_t max_bytes) {
  char prefix[8];
  read(prefix, sizeof(prefix));
  if (std::memcmp(prefix, "\x93NUMPY", 6) != 0) Fail("{}: not a .npy array (bad magic)", origin);
  const int major = static_cast<unsigned char>(prefix[6]);
  size_t header_len = 0;
  uint64_t used = sizeof(prefix);
  if (major == 1) {
    unsigned char len[2];
    read(reinterpret_cast<char*>(len), 2);
    header_len = len[0] | (len[1] << 8);
    used += 2;
  } else if (major == 2 || major == 3) {
    unsigned char len[4];
    read(reinterpret_cast<char*>(len), 4);
    header_len = len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<size_t>(len[3]) << 24);
    used += 4;
  } else {
    Fail("{}: .npy version {} is not supported", origin, major);
  }
  // numpy writes headers of a few hundred bytes (and reads none over 10000).
  constexpr size_t kMaxHeader = 1 << 20;
  if (header_len > kMaxHeader || header_len > max_bytes - std::min<uint64_t>(used, max_bytes)) {
    Fail("{}: .npy header of {} bytes is longer than the array's entry", origin, header_len);
  }
  used += header_len;
  std::string dict(header_len, '\0');
  read(dict.data(), header_len);
  static const std::regex descr_re(R"('descr'\s*:\s*'([^']*)')");
  static const std::regex order_re(R"('fortran_order'\s*:\s*(True|False))");
  static const std::regex shape_re(R"('shape'\s*:\s*\(([^)]*)\))");
  std::smatch descr, order, shape;
  if (!std::regex_search(dict, descr, descr_re) || !std::regex_search(dict, order, order_re) ||
      !std::regex_search(dict, shape, shape_re)) {
    Fail("{}: malformed .npy header {}", origin, dict);
  }
  if (order[1] == "True") Fail("{}: Fortran-order arrays are not supported", origin);
  NpyArray array;
  array.descr = descr[1];
  const at::ScalarType dtype = DtypeOf(array.descr, origin);
  const std::string dims = shape[1];
  uint64_t bytes = c10::elementSize(dtype);
  size_t start = 0;
  while (start < dims.size()) {
    size_t comma = dims.find(',', start);
    if (comma == std::string::npos) comma = dims.size();
    std::string part = dims.substr(start, comma - start);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    if (!part.empty()) {
      int64_t dim = -1;
      const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), dim);
      if (ec != std::errc() || end != part.data() + part.size() || dim < 0) {
        Fail("{}: bad dimension '{}' in .npy shape ({})", origin, part, dims);
      }
      if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(dim), &bytes)) bytes = UINT64_MAX;
      array.shape.push_back(dim);
    }
    start = comma + 1;
  }
  if (bytes > max_bytes - std::min(used, max_bytes)) {
    Fail("{}: an array of shape ({}) does not fit in the {} bytes of its entry", origin, dims, max_bytes);
  }
  array.data = at::empty(array.shape, at::TensorOptions().dtype(dtype));
  return array;
}

std::map<std::string, NpyArray> ReadNpz(const std::string& path) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_RDONLY, &error);
  if (archive == nullptr) Fail("cannot read {}: {}", path, ZipError(error));
  std::unique_ptr<zip_t, void (*)(zip_t*)> guard(archive, [](zip_t* z) { zip_discard(z); });
  std::error_code size_error;
  const uint64_t archive_bytes = std::filesystem::file_size(path, size_error);
  if (size_error) Fail("cannot read {}: {}", path, size_error.message());
  std::map<std::string, NpyArray> arrays;
  const zip_int64_t count = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    const char* raw_name = zip_get_name(archive, static_cast<zip_uint64_t>(i), 0);
    if (raw_name == nullptr) continue;
    std::string name = raw_name;
    const std::string suffix = ".npy";
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    const std::string origin = path + ":" + name;
    // What the entry can hold: its size as the zip directory states it, and
    // no more than its compressed bytes (inside the file) can expand to:
    // stored, as many; deflate (numpy.savez_compressed), at most 1032 times
    // as many.
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(archive, static_cast<zip_uint64_t>(i), 0, &stat) != 0 ||
        (stat.valid & (ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE)) != (ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE)) {
      Fail("cannot read {}: {}", origin, zip_strerror(archive));
    }
    const uint64_t comp_size = std::min<uint64_t>(stat.comp_size, archive_bytes);
    const uint64_t expands_to = stat.comp_method == ZIP_CM_STORE     ? comp_size
                                : stat.comp_method == ZIP_CM_DEFLATE ? comp_size * 1032 + 1024
                                                                     : UINT64_MAX;
    const uint64_t entry_bytes = std::min<uint64_t>(stat.size, expands_to);
    zip_file_t* file = zip_fopen_index(archive, static_cast<zip_uint64_t>(i), 0);
    if (file == nullptr) Fail("cannot read {}: {}", origin, zip_strerror(archive));
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file_guard(file, &zip_fclose);
    auto read = [&](char* out, size_t length) {
      while (length > 0) {
        const zip_int64_t got = zip_fread(file, out, length);
        if (got <= 0) Fail("cannot read {}: truncated entry", origin);
        out += got;
        length -= static_cast<size_t>(got);
      }
    };
    NpyArray array = ReadNpyHeader(read, origin, entry_bytes);
    read(static_cast<char*>(array.data.data_ptr()), array.data.nbytes());
    name.resize(name.size() - suffix.size());
    arrays.emplace(std::move(name), std::move(array));
  }
  return arrays;
}

}  // namespace tzrec::artifacts
