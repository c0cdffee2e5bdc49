#include "predict/output_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

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

}  // namespace
}  // namespace tzrec::predict
