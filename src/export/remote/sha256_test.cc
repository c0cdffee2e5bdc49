#include "export/remote/sha256.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/error.h"

namespace tzrec::remote {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, FileRanges) {
  const std::string path = testing::TempDir() + "/sha256_test.bin";
  std::string content(3 << 20, 'x');  // spans several read blocks
  content += "abc";
  { std::ofstream(path, std::ios::binary) << content; }
  EXPECT_EQ(FileSha256Hex(path), Sha256Hex(content));
  EXPECT_EQ(FileSha256Hex(path, content.size() - 3, 3), Sha256Hex("abc"));
  EXPECT_EQ(FileSha256Hex(path, 5, 0), Sha256Hex(""));
  EXPECT_THROW(FileSha256Hex(path, content.size() - 2, 3), Error);  // past the end
  std::remove(path.c_str());
  EXPECT_THROW(FileSha256Hex(path), Error);
}

}  // namespace
}  // namespace tzrec::remote
