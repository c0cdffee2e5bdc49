#include "export/export_env.h"

#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "common/test_support.h"
#include "features/python_json.h"

namespace tzrec::exporting {
namespace {

using ::testing::HasSubstr;
using testing::ErrorOf;

EnvLookup Env(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ExportEnvTest, DefaultsQuantizePooledTablesToInt8Only) {
  const ExportEnv env = ReadExportEnv(Env({}));
  ASSERT_TRUE(env.quant_emb.has_value());
  EXPECT_EQ(*env.quant_emb, models::TableStorage::kInt8);
  EXPECT_FALSE(env.quant_ec_emb.has_value());
  EXPECT_EQ(env.input_tile, 0);
  EXPECT_TRUE(env.acc_entries.empty());
}

TEST(ExportEnvTest, QuantEmbValues) {
  EXPECT_FALSE(ReadExportEnv(Env({{"QUANT_EMB", "0"}})).quant_emb.has_value());
  EXPECT_EQ(*ReadExportEnv(Env({{"QUANT_EMB", "1"}})).quant_emb, models::TableStorage::kInt8);
  const std::pair<const char*, models::TableStorage> cases[] = {
      {"FP32", models::TableStorage::kFp32}, {"FP16", models::TableStorage::kFp16}, {"INT8", models::TableStorage::kInt8},
      {"INT4", models::TableStorage::kInt4}, {"INT2", models::TableStorage::kInt2}};
  for (const auto& [name, dtype] : cases) {
    EXPECT_EQ(*ReadExportEnv(Env({{"QUANT_EMB", name}})).quant_emb, dtype) << name;
    EXPECT_EQ(*ReadExportEnv(Env({{"QUANT_EC_EMB", name}})).quant_ec_emb, dtype) << name;
    EXPECT_STREQ(models::TableStorageName(dtype), name);
  }
  EXPECT_FALSE(ReadExportEnv(Env({{"QUANT_EC_EMB", "0"}})).quant_ec_emb.has_value());
}

TEST(ExportEnvTest, BadQuantValueIsAConfigErrorNamingVariableAndValue) {
  for (const char* variable : {"QUANT_EMB", "QUANT_EC_EMB"}) {
    for (const char* value : {"int8", "INT16", "", "yes"}) {
      try {
        ReadExportEnv(Env({{variable, value}}));
        ADD_FAILURE() << variable << "=" << value << " was accepted";
      } catch (const ConfigError& e) {
        EXPECT_THAT(e.what(), HasSubstr(std::string(variable) + "=\"" + value + "\""));
        EXPECT_EQ(e.exit_code(), kExitConfigError);
      }
    }
  }
}

TEST(ExportEnvTest, InputTile) {
  EXPECT_EQ(ReadExportEnv(Env({{"INPUT_TILE", "2"}})).input_tile, 2);
  EXPECT_EQ(ReadExportEnv(Env({{"INPUT_TILE", "3"}})).input_tile, 3);
  EXPECT_EQ(ReadExportEnv(Env({{"INPUT_TILE", "0"}})).input_tile, 0);
  EXPECT_THAT(ErrorOf([] { ReadExportEnv(Env({{"INPUT_TILE", "4"}})); }),
              HasSubstr("INPUT_TILE=\"4\""));
}

TEST(ExportEnvTest, GpuModesAreRefusedWhenSwitchedOn) {
  EXPECT_THAT(ErrorOf([] { ReadExportEnv(Env({{"ENABLE_TRT", "1"}})); }),
              HasSubstr("ENABLE_TRT=\"1\""));
  EXPECT_THAT(ErrorOf([] { ReadExportEnv(Env({{"ENABLE_AOT", "2"}})); }),
              HasSubstr("ENABLE_AOT=\"2\""));
  EXPECT_EQ(ErrorOf([] { ReadExportEnv(Env({{"ENABLE_TRT", "0"}, {"ENABLE_AOT", "0"}})); }), "");
  EXPECT_THAT(ErrorOf([] { ReadExportEnv(Env({{"MAX_EXPORT_BATCH_SIZE", "abc"}})); }),
              HasSubstr("MAX_EXPORT_BATCH_SIZE=\"abc\""));
}

TEST(ExportEnvTest, RtpExportIsRefusedByNamePointingToTheDistributedEmbeddingExport) {
  const std::string error = ErrorOf([] { ReadExportEnv(Env({{"USE_RTP", "1"}})); });
  EXPECT_THAT(error, HasSubstr("USE_RTP=1"));
  EXPECT_THAT(error, HasSubstr("USE_DISTRIBUTED_EMBEDDING=1"));
  // Upstream reads anything but "1" as off.
  EXPECT_EQ(ErrorOf([] { ReadExportEnv(Env({{"USE_RTP", "0"}})); }), "");
  EXPECT_EQ(ErrorOf([] { ReadExportEnv(Env({{"USE_RTP", "true"}})); }), "");
}

TEST(ExportEnvTest, ModelAccJsonKeepsUpstreamKeyOrderAndJsonDumpLayout) {
  // Set in an order different from the file's.
  const ExportEnv env = ReadExportEnv(Env({{"MAX_EXPORT_BATCH_SIZE", "256"},
                                           {"QUANT_EC_EMB", "INT4"},
                                           {"ENABLE_TRT", "0"},
                                           {"QUANT_EMB", "FP16"},
                                           {"INPUT_TILE", "2"},
                                           {"UNRELATED", "x"}}));
  EXPECT_EQ(env.max_export_batch_size, std::optional<int64_t>(256));
  const std::string text = DumpPythonJson(ModelAccJson(env, nlohmann::ordered_json::object()));
  EXPECT_EQ(text,
            "{\n"
            "    \"SPARSE_INT64\": \"1\",\n"
            "    \"INPUT_TILE\": \"2\",\n"
            "    \"QUANT_EMB\": \"FP16\",\n"
            "    \"QUANT_EC_EMB\": \"INT4\",\n"
            "    \"ENABLE_TRT\": \"0\",\n"
            "    \"MAX_EXPORT_BATCH_SIZE\": \"256\"\n"
            "}");
}

TEST(ExportEnvTest, DistributedEmbeddingForcesInputTile3AndParsesDistQuant) {
  EXPECT_FALSE(ReadExportEnv(Env({})).distributed_embedding);
  // Only "1" switches it on, as upstream compares with "1".
  EXPECT_FALSE(ReadExportEnv(Env({{"USE_DISTRIBUTED_EMBEDDING", "true"}})).distributed_embedding);
  // DIST_QUANT is only read in that mode.
  EXPECT_FALSE(ReadExportEnv(Env({{"DIST_QUANT", "FP16"}})).dist_quant_int8);

  const ExportEnv off = ReadExportEnv(Env({{"USE_DISTRIBUTED_EMBEDDING", "1"}, {"INPUT_TILE", "2"}}));
  EXPECT_TRUE(off.distributed_embedding);
  EXPECT_FALSE(off.dist_quant_int8);
  EXPECT_EQ(off.input_tile, 3);
  for (const char* value : {"", "0", "none", " NONE "}) {
    EXPECT_FALSE(ReadExportEnv(Env({{"USE_DISTRIBUTED_EMBEDDING", "1"}, {"DIST_QUANT", value}}))
                     .dist_quant_int8)
        << value;
  }
  EXPECT_TRUE(ReadExportEnv(Env({{"USE_DISTRIBUTED_EMBEDDING", "1"}, {"DIST_QUANT", " int8"}}))
                  .dist_quant_int8);
  EXPECT_THAT(ErrorOf([] {
                ReadExportEnv(Env({{"USE_DISTRIBUTED_EMBEDDING", "1"}, {"DIST_QUANT", "FP16"}}));
              }),
              HasSubstr("DIST_QUANT=\"FP16\" is not supported"));

  // INPUT_TILE "3" (even when unset), DIST_QUANT after QUANT_EC_EMB,
  // DISTRIBUTED_EMBEDDING last, after additional_export_config.
  const ExportEnv env = ReadExportEnv(
      Env({{"USE_DISTRIBUTED_EMBEDDING", "1"}, {"DIST_QUANT", "int8"}, {"QUANT_EMB", "0"}}));
  const std::string text = DumpPythonJson(
      ModelAccJson(env, nlohmann::ordered_json({{"DISTRIBUTED_EMBEDDING", false}, {"k", "v"}})));
  EXPECT_EQ(text,
            "{\n"
            "    \"SPARSE_INT64\": \"1\",\n"
            "    \"INPUT_TILE\": \"3\",\n"
            "    \"QUANT_EMB\": \"0\",\n"
            "    \"DIST_QUANT\": \"INT8\",\n"
            "    \"DISTRIBUTED_EMBEDDING\": \"1\",\n"
            "    \"k\": \"v\"\n"
            "}");
}

TEST(ExportEnvTest, AdditionalExportConfigMergesLikeDictUpdate) {
  const ExportEnv env = ReadExportEnv(Env({{"QUANT_EMB", "INT8"}}));
  const nlohmann::ordered_json additional =
      ParseAdditionalExportConfig(R"({"cand_seq_pk": "cand_seq", "QUANT_EMB": "X", "flag": true})");
  EXPECT_EQ(DumpPythonJson(ModelAccJson(env, additional)),
            "{\n"
            "    \"SPARSE_INT64\": \"1\",\n"
            "    \"QUANT_EMB\": \"X\",\n"
            "    \"cand_seq_pk\": \"cand_seq\",\n"
            "    \"flag\": true\n"
            "}");
}

TEST(ExportEnvTest, AdditionalExportConfigMustBeAJsonObject) {
  EXPECT_TRUE(ParseAdditionalExportConfig("").empty());
  EXPECT_THAT(ErrorOf([] { ParseAdditionalExportConfig("{bad"); }),
              HasSubstr("--additional_export_config"));
  EXPECT_THAT(ErrorOf([] { ParseAdditionalExportConfig("[1, 2]"); }),
              HasSubstr("must be a JSON object"));
}

}  // namespace
}  // namespace tzrec::exporting
