// The distributed-embedding export end to end in the library: a small DeepFM
// checkpoint is exported and every artifact is read back: npz shards (against
// the checkpoint's tables), their json metadata, dense_meta.json,
// model_acc.json, and the errors that must publish nothing.
#include "export/distributed/distributed_export.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint.h"
#include "common/error.h"
#include "config/pipeline_config.h"
#include "export/distributed/dense_graph.h"
#include "artifacts/npz_reader.h"
#include "artifacts/row_quant.h"
#include "export/distributed/sparse_tables.h"
#include "common/test_support.h"
#include "features/feature_factory.h"
#include "models/model.h"
#include "models/test_models.h"

namespace tzrec::exporting::distributed {
namespace {

using artifacts::DequantizeRows;
using artifacts::ReadNpz;

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ErrorOf;
using testing::ReadTextFile;
using testing::ScratchDir;

constexpr char kBags[] = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";

EnvLookup Env(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

nlohmann::ordered_json ReadJson(const std::string& path) { return nlohmann::ordered_json::parse(ReadTextFile(path)); }

class DistributedExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(11);
    config_ = models::testing::SmallDeepFMConfig();
    config_.set_model_dir(dir_ / "model");
    features_ = CreateFeatures(config_);
    model_ = models::BuildModel(config_, FeaturePointers(features_));
    state_ = model_->StateDict();
    checkpoint_.path = checkpoint::SaveCheckpoint(config_.model_dir(), 3, state_, {});
    checkpoint_.step = 3;
  }

  at::Tensor Table(const std::string& table) {
    for (const auto& [name, tensor] : state_) {
      if (name == kBags + table + ".weight") return tensor;
    }
    ADD_FAILURE() << "no table " << table;
    return {};
  }

  std::string Export(const std::string& name, const std::map<std::string, std::string>& env_values,
                     int num_shards = 0) {
    DistributedExportRequest request;
    request.export_dir = dir_ / name;
    request.num_shards = num_shards;
    const EnvLookup env_lookup = Env(env_values);
    const ExportEnv env = ReadExportEnv(env_lookup);
    ExportDistributedEmbedding(request, config_, FeaturePointers(features_), env,
                               ModelAccJson(env, nlohmann::ordered_json::object()), checkpoint_,
                               env_lookup);
    return request.export_dir;
  }

  ScratchDir dir_;
  protos::EasyRecConfig config_;
  FeatureList features_;
  std::unique_ptr<models::Model> model_;
  checkpoint::NamedTensors state_;
  checkpoint::CheckpointChoice checkpoint_;
};

TEST_F(DistributedExportTest, OneShardHoldsEveryTableAsInTheCheckpoint) {
  const std::string dir = Export("export", {{"USE_DISTRIBUTED_EMBEDDING", "1"}});
  for (const char* file : {"scripted_model.pt", "dense_meta.json", "pipeline.config", "fg.json",
                           "model_acc.json", "sparse/sparse_embeddings-00-of-01.npz",
                           "sparse/sparse_embeddings-00-of-01.json", "sparse/sparse_embedding.json",
                           "sparse/sparse_features.json"}) {
    EXPECT_TRUE(fs::is_regular_file(dir + "/" + file)) << file;
  }
  const auto arrays = ReadNpz(dir + "/sparse/sparse_embeddings-00-of-01.npz");
  ASSERT_EQ(arrays.size(), 4u);
  for (const char* table : {"cat_a_emb", "cat_b_emb", "cat_a_emb_wide", "cat_b_emb_wide"}) {
    const auto& array = arrays.at(kBags + std::string(table));
    EXPECT_EQ(array.descr, "<f4");
    EXPECT_TRUE(at::equal(array.data, Table(table))) << table;
  }

  const nlohmann::ordered_json shard = ReadJson(dir + "/sparse/sparse_embeddings-00-of-01.json");
  const nlohmann::ordered_json& a = shard.at(kBags + std::string("cat_a_emb"));
  EXPECT_EQ(a.at("dimension"), 4);
  EXPECT_EQ(a.at("dtype"), "float32");
  EXPECT_EQ(a.at("memory"), 10 * 4 * 4);
  EXPECT_THAT(a.at("shape"), ElementsAre(10, 4));
  EXPECT_EQ(a.at("dense"), false);
  EXPECT_EQ(a.at("is_dynamic"), false);
  EXPECT_THAT(a.at("feat_name_impl"), ElementsAre("cat_a@cat_a_emb__ebc"));
  EXPECT_FALSE(a.contains("quant"));

  // cat_a and cat_b read a WIDE and a DEEP table each: "<f>@<table>" keys.
  const nlohmann::ordered_json features = ReadJson(dir + "/sparse/sparse_features.json");
  EXPECT_EQ(features.at("cat_b@cat_b_emb__ebc").at("pooling"), "MEAN");
  EXPECT_EQ(features.at("cat_a@cat_a_emb_wide__ebc").at("embedding_name"),
            kBags + std::string("cat_a_emb_wide"));
  EXPECT_EQ(features.at("cat_a@cat_a_emb__ebc").at("pooling"), "SUM");

  const nlohmann::ordered_json dense_meta = ReadJson(dir + "/dense_meta.json");
  EXPECT_EQ(dense_meta.begin().key(), "sequence__ec");
  EXPECT_TRUE(dense_meta.at("sequence__ec").empty());
  EXPECT_THAT(dense_meta.at("cat_b@cat_b_emb__ebc"), ElementsAre("cat_b@cat_b_emb__ebc"));

  EXPECT_EQ(ReadTextFile(dir + "/model_acc.json"),
            "{\n    \"SPARSE_INT64\": \"1\",\n    \"INPUT_TILE\": \"3\",\n"
            "    \"DISTRIBUTED_EMBEDDING\": \"1\"\n}");
}

TEST_F(DistributedExportTest, ShardsSplitRowsAndTheMergedJsonSaysWhere) {
  const std::string dir = Export("export", {{"USE_DISTRIBUTED_EMBEDDING", "1"}}, 3);
  const at::Tensor b = Table("cat_b_emb");  // 20 rows: 6, 7, 7
  int64_t next = 0;
  for (int i = 0; i < 3; ++i) {
    const std::string name = ShardName(i, 3);
    EXPECT_EQ(name, "sparse_embeddings-0" + std::to_string(i) + "-of-03");
    const auto arrays = ReadNpz(dir + "/sparse/" + name + ".npz");
    const at::Tensor part = arrays.at(kBags + std::string("cat_b_emb")).data;
    EXPECT_TRUE(at::equal(part, b.slice(0, next, next + part.size(0)))) << name;
    const nlohmann::ordered_json meta = ReadJson(dir + "/sparse/" + name + ".json").at(kBags + std::string("cat_b_emb"));
    EXPECT_THAT(meta.at("row_range"), ElementsAre(next, next + part.size(0)));
    EXPECT_THAT(meta.at("shape"), ElementsAre(part.size(0), 4));
    next += part.size(0);
  }
  EXPECT_EQ(next, 20);
  const nlohmann::ordered_json merged = ReadJson(dir + "/sparse/sparse_embedding.json").at(kBags + std::string("cat_b_emb"));
  EXPECT_THAT(merged.at("shape"), ElementsAre(20, 4));
  EXPECT_EQ(merged.at("memory"), 20 * 4 * 4);
  ASSERT_EQ(merged.at("shards").size(), 3u);
  EXPECT_EQ(merged.at("shards")[2].at("file"), "sparse_embeddings-02-of-03.npz");
  EXPECT_THAT(merged.at("shards")[2].at("row_range"), ElementsAre(13, 20));
}

TEST_F(DistributedExportTest, Int8RowsDequantizeCloseToTheCheckpoint) {
  const std::string dir =
      Export("export", {{"USE_DISTRIBUTED_EMBEDDING", "1"}, {"DIST_QUANT", "INT8"}}, 2);
  const nlohmann::ordered_json merged = ReadJson(dir + "/sparse/sparse_embedding.json");
  const nlohmann::ordered_json& a = merged.at(kBags + std::string("cat_a_emb"));
  EXPECT_EQ(a.at("dtype"), "QUint8RowwiseF16");
  EXPECT_EQ(a.at("storage_dtype"), "uint8");
  EXPECT_THAT(a.at("storage_shape"), ElementsAre(10, 8));
  EXPECT_EQ(a.at("row_bytes"), 8);
  EXPECT_EQ(a.at("memory"), 80);
  EXPECT_EQ(a.at("quant").dump(),
            R"({"enabled":true,"format":"QUint8RowwiseF16","scale_offset_dtype":"float16","output_dtype":"float16"})");
  at::Tensor stored = at::cat({ReadNpz(dir + "/sparse/sparse_embeddings-00-of-02.npz").at(kBags + std::string("cat_a_emb")).data,
                               ReadNpz(dir + "/sparse/sparse_embeddings-01-of-02.npz").at(kBags + std::string("cat_a_emb")).data});
  ASSERT_EQ(stored.scalar_type(), at::kByte);
  at::Tensor back = at::empty({10, 4});
  DequantizeRows(stored.contiguous().data_ptr<uint8_t>(), 10, 4, back.data_ptr<float>());
  const at::Tensor table = Table("cat_a_emb");
  const double range = (table.max() - table.min()).item<double>();
  EXPECT_LT((back - table).abs().max().item<double>(), range / 255.0);
  EXPECT_THAT(ReadTextFile(dir + "/model_acc.json"), HasSubstr("\"DIST_QUANT\": \"INT8\",\n    \"DISTRIBUTED"));
}

TEST_F(DistributedExportTest, ErrorsPublishNothing) {
  // A table missing from the checkpoint.
  checkpoint::NamedTensors partial;
  for (const auto& [name, tensor] : state_) {
    if (name != kBags + std::string("cat_b_emb_wide.weight")) partial.emplace_back(name, tensor);
  }
  checkpoint_.path = checkpoint::SaveCheckpoint(config_.model_dir(), 4, partial, {});
  EXPECT_THAT(ErrorOf([&] { Export("missing", {{"USE_DISTRIBUTED_EMBEDDING", "1"}}); }),
              HasSubstr("embedding table " + std::string(kBags) + "cat_b_emb_wide.weight is missing"));
  EXPECT_FALSE(fs::exists(dir_ / "missing"));

  // A non-finite weight, found while streaming: the staging dir goes away.
  checkpoint::NamedTensors bad = state_;
  for (auto& [name, tensor] : bad) {
    if (name == kBags + std::string("cat_b_emb.weight")) {
      tensor = tensor.clone();
      tensor[13][2] = std::numeric_limits<float>::infinity();
    }
  }
  checkpoint_.path = checkpoint::SaveCheckpoint(config_.model_dir(), 5, bad, {});
  EXPECT_THAT(ErrorOf([&] { Export("nonfinite", {{"USE_DISTRIBUTED_EMBEDDING", "1"}}, 2); }),
              HasSubstr("embedding table " + std::string(kBags) + "cat_b_emb: row 13 has a non-finite weight"));
  EXPECT_FALSE(fs::exists(dir_ / "nonfinite"));
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_THAT(entry.path().filename().string(), ::testing::Not(HasSubstr("nonfinite"))) << "staging left";
  }

  // Match models are refused.
  protos::EasyRecConfig dssm;
  dssm.mutable_model_config()->mutable_dssm();
  EXPECT_THAT(ErrorOf([&] { CheckDistributedExportable(dssm); }),
              HasSubstr("USE_DISTRIBUTED_EMBEDDING=1 does not support match models (model_config.dssm)"));

  EXPECT_THAT(ErrorOf([] { ResolveNumShards(0, Env({{"DIST_NUM_SHARDS", "x"}})); }),
              HasSubstr("DIST_NUM_SHARDS=\"x\""));
  EXPECT_EQ(ResolveNumShards(0, Env({{"DIST_NUM_SHARDS", "4"}})), 4);
  EXPECT_EQ(ResolveNumShards(2, Env({{"DIST_NUM_SHARDS", "4"}})), 2);
  EXPECT_EQ(ResolveNumShards(0, Env({})), 1);
}

}  // namespace
}  // namespace tzrec::exporting::distributed
