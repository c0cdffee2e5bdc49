// The model half of an export: the restored, quantized, inference-only module
// of one exported directory, saved as scripted_model.pt.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/protos/pipeline.pb.h"
#include "checkpoint/checkpoint_choice.h"
#include "export/export_env.h"
#include "features/export_features.h"
#include "features/feature.h"

namespace tzrec::exporting {

class ModelExporter {
 public:
  // Reads the checkpoint's state once; errors (unreadable checkpoint, model
  // type tzrec cannot build, unsupported quantization) surface here, before
  // anything is written.
  ModelExporter(const protos::EasyRecConfig& config, const std::vector<const Feature*>& features,
                const ExportEnv& env, const checkpoint::CheckpointChoice& checkpoint);
  ~ModelExporter();

  // Builds the module for `set` (the whole model, or the "user" / "item" tower
  // of a match model), restores the checkpoint into it with its tables in the
  // exported storage, switches it to inference and saves it to `path`.
  struct Written {
    std::vector<std::string> output_names;  // forward's outputs, in order
    bool takes_batch_size = false;          // INPUT_TILE wrapper: "batch_size" input
  };
  Written Write(const ExportFeatureSet& set, const std::string& path) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tzrec::exporting
