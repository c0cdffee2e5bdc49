// FileWriter under a file size limit (RLIMIT_FSIZE in a forked child: writes
// past it fail with EFBIG, as on a full disk): every path reports the file
// and the system's reason.
#include "common/file_writer.h"

#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/test_support.h"

namespace tzrec {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::ErrorOf;
using testing::ReadTextFile;
using testing::RunWithFileSizeLimit;
using testing::ScratchDir;

TEST(FileWriterTest, WritesAndClosesAWholeFile) {
  ScratchDir dir;
  WriteWholeFile(dir / "a.txt", "hello");
  EXPECT_EQ(ReadTextFile(dir / "a.txt"), "hello");
  EXPECT_EQ(ErrorOf([&] { WriteWholeFile(dir / "missing/a.txt", "x"); }),
            "cannot write " + dir / "missing/a.txt" + ": No such file or directory");
}

TEST(FileWriterTest, AWritePastTheFileSizeLimitIsAnErrorNamingTheFile) {
  ScratchDir dir;
  const std::string path = dir / "big.bin";
  const std::string error = RunWithFileSizeLimit(4096, [&] { return ErrorOf([&] {
    WriteWholeFile(path, std::string(10000, 'x'));
  }); });
  EXPECT_EQ(error, "cannot write " + path + ": File too large");
  EXPECT_EQ(fs::file_size(path), 4096u) << "the limit was not what cut the file";
}

TEST(FileWriterTest, SmallWritesFailAtTheLimitToo) {
  ScratchDir dir;
  const std::string path = dir / "rows.txt";
  const std::string result = RunWithFileSizeLimit(1000, [&] {
    FileWriter file(path);
    for (int i = 0; i < 1000; ++i) {
      const std::string error = ErrorOf([&] { file.Write("0123456789"); });
      if (!error.empty()) return std::to_string(i) + ": " + error;
    }
    return std::string("no error");
  });
  EXPECT_EQ(result, "100: cannot write " + path + ": File too large");
}

// The callback libtorch's writer gets: it never reports a short count (which
// libtorch 1.13 turns into a terminate), so the caller finishes; Close tells.
TEST(FileWriterTest, ASinkSwallowsTheRestAndCloseReportsTheFailure) {
  ScratchDir dir;
  const std::string path = dir / "archive.pt";
  const std::string result = RunWithFileSizeLimit(2048, [&] {
    FileWriter file(path);
    auto sink = file.Sink();
    const std::string chunk(1500, 'z');
    std::string counts;
    for (int i = 0; i < 3; ++i) counts += std::to_string(sink(chunk.data(), chunk.size())) + " ";
    return counts + (file.failed() ? "failed; " : "ok; ") + ErrorOf([&] { file.Close(); });
  });
  EXPECT_EQ(result, "1500 1500 1500 failed; cannot write " + path + ": File too large");
}

TEST(FileWriterTest, ASinkWithoutFailureClosesCleanly) {
  ScratchDir dir;
  FileWriter file(dir / "ok.bin");
  auto sink = file.Sink();
  EXPECT_EQ(sink("abc", 3), 3u);
  EXPECT_FALSE(file.failed());
  EXPECT_NO_THROW(file.Close());
  EXPECT_EQ(ReadTextFile(dir / "ok.bin"), "abc");
  EXPECT_THAT(ErrorOf([&] { file.Write("more"); }), HasSubstr("after it was closed"));
}

TEST(FileWriterTest, TheLimitHelperReportsAChildThatThrows) {
  EXPECT_EQ(RunWithFileSizeLimit(1, [] () -> std::string { throw std::runtime_error("boom"); }),
            "child failed: boom");
}

}  // namespace
}  // namespace tzrec
