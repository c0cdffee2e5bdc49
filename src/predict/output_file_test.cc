#include "predict/output_file.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/staging.h"
#include "common/test_support.h"

namespace tzrec::predict {
namespace {

namespace fs = std::filesystem;

class OutputFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tzrec_output_file_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  size_t EntriesIn(const fs::path& d) {
    return static_cast<size_t>(std::distance(fs::directory_iterator(d), fs::directory_iterator()));
  }

  fs::path dir_;
};

TEST_F(OutputFileTest, AppearsOnlyOnCommit) {
  const fs::path path = dir_ / "sub" / "out.csv";  // parent created
  {
    AtomicOutputFile file(path.string());
    file.Write("a,b\n");
    file.Write("1,2\n");
    EXPECT_FALSE(fs::exists(path));
    EXPECT_TRUE(fs::exists(file.temp_path()));
    file.Commit();
    EXPECT_FALSE(fs::exists(file.temp_path()));
  }
  EXPECT_EQ(Read(path), "a,b\n1,2\n");
  EXPECT_EQ(EntriesIn(dir_ / "sub"), 1u);
}

TEST_F(OutputFileTest, AbandonedFileLeavesNothing) {
  const fs::path path = dir_ / "out.csv";
  {
    AtomicOutputFile file(path.string());
    file.Write("partial");
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(EntriesIn(dir_), 0u);
}

TEST_F(OutputFileTest, ExistingPathIsRefused) {
  const fs::path path = dir_ / "out.csv";
  std::ofstream(path) << "old";
  try {
    AtomicOutputFile file(path.string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "predict_output_path " + path.string() + " already exists; remove it or choose another path");
  }
  EXPECT_EQ(Read(path), "old");
}

TEST_F(OutputFileTest, PathTakenBeforeCommitIsNotReplaced) {
  const fs::path path = dir_ / "out.csv";
  {
    AtomicOutputFile file(path.string());
    file.Write("new");
    std::ofstream(path) << "someone else's";
    EXPECT_THROW(file.Commit(), Error);
  }
  EXPECT_EQ(Read(path), "someone else's");
  EXPECT_EQ(EntriesIn(dir_), 1u);  // the temporary file is gone
}

TEST_F(OutputFileTest, TempFilesOfKilledRunsAreRemovedByTheNextRun) {
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const fs::path out = dir_ / "predict.csv";
  const fs::path killed = dir_ / ("predict.csv.tmp-" + std::to_string(dead));
  const fs::path running = dir_ / ("predict.csv.tmp-" + std::to_string(::getppid()));
  const fs::path other = dir_ / ("other.csv.tmp-" + std::to_string(dead));
  for (const fs::path& p : {killed, running, other}) std::ofstream(p) << "partial";
  AtomicOutputFile file(out.string());
  EXPECT_EQ(file.temp_path(), StagingPath(out.string()));
  EXPECT_FALSE(fs::exists(killed));
  EXPECT_TRUE(fs::exists(running));  // its owner is alive
  EXPECT_TRUE(fs::exists(other));    // another output's
  file.Write("a\n");
  file.Commit();
  EXPECT_EQ(Read(out), "a\n");
}

// A full disk (a file size limit in a forked child: writes past it fail with
// EFBIG): a write larger than the buffer fails in Write, a small one when
// Commit flushes; both name the file being written and the reason, and the
// abandoned file removes its partial content. An earlier output stays.
TEST_F(OutputFileTest, AFullDiskIsNamedAndLeavesNoPartialFile) {
  const fs::path earlier = dir_ / "earlier.csv";
  {
    AtomicOutputFile file(earlier.string());
    file.Write("kept\n");
    file.Commit();
  }
  for (const size_t bytes : {size_t{3} << 20, size_t{3000}}) {
    const fs::path out = dir_ / ("full_" + std::to_string(bytes) + ".csv");
    const std::string result = testing::RunWithFileSizeLimit(2048, [&] {
      std::string where = "none", error;
      std::string temp;
      {
        AtomicOutputFile file(out.string());
        temp = file.temp_path();
        error = testing::ErrorOf([&] { file.Write(std::string(bytes, 'x')); });
        if (!error.empty()) {
          where = "write";
        } else {
          error = testing::ErrorOf([&] { file.Commit(); });
          if (!error.empty()) where = "commit";
        }
      }
      return where + "|" + temp + "|" + error;
    });
    const size_t bar = result.find('|'), bar2 = result.find('|', bar + 1);
    ASSERT_NE(bar2, std::string::npos) << result;
    const std::string where = result.substr(0, bar), temp = result.substr(bar + 1, bar2 - bar - 1);
    EXPECT_EQ(where, bytes > 2048 * 100 ? "write" : "commit") << result;
    EXPECT_EQ(temp.rfind(out.string() + ".tmp-", 0), 0u) << result;
    EXPECT_EQ(result.substr(bar2 + 1), "cannot write " + temp + ": File too large");
    EXPECT_FALSE(fs::exists(out));
    EXPECT_FALSE(fs::exists(temp)) << "partial file left";
  }
  EXPECT_EQ(Read(earlier), "kept\n");
  EXPECT_EQ(EntriesIn(dir_), 1u);
}

}  // namespace
}  // namespace tzrec::predict
