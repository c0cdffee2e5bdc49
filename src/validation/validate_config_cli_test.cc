// Runs `tzrec validate_config` on good and broken configs and checks the exit
// code and the one-line error. Broken configs are written to a scratch dir.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/test_util.h"

namespace tzrec {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using testing::RunTzrec;
using testing::UpstreamConfigPath;
using testing::WriteScratchFile;

constexpr char kValid[] = R"(train_input_path: "train.csv"
eval_input_path: "eval.csv"
model_dir: "model"
data_config { batch_size: 8 dataset_type: CsvDataset label_fields: "clk" }
feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id" hash_bucket_size: 100 embedding_dim: 8 } }
feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id" num_buckets: 100 embedding_dim: 8 } }
feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
model_config {
  feature_groups { group_name: "wide" feature_names: "user_id" feature_names: "item_id" group_type: WIDE }
  feature_groups { group_name: "fm" feature_names: "user_id" feature_names: "item_id" group_type: DEEP }
  feature_groups { group_name: "deep" feature_names: "user_id" feature_names: "item_id" feature_names: "price" group_type: DEEP }
  deepfm { deep { hidden_units: [8] } }
  losses { binary_cross_entropy {} }
}
)";

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

std::string Args(const std::string& path, bool strict = false) {
  return "validate_config --pipeline_config_path '" + path + "'" + (strict ? " --strict" : "");
}

struct BrokenCase {
  const char* name;
  std::string config;
  bool strict;
  std::string expected;  // substring of the error line
};

TEST(ValidateConfigCli, ValidConfigPrintsSummary) {
  auto result = RunTzrec(Args(WriteScratchFile("valid.config", kValid), /*strict=*/true));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("model: deepfm (rank)"));
  EXPECT_THAT(result.output, HasSubstr("features: 3 (id_feature 2, raw_feature 1)"));
  EXPECT_THAT(result.output, HasSubstr("wide [WIDE] width 8 (wide_embedding_dim 4)"));
  EXPECT_THAT(result.output, HasSubstr("deep [DEEP] width 17"));
  EXPECT_THAT(result.output, HasSubstr("members: user_id:8 item_id:8 price:1"));
  EXPECT_THAT(result.output, HasSubstr("\nvalid\n"));
}

TEST(ValidateConfigCli, UpstreamExamplesAreValid) {
  // All 17 are validated in-process (validate_test.cc); here a partial config,
  // a grouped-sequence config, a match model and an unsupported model.
  for (const char* name : {"deepfm_criteo", "dbmtl_taobao_seq", "dssm_taobao", "tdm_taobao"}) {
    auto result = RunTzrec(Args(UpstreamConfigPath(name)));
    EXPECT_EQ(result.exit_code, 0) << name << ": " << result.output;
  }
}

TEST(ValidateConfigCli, BrokenConfigsFailWithExitCode2) {
  const std::vector<BrokenCase> cases = {
      {"syntax_error", Replace(kValid, "batch_size: 8", "batch_size: 8x"), false,
       "syntax_error.config:4:"},
      {"unknown_field", Replace(kValid, "  losses {", "  bogus_option: 1\n  losses {"), false,
       "unknown_field.config:13:3: Message type \"tzrec.protos.ModelConfig\" has no field named "
       "\"bogus_option\""},
      {"unknown_feature_in_group", Replace(kValid, "feature_names: \"price\"", "feature_names: \"prize\""),
       false, "feature group 'deep' names feature 'prize', which is not in feature_configs"},
      {"duplicate_feature",
       Replace(kValid, "feature_name: \"price\"", "feature_name: \"item_id\""), false,
       "duplicate feature name 'item_id': feature_configs[1] (id_feature) and feature_configs[2] (raw_feature)"},
      {"no_model_type", Replace(kValid, "deepfm { deep { hidden_units: [8] } }", ""), false,
       "model_config sets no model type"},
      {"deepfm_without_deep", Replace(kValid, "group_name: \"deep\"", "group_name: \"deeper\""), false,
       "deepfm needs a feature group named 'deep' (groups present: 'wide', 'fm', 'deeper')"},
      {"fm_dims_unequal",
       Replace(kValid, "group_name: \"fm\" feature_names: \"user_id\"",
               "group_name: \"fm\" feature_names: \"price\" feature_names: \"user_id\""),
       false, "deepfm: FM needs one embedding width in group 'fm', but 'price' is 1 wide and 'user_id' is 8"},
      {"unsupported_feature",
       Replace(kValid, "model_config {",
               "feature_configs { tokenize_feature { feature_name: \"title\" } }\nmodel_config {"),
       true, "feature 'title' has type tokenize_feature, which tzrec does not support"},
      {"unsupported_model",
       Replace(kValid, "deepfm { deep { hidden_units: [8] } }",
               "tdm { multiwindow_din { attn_mlp { hidden_units: [4] } } final { hidden_units: [4] } }"),
       true, "model type tdm is not supported (supported: "},
      {"wide_dense_feature",
       Replace(kValid, "group_name: \"wide\" feature_names: \"user_id\"",
               "group_name: \"wide\" feature_names: \"price\""),
       false, "feature group 'wide' is WIDE, but feature 'price' (raw_feature) is dense"},
      {"loss_num_class", Replace(kValid, "binary_cross_entropy {}", "binary_cross_entropy {} }\n  num_class: 3\n  metrics { auc {}"),
       false, "deepfm: binary_cross_entropy needs num_class 1, got 3"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string path = WriteScratchFile(std::string(c.name) + ".config", c.config);
    auto result = RunTzrec(Args(path, c.strict));
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_THAT(result.output, HasSubstr(c.expected));
    // The error is one line starting with "tzrec: error: ".
    EXPECT_THAT(result.output, MatchesRegex("(.*\n)?tzrec: error: [^\n]*\n")) << result.output;
    if (c.strict) {
      // Without --strict the same config validates and the summary lists the gap.
      auto lenient = RunTzrec(Args(path));
      EXPECT_EQ(lenient.exit_code, 0) << lenient.output;
      EXPECT_THAT(lenient.output, HasSubstr("support: tzrec cannot build this config (1 problem):"));
      EXPECT_THAT(lenient.output, HasSubstr(c.expected));
    }
  }
}

TEST(ValidateConfigCli, MissingFile) {
  std::string path = (testing::SharedScratchDir() / "no_such.config").string();
  auto result = RunTzrec(Args(path));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.output, HasSubstr("pipeline config " + path + " does not exist"));
}

TEST(ValidateConfigCli, MissingFlag) {
  auto result = RunTzrec("validate_config");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.output, HasSubstr("pipeline_config_path"));
}

TEST(ValidateConfigCli, StrictRejectsUnsupportedUpstreamModel) {
  auto result = RunTzrec(Args(UpstreamConfigPath("tdm_taobao"), true));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.output, HasSubstr("model type tdm is not supported"));
  EXPECT_EQ(RunTzrec(Args(UpstreamConfigPath("deepfm_criteo"), true)).exit_code, 0);
}

}  // namespace
}  // namespace tzrec
