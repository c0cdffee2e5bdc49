// Export end to end in the library: a DeepFM checkpoint is exported and the
// scripted_model.pt it writes is loaded back with torch::jit::load and compared
// with the model built from the checkpoint.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include "artifacts/exported_model.h"
#include "checkpoint/checkpoint.h"
#include "common/error.h"
#include "config/pipeline_config.h"
#include "data/gen_data.h"
#include "export/export_manifest.h"
#include "common/staging.h"
#include "common/strings.h"
#include "common/test_support.h"
#include "export/exporter.h"
#include "features/feature_factory.h"
#include "features/fg_json.h"
#include "features/python_json.h"
#include "models/model.h"
#include "models/test_models.h"
#include "checkpoint/eval_log.h"

namespace tzrec::exporting {
namespace {

using artifacts::ExportManifest;
using artifacts::kExportManifestFile;
using artifacts::ListArtifacts;
using artifacts::ManifestEntry;
using artifacts::ManifestFromJson;
using artifacts::RequireCompleteExport;

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::ErrorOf;
using testing::ReadTextFile;
using testing::ScratchDir;

EnvLookup Env(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

c10::Dict<std::string, at::Tensor> ToDict(const models::TensorMap& inputs) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : inputs) dict.insert(name, tensor);
  return dict;
}

at::Tensor Output(torch::jit::Module& module, const models::TensorMap& inputs,
                  const std::string& name) {
  auto result = module.forward({ToDict(inputs)}).toGenericDict();
  return result.at(name).toTensor();
}

double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

class ExportModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(7);
    config_ = models::testing::SmallDeepFMConfig();
    config_.set_model_dir(dir_ / "model");
    config_path_ = dir_ / "pipeline.config";
    SavePipelineConfig(config_, config_path_);
    features_ = CreateFeatures(config_);
    model_ = models::BuildModel(config_, FeaturePointers(features_));
    model_->SetTraining(false);
    checkpoint::SaveCheckpoint(config_.model_dir(), 5, model_->StateDict(), {});
  }

  std::string Export(const std::string& name, const std::map<std::string, std::string>& env,
                     ExportRequest request = {}) {
    request.pipeline_config_path = config_path_;
    request.export_dir = dir_ / name;
    exporting::Export(request, Env(env));
    return request.export_dir;
  }

  // Generated rows as train_input_path, for the export's check run.
  void UseGeneratedTrainData() {
    data::GenDataOptions options;
    options.output_dir = dir_ / "data";
    options.num_rows = 40;
    config_.set_train_input_path(data::GenerateData(config_, options).train_path);
    SavePipelineConfig(config_, config_path_);
  }

  torch::jit::Module Load(const std::string& export_dir) {
    torch::jit::Module module = torch::jit::load(export_dir + "/scripted_model.pt");
    module.eval();
    return module;
  }

  at::Tensor Expected(const models::TensorMap& inputs, const std::string& name = "probs") {
    return model_->Forward(inputs).at(name);
  }

  ScratchDir dir_;
  protos::EasyRecConfig config_;
  std::string config_path_;
  FeatureList features_;
  std::unique_ptr<models::Model> model_;
};

TEST_F(ExportModelTest, Fp32ExportPredictsLikeTheCheckpointModel) {
  const std::string export_dir = Export("export", {{"QUANT_EMB", "0"}});
  torch::jit::Module loaded = Load(export_dir);
  const auto batch = models::testing::MakeSyntheticBatch(64);
  for (const char* output : {"logits", "probs"}) {
    EXPECT_LT(MaxAbsDiff(Output(loaded, batch.inputs, output), Expected(batch.inputs, output)),
              1e-6)
        << output;
  }
}

TEST_F(ExportModelTest, WritesEveryArtifactInUpstreamsForm) {
  const std::string export_dir = Export("export", {{"QUANT_EMB", "0"}});
  EXPECT_EQ(ReadTextFile(export_dir + "/model_acc.json"),
            "{\n    \"SPARSE_INT64\": \"1\",\n    \"QUANT_EMB\": \"0\"\n}");
  EXPECT_EQ(ReadTextFile(export_dir + "/fg.json"),
            DumpPythonJson(CreateFgJson(FeaturePointers(features_))));
  const protos::EasyRecConfig exported = LoadPipelineConfig(export_dir + "/pipeline.config");
  EXPECT_EQ(exported.feature_configs_size(), 3);
  EXPECT_EQ(exported.model_dir(), config_.model_dir());
  EXPECT_TRUE(exported.model_config().has_deepfm());
  // Nothing else: no staging directory left beside it.
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    ++entries;
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos);
  }
  EXPECT_EQ(entries, 3);  // pipeline.config, model, export
}

TEST_F(ExportModelTest, QuantizedExportsUseThePackedOperators) {
  const auto batch = models::testing::MakeSyntheticBatch(64);
  const at::Tensor expected = Expected(batch.inputs);
  const std::map<std::string, std::pair<std::string, double>> cases = {
      {"INT8", {"embedding_bag_byte_rowwise_offsets", 1e-2}},
      {"INT4", {"embedding_bag_4bit_rowwise_offsets", 5e-2}},
      {"INT2", {"embedding_bag_2bit_rowwise_offsets", 2e-1}},
  };
  for (const auto& [dtype, expectation] : cases) {
    const std::string export_dir =
        dtype == "INT8" ? Export("export_default", {}) : Export("export_" + dtype, {{"QUANT_EMB", dtype}});
    torch::jit::Module loaded = Load(export_dir);
    std::ostringstream graphs;
    for (const auto& child : loaded.named_modules()) {
      if (auto method = child.value.find_method("forward")) graphs << *method->graph();
    }
    EXPECT_THAT(graphs.str(), HasSubstr(expectation.first)) << dtype;
    EXPECT_LT(MaxAbsDiff(Output(loaded, batch.inputs, "probs"), expected), expectation.second)
        << dtype;
  }
}

TEST_F(ExportModelTest, InputTileMatchesTheUntiledModel) {
  for (const char* mode : {"2", "3"}) {
    const std::string export_dir =
        Export(std::string("export_tile") + mode, {{"QUANT_EMB", "0"}, {"INPUT_TILE", mode}});
    EXPECT_THAT(ReadTextFile(export_dir + "/model_acc.json"),
                HasSubstr(std::string("\"INPUT_TILE\": \"") + mode + "\""));
    torch::jit::Module loaded = Load(export_dir);
    const int64_t batch_size = 9;
    auto batch = models::testing::MakeSyntheticBatch(batch_size);
    // cat_a is the only user-side feature of the small DeepFM.
    models::TensorMap request = batch.inputs;
    request["cat_a.values"] = batch.inputs["cat_a.values"].slice(0, 0, 1);
    request["cat_a.lengths"] = batch.inputs["cat_a.lengths"].slice(0, 0, 1);
    request["batch_size"] = torch::tensor({batch_size});
    models::TensorMap tiled = batch.inputs;
    tiled["cat_a.values"] = request["cat_a.values"].repeat({batch_size});
    tiled["cat_a.lengths"] = request["cat_a.lengths"].repeat({batch_size});
    EXPECT_LT(MaxAbsDiff(Output(loaded, request, "probs"), Expected(tiled)), 1e-6) << mode;
  }
}

TEST_F(ExportModelTest, BestExporterRestoresTheBestStep) {
  // Step 9 holds different weights and a worse AUC than step 5.
  auto other = models::BuildModel(config_, FeaturePointers(features_));
  other->SetTraining(false);
  checkpoint::SaveCheckpoint(config_.model_dir(), 9, other->StateDict(), {});
  const std::string log = config_.model_dir() + "/" + checkpoint::kEvalResultFile;
  checkpoint::AppendEvalResult(log, 5, {{"auc", 0.8}});
  checkpoint::AppendEvalResult(log, 9, {{"auc", 0.6}});
  config_.mutable_export_config()->set_exporter_type("best");
  SavePipelineConfig(config_, config_path_);

  torch::jit::Module best = Load(Export("export_best", {{"QUANT_EMB", "0"}}));
  const auto batch = models::testing::MakeSyntheticBatch(32);
  EXPECT_LT(MaxAbsDiff(Output(best, batch.inputs, "probs"), Expected(batch.inputs)), 1e-6);
  EXPECT_GT(MaxAbsDiff(Output(best, batch.inputs, "probs"), other->Forward(batch.inputs).at("probs")),
            1e-6)
      << "the two checkpoints are indistinguishable; the test proves nothing";
}

TEST_F(ExportModelTest, MissingTensorIsNamedAndNothingIsWritten) {
  checkpoint::NamedTensors state = model_->StateDict();
  const std::string dropped = state.back().first;
  state.pop_back();
  checkpoint::SaveCheckpoint(config_.model_dir(), 10, state, {});
  const std::string error = ErrorOf([&] { Export("export", {}); });
  EXPECT_THAT(error, HasSubstr(dropped));
  EXPECT_THAT(error, HasSubstr("model.ckpt-10"));
  EXPECT_FALSE(fs::exists(dir_ / "export"));
}

TEST_F(ExportModelTest, AssetFilesAreCopiedUnderTheirOwnNames) {
  testing::WriteTextFile(dir_ / "assets/readme.txt", "hello");
  ExportRequest request;
  request.asset_files = SplitList(dir_ / "assets/readme.txt" + ",");
  request.additional_export_config = R"({"cand_seq_pk": "cand_seq"})";
  const std::string export_dir = Export("export", {{"QUANT_EMB", "0"}}, request);
  EXPECT_EQ(ReadTextFile(export_dir + "/readme.txt"), "hello");
  EXPECT_THAT(ReadTextFile(export_dir + "/model_acc.json"),
              HasSubstr("\"cand_seq_pk\": \"cand_seq\""));
}

TEST_F(ExportModelTest, ManifestListsEveryArtifactAndSameInputsGiveSameBytes) {
  UseGeneratedTrainData();
  // Two runs of the command: within one process TorchScript mangles the class
  // names of a model built a second time.
  const std::string first = dir_ / "export_a", second = dir_ / "export_b";
  for (const std::string& export_dir : {first, second}) {
    const std::string command = std::string(TZREC_BINARY) + " export --pipeline_config_path " + config_path_ +
                                " --export_dir " + export_dir + " > /dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  const ExportManifest manifest =
      ManifestFromJson(ReadTextFile(first + "/" + kExportManifestFile), "manifest");
  EXPECT_EQ(manifest.checkpoint_path, config_.model_dir() + "/model.ckpt-5");
  EXPECT_EQ(manifest.global_step, 5);
  std::vector<std::string> paths;
  for (const ManifestEntry& entry : manifest.files) paths.push_back(entry.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"fg.json", "model_acc.json", "pipeline.config",
                                             "scripted_model.pt"}));
  // The hashes are of what is on disk ...
  EXPECT_EQ(ListArtifacts(first).size(), manifest.files.size());
  for (size_t i = 0; i < manifest.files.size(); ++i) {
    EXPECT_EQ(ListArtifacts(first)[i].sha256, manifest.files[i].sha256) << manifest.files[i].path;
    EXPECT_EQ(fs::file_size(first + "/" + manifest.files[i].path), manifest.files[i].size);
  }
  // ... and a second export of the same checkpoint is byte-identical.
  EXPECT_EQ(ReadTextFile(first + "/" + kExportManifestFile), ReadTextFile(second + "/" + kExportManifestFile));
  EXPECT_NO_THROW(RequireCompleteExport(first));
}

TEST_F(ExportModelTest, IncompleteExportsAreRecognised) {
  const std::string export_dir = Export("export", {});
  fs::resize_file(export_dir + "/fg.json", 3);
  EXPECT_THAT(ErrorOf([&] { RequireCompleteExport(export_dir); }), HasSubstr("fg.json with"));
  fs::remove(export_dir + "/" + kExportManifestFile);
  EXPECT_THAT(ErrorOf([&] { RequireCompleteExport(export_dir); }), HasSubstr("has no export_manifest.json"));
}

TEST_F(ExportModelTest, NonFiniteOutputsOnTrainRowsAreNotPublished) {
  UseGeneratedTrainData();
  checkpoint::NamedTensors state = model_->StateDict();
  bool poisoned = false;
  for (auto& [name, tensor] : state) {
    if (name.find("deep") != std::string::npos && name.find("weight") != std::string::npos && !poisoned) {
      tensor = tensor.clone().fill_(std::numeric_limits<float>::quiet_NaN());
      poisoned = true;
    }
  }
  ASSERT_TRUE(poisoned);
  checkpoint::SaveCheckpoint(config_.model_dir(), 11, state, {});
  const std::string error = ErrorOf([&] { Export("export", {{"MAX_EXPORT_BATCH_SIZE", "7"}}); });
  EXPECT_THAT(error, HasSubstr("non-finite"));
  EXPECT_THAT(error, HasSubstr("on 7 rows of " + config_.train_input_path()));
  EXPECT_FALSE(fs::exists(dir_ / "export"));
}

TEST_F(ExportModelTest, CheckRunReadsTheTrainInputPath) {
  config_.set_train_input_path(dir_ / "missing_*.csv");
  SavePipelineConfig(config_, config_path_);
  EXPECT_THAT(ErrorOf([&] { Export("export", {}); }), HasSubstr("missing_*.csv"));
  EXPECT_FALSE(fs::exists(dir_ / "export"));
}

// `tzrec export` killed with SIGKILL while it writes: the export dir never
// appears, and the next export to the same place removes the staging
// directory the killed one left and publishes a complete export.
TEST_F(ExportModelTest, KilledExportLeavesNothingTheNextExportKeeps) {
  const std::string export_dir = dir_ / "export";
  int killed_while_staging = 0;
  for (int attempt = 0; attempt < 3 && killed_while_staging == 0; ++attempt) {
    const pid_t child = fork();
    if (child == 0) {
      const std::string binary = TZREC_BINARY;
      execl(binary.c_str(), binary.c_str(), "export", "--pipeline_config_path", config_path_.c_str(), "--export_dir",
            export_dir.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    const std::string staging = export_dir + ".tmp-" + std::to_string(child);
    // Killed once its staging directory holds a file.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    bool caught = false;
    while (std::chrono::steady_clock::now() < deadline) {
      std::error_code ec;
      if (fs::is_directory(staging, ec) && !fs::is_empty(staging, ec) && !ec) {
        caught = kill(child, SIGKILL) == 0;
        break;
      }
      if (waitpid(child, nullptr, WNOHANG) == child) break;  // finished before it was caught
      usleep(500);
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (caught && WIFSIGNALED(status)) {
      ++killed_while_staging;
      EXPECT_TRUE(fs::exists(staging));
      EXPECT_FALSE(fs::exists(export_dir));
    } else {
      fs::remove_all(export_dir);  // it finished: try again
    }
  }
  ASSERT_EQ(killed_while_staging, 1) << "the export was never caught while writing";
  Export("export", {});
  EXPECT_NO_THROW(RequireCompleteExport(export_dir));
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_FALSE(ParseStagingName(entry.path().filename().string()).has_value())
        << "left behind: " << entry.path().string();
  }
}

TEST_F(ExportModelTest, CorruptScriptedModelIsRefusedOnLoad) {
  const std::string export_dir = Export("export", {{"QUANT_EMB", "0"}});
  EXPECT_NO_THROW(artifacts::ExportedModel::Load(export_dir, {}));
  // One byte of the largest parameter flipped: same size, so the manifest's
  // size check passes; only the entry's CRC-32 tells.
  at::Tensor largest;
  for (const auto& [name, tensor] : model_->StateDict()) {
    if (!largest.defined() || tensor.nbytes() > largest.nbytes()) largest = tensor.contiguous();
  }
  const std::string model = export_dir + "/scripted_model.pt";
  std::string bytes = ReadTextFile(model);
  const size_t at = bytes.find(std::string(static_cast<const char*>(largest.data_ptr()), largest.nbytes()));
  ASSERT_NE(at, std::string::npos);
  bytes[at + largest.nbytes() / 2] ^= 0x01;
  std::ofstream(model, std::ios::binary | std::ios::trunc) << bytes;
  const std::string error = ErrorOf([&] { artifacts::ExportedModel::Load(export_dir, {}); });
  EXPECT_THAT(error, HasSubstr(model + " is corrupted: record data/"));
  EXPECT_THAT(error, HasSubstr("fails its CRC-32 check"));
}

// Every path from the root of `dir` whose name is a staging name.
std::vector<std::string> StagingEntries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (ParseStagingName(entry.path().filename().string())) out.push_back(entry.path().string());
  }
  return out;
}

std::string TzrecExport(const std::string& config_path, const std::string& export_dir) {
  return fmt::format("'{}' export --pipeline_config_path '{}' --export_dir '{}'", TZREC_BINARY, config_path,
                     export_dir);
}

// The binary with its files limited in size (a full disk, without root):
// whichever file crosses the limit, the run fails with one line naming that
// file in its staging directory and the system's reason, removes the staging
// directory, publishes nothing, and an earlier export is untouched. The limits
// fall early, in the middle of scripted_model.pt and in its last bytes (its
// zip central directory: libtorch's own Module::save reported such a
// truncated file as saved).
TEST_F(ExportModelTest, AFullDiskIsNamedAndLeavesNothingHalfWritten) {
  // By the binary too: a fresh process writes the same bytes as the runs below
  // (in this test process, TorchScript's class-name mangling counters differ).
  const std::string earlier = dir_ / "earlier";
  const testing::CommandResult first = testing::RunCommand(TzrecExport(config_path_, earlier));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string earlier_model = ReadTextFile(earlier + "/scripted_model.pt");
  const uint64_t model_size = earlier_model.size();
  ASSERT_GT(model_size, 4096u);
  const std::string export_dir = dir_ / "export";
  for (const uint64_t limit : {uint64_t{600}, model_size / 2, model_size - 64}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    const testing::CommandResult result =
        testing::RunCommandWithFileSizeLimit(limit, TzrecExport(config_path_, export_dir));
    EXPECT_EQ(result.exit_code, 1) << result.output;
    // "tzrec: error: cannot write <export_dir>.tmp-<pid>/<file>: File too large"
    const std::string prefix = "tzrec: error: cannot write " + export_dir + ".tmp-";
    const size_t at = result.output.find(prefix);
    ASSERT_NE(at, std::string::npos) << result.output;
    const std::string line = result.output.substr(at, result.output.find('\n', at) - at);
    const std::string suffix = ": File too large";
    ASSERT_EQ(line.substr(line.size() - std::min(line.size(), suffix.size())), suffix) << line;
    const std::string staged = line.substr(prefix.size(), line.size() - prefix.size() - suffix.size());
    const std::string file = staged.substr(staged.find('/') + 1);  // after "<pid>/"
    ASSERT_TRUE(fs::exists(earlier + "/" + file)) << "not an artifact: " << line;
    EXPECT_GT(fs::file_size(earlier + "/" + file), limit) << "a file that fits was reported: " << line;
    if (limit == model_size - 64) EXPECT_EQ(file, "scripted_model.pt");
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n') -
                  std::count(result.output.begin(), result.output.begin() + static_cast<std::ptrdiff_t>(at), '\n'),
              1)
        << "the error is the last line and one line:\n" << result.output;
    EXPECT_FALSE(fs::exists(export_dir));
    EXPECT_THAT(StagingEntries(dir_.path()), ::testing::IsEmpty());
  }
  EXPECT_NO_THROW(RequireCompleteExport(earlier));
  EXPECT_EQ(ReadTextFile(earlier + "/scripted_model.pt"), earlier_model);
}

// Two exports to one export_dir at once: each stages in its own directory,
// the publishing rename lets exactly one in, whole; the other fails with
// upstream's message and removes its staging. The two differ (INT8 and FP32
// tables), so a mix of their files would not match the winner's manifest
// (its sizes and SHA-256 digests).
TEST_F(ExportModelTest, TwoExportsToOneDirectoryAtOnceOneWinsWhole) {
  const std::string export_dir = dir_ / "export";
  const std::string run = fmt::format(
      "({0} > '{1}/a.log' 2>&1; echo $? > '{1}/a.rc') & (QUANT_EMB=0 {0} > '{1}/b.log' 2>&1; echo $? > '{1}/b.rc') & "
      "wait",
      TzrecExport(config_path_, export_dir), dir_.path().string());
  ASSERT_EQ(testing::RunCommand(run).exit_code, 0);
  const std::string a_rc = ReadTextFile(dir_ / "a.rc"), b_rc = ReadTextFile(dir_ / "b.rc");
  const std::string a_log = ReadTextFile(dir_ / "a.log"), b_log = ReadTextFile(dir_ / "b.log");
  ASSERT_EQ((a_rc == "0\n") + (b_rc == "0\n"), 1) << "a: " << a_rc << a_log << "\nb: " << b_rc << b_log;
  const bool a_won = a_rc == "0\n";
  const std::string& loser_log = a_won ? b_log : a_log;
  EXPECT_EQ(a_won ? b_rc : a_rc, "1\n");
  EXPECT_THAT(loser_log, HasSubstr("tzrec: error: directory " + export_dir + " already exist."));
  // Whether the loser was refused at the start or at the publishing rename.
  RecordProperty("refused_at_publish", loser_log.find("It appeared while this export ran") != std::string::npos);
  // Whole: every file the manifest lists, and nothing else.
  EXPECT_NO_THROW(RequireCompleteExport(export_dir));
  const std::string manifest_path = export_dir + "/" + kExportManifestFile;
  const ExportManifest manifest = ManifestFromJson(ReadTextFile(manifest_path), manifest_path);
  std::vector<std::string> listed;
  for (const ManifestEntry& entry : manifest.files) listed.push_back(entry.path);
  listed.push_back(kExportManifestFile);
  std::vector<std::string> present;
  for (const auto& entry : fs::recursive_directory_iterator(export_dir)) {
    if (entry.is_regular_file()) present.push_back(fs::relative(entry.path(), export_dir).string());
  }
  std::sort(listed.begin(), listed.end());
  std::sort(present.begin(), present.end());
  EXPECT_EQ(present, listed);
  EXPECT_THAT(StagingEntries(dir_.path()), ::testing::IsEmpty());
}

}  // namespace
}  // namespace tzrec::exporting
