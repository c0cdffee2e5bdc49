// `tzrec export` as a user runs it: the refusals that must come before any
// work, each leaving nothing behind.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/test_support.h"

namespace tzrec::exporting {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::ScratchDir;
using testing::WriteTextFile;

using testing::CommandResult;
using testing::RunCommand;

std::string SmallDeepFMConfig(const std::string& model_dir) {
  return R"(
model_dir: ")" + model_dir + R"("
data_config { batch_size: 16 label_fields: "label" fg_mode: FG_NONE }
feature_configs { id_feature { feature_name: "cat_a" expression: "user:cat_a" hash_bucket_size: 10 embedding_dim: 4 } }
feature_configs { id_feature { feature_name: "cat_b" expression: "item:cat_b" hash_bucket_size: 20 embedding_dim: 4 } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
model_config {
  feature_groups { group_name: "wide" feature_names: "cat_a" feature_names: "cat_b" group_type: WIDE }
  feature_groups { group_name: "deep" feature_names: "cat_a" feature_names: "cat_b" feature_names: "price" group_type: DEEP }
  deepfm { deep { hidden_units: [8] } }
  metrics { auc {} }
  losses { binary_cross_entropy {} }
}
)";
}

class ExportCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_path_ = dir_ / "pipeline.config";
    WriteTextFile(config_path_, SmallDeepFMConfig(dir_ / "model"));
    fs::create_directories(dir_.path() / "model");
  }

  CommandResult Export(const std::string& extra, const std::string& env = "") const {
    return RunCommand(env + " " + TZREC_BINARY + " export --pipeline_config_path " + config_path_ +
               " --export_dir " + export_dir() + " " + extra);
  }
  std::string export_dir() const { return dir_ / "export"; }

  // Nothing but the inputs is left in the scratch directory.
  void ExpectNothingWritten() const {
    EXPECT_FALSE(fs::exists(export_dir()));
    for (const auto& entry : fs::directory_iterator(dir_.path())) {
      const std::string name = entry.path().filename().string();
      EXPECT_TRUE(name == "pipeline.config" || name == "model" || name == "vocab.txt" ||
                  name == "export")
          << "left behind: " << name;
    }
  }

  ScratchDir dir_;
  std::string config_path_;
};

TEST_F(ExportCliTest, RefusesAnExistingExportDir) {
  fs::create_directories(export_dir());
  WriteTextFile(export_dir() + "/keep.txt", "mine");
  const CommandResult result = Export("");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr("directory " + export_dir() + " already exist."));
  EXPECT_EQ(testing::ReadTextFile(export_dir() + "/keep.txt"), "mine");
}

TEST_F(ExportCliTest, MissingAssetFileIsNamedAndNothingIsWritten) {
  WriteTextFile(dir_ / "vocab.txt", "a\n");
  const CommandResult result = Export("--asset_files " + dir_ / "vocab.txt" + "," + dir_ / "nope.txt");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr(dir_ / "nope.txt"));
  ExpectNothingWritten();
}

TEST_F(ExportCliTest, BadQuantEmbIsAConfigError) {
  const CommandResult result = Export("", "QUANT_EMB=INT3");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_THAT(result.output, HasSubstr("QUANT_EMB=\"INT3\""));
  ExpectNothingWritten();
}

TEST_F(ExportCliTest, BadAdditionalExportConfigIsAConfigError) {
  const CommandResult result = Export("--additional_export_config '[1]'");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_THAT(result.output, HasSubstr("--additional_export_config"));
  ExpectNothingWritten();
}

TEST_F(ExportCliTest, NoCheckpointIsAnErrorNamingModelDir) {
  const CommandResult result = Export("");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr("no checkpoint in model_dir " + dir_ / "model"));
  ExpectNothingWritten();
}

TEST_F(ExportCliTest, MissingConfigIsNamed) {
  const CommandResult result =
      RunCommand(std::string(TZREC_BINARY) + " export --pipeline_config_path " + dir_ / "none.config" +
          " --export_dir " + export_dir());
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, HasSubstr(dir_ / "none.config"));
  ExpectNothingWritten();
}

}  // namespace
}  // namespace tzrec::exporting
