// A published export directory, loaded to run: its pipeline.config, fg.json,
// model_acc.json (INPUT_TILE), scripted_model.pt and, for a
// distributed-embedding export, the sparse/ shards the dense graph's
// embeddings come from. The one way tzrec reads an export: predict, the
// export's own check run and the coming server all load it here.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/script.h>

#include "artifacts/distributed_embeddings.h"
#include "config/protos/pipeline.pb.h"
#include "features/fg/fg_engine.h"
#include "features/fg/fg_spec.h"
#include "models/model.h"

namespace tzrec::artifacts {

inline constexpr char kScriptedModelFile[] = "scripted_model.pt";

class ExportedModel {
 public:
  struct LoadOptions {
    // A published export must be complete (manifest.h); the export's check
    // run reads its staging directory, which has no manifest yet.
    bool require_manifest = true;
    // How errors name the directory (e.g. the flag that gave it).
    std::string what = "export directory";
  };
  // Errors name the directory and the missing or unreadable file (a match
  // model's root directory: give user/ or item/).
  static std::unique_ptr<ExportedModel> Load(const std::string& dir, const LoadOptions& options);

  const std::string& dir() const { return dir_; }
  const protos::EasyRecConfig& config() const { return config_; }
  const std::vector<fg::FeatureSpec>& fg_specs() const { return fg_specs_; }
  const fg::FgEngineOptions& fg_options() const { return fg_options_; }
  // A fresh FG engine for this export (one per thread: engines keep scratch).
  fg::FgEngine NewFgEngine() const { return fg::FgEngine(fg_specs_, fg_options_); }
  // Exported with INPUT_TILE (2 or 3): the model takes a "batch_size" input.
  bool input_tile() const { return input_tile_; }

  // forward on one batch of FG outputs, without autograd ("batch_size" = 1
  // added for tiled exports: one row per input row, as upstream's predict;
  // embeddings looked up for distributed exports). A missing input or a
  // failing forward is one line naming it. Call from one thread at a time.
  c10::Dict<std::string, at::Tensor> Run(const models::TensorMap& inputs);

 private:
  ExportedModel() = default;

  std::string dir_;
  protos::EasyRecConfig config_;
  std::vector<fg::FeatureSpec> fg_specs_;
  fg::FgEngineOptions fg_options_;
  bool input_tile_ = false;
  torch::jit::Module module_;
  std::unique_ptr<DistributedEmbeddings> embeddings_;
};

}  // namespace tzrec::artifacts
