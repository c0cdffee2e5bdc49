#include "checkpoint/checkpoint.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "common/error.h"
#include "features/feature_factory.h"
#include "models/test_models.h"
#include "train/eval_log.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace tzrec::checkpoint {
namespace {

using models::testing::MakeSyntheticBatch;
using models::testing::SmallDeepFMConfig;

fs::path FreshDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("tzrec_checkpoint_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

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

TEST(CheckpointTest, StepParsingAndLatest) {
  EXPECT_EQ(CheckpointStep("/a/model.ckpt-1200"), 1200);
  EXPECT_EQ(CheckpointStep("/a/model.ckpt-1200/"), 1200);
  EXPECT_EQ(CheckpointStep("/a/model.ckpt-12.tmp"), std::nullopt);
  EXPECT_EQ(CheckpointStep("/a/other"), std::nullopt);
  fs::path dir = FreshDir("latest");
  EXPECT_EQ(LatestCheckpoint(dir.string()), std::nullopt);
  for (const char* name : {"model.ckpt-9", "model.ckpt-100", "model.ckpt-20", "model.ckpt-x"}) {
    fs::create_directories(dir / name);
  }
  EXPECT_EQ(LatestCheckpoint(dir.string()), (dir / "model.ckpt-100").string());
  // A path naming a checkpoint is used as is.
  EXPECT_EQ(LatestCheckpoint((dir / "model.ckpt-9").string()), (dir / "model.ckpt-9").string());
  PruneCheckpoints(dir.string(), 2);
  EXPECT_FALSE(fs::exists(dir / "model.ckpt-9"));
  EXPECT_TRUE(fs::exists(dir / "model.ckpt-20"));
  EXPECT_TRUE(fs::exists(dir / "model.ckpt-100"));
}

TEST(CheckpointTest, RoundTripRestoresModelAndOptimizer) {
  Built a;
  train::Trainer trainer(*a.model, a.config);
  for (int step = 0; step < 3; ++step) trainer.Step(BatchWithLabel(64), step, 0);
  fs::path dir = FreshDir("roundtrip");
  std::string path = SaveCheckpoint(dir.string(), 2, a.model->StateDict(), trainer.OptimizerState());
  EXPECT_EQ(path, (dir / "model.ckpt-2").string());
  EXPECT_TRUE(fs::exists(dir / "model.ckpt-2" / "model" / "state_dict.pt"));
  EXPECT_TRUE(fs::exists(dir / "model.ckpt-2" / "optimizer" / "state_dict.pt"));

  Built b;  // different random init
  RestoreModel(*b.model, path);
  auto sa = a.model->StateDict();
  auto sb = b.model->StateDict();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    EXPECT_TRUE(at::equal(sa[i].second, sb[i].second)) << sa[i].first;
  }
  train::Trainer trainer_b(*b.model, b.config);
  trainer_b.LoadOptimizerState(ReadOptimizerState(path), path);
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

TEST(CheckpointTest, MissingAndMisshapenTensorsAreNamed) {
  Built a;
  fs::path dir = FreshDir("errors");
  auto state = a.model->StateDict();
  const std::string dropped = state.front().first;
  NamedTensors partial(state.begin() + 1, state.end());
  std::string path = SaveCheckpoint(dir.string(), 0, partial, {});
  try {
    RestoreModel(*a.model, path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dropped), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
  NamedTensors wrong = state;
  wrong.back().second = at::zeros({3, 3});
  path = SaveCheckpoint(dir.string(), 1, wrong, {});
  try {
    RestoreModel(*a.model, path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(wrong.back().first), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[3, 3]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ReadModelState((dir / "model.ckpt-77").string()), Error);
}

TEST(CheckpointTest, TrainLoopSavesLikeUpstream) {
  Built a;
  auto* tc = a.config.mutable_train_config();
  tc->set_num_steps(25);
  tc->set_save_checkpoints_steps(10);
  tc->set_keep_checkpoint_max(0);
  tc->set_log_step_count_steps(100);
  fs::path dir = FreshDir("loop");
  train::Trainer trainer(*a.model, a.config);
  train::BatchSource source = [](models::TensorMap& batch, int& epoch) {
    batch = BatchWithLabel(32);
    epoch = 0;
    return true;
  };
  std::vector<int64_t> evaluated;
  train::TrainLoopOptions options;
  options.has_eval = true;
  train::TrainLoopHooks hooks;
  hooks.save_checkpoint = [&](int64_t step) {
    SaveCheckpoint(dir.string(), step, a.model->StateDict(), trainer.OptimizerState(),
                   tc->keep_checkpoint_max());
  };
  hooks.eval_source = [] {
    auto done = std::make_shared<bool>(false);
    return train::BatchSource([done](models::TensorMap& batch, int& epoch) {
      if (*done) return false;
      *done = true;
      batch = BatchWithLabel(128);
      return true;
    });
  };
  hooks.on_eval = [&](int64_t step, const std::map<std::string, double>& metrics) {
    evaluated.push_back(step);
    train::AppendEvalResult((dir / train::kEvalResultFile).string(), step, metrics);
  };
  int64_t last = train::RunTrainLoop(trainer, *tc, source, options, hooks);
  EXPECT_EQ(last, 24);
  std::vector<int64_t> steps;
  for (const auto& [step, path] : ListCheckpoints(dir.string())) steps.push_back(step);
  EXPECT_EQ(steps, (std::vector<int64_t>{10, 20, 24}));
  EXPECT_EQ(evaluated, (std::vector<int64_t>{10, 20, 24}));

  // Continuing from the latest checkpoint trains the remaining steps only.
  tc->set_num_steps(30);
  options.start_step = *CheckpointStep(*LatestCheckpoint(dir.string())) + 1;
  EXPECT_EQ(train::RunTrainLoop(trainer, *tc, source, options, hooks), 29);
  EXPECT_EQ(LatestCheckpoint(dir.string()), (dir / "model.ckpt-29").string());
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
  train::Trainer trainer(*a.model, a.config);
  for (int step = 0; step < 50; ++step) trainer.Step(BatchWithLabel(128), step, 0);
  std::string ckpt = SaveCheckpoint((out / "model_dir").string(), 49, a.model->StateDict(),
                                    trainer.OptimizerState());

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
}  // namespace tzrec::checkpoint
