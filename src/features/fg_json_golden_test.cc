// fg.json for every upstream example config, compared byte for byte with the
// files upstream's own export wrote (shared/upstream/<example>/).
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "common/test_support.h"
#include "config/pipeline_config.h"
#include "features/export_features.h"
#include "features/feature_factory.h"
#include "features/fg_json.h"
#include "features/python_json.h"

namespace tzrec {
namespace {

namespace fs = std::filesystem;
using tzrec::testing::ReadTextFile;

// The golden file name of an export sub-directory's fg.json.
std::string GoldenName(const std::string& subdir) {
  return subdir.empty() ? "fg.json" : subdir + "_fg.json";
}

std::vector<fs::path> ExampleDirs() {
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(fs::path(TZREC_SHARED_DIR) / "upstream")) {
    if (entry.is_directory() && fs::exists(entry.path() / "pipeline.config")) {
      dirs.push_back(entry.path());
    }
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

TEST(FgJsonGoldenTest, EveryExampleMatchesUpstreamBytes) {
  const std::vector<fs::path> dirs = ExampleDirs();
  ASSERT_EQ(dirs.size(), 17u);
  int files_compared = 0;
  for (const fs::path& dir : dirs) {
    SCOPED_TRACE(dir.filename().string());
    const protos::EasyRecConfig config = LoadPipelineConfig((dir / "pipeline.config").string());
    const FeatureList features = CreateFeatures(config);
    const auto sets = ExportFeatureSets(config.model_config(), FeaturePointers(features));

    // Every golden json file of the example is produced, and nothing else.
    std::set<std::string> golden;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() == ".json") golden.insert(entry.path().filename().string());
    }
    std::set<std::string> produced;
    for (const ExportFeatureSet& set : sets) {
      const std::string name = GoldenName(set.subdir);
      produced.insert(name);
      const std::string actual = DumpPythonJson(CreateFgJson(set.features));
      const std::string expected = ReadTextFile(dir / name);
      ASSERT_FALSE(expected.empty()) << name;
      EXPECT_EQ(actual, expected) << name;
      ++files_compared;
    }
    EXPECT_EQ(produced, golden);
  }
  EXPECT_EQ(files_compared, 21);
}

TEST(FgJsonGoldenTest, WrittenFileHasNoTrailingNewline) {
  const fs::path dir = fs::path(TZREC_SHARED_DIR) / "upstream" / "multi_tower_din_taobao";
  const protos::EasyRecConfig config = LoadPipelineConfig((dir / "pipeline.config").string());
  const FeatureList features = CreateFeatures(config);
  const fs::path out = fs::temp_directory_path() / "tzrec_fg_json_golden_test" / "fg.json";
  fs::remove_all(out.parent_path());
  WriteFgJson(CreateFgJson(FeaturePointers(features)), out.string());
  EXPECT_EQ(ReadTextFile(out), ReadTextFile(dir / "fg.json"));
  fs::remove_all(out.parent_path());
}

}  // namespace
}  // namespace tzrec
