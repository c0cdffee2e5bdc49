#include "artifacts/exported_model.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "artifacts/manifest.h"
#include "checkpoint/torch_archive.h"
#include "common/error.h"
#include "config/pipeline_config.h"
#include "data/data_options.h"
#include "models/modules/embedding_table.h"
#include "models/modules/jit_module.h"

namespace tzrec::artifacts {

namespace fs = std::filesystem;

namespace {

// INPUT_TILE of model_acc.json is "2" or "3" (upstream looks at the first
// character). No model_acc.json: not tiled.
bool UsesInputTile(const fs::path& dir) {
  const fs::path acc = dir / "model_acc.json";
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

std::unique_ptr<ExportedModel> ExportedModel::Load(const std::string& dir_name, const LoadOptions& options) {
  const fs::path dir(dir_name);
  const std::string& what = options.what;
  if (!fs::is_directory(dir)) Fail("{} {} is not a directory", what, dir_name);
  const fs::path model_file = dir / kScriptedModelFile;
  if (!fs::is_regular_file(model_file)) {
    if (fs::is_regular_file(dir / "user" / kScriptedModelFile) ||
        fs::is_regular_file(dir / "item" / kScriptedModelFile)) {
      Fail("{} {} has no {}; a match model is exported per tower: give {}/user or {}/item", what, dir_name,
           kScriptedModelFile, dir_name, dir_name);
    }
    Fail("{} {} has no {} (is it an export directory?)", what, dir_name, kScriptedModelFile);
  }
  RequireFile(dir / "pipeline.config", "exported config");
  RequireFile(dir / "fg.json", "exported FG spec");
  // An export being written, uploaded or broken off has no manifest yet.
  if (options.require_manifest) RequireCompleteExport(dir_name);

  std::unique_ptr<ExportedModel> m(new ExportedModel());
  m->dir_ = dir_name;
  m->config_ = LoadPipelineConfig((dir / "pipeline.config").string());
  m->fg_options_ = data::FgEngineOptionsFromConfig(m->config_);
  m->fg_specs_ = fg::LoadFgJson((dir / "fg.json").string());
  m->input_tile_ = UsesInputTile(dir);
  // libtorch does not check the zip entries' CRC-32s: a flipped byte would
  // load as a silently different model.
  checkpoint::VerifyTorchArchiveFile(model_file.string());
  try {
    m->module_ = torch::jit::load(model_file.string());
  } catch (const c10::Error& e) {
    Fail("cannot load {}: {}", model_file.string(), e.what_without_backtrace());
  }
  m->module_.eval();
  // Exports are written for stock PyTorch's FBGEMM; this libtorch may lack it.
  models::TuneQuantizedLookups(m->module_);
  if (DistributedEmbeddings::IsDistributedExport(dir_name)) {
    m->embeddings_ = std::make_unique<DistributedEmbeddings>(dir_name, m->config_);
  }
  return m;
}

c10::Dict<std::string, at::Tensor> ExportedModel::Run(const models::TensorMap& inputs) {
  at::NoGradGuard no_grad;
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : inputs) dict.insert(name, tensor);
  if (input_tile_) dict.insert("batch_size", at::scalar_tensor(1, at::kLong));
  if (embeddings_) embeddings_->AddEmbeddings(inputs, dict);
  try {
    return models::ForwardDict(module_, dict);
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

}  // namespace tzrec::artifacts
