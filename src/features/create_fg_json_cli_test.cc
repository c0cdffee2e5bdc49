// `tzrec create_fg_json` end to end: the binary's output against upstream's.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "common/test_support.h"

namespace tzrec {
namespace {

namespace fs = std::filesystem;
using tzrec::testing::ReadTextFile;

int RunTzrec(const std::string& args) { return testing::RunTzrec("create_fg_json " + args).exit_code; }

class CreateFgJsonCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    out_ = fs::temp_directory_path() / ("tzrec_create_fg_json_" + std::to_string(::getpid()));
    fs::remove_all(out_);
  }
  void TearDown() override { fs::remove_all(out_); }
  fs::path out_;
  const fs::path upstream_ = fs::path(TZREC_SHARED_DIR) / "upstream";
};

TEST_F(CreateFgJsonCliTest, WritesUpstreamBytes) {
  for (const char* example : {"deepfm_criteo", "multi_tower_din_taobao", "dbmtl_taobao_jrc"}) {
    SCOPED_TRACE(example);
    const fs::path dir = out_ / example;
    ASSERT_EQ(RunTzrec("--pipeline_config_path " + (upstream_ / example / "pipeline.config").string() +
                       " --fg_output_dir " + dir.string()),
              0);
    EXPECT_EQ(ReadTextFile(dir / "fg.json"), ReadTextFile(upstream_ / example / "fg.json"));
  }
}

TEST_F(CreateFgJsonCliTest, ResourceNameReservesAndRemoveBucketizer) {
  ASSERT_EQ(RunTzrec("--pipeline_config_path " +
                     (upstream_ / "multi_tower_taobao" / "pipeline.config").string() +
                     " --fg_output_dir " + out_.string() +
                     " --fg_resource_name my_fg.json --reserves 'label, rid' --remove_bucketizer"),
            0);
  const std::string text = ReadTextFile(out_ / "my_fg.json");
  EXPECT_FALSE(fs::exists(out_ / "fg.json"));
  EXPECT_EQ(text.find("num_buckets"), std::string::npos);
  EXPECT_EQ(text.find("boundaries"), std::string::npos);
  EXPECT_NE(text.find("\"reserves\": [\n        \"label\",\n        \"rid\"\n    ]\n}"),
            std::string::npos);
}

TEST_F(CreateFgJsonCliTest, UnsupportedFeatureTypeExitsWithConfigError) {
  fs::create_directories(out_);
  std::ofstream(out_ / "bad.config") << R"(
    feature_configs { tokenize_feature { feature_name: "t" expression: "item:title"
                                         embedding_dim: 4 vocab_file: "v.json" } })";
  EXPECT_EQ(RunTzrec("--pipeline_config_path " + (out_ / "bad.config").string() +
                     " --fg_output_dir " + (out_ / "o").string()),
            2);
  EXPECT_NE(RunTzrec("--pipeline_config_path " + (out_ / "missing.config").string() +
                     " --fg_output_dir " + (out_ / "o").string()),
            0);
}

}  // namespace
}  // namespace tzrec
