// What `tzrec predict` runs: an exported scripted model or a model restored
// from a checkpoint, together with everything needed to feed it (the FG spec
// and the data_config it was trained with).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/script.h>

#include "artifacts/exported_model.h"
#include "config/protos/pipeline.pb.h"
#include "features/feature_factory.h"
#include "features/fg/fg_engine.h"
#include "features/fg/fg_spec.h"
#include "models/model.h"

namespace tzrec::predict {

class PredictionModel {
 public:
  // export_dir/{scripted_model.pt, fg.json, pipeline.config[, model_acc.json]}.
  static std::unique_ptr<PredictionModel> FromExportDir(const std::string& export_dir);

  // The model of `config` with the weights of `checkpoint_path` (a
  // model.ckpt-<step> directory, or a directory holding such; empty: the
  // latest in config.model_dir). FG spec from the config's features.
  static std::unique_ptr<PredictionModel> FromCheckpoint(protos::EasyRecConfig config,
                                                         const std::string& checkpoint_path);

  ~PredictionModel();

  // data_config and the rest: the export's pipeline.config, or the given config.
  const protos::EasyRecConfig& config() const { return exported_ ? exported_->config() : config_; }
  // Where the model came from, for logs ("export dir X", "checkpoint Y").
  const std::string& source() const { return source_; }
  // A fresh FG engine (one per parsing thread: engines keep scratch state).
  fg::FgEngine NewFgEngine() const;
  // Input columns the FG engine reads.
  std::vector<std::string> InputColumns() const;

  // Runs forward in inference mode (no autograd). Thread-compatible: call it
  // from one thread at a time.
  c10::Dict<std::string, at::Tensor> Run(const models::TensorMap& inputs);

 private:
  PredictionModel() = default;

  std::string source_;
  // A checkpoint's config and FG spec; an export's are read from exported_.
  protos::EasyRecConfig config_;
  std::vector<fg::FeatureSpec> fg_specs_;
  fg::FgEngineOptions fg_options_;
  // Exactly one of these is set.
  std::unique_ptr<artifacts::ExportedModel> exported_;
  std::unique_ptr<models::Model> model_;
  FeatureList features_;  // the checkpoint model's features, kept alive with it
};

}  // namespace tzrec::predict
