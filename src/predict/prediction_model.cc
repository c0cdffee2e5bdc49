#include "predict/prediction_model.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "artifacts/exported_model.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/checkpoint_choice.h"
#include "common/error.h"
#include "config/pipeline_config.h"
#include "data/data_options.h"
#include "features/fg_json.h"

namespace tzrec::predict {

namespace fs = std::filesystem;

PredictionModel::~PredictionModel() = default;

std::unique_ptr<PredictionModel> PredictionModel::FromExportDir(const std::string& export_dir) {
  std::unique_ptr<PredictionModel> m(new PredictionModel());
  m->exported_ = artifacts::ExportedModel::Load(export_dir, {true, "scripted_model_path"});
  m->source_ = "export dir " + export_dir;
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

fg::FgEngine PredictionModel::NewFgEngine() const {
  if (exported_) return exported_->NewFgEngine();
  return fg::FgEngine(fg_specs_, fg_options_);
}

std::vector<std::string> PredictionModel::InputColumns() const { return NewFgEngine().input_columns(); }

c10::Dict<std::string, at::Tensor> PredictionModel::Run(const models::TensorMap& inputs) {
  if (exported_) return exported_->Run(inputs);
  at::NoGradGuard no_grad;
  return model_->Forward(inputs);
}

}  // namespace tzrec::predict
