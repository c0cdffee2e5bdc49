// String -> bucket hashing as TorchEasyRec's FG does it: libstdc++'s
// std::hash<std::string> (the default), or FarmHash Fingerprint64 when the
// environment sets USE_FARM_HASH_TO_BUCKETIZE=true. Both are taken modulo the
// bucket count as unsigned 64-bit numbers.
#pragma once

#include <cstdint>
#include <string_view>

namespace tzrec::fg {

enum class HashKind { kStdHash, kFarmHash };

// Reads USE_FARM_HASH_TO_BUCKETIZE (case-insensitive "true" selects FarmHash).
HashKind HashKindFromEnv();

uint64_t HashString(std::string_view value, HashKind kind);

inline uint64_t HashToBucket(std::string_view value, uint64_t bucket_size, HashKind kind) {
  return HashString(value, kind) % bucket_size;
}

}  // namespace tzrec::fg
