// Hex digests of files (MD5 for upstream's asset names, SHA-256 for export
// manifests), read in blocks so that multi-gigabyte artifacts stay out of memory.
#pragma once

#include <string>

namespace tzrec {

enum class DigestKind { kMd5, kSha256 };

// Lower-case hex digest of the file's bytes; Error naming the file when it
// cannot be read.
std::string FileDigestHex(const std::string& path, DigestKind kind);

}  // namespace tzrec
