#include "serve/model_versions.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "artifacts/manifest.h"
#include "common/test_support.h"

namespace tzrec::serve {
namespace {

namespace fs = std::filesystem;

void Publish(const fs::path& dir, fs::file_time_type when) {
  const fs::path manifest = dir / artifacts::kExportManifestFile;
  tzrec::testing::WriteTextFile(manifest.string(), "{}");
  fs::last_write_time(manifest, when);
}

TEST(NewestExport, TheLastPublishedManifestWins) {
  const tzrec::testing::ScratchDir base;
  EXPECT_EQ(NewestExport(base.path().string()), std::nullopt);
  const auto now = fs::file_time_type::clock::now();
  Publish(base.path() / "b_old", now - std::chrono::hours(2));
  Publish(base.path() / "a_new", now - std::chrono::hours(1));
  fs::create_directories(base.path() / "z_unpublished");  // no manifest yet
  Publish(base.path() / ".staging", now);                  // hidden: being copied
  EXPECT_EQ(NewestExport(base.path().string()), (base.path() / "a_new").string());
  // Same time: the greater name.
  Publish(base.path() / "c_tie", now - std::chrono::hours(1));
  EXPECT_EQ(NewestExport(base.path().string()), (base.path() / "c_tie").string());
  EXPECT_EQ(NewestExport((base.path() / "missing").string()), std::nullopt);
}

}  // namespace
}  // namespace tzrec::serve
