#include "predict/prediction_model.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/checkpoint_choice.h"
#include "common/error.h"
#include "config/pipeline_config.h"
#include "data/data_options.h"
#include "export/export_manifest.h"
#include "features/fg_json.h"
#include "models/modules/jit_module.h"

namespace tzrec::predict {

namespace fs = std::filesystem;

namespace {

constexpr char kScriptedModelFile[] = "scripted_model.pt";

// INPUT_TILE of model_acc.json is "2" or "3" (upstream looks at the first
// character). No model_acc.json: not tiled.
bool ExportUsesInputTile(const std::string& export_dir) {
  const fs::path acc = fs::path(export_dir) / "model_acc.json";
  if (!fs::exists(acc)) return false;
  std::ifstream in(acc);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    Fail("{}: not valid JSON: {}", acc.string(), e.what());
  }
  if (!json.is_object() || !json.contains("INPUT_TILE")) return false;
  const auto& tile = json["INPUT_TILE"];
  const std::string value = tile.is_string() ? tile.get<std::string>() : tile.dump();
  return !value.empty() && (value[0] == '2' || value[0] == '3');
}

void RequireFile(const fs::path& path, const std::string& what) {
  if (!fs::is_regular_file(path)) Fail("{} {} is missing", what, path.string());
}

}  // namespace

PredictionModel::~PredictionModel() = default;

std::unique_ptr<PredictionModel> PredictionModel::FromExportDir(const std::string& export_dir) {
  const fs::path dir(export_dir);
  if (!fs::is_directory(dir)) Fail("scripted_model_path {} is not a directory", export_dir);
  const fs::path model_file = dir / kScriptedModelFile;
  if (!fs::is_regular_file(model_file)) {
    if (fs::is_regular_file(dir / "user" / kScriptedModelFile) ||
        fs::is_regular_file(dir / "item" / kScriptedModelFile)) {
      Fail("scripted_model_path {} has no {}; a match model is exported per tower: give {}/user or {}/item",
           export_dir, kScriptedModelFile, export_dir, export_dir);
    }
    Fail("scripted_model_path {} has no {} (is it an export directory?)", export_dir, kScriptedModelFile);
  }
  RequireFile(dir / "pipeline.config", "exported config");
  RequireFile(dir / "fg.json", "exported FG spec");
  // An export being written, uploaded or broken off has no manifest yet.
  exporting::RequireCompleteExport(export_dir);

  std::unique_ptr<PredictionModel> m(new PredictionModel());
  m->source_ = "export dir " + export_dir;
  m->config_ = LoadPipelineConfig((dir / "pipeline.config").string());
  m->fg_options_ = data::FgEngineOptionsFromConfig(m->config_);
  m->fg_specs_ = fg::LoadFgJson((dir / "fg.json").string());
  m->input_tile_ = ExportUsesInputTile(export_dir);
  try {
    m->scripted_ = std::make_unique<torch::jit::Module>(torch::jit::load(model_file.string()));
  } catch (const c10::Error& e) {
    Fail("cannot load {}: {}", model_file.string(), e.what_without_backtrace());
  }
  m->scripted_->eval();
  if (DistributedEmbeddings::IsDistributedExport(export_dir)) {
    m->embeddings_ = std::make_unique<DistributedEmbeddings>(export_dir, m->config_);
  }
  return m;
}

std::unique_ptr<PredictionModel> PredictionModel::FromCheckpoint(protos::EasyRecConfig config,
                                                                 const std::string& checkpoint_path) {
  std::unique_ptr<PredictionModel> m(new PredictionModel());
  m->config_ = std::move(config);
  const std::string& model_dir = m->config_.model_dir();
  std::optional<checkpoint::CheckpointChoice> choice;
  if (!checkpoint_path.empty()) {
    if (!fs::is_directory(checkpoint_path)) Fail("checkpoint_path {} is not a directory", checkpoint_path);
    choice = checkpoint::LatestCheckpoint(checkpoint_path);
    if (!choice) Fail("checkpoint_path {} has no model.ckpt-<step> checkpoint", checkpoint_path);
  } else {
    if (model_dir.empty()) FailConfig("model_dir is not set and no --checkpoint_path was given");
    choice = checkpoint::LatestCheckpoint(model_dir);
    if (!choice) Fail("no checkpoint (model.ckpt-<step>) in model_dir {}", model_dir);
  }
  m->source_ = "checkpoint " + choice->path;

  m->features_ = CreateFeatures(m->config_);
  const std::vector<const Feature*> features = FeaturePointers(m->features_);
  m->model_ = models::BuildModel(m->config_, features);
  checkpoint::RestoreModel(*m->model_, choice->path);
  m->model_->SetTraining(false);

  // The same FG spec an export of this config would write, read back through
  // the parser the export-dir path uses.
  const nlohmann::ordered_json fg_json = CreateFgJson(features);
  m->fg_specs_ = fg::ParseFgJson(nlohmann::json::parse(fg_json.dump()), "fg.json of the pipeline config");
  m->fg_options_ = data::FgEngineOptionsFromConfig(m->config_);
  return m;
}

fg::FgEngine PredictionModel::NewFgEngine() const { return fg::FgEngine(fg_specs_, fg_options_); }

std::vector<std::string> PredictionModel::InputColumns() const { return NewFgEngine().input_columns(); }

c10::Dict<std::string, at::Tensor> PredictionModel::Run(const models::TensorMap& inputs) {
  at::NoGradGuard no_grad;
  if (model_) return model_->Forward(inputs);
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : inputs) dict.insert(name, tensor);
  if (input_tile_) dict.insert("batch_size", at::scalar_tensor(1, at::kLong));
  if (embeddings_) embeddings_->AddEmbeddings(inputs, dict);
  try {
    return models::ForwardDict(*scripted_, dict);
  } catch (const c10::Error& e) {
    // A missing input shows up as "KeyError: <name>" deep in a TorchScript
    // traceback; name it in one line.
    const std::string message = e.what_without_backtrace();
    const std::string marker = "KeyError: ";
    const auto key = message.rfind(marker);
    if (key != std::string::npos) {
      std::string name = message.substr(key + marker.size());
      Fail("scripted model input '{}' is missing from the batch (fg.json does not produce it)",
           name.substr(0, name.find('\n')));
    }
    // The interpreter's message ends with the Python-style error line.
    std::string last_line = message;
    while (!last_line.empty() && last_line.back() == '\n') last_line.pop_back();
    last_line = last_line.substr(last_line.rfind('\n') + 1);
    Fail("scripted model forward failed: {}", last_line);
  }
}

}  // namespace tzrec::predict
