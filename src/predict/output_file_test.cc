#include "predict/output_file.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/staging.h"

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

}  // namespace
}  // namespace tzrec::predict
