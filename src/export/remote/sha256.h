// SHA-256 through OpenSSL's EVP interface, as lowercase hex: the payload hash
// S3 requests carry (x-amz-content-sha256) and the manifest's per-file digest.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tzrec::remote {

std::string Sha256Hex(std::string_view data);

// The digest of `size` bytes of `path` from `offset`, read in blocks (a large
// file is never held in memory); size UINT64_MAX = to the end of the file.
// An Error naming the file when it cannot be read in full.
std::string FileSha256Hex(const std::string& path, uint64_t offset = 0,
                          uint64_t size = UINT64_MAX);

}  // namespace tzrec::remote
