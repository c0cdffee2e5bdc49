#include "common/file_digest.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/error.h"

namespace tzrec {
namespace {

TEST(FileDigestTest, KnownDigestsOfAbc) {
  const std::string path = (std::filesystem::temp_directory_path() / "tzrec_digest_abc").string();
  { std::ofstream(path, std::ios::binary) << "abc"; }
  // RFC 1321 and FIPS 180-2 test vectors.
  EXPECT_EQ(FileDigestHex(path, DigestKind::kMd5), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(FileDigestHex(path, DigestKind::kSha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::filesystem::remove(path);
}

TEST(FileDigestTest, MissingFileIsAnErrorNamingIt) {
  try {
    FileDigestHex("/nonexistent/tzrec_asset.txt", DigestKind::kSha256);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tzrec_asset.txt"), std::string::npos);
  }
}

}  // namespace
}  // namespace tzrec
