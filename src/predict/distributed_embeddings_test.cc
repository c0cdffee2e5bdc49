// Prediction on a distributed-embedding export: embeddings looked up from the
// npz shards and fed to the dense graph reproduce the checkpoint model.
#include "artifacts/distributed_embeddings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "checkpoint/checkpoint.h"
#include "common/error.h"
#include "export/distributed/distributed_export.h"
#include "export/export_env.h"
#include "common/test_support.h"
#include "features/feature_factory.h"
#include "models/model.h"
#include "models/test_models.h"
#include "predict/prediction_model.h"

namespace tzrec::predict {
namespace {

using ::testing::HasSubstr;
using testing::ErrorOf;
using testing::ScratchDir;
using artifacts::DistributedEmbeddings;

exporting::EnvLookup Env(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

class DistributedModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(5);
    config_ = models::testing::SmallDeepFMConfig();
    config_.set_model_dir(dir_ / "model");
    features_ = CreateFeatures(config_);
    model_ = models::BuildModel(config_, FeaturePointers(features_));
    model_->SetTraining(false);
    checkpoint_.path = checkpoint::SaveCheckpoint(config_.model_dir(), 1, model_->StateDict(), {});
  }

  std::string Export(const std::string& name, const std::map<std::string, std::string>& env_values,
                     int num_shards) {
    exporting::distributed::DistributedExportRequest request;
    request.export_dir = dir_ / name;
    request.num_shards = num_shards;
    const exporting::ExportEnv env = exporting::ReadExportEnv(Env(env_values));
    exporting::distributed::ExportDistributedEmbedding(
        request, config_, FeaturePointers(features_), env,
        exporting::ModelAccJson(env, nlohmann::ordered_json::object()), checkpoint_, Env(env_values));
    return request.export_dir;
  }

  double MaxProbsDiff(const std::string& export_dir, const models::TensorMap& inputs) {
    std::unique_ptr<PredictionModel> exported = PredictionModel::FromExportDir(export_dir);
    const at::Tensor got = exported->Run(inputs).at("probs");
    at::NoGradGuard no_grad;
    const at::Tensor expected = model_->Forward(inputs).at("probs");
    EXPECT_EQ(got.sizes(), expected.sizes());
    return (got - expected).abs().max().item<double>();
  }

  ScratchDir dir_;
  protos::EasyRecConfig config_;
  FeatureList features_;
  std::unique_ptr<models::Model> model_;
  checkpoint::CheckpointChoice checkpoint_;
};

TEST_F(DistributedModelTest, Fp32ShardsPredictLikeTheCheckpointModel) {
  const std::string dir = Export("export", {{"USE_DISTRIBUTED_EMBEDDING", "1"}}, 3);
  ASSERT_TRUE(DistributedEmbeddings::IsDistributedExport(dir));
  const auto batch = models::testing::MakeSyntheticBatch(64);
  EXPECT_LT(MaxProbsDiff(dir, batch.inputs), 1e-6);
}

TEST_F(DistributedModelTest, Int8ShardsPredictWithinTheStatedTolerance) {
  const std::string dir = Export("export", {{"USE_DISTRIBUTED_EMBEDDING", "1"}, {"DIST_QUANT", "INT8"}}, 1);
  const auto batch = models::testing::MakeSyntheticBatch(64);
  const double diff = MaxProbsDiff(dir, batch.inputs);
  // Row-wise uint8 codes: each weight within half a step of range/255.
  EXPECT_LT(diff, 1e-2);
  EXPECT_GT(diff, 0.0);  // it really is the quantized table
}

TEST_F(DistributedModelTest, LookupsDequantizeAndRefuseOutOfRangeIds) {
  const std::string dir = Export("export", {{"USE_DISTRIBUTED_EMBEDDING", "1"}, {"DIST_QUANT", "INT8"}}, 2);
  DistributedEmbeddings embeddings(dir, config_);
  const std::string table = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.cat_b_emb";
  EXPECT_EQ(embeddings.table(table).sizes(), (std::vector<int64_t>{20, 8}));
  const at::Tensor rows = embeddings.Rows(table, at::arange(0, 20, at::kLong));
  at::Tensor expected;
  for (const auto& [name, tensor] : model_->StateDict()) {
    if (name == table + ".weight") expected = tensor;
  }
  ASSERT_TRUE(expected.defined());
  EXPECT_LT((rows - expected).abs().max().item<double>(), 2e-3);

  models::TensorMap inputs = models::testing::MakeSyntheticBatch(4).inputs;
  inputs["cat_b.values"] = at::full({3}, 20, at::kLong);
  inputs["cat_b.lengths"] = at::tensor(std::vector<int64_t>{3, 0, 0, 0});
  c10::Dict<std::string, at::Tensor> out;
  EXPECT_THAT(ErrorOf([&] { embeddings.AddEmbeddings(inputs, out); }),
              HasSubstr("feature cat_b: id 20 is outside table"));
}

}  // namespace
}  // namespace tzrec::predict
