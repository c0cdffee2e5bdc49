#include "config/pipeline_config.h"

#include <map>

#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "config/model_type.h"
#include "config/test_util.h"

namespace tzrec {
namespace {

using google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using testing::ReadTextFile;
using testing::UpstreamConfigNames;
using testing::UpstreamConfigPath;
using testing::WriteScratchFile;

// Runs `fn`, expecting a ConfigError, and returns its message.
template <typename Fn>
std::string ConfigErrorOf(Fn&& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.exit_code(), kExitConfigError);
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ConfigError, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected ConfigError, nothing thrown";
  return "";
}

TEST(PipelineConfig, LoadsAllUpstreamExamplesWithTheirModelTypes) {
  // The model oneof each example sets (from the fixtures' README).
  const std::map<std::string, std::string> expected = {
      {"dbmtl_taobao", "dbmtl"},       {"dbmtl_taobao_jrc", "dbmtl"},
      {"dbmtl_taobao_seq", "dbmtl"},   {"deepfm_criteo", "deepfm"},
      {"dlrm_criteo", "dlrm"},         {"dssm_taobao", "dssm"},
      {"dssm_v2_taobao", "dssm_v2"},   {"masknet_criteo", "mask_net"},
      {"mind_taobao", "mind"},         {"mmoe_taobao", "mmoe"},
      {"multi_tower_din_taobao", "multi_tower_din"},
      {"multi_tower_taobao", "multi_tower"},
      {"pepnet_taobao", "pepnet"},     {"ple_taobao", "ple"},
      {"rocket_launching_criteo", "rocket_launching"},
      {"tdm_taobao", "tdm"},           {"wukong_criteo", "wukong"},
  };
  const auto names = UpstreamConfigNames();
  ASSERT_EQ(names.size(), expected.size());
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    protos::EasyRecConfig config = LoadPipelineConfig(UpstreamConfigPath(name));
    EXPECT_EQ(ModelType(config.model_config()), expected.at(name));
    EXPECT_GT(config.feature_configs_size(), 0);
  }
}

TEST(PipelineConfig, AcceptsMissingRequiredFields) {
  // deepfm_criteo leaves out the required `expression` on every feature.
  auto config = LoadPipelineConfig(UpstreamConfigPath("deepfm_criteo"));
  ASSERT_GT(config.feature_configs_size(), 0);
  EXPECT_FALSE(config.IsInitialized());
  EXPECT_TRUE(config.feature_configs(0).has_raw_feature());
  EXPECT_FALSE(config.feature_configs(0).raw_feature().has_expression());
}

TEST(PipelineConfig, TextRoundTripForAllUpstreamExamples) {
  for (const auto& name : UpstreamConfigNames()) {
    SCOPED_TRACE(name);
    auto config = LoadPipelineConfig(UpstreamConfigPath(name));
    std::string path = (testing::SharedScratchDir() / "roundtrip" / name / "pipeline.config").string();
    SavePipelineConfig(config, path);  // also creates the directories
    auto reloaded = LoadPipelineConfig(path);
    EXPECT_TRUE(MessageDifferencer::Equals(config, reloaded));
    EXPECT_EQ(ReadTextFile(path), PipelineConfigToText(config));
  }
}

TEST(PipelineConfig, LoadsJson) {
  for (const char* name : {"deepfm_criteo", "multi_tower_din_taobao"}) {
    SCOPED_TRACE(name);
    auto config = LoadPipelineConfig(UpstreamConfigPath(name));
    // protobuf's util converts (partial messages need the loader's relaxed schema).
    std::string json = PipelineConfigToJson(config);
    EXPECT_THAT(json, HasSubstr("\"feature_configs\""));
    auto from_json = LoadPipelineConfig(WriteScratchFile(std::string(name) + ".json", json));
    EXPECT_TRUE(MessageDifferencer::Equals(config, from_json));
  }
}

TEST(PipelineConfig, JsonAcceptsCamelCaseNames) {
  auto config = ParsePipelineConfigJson(
      R"({"modelDir": "m", "dataConfig": {"batchSize": 7, "fgEncoded": true}})", "x.json");
  EXPECT_EQ(config.model_dir(), "m");
  EXPECT_EQ(config.data_config().batch_size(), 7u);
  EXPECT_EQ(config.data_config().fg_mode(), protos::FG_NONE);
}

TEST(PipelineConfig, FgEncodedMapsToFgMode) {
  struct Case {
    const char* data_config;
    protos::FgMode expected;
  };
  const Case cases[] = {
      {"fg_encoded: true fg_mode: FG_DAG", protos::FG_NONE},
      {"fg_encoded: false", protos::FG_DAG},  // fg_threads defaults to 1
      {"fg_encoded: false fg_threads: 0", protos::FG_NORMAL},
      {"fg_mode: FG_BUCKETIZE", protos::FG_BUCKETIZE},
      {"", protos::FG_NONE},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.data_config);
    auto config = ParsePipelineConfigText(std::string("data_config {") + c.data_config + "}");
    EXPECT_EQ(config.data_config().fg_mode(), c.expected);
    // Written back explicitly, as upstream does.
    EXPECT_TRUE(config.data_config().has_fg_mode());
  }
  // Also when the config has no data_config at all.
  EXPECT_TRUE(ParsePipelineConfigText("model_dir: 'm'").data_config().has_fg_mode());
}

TEST(PipelineConfig, RepeatedSingularFieldKeepsLastValue) {
  auto config = ParsePipelineConfigText("model_dir: 'a'\nmodel_dir: 'b'\n");
  EXPECT_EQ(config.model_dir(), "b");
}

TEST(PipelineConfig, SyntaxErrorNamesFileLineAndColumn) {
  std::string message = ConfigErrorOf([] {
    ParsePipelineConfigText("model_dir: 'm'\ndata_config {\n  batch_size: 12x\n}\n", "p.config");
  });
  EXPECT_THAT(message, MatchesRegex("p\\.config:3:[0-9]+: .*"));
}

TEST(PipelineConfig, UnknownFieldNamesFileLineAndColumn) {
  std::string message = ConfigErrorOf([] {
    ParsePipelineConfigText("model_dir: 'm'\n\nmodel_config {\n    bogus_field: 1\n}\n", "p.config");
  });
  EXPECT_THAT(message, HasSubstr("p.config:4:5: Message type \"tzrec.protos.ModelConfig\" has no field named \"bogus_field\""));
  EXPECT_THAT(message, HasSubstr("bogus_field"));
}

TEST(PipelineConfig, UnknownEnumValueIsAnError) {
  std::string message = ConfigErrorOf([] {
    ParsePipelineConfigText("data_config { fg_mode: FG_SOMETIMES }", "p.config");
  });
  EXPECT_THAT(message, HasSubstr("p.config:1:24: "));
  EXPECT_THAT(message, HasSubstr("FG_SOMETIMES"));
}

TEST(PipelineConfig, MissingFileIsAClearError) {
  std::string message = ConfigErrorOf([] { LoadPipelineConfig("/nonexistent/dir/pipeline.config"); });
  EXPECT_EQ(message, "pipeline config /nonexistent/dir/pipeline.config does not exist");
}

TEST(PipelineConfig, JsonSyntaxErrorNamesLineAndColumn) {
  std::string path = WriteScratchFile("broken.json", "{\n  \"model_dir\": \"m\",\n  \"eval_input_path\" \"x\"\n}\n");
  std::string message = ConfigErrorOf([&] { LoadPipelineConfig(path); });
  EXPECT_THAT(message, HasSubstr(path + ":3:"));
  EXPECT_THAT(message, HasSubstr("invalid JSON"));
}

TEST(PipelineConfig, JsonUnknownFieldIsAnError) {
  std::string message = ConfigErrorOf([] {
    ParsePipelineConfigJson(R"({"model_dir": "m", "bogus_field": 3})", "x.json");
  });
  EXPECT_THAT(message, HasSubstr("x.json: "));
  EXPECT_THAT(message, HasSubstr("bogus_field"));
}

TEST(PipelineConfig, SavedTextKeepsUtf8) {
  protos::EasyRecConfig config;
  config.set_model_dir("模型");
  EXPECT_THAT(PipelineConfigToText(config), HasSubstr("model_dir: \"模型\""));
}

}  // namespace
}  // namespace tzrec
