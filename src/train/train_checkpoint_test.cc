#include "train/train_checkpoint.h"

#include <gtest/gtest.h>

#include "common/test_support.h"

#include <cstdlib>
#include <filesystem>

#include "checkpoint/checkpoint.h"
#include "features/feature_factory.h"
#include "models/test_models.h"
#include "checkpoint/checkpoint_choice.h"
#include "checkpoint/eval_log.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace tzrec::train {
namespace {

using checkpoint::AppendEvalResult;
using checkpoint::kEvalResultFile;
using checkpoint::LatestCheckpoint;
using checkpoint::ListCheckpoints;
using checkpoint::NamedTensors;
using checkpoint::RestoreModel;
using checkpoint::SaveCheckpoint;
using checkpoint::WriteTensorFile;
using models::testing::MakeSyntheticBatch;
using models::testing::SmallDeepFMConfig;

struct Built {
  protos::EasyRecConfig config = SmallDeepFMConfig();
  FeatureList features = CreateFeatures(config);
  std::unique_ptr<models::Model> model = models::BuildModel(config, FeaturePointers(features));
};

models::TensorMap BatchWithLabel(int64_t size) {
  auto b = MakeSyntheticBatch(size);
  b.inputs["label"] = b.labels;
  return b.inputs;
}

TEST(TrainCheckpointTest, RoundTripRestoresModelAndOptimizer) {
  Built a;
  Trainer trainer(*a.model, a.config);
  for (int step = 0; step < 3; ++step) trainer.Step(BatchWithLabel(64), step, 0);
  const tzrec::testing::ScratchDir scratch_roundtrip;
  fs::path dir = scratch_roundtrip.path();
  std::string path = SaveTrainCheckpoint(dir.string(), 2, trainer, 0);
  EXPECT_EQ(path, (dir / "model.ckpt-2").string());
  EXPECT_TRUE(fs::exists(dir / "model.ckpt-2" / "model" / ".metadata"));
  EXPECT_TRUE(fs::exists(dir / "model.ckpt-2" / "optimizer" / ".metadata"));
  // Optimizer state under torchrec's names: the fused sparse optimizer's
  // "<table>.momentum1", torch.optim's own slot names for dense parameters.
  const auto saved = checkpoint::ReadOptimizerState(path);
  const std::string table = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.cat_a_emb.weight";
  EXPECT_TRUE(saved.count("state." + table + ".cat_a_emb.momentum1")) << saved.size();
  EXPECT_TRUE(saved.count("state.model.deep_mlp.mlp.0.perceptron.0.weight.exp_avg")) << saved.size();

  Built b;  // different random init
  Trainer trainer_b(*b.model, b.config);
  EXPECT_EQ(RestoreTrainCheckpoint(trainer_b, path), 2);
  auto sa = a.model->StateDict();
  auto sb = b.model->StateDict();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    EXPECT_TRUE(at::equal(sa[i].second, sb[i].second)) << sa[i].first;
  }
  auto oa = trainer.OptimizerState();
  auto ob = trainer_b.OptimizerState();
  ASSERT_EQ(oa.size(), ob.size());
  for (const auto& [k, v] : oa) EXPECT_TRUE(at::equal(v, ob.at(k))) << k;
  // Continuing from restored state gives the same next step on both.
  at::manual_seed(3);
  auto batch = BatchWithLabel(64);
  double la = trainer.Step(batch, 3, 0).total_loss;
  double lb = trainer_b.Step(batch, 3, 0).total_loss;
  EXPECT_DOUBLE_EQ(la, lb);
}

TEST(TrainCheckpointTest, TrainLoopSavesLikeUpstream) {
  Built a;
  auto* tc = a.config.mutable_train_config();
  tc->set_num_steps(25);
  tc->set_save_checkpoints_steps(10);
  tc->set_keep_checkpoint_max(0);
  tc->set_log_step_count_steps(100);
  const tzrec::testing::ScratchDir scratch_loop;
  fs::path dir = scratch_loop.path();
  Trainer trainer(*a.model, a.config);
  BatchSource source = [](models::TensorMap& batch, int& epoch) {
    batch = BatchWithLabel(32);
    epoch = 0;
    return true;
  };
  std::vector<int64_t> evaluated;
  TrainLoopOptions options;
  options.has_eval = true;
  TrainLoopHooks hooks;
  hooks.save_checkpoint = [&](int64_t step) {
    SaveTrainCheckpoint(dir.string(), step, trainer, tc->keep_checkpoint_max());
  };
  hooks.eval_source = [] {
    auto done = std::make_shared<bool>(false);
    return BatchSource([done](models::TensorMap& batch, int& epoch) {
      if (*done) return false;
      *done = true;
      batch = BatchWithLabel(128);
      return true;
    });
  };
  hooks.on_eval = [&](int64_t step, const std::map<std::string, double>& metrics) {
    evaluated.push_back(step);
    AppendEvalResult((dir / kEvalResultFile).string(), step, metrics);
  };
  int64_t last = RunTrainLoop(trainer, *tc, source, options, hooks);
  EXPECT_EQ(last, 24);
  std::vector<int64_t> steps;
  for (const auto& [step, path] : ListCheckpoints(dir.string())) steps.push_back(step);
  EXPECT_EQ(steps, (std::vector<int64_t>{10, 20, 24}));
  EXPECT_EQ(evaluated, (std::vector<int64_t>{10, 20, 24}));

  // Continuing from the latest checkpoint trains the remaining steps only.
  tc->set_num_steps(30);
  options.start_step = LatestCheckpoint(dir.string())->step + 1;
  EXPECT_EQ(RunTrainLoop(trainer, *tc, source, options, hooks), 29);
  EXPECT_EQ(LatestCheckpoint(dir.string())->path, (dir / "model.ckpt-29").string());
}

// Writes artifacts for tests/py/ (stock PyTorch judges them) when
// TZREC_PY_ARTIFACT_DIR is set: a trained checkpoint, FP32 and INT8 scripted
// models restored from it, and inputs with the checkpoint model's outputs.
TEST(PythonArtifacts, Write) {
  const char* out_env = std::getenv("TZREC_PY_ARTIFACT_DIR");
  if (out_env == nullptr) GTEST_SKIP() << "TZREC_PY_ARTIFACT_DIR not set";
  fs::path out(out_env);
  fs::create_directories(out);
  at::manual_seed(11);
  Built a;
  Trainer trainer(*a.model, a.config);
  for (int step = 0; step < 50; ++step) trainer.Step(BatchWithLabel(128), step, 0);
  std::string ckpt = SaveTrainCheckpoint((out / "model_dir").string(), 49, trainer, 0);

  // The reference: a fresh model restored from the checkpoint, in eval mode.
  Built ref;
  RestoreModel(*ref.model, ckpt);
  ref.model->SetTraining(false);
  auto batch = MakeSyntheticBatch(100);
  auto expected = ref.model->Forward(batch.inputs);
  NamedTensors io;
  for (const auto& [k, v] : batch.inputs) io.emplace_back("input:" + k, v);
  for (const auto& item : expected) io.emplace_back("output:" + item.key(), item.value());
  WriteTensorFile((out / "io.pt").string(), io);

  for (auto storage : {models::TableStorage::kFp32, models::TableStorage::kInt8}) {
    models::ModelBuildOptions options;
    options.table_storage = storage;
    auto exported = models::BuildModel(a.config, FeaturePointers(a.features), options);
    RestoreModel(*exported, ckpt);
    exported->SetTraining(false);
    exported->SaveScripted(
        (out / (std::string("scripted_model_") + models::TableStorageName(storage) + ".pt")).string());
  }
}

}  // namespace
}  // namespace tzrec::train
