#include "features/fg/hash_bucket.h"

#include <farmhash.h>

#include <cstdlib>
#include <functional>
#include <string>

namespace tzrec::fg {

HashKind HashKindFromEnv() {
  const char* env = std::getenv("USE_FARM_HASH_TO_BUCKETIZE");
  if (env == nullptr) return HashKind::kStdHash;
  std::string value(env);
  for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return value == "true" ? HashKind::kFarmHash : HashKind::kStdHash;
}

uint64_t HashString(std::string_view value, HashKind kind) {
  if (kind == HashKind::kFarmHash) return util::Fingerprint64(value.data(), value.size());
  // std::hash<std::string_view> is the same _Hash_bytes call as for std::string.
  return std::hash<std::string_view>{}(value);
}

}  // namespace tzrec::fg
