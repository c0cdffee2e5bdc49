#include "common/file_digest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "common/error.h"

namespace tzrec {

namespace {

struct DigestDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

std::unique_ptr<EVP_MD_CTX, DigestDeleter> NewDigest(DigestKind kind) {
  std::unique_ptr<EVP_MD_CTX, DigestDeleter> ctx(EVP_MD_CTX_new());
  const EVP_MD* md = kind == DigestKind::kMd5 ? EVP_md5() : EVP_sha256();
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) Fail("OpenSSL could not start a digest");
  return ctx;
}

std::string FinishHex(EVP_MD_CTX* ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest, &length);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xF]);
  }
  return hex;
}

}  // namespace

std::string DigestHex(std::string_view data, DigestKind kind) {
  auto ctx = NewDigest(kind);
  EVP_DigestUpdate(ctx.get(), data.data(), data.size());
  return FinishHex(ctx.get());
}

std::string FileDigestHex(const std::string& path, DigestKind kind, uint64_t offset, uint64_t size) {
  std::unique_ptr<FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) Fail("cannot read {}: {}", path, std::strerror(errno));
  if (offset > 0 && fseeko(file.get(), static_cast<off_t>(offset), SEEK_SET) != 0) {
    Fail("cannot seek in {}: {}", path, std::strerror(errno));
  }
  auto ctx = NewDigest(kind);
  std::vector<char> block(1 << 20);
  uint64_t left = size;
  while (left > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(left, block.size()));
    const size_t got = std::fread(block.data(), 1, want, file.get());
    EVP_DigestUpdate(ctx.get(), block.data(), got);
    if (size != UINT64_MAX) left -= got;
    if (got < want) {
      if (std::ferror(file.get())) Fail("cannot read {}: {}", path, std::strerror(errno));
      if (size != UINT64_MAX && left > 0) Fail("{} is shorter than expected", path);
      break;
    }
  }
  return FinishHex(ctx.get());
}

}  // namespace tzrec
