#include "artifacts/npz_reader.h"

#include <zip.h>

#include <cstring>
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

NpyArray ReadNpyHeader(const std::function<void(char*, size_t)>& read, const std::string& origin) {
  char prefix[8];
  read(prefix, sizeof(prefix));
  if (std::memcmp(prefix, "\x93NUMPY", 6) != 0) Fail("{}: not a .npy array (bad magic)", origin);
  const int major = static_cast<unsigned char>(prefix[6]);
  size_t header_len = 0;
  if (major == 1) {
    unsigned char len[2];
    read(reinterpret_cast<char*>(len), 2);
    header_len = len[0] | (len[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char len[4];
    read(reinterpret_cast<char*>(len), 4);
    header_len = len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<size_t>(len[3]) << 24);
  } else {
    Fail("{}: .npy version {} is not supported", origin, major);
  }
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
  const std::string dims = shape[1];
  size_t start = 0;
  while (start < dims.size()) {
    size_t comma = dims.find(',', start);
    if (comma == std::string::npos) comma = dims.size();
    std::string part = dims.substr(start, comma - start);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    if (!part.empty()) array.shape.push_back(std::stoll(part));
    start = comma + 1;
  }
  array.data = at::empty(array.shape, at::TensorOptions().dtype(DtypeOf(array.descr, origin)));
  return array;
}

std::map<std::string, NpyArray> ReadNpz(const std::string& path) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_RDONLY, &error);
  if (archive == nullptr) Fail("cannot read {}: {}", path, ZipError(error));
  std::unique_ptr<zip_t, void (*)(zip_t*)> guard(archive, [](zip_t* z) { zip_discard(z); });
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
    NpyArray array = ReadNpyHeader(read, origin);
    read(static_cast<char*>(array.data.data_ptr()), array.data.nbytes());
    name.resize(name.size() - suffix.size());
    arrays.emplace(std::move(name), std::move(array));
  }
  return arrays;
}

}  // namespace tzrec::artifacts
