#include "checkpoint/checkpoint.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "common/error.h"
#include "features/feature_factory.h"
#include "models/test_models.h"

namespace fs = std::filesystem;

namespace tzrec::checkpoint {
namespace {

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

TEST(CheckpointTest, ModelStateRoundTrip) {
  Built a;
  fs::path dir = FreshDir("roundtrip");
  models::TensorMap optimizer = {{"model.output_mlp.weight.step", at::full({}, 3.0)}};
  std::string path = SaveCheckpoint(dir.string(), 2, a.model->StateDict(), optimizer);
  EXPECT_EQ(path, (dir / "model.ckpt-2").string());
  EXPECT_TRUE(fs::exists(dir / "model.ckpt-2" / "model" / "state_dict.pt"));
  Built b;  // different random init
  RestoreModel(*b.model, path);
  auto sa = a.model->StateDict();
  auto sb = b.model->StateDict();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    EXPECT_TRUE(at::equal(sa[i].second, sb[i].second)) << sa[i].first;
  }
  auto opt = ReadOptimizerState(path);
  ASSERT_EQ(opt.size(), 1u);
  EXPECT_EQ(opt.at("model.output_mlp.weight.step").item<double>(), 3.0);
  // Saving the same step again replaces it; no temporary directory remains.
  SaveCheckpoint(dir.string(), 2, a.model->StateDict(), {});
  EXPECT_TRUE(ReadOptimizerState(path).empty());
  EXPECT_FALSE(fs::exists(dir / "model.ckpt-2.tmp"));
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

}  // namespace
}  // namespace tzrec::checkpoint
