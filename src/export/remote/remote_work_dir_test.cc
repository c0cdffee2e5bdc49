// The local work directory of an export with remote paths: a killed one's is
// removed by the next remote export (common/staging.h).
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/test_support.h"
#include "export/remote/remote_export.h"

namespace tzrec::exporting::remote {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;
using testing::WriteTextFile;

TEST(RemoteWorkDirTest, WorkDirsOfKilledRemoteExportsAreRemovedByTheNext) {
  ScratchDir dir;
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const fs::path cache = dir.path() / "cache";
  const fs::path killed = cache / ("tzrec-export-123.tmp-" + std::to_string(dead));
  const fs::path running = cache / ("tzrec-export-456.tmp-" + std::to_string(getppid()));
  const fs::path other = cache / ("other.tmp-" + std::to_string(dead));
  WriteTextFile((killed / "checkpoint/model/__0_0.distcp").string(), "partial");
  WriteTextFile((running / "config/pipeline.config").string(), "");
  WriteTextFile(other.string(), "not ours");
  WriteTextFile(dir / "pipeline.config", "");

  const std::map<std::string, std::string> values = {
      {"LOCAL_CACHE_DIR", cache.string()},
      {"AWS_ENDPOINT_URL", "http://127.0.0.1:9"},  // nothing listens: the download fails at once
      {"AWS_MAX_ATTEMPTS", "1"},
      {"AWS_ACCESS_KEY_ID", "k"},
      {"AWS_SECRET_ACCESS_KEY", "s"},
      {"AWS_REGION", "us-east-1"}};
  const EnvLookup env = [&](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  ExportRequest request;
  request.pipeline_config_path = dir / "pipeline.config";
  request.export_dir = dir / "export";
  request.checkpoint_path = "s3://bucket/model.ckpt-1";
  EXPECT_THROW(ExportWithRemotePaths(request, env), Error);

  EXPECT_FALSE(fs::exists(killed));
  EXPECT_TRUE(fs::exists(running / "config/pipeline.config"));
  EXPECT_TRUE(fs::exists(other));
  // The failed export's own work directory went with it.
  size_t left = 0;
  for (const auto& entry : fs::directory_iterator(cache)) left += entry.path() != running && entry.path() != other;
  EXPECT_EQ(left, 0u);
  EXPECT_FALSE(fs::exists(dir / "export"));
}

}  // namespace
}  // namespace tzrec::exporting::remote
