// Hex digests through OpenSSL's EVP interface: MD5 for upstream's asset names,
// SHA-256 for export manifests and S3 payload hashes. Files are read in blocks,
// so multi-gigabyte artifacts stay out of memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tzrec {

enum class DigestKind { kMd5, kSha256 };

// Lower-case hex digest of `data`.
std::string DigestHex(std::string_view data, DigestKind kind);

// Lower-case hex digest of `size` bytes of the file from `offset` (UINT64_MAX:
// to the end). Error naming the file when it cannot be read in full.
std::string FileDigestHex(const std::string& path, DigestKind kind, uint64_t offset = 0,
                          uint64_t size = UINT64_MAX);

}  // namespace tzrec
