#include "checkpoint/checkpoint.h"

#include <gtest/gtest.h>

#include "common/test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "checkpoint/checkpoint_choice.h"
#include "common/error.h"
#include "common/staging.h"
#include "features/feature_factory.h"
#include "models/test_models.h"

namespace fs = std::filesystem;

namespace tzrec::checkpoint {
namespace {

using models::testing::SmallDeepFMConfig;

at::Tensor StateTensorOf(models::Model& model, const std::string& name) {
  for (const auto& [n, t] : model.StateDict()) {
    if (n == name) return t.clone();
  }
  return at::Tensor();
}

struct Built {
  protos::EasyRecConfig config = SmallDeepFMConfig();
  FeatureList features = CreateFeatures(config);
  std::unique_ptr<models::Model> model = models::BuildModel(config, FeaturePointers(features));
};

TEST(CheckpointTest, StepParsingAndPruning) {
  EXPECT_EQ(CheckpointStep("/a/model.ckpt-1200"), 1200);
  EXPECT_EQ(CheckpointStep("/a/model.ckpt-1200/"), 1200);
  EXPECT_EQ(CheckpointStep("/a/model.ckpt-12.tmp"), std::nullopt);
  EXPECT_EQ(CheckpointStep("/a/other"), std::nullopt);
  const tzrec::testing::ScratchDir scratch_latest;
  fs::path dir = scratch_latest.path();
  for (const char* name : {"model.ckpt-9", "model.ckpt-100", "model.ckpt-20", "model.ckpt-x"}) {
    fs::create_directories(dir / name);
  }
  // The oldest go first, by numeric step.
  PruneCheckpoints(dir.string(), 2);
  EXPECT_FALSE(fs::exists(dir / "model.ckpt-9"));
  EXPECT_TRUE(fs::exists(dir / "model.ckpt-20"));
  EXPECT_TRUE(fs::exists(dir / "model.ckpt-100"));
}

TEST(CheckpointTest, ModelStateRoundTrip) {
  Built a;
  const tzrec::testing::ScratchDir scratch_roundtrip;
  fs::path dir = scratch_roundtrip.path();
  std::vector<DcpItem> optimizer = {{"state.model.output_mlp.weight.step", {}, at::full({}, 3.0)}};
  std::string path = SaveCheckpoint(dir.string(), 2, a.model->StateDict(), optimizer);
  EXPECT_EQ(path, (dir / "model.ckpt-2").string());
  // torch.distributed.checkpoint directories, as TorchEasyRec writes.
  EXPECT_TRUE(fs::exists(dir / "model.ckpt-2" / "model" / ".metadata"));
  EXPECT_TRUE(fs::exists(dir / "model.ckpt-2" / "optimizer" / "__0_0.distcp"));
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
  EXPECT_EQ(opt.at("state.model.output_mlp.weight.step").item<double>(), 3.0);
  // Saving the same step again replaces it; no temporary directory remains.
  SaveCheckpoint(dir.string(), 2, a.model->StateDict(), {});
  EXPECT_TRUE(ReadOptimizerState(path).empty());
  EXPECT_FALSE(fs::exists(dir / "model.ckpt-2.tmp"));
}

// tzrec's older layout: model/state_dict.pt, a torch.save dict.
TEST(CheckpointTest, OlderSingleFileCheckpointsStillRestore) {
  Built a;
  const tzrec::testing::ScratchDir scratch_older;
  fs::path dir = scratch_older.path() / "model.ckpt-4";
  fs::create_directories(dir / "model");
  WriteTensorFile((dir / "model" / "state_dict.pt").string(), a.model->StateDict());
  Built b;
  RestoreModel(*b.model, dir.string());
  auto sa = a.model->StateDict();
  auto sb = b.model->StateDict();
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_TRUE(at::equal(sa[i].second, sb[i].second)) << sa[i].first;
  EXPECT_TRUE(ReadOptimizerState(dir.string()).empty());
}

TEST(CheckpointTest, DenseEmaReplacesTheDenseParameters) {
  Built a;
  const tzrec::testing::ScratchDir scratch_ema;
  fs::path dir = scratch_ema.path();
  const std::string path = SaveCheckpoint(dir.string(), 1, a.model->StateDict(), {});
  const std::string dense = "model.output_mlp.weight";
  const at::Tensor averaged = at::full_like(StateTensorOf(*a.model, dense), 0.25);
  WriteDcpDirectory(path + "/dense_ema", {{dense, {}, averaged}, {"__n_averaged__", {}, at::full({}, 7, at::kLong)}});
  Built b;
  RestoreModel(*b.model, path);
  EXPECT_TRUE(at::equal(StateTensorOf(*b.model, dense), StateTensorOf(*a.model, dense)));
  RestoreOptions ema;
  ema.use_dense_ema = true;
  RestoreModel(*b.model, path, ema);
  EXPECT_TRUE(at::equal(StateTensorOf(*b.model, dense), averaged));
}

TEST(CheckpointTest, MissingExtraAndMisshapenTensorsAreNamed) {
  Built a;
  const tzrec::testing::ScratchDir scratch_errors;
  fs::path dir = scratch_errors.path();
  auto state = a.model->StateDict();
  const std::string dropped = state.front().first;
  const std::string dropped_too = state.back().first;
  NamedTensors partial(state.begin() + 1, state.end() - 1);
  std::string path = SaveCheckpoint(dir.string(), 0, partial, {});
  try {
    RestoreModel(*a.model, path);
    FAIL();
  } catch (const Error& e) {
    // Every missing tensor, not the first one only.
    EXPECT_NE(std::string(e.what()).find(dropped), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(dropped_too), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("2 tensor(s) of the model are missing"), std::string::npos) << e.what();
  }
  NamedTensors extra = state;
  extra.emplace_back("model.unknown.weight", at::zeros({2}));
  path = SaveCheckpoint(dir.string(), 2, extra, {});
  try {
    RestoreModel(*a.model, path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not in the model: model.unknown.weight"), std::string::npos) << e.what();
  }
  RestoreOptions allow;
  allow.allow_extra = true;
  RestoreModel(*a.model, path, allow);
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
  // Tables in NVIDIA dynamic-embedding dumps cannot be read: refused by name.
  fs::create_directories(fs::path(path) / "dynamicemb");
  try {
    RestoreModel(*a.model, path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dynamicemb/"), std::string::npos) << e.what();
  }
}

TEST(CheckpointTest, StagingOfKilledSavesIsNeverAResultAndIsRemovedByTheNextSave) {
  const tzrec::testing::ScratchDir scratch;
  const std::string model_dir = scratch.path().string();
  Built built;
  const NamedTensors state = built.model->StateDict();
  SaveCheckpoint(model_dir, 3, state, {});
  // A save of step 7 killed just before its rename: a complete-looking
  // checkpoint under its staging name, owned by a process that is gone.
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const std::string killed = CheckpointPath(model_dir, 7) + ".tmp-" + std::to_string(dead);
  fs::copy(CheckpointPath(model_dir, 3), killed, fs::copy_options::recursive);
  // One of a save still running (this test's parent process is alive).
  const std::string running = CheckpointPath(model_dir, 8) + ".tmp-" + std::to_string(getppid());
  fs::copy(CheckpointPath(model_dir, 3), running, fs::copy_options::recursive);

  ASSERT_EQ(ListCheckpoints(model_dir).size(), 1u);
  EXPECT_EQ(ListCheckpoints(model_dir)[0].first, 3);
  EXPECT_EQ(LatestCheckpoint(model_dir)->path, CheckpointPath(model_dir, 3));

  SaveCheckpoint(model_dir, 4, state, {});
  EXPECT_FALSE(fs::exists(killed));
  EXPECT_TRUE(fs::exists(running));
  EXPECT_FALSE(fs::exists(StagingPath(CheckpointPath(model_dir, 4))));
  ASSERT_EQ(ListCheckpoints(model_dir).size(), 2u);
  EXPECT_EQ(LatestCheckpoint(model_dir)->path, CheckpointPath(model_dir, 4));
}

// Every file under `dir` with its bytes.
std::map<std::string, std::string> FilesUnder(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) out[entry.path().string()] = tzrec::testing::ReadTextFile(entry.path().string());
  }
  return out;
}

// A save that runs out of space (a file size limit in a forked child: writes
// past it fail with EFBIG): the error names the file being written, the
// partial checkpoint is removed, and the earlier one stays as it was and is
// still the latest. Once in the model's data file, once in the optimizer's.
TEST(CheckpointTest, AFullDiskFailsTheSaveNamingTheFileAndKeepsTheEarlierCheckpoint) {
  const tzrec::testing::ScratchDir scratch;
  const std::string model_dir = scratch.path().string();
  Built built;
  const NamedTensors state = built.model->StateDict();
  std::vector<DcpItem> optimizer;
  for (const auto& [name, tensor] : state) {
    DcpItem item;
    item.fqn = "state." + name + ".exp_avg";
    item.tensor = at::cat({tensor.flatten(), tensor.flatten()});  // twice the model's bytes
    optimizer.push_back(item);
  }
  SaveCheckpoint(model_dir, 3, state, optimizer);
  const std::map<std::string, std::string> earlier = FilesUnder(model_dir);
  const uint64_t model_data = fs::file_size(CheckpointPath(model_dir, 3) + "/model/__0_0.distcp");
  ASSERT_GT(model_data, 1000u);
  const std::string staging_prefix = "cannot write " + CheckpointPath(model_dir, 4) + ".tmp-";
  for (const auto& [limit, file] : std::vector<std::pair<uint64_t, std::string>>{
           {model_data / 2, "/model/__0_0.distcp"}, {model_data + 16, "/optimizer/__0_0.distcp"}}) {
    SCOPED_TRACE(file);
    const std::string error = tzrec::testing::RunWithFileSizeLimit(limit, [&] {
      return tzrec::testing::ErrorOf([&] { SaveCheckpoint(model_dir, 4, state, optimizer); });
    });
    ASSERT_EQ(error.rfind(staging_prefix, 0), 0u) << error;
    const std::string rest = error.substr(staging_prefix.size());  // "<pid>/<file>: File too large"
    EXPECT_EQ(rest.substr(rest.find('/')), file + ": File too large") << error;
    EXPECT_EQ(FilesUnder(model_dir), earlier) << "a file was added, removed or changed";
    ASSERT_EQ(ListCheckpoints(model_dir).size(), 1u);
    EXPECT_EQ(LatestCheckpoint(model_dir)->path, CheckpointPath(model_dir, 3));
  }
  for (const auto& entry : fs::directory_iterator(model_dir)) {
    EXPECT_FALSE(ParseStagingName(entry.path().filename().string())) << "left behind: " << entry.path();
  }
}

}  // namespace
}  // namespace tzrec::checkpoint
