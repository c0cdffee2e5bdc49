#include "common/staging.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "common/test_support.h"

namespace tzrec {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;
using testing::WriteTextFile;

// The pid of a child that has exited and been reaped: a process that is gone.
long DeadPid() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  return child;
}

// A child that lives until killed.
struct LiveChild {
  pid_t pid = fork();
  LiveChild() {
    if (pid == 0) {
      pause();
      _exit(0);
    }
  }
  ~LiveChild() {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
};

TEST(StagingTest, NamesAndParsesStagingPaths) {
  EXPECT_EQ(StagingPath("/a/export"), "/a/export.tmp-" + std::to_string(getpid()));
  const auto parsed = ParseStagingName("export.tmp-1234");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->target, "export");
  EXPECT_EQ(parsed->pid, 1234);
  EXPECT_EQ(ParseStagingName("model.ckpt-5.tmp-77")->target, "model.ckpt-5");
  for (const char* other : {"export", "export.tmp", "export.tmp-", "export.tmp-12a", ".tmp-12", "export.tmp-0012",
                            "export.tmp-12345678901"}) {
    EXPECT_FALSE(ParseStagingName(other).has_value()) << other;
  }
}

TEST(StagingTest, RemovesOnlyStagingOfGoneProcessesForTheSameTarget) {
  ScratchDir dir;
  const long dead = DeadPid();
  ASSERT_FALSE(ProcessAlive(dead));
  LiveChild live;
  ASSERT_TRUE(ProcessAlive(live.pid));
  const std::string target = dir / "export";
  const std::string dead_dir = target + ".tmp-" + std::to_string(dead);
  const std::string dead_file = dir / ("other.tmp-" + std::to_string(dead));
  WriteTextFile(dead_dir + "/scripted_model.pt", "partial");
  WriteTextFile(target + ".tmp-" + std::to_string(live.pid) + "/fg.json", "{}");  // a concurrent writer
  WriteTextFile(StagingPath(target) + "/fg.json", "{}");                              // this process' own
  WriteTextFile(dir / ("export2.tmp-" + std::to_string(dead)), "another target");
  WriteTextFile(dead_file, "x");

  EXPECT_EQ(RemoveStaleStaging(target + "/"), std::vector<std::string>{dead_dir});
  EXPECT_FALSE(fs::exists(dead_dir));
  EXPECT_TRUE(fs::exists(target + ".tmp-" + std::to_string(live.pid) + "/fg.json"));
  EXPECT_TRUE(fs::exists(StagingPath(target)));
  EXPECT_TRUE(fs::exists(dir / ("export2.tmp-" + std::to_string(dead))));
  EXPECT_TRUE(fs::exists(dead_file));

  // A predicate over target names: every dead one matching it.
  const auto removed = RemoveStaleStaging(dir.path().string(), [](const std::string& t) { return t != "export"; });
  EXPECT_EQ(removed.size(), 2u);
  EXPECT_FALSE(fs::exists(dead_file));
  EXPECT_FALSE(fs::exists(dir / ("export2.tmp-" + std::to_string(dead))));
  EXPECT_TRUE(fs::exists(target + ".tmp-" + std::to_string(live.pid)));
  // A directory that does not exist: nothing to do, no error.
  EXPECT_TRUE(RemoveStaleStaging(dir / "missing/export").empty());
}

}  // namespace
}  // namespace tzrec
