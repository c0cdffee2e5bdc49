// The export's check run: before an exported directory is published, its own
// scripted_model.pt and fg.json (read back from the staging directory, as a
// server would) run once on real rows, so that a model that cannot run on its
// inputs, or produces NaN/Inf, is never published.
#pragma once

#include <cstdint>
#include <string>

#include "config/protos/pipeline.pb.h"

namespace tzrec::exporting {

struct ExportCheckOptions {
  // CSV rows to run (train_input_path, or --item_input_path for a match
  // model's item tower). Empty: no check run (logged).
  std::string input_path;
  // Rows in the batch: MAX_EXPORT_BATCH_SIZE, else data_config.batch_size.
  int64_t max_rows = 0;
  // The model takes a "batch_size" input (INPUT_TILE exports).
  bool input_tile = false;
};

// Runs `artifact_dir`/scripted_model.pt on one batch that `artifact_dir`/fg.json
// makes from options.input_path. Error (naming the directory, the input and the
// output) when reading, forward or a non-finite output fails.
void CheckExportedModel(const std::string& artifact_dir, const protos::EasyRecConfig& exported_config,
                        const ExportCheckOptions& options);

}  // namespace tzrec::exporting
