#include "export/export_staging.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/staging.h"
#include "common/test_support.h"

namespace tzrec::exporting {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::ErrorOf;
using testing::ReadTextFile;
using testing::ScratchDir;
using testing::WriteTextFile;

TEST(ExportStagingTest, RefusesAnExistingDirectoryWithUpstreamsMessage) {
  ScratchDir dir;
  fs::create_directories(dir.path() / "export");
  EXPECT_EQ(ErrorOf([&] { ExportStaging::Begin(dir / "export"); }),
            "directory " + dir / "export" + " already exist.");
  WriteTextFile(dir / "file", "x");
  EXPECT_THAT(ErrorOf([&] { ExportStaging::Begin(dir / "file"); }), HasSubstr("already exist."));
}

TEST(ExportStagingTest, NothingAppearsUntilPublish) {
  ScratchDir dir;
  const std::string target = dir / "out/export";
  auto staging = ExportStaging::Begin(target);
  staging->WriteFile("model_acc.json", "{}");
  staging->WriteFile("user/fg.json", "{\"features\": []}");
  WriteTextFile(dir / "vocab.txt", "a\nb\n");
  staging->CopyFile(dir / "vocab.txt", "vocab.txt");
  EXPECT_FALSE(fs::exists(target));
  EXPECT_TRUE(fs::exists(staging->staging_dir() + "/user/fg.json"));
  EXPECT_EQ(staging->FinalPath("user"), target + "/user");

  const std::string staging_dir = staging->staging_dir();
  staging->Publish();
  EXPECT_FALSE(fs::exists(staging_dir));
  EXPECT_EQ(ReadTextFile(target + "/model_acc.json"), "{}");
  EXPECT_EQ(ReadTextFile(target + "/user/fg.json"), "{\"features\": []}");
  EXPECT_EQ(ReadTextFile(target + "/vocab.txt"), "a\nb\n");
  staging.reset();
  EXPECT_TRUE(fs::exists(target + "/vocab.txt")) << "destroying after publish removed files";
}

TEST(ExportStagingTest, AbandonedExportLeavesNothingBehind) {
  ScratchDir dir;
  const std::string target = dir / "new/parents/export";
  std::string staging_dir;
  {
    auto staging = ExportStaging::Begin(target);
    staging_dir = staging->staging_dir();
    staging->WriteFile("a/b.txt", "x");
    EXPECT_TRUE(fs::exists(staging_dir));
  }
  EXPECT_FALSE(fs::exists(staging_dir));
  EXPECT_FALSE(fs::exists(target));
  EXPECT_FALSE(fs::exists(dir / "new")) << "parents created for the export stay behind";
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(ExportStagingTest, PublishRefusesATargetThatAppearedMeanwhile) {
  ScratchDir dir;
  const std::string target = dir / "export";
  auto staging = ExportStaging::Begin(target);
  staging->WriteFile("model_acc.json", "{}");
  fs::create_directories(target);  // someone else, even an empty directory
  const std::string error = ErrorOf([&] { staging->Publish(); });
  EXPECT_EQ(error.rfind("directory " + target + " already exist. ", 0), 0u) << error;
  EXPECT_THAT(error, HasSubstr("another export to the same directory published first"));
  EXPECT_EQ(error.find('\n'), std::string::npos) << "one line";
  EXPECT_FALSE(fs::exists(staging->staging_dir()));
  EXPECT_TRUE(fs::is_empty(target));
}

TEST(ExportStagingTest, TrailingSlashIsTheSameDirectory) {
  ScratchDir dir;
  auto staging = ExportStaging::Begin(dir / "export/");
  EXPECT_EQ(staging->export_dir(), dir / "export");
  staging->Publish();
  EXPECT_TRUE(fs::is_directory(dir / "export"));
}

TEST(ExportStagingTest, RemoteDirectoriesAreNotWrittenDirectly) {
  EXPECT_THAT(ErrorOf([] { ExportStaging::Begin("s3://bucket/export"); }),
              HasSubstr("s3://bucket/export"));
}

TEST(ExportStagingTest, FinalPathsNameThePublishedLocation) {
  ScratchDir dir;
  auto staging = ExportStaging::Begin(dir / "work/export", "s3://bucket/models/export/");
  EXPECT_EQ(staging->FinalPath(""), "s3://bucket/models/export");
  EXPECT_EQ(staging->FinalPath("user"), "s3://bucket/models/export/user");
  EXPECT_EQ(staging->export_dir(), dir / "work/export");
}

TEST(ExportStagingTest, CopyingAMissingFileNamesIt) {
  ScratchDir dir;
  auto staging = ExportStaging::Begin(dir / "export");
  EXPECT_THAT(ErrorOf([&] { staging->CopyFile(dir / "missing.txt", "missing.txt"); }),
              HasSubstr(dir / "missing.txt"));
}

TEST(ExportStagingTest, StagingOfKilledExportsIsRemovedByTheNextExport) {
  ScratchDir dir;
  const std::string target = dir / "export";
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const std::string killed = target + ".tmp-" + std::to_string(dead);
  const std::string running = target + ".tmp-" + std::to_string(getppid());  // a live owner
  WriteTextFile(killed + "/scripted_model.pt", "partial");
  WriteTextFile(running + "/fg.json", "{}");
  auto staging = ExportStaging::Begin(target);
  EXPECT_EQ(staging->staging_dir(), StagingPath(target));
  EXPECT_FALSE(fs::exists(killed));
  EXPECT_TRUE(fs::exists(running + "/fg.json"));
  staging->WriteFile("fg.json", "{}");
  staging->Publish();
  EXPECT_TRUE(fs::exists(target + "/fg.json"));
  EXPECT_FALSE(fs::exists(target + "/scripted_model.pt"));  // nothing of the killed run's
}

TEST(ExportStagingTest, NamesLeadingOutOfTheExportAreRefused) {
  ScratchDir dir;
  auto staging = ExportStaging::Begin(dir / "export");
  for (const std::string name : {"../escaped.txt", "user/../../escaped.txt", "/tmp/escaped.txt"}) {
    EXPECT_THAT(ErrorOf([&] { staging->WriteFile(name, "x"); }),
                HasSubstr("cannot write " + name + " into export " + dir / "export" + ": the name leads out of it"));
  }
  EXPECT_THAT(ErrorOf([&] { staging->LocalDir("sub/../.."); }), HasSubstr("leads out of it"));
  EXPECT_FALSE(fs::exists(dir / "escaped.txt"));
  staging->WriteFile("user/fg.json", "{}");  // an ordinary nested name
  EXPECT_TRUE(fs::exists(staging->staging_dir() + "/user/fg.json"));
}

// Two exports to one export_dir at once, each from its own process: both
// stage, the first to publish wins whole, the second is refused with
// upstream's message and an explanation, and leaves nothing.
TEST(ExportStagingTest, OfTwoConcurrentExportsTheFirstToPublishWinsWhole) {
  ScratchDir dir;
  const std::string target = dir / "export";
  auto mine = ExportStaging::Begin(target);
  mine->WriteFile("fg.json", "mine");
  mine->WriteFile("mine_only.txt", "x");
  const pid_t other = fork();
  if (other == 0) {
    int rc = 1;
    try {
      auto theirs = ExportStaging::Begin(target);  // mine is staged, not published: no refusal yet
      theirs->WriteFile("fg.json", "theirs");
      theirs->Publish();
      rc = 0;
    } catch (...) {
    }
    _exit(rc);  // no destructors of the parent's objects in the child
  }
  int status = 0;
  waitpid(other, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the other export did not publish";
  const std::string staging_dir = mine->staging_dir();
  const std::string error = ErrorOf([&] { mine->Publish(); });
  EXPECT_EQ(error, "directory " + target + " already exist. It appeared while this export ran (another export "
                   "to the same directory published first); nothing of this export was kept.");
  EXPECT_FALSE(fs::exists(staging_dir));
  EXPECT_EQ(ReadTextFile(target + "/fg.json"), "theirs");
  EXPECT_FALSE(fs::exists(target + "/mine_only.txt"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

// An export's own files under a file size limit: WriteFile names the staged
// file and the reason; the abandoned staging is removed.
TEST(ExportStagingTest, AFullDiskIsNamedAndTheStagingRemoved) {
  ScratchDir dir;
  const std::string target = dir / "export";
  const std::string result = testing::RunWithFileSizeLimit(1000, [&] {
    auto staging = ExportStaging::Begin(target);
    staging->WriteFile("small.json", "{}");
    return staging->staging_dir() + "|" + ErrorOf([&] { staging->WriteFile("fg.json", std::string(5000, ' ')); });
  });
  const std::string staging_dir = result.substr(0, result.find('|'));
  EXPECT_EQ(result.substr(result.find('|') + 1), "cannot write " + staging_dir + "/fg.json: File too large");
  EXPECT_FALSE(fs::exists(staging_dir));
  EXPECT_FALSE(fs::exists(target));
}

}  // namespace
}  // namespace tzrec::exporting
