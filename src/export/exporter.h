// `tzrec export`: turns a trained checkpoint into the artifacts serving reads,
// as upstream's tzrec.main.export does:
//
//   export_dir/
//     scripted_model.pt  TorchScript, forward(Dict[str, Tensor]) -> Dict[str, Tensor]
//     pipeline.config    the config, feature_configs rewritten for the exported features
//     fg.json            the exported features' FG spec
//     model_acc.json     what acceleration / quantization was applied
//     <assets>           --asset_files and the features' vocab files
//
// Match models (DSSM) get export_dir/user/ and export_dir/item/, each a full
// set with only its tower's features. Everything is checked (env variables,
// config, export_dir, asset files, checkpoint) before anything is written, and
// the export is built in a staging directory that appears as export_dir only
// when complete.
#pragma once

#include <string>
#include <vector>

#include "export/export_env.h"

namespace tzrec::exporting {

struct ExportRequest {
  std::string pipeline_config_path;
  std::string export_dir;
  // Where the export will be read from when export_dir is only a local work
  // directory (s3:// uploads); artifacts naming their own location use it.
  std::string published_export_dir;
  // Empty: latest (or best, per export_config) checkpoint of model_dir.
  std::string checkpoint_path;
  // Extra files copied into every exported directory under their own names.
  std::vector<std::string> asset_files;
  // JSON object merged into model_acc.json; empty for none.
  std::string additional_export_config;
  // Rows for the item tower's check run (a match model's item/ export), as
  // upstream reads its sample batch from here; empty: train_input_path.
  std::string item_input_path;
  // USE_DISTRIBUTED_EMBEDDING=1: row shards per table (0: DIST_NUM_SHARDS, else 1).
  int num_shards = 0;
};

// "a,b" -> {"a", "b"}; empty parts are dropped.

// Runs the export; throws tzrec::Error / ConfigError on failure, leaving no
// export_dir behind.
void Export(const ExportRequest& request, const EnvLookup& env = ProcessEnv());

}  // namespace tzrec::exporting
