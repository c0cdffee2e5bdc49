#include "common/file_digest.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/error.h"

namespace tzrec {
namespace {

// RFC 1321 and FIPS 180-2 test vectors.
TEST(FileDigestTest, KnownVectors) {
  EXPECT_EQ(DigestHex("abc", DigestKind::kMd5), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(DigestHex("", DigestKind::kSha256),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(DigestHex("abc", DigestKind::kSha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(FileDigestTest, FilesAndRanges) {
  const std::string path = (std::filesystem::temp_directory_path() / "tzrec_digest_test.bin").string();
  std::string content(3 << 20, 'x');  // spans several read blocks
  content += "abc";
  { std::ofstream(path, std::ios::binary) << content; }
  for (DigestKind kind : {DigestKind::kMd5, DigestKind::kSha256}) {
    EXPECT_EQ(FileDigestHex(path, kind), DigestHex(content, kind));
  }
  EXPECT_EQ(FileDigestHex(path, DigestKind::kSha256, content.size() - 3, 3),
            DigestHex("abc", DigestKind::kSha256));
  EXPECT_EQ(FileDigestHex(path, DigestKind::kSha256, 5, 0), DigestHex("", DigestKind::kSha256));
  EXPECT_THROW(FileDigestHex(path, DigestKind::kSha256, content.size() - 2, 3), Error);  // past the end
  std::remove(path.c_str());
  try {
    FileDigestHex(path, DigestKind::kSha256);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
}

}  // namespace
}  // namespace tzrec
