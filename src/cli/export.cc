// `tzrec export`: flags as upstream's `python -m tzrec.export`.
#include <memory>
#include <string>

#include "cli/subcommand.h"
#include "common/strings.h"
#include "export/exporter.h"
#include "export/remote/remote_export.h"
#include "export/serving_executor.h"

namespace tzrec::cli {
namespace {

struct Flags {
  exporting::ExportRequest request;
  std::string asset_files;
};

const bool kRegistered = Register({
    "export",
    "Export a trained model: scripted_model.pt, pipeline.config, fg.json, model_acc.json",
    [](CLI::App& app) -> std::function<int()> {
      auto flags = std::make_shared<Flags>();
      auto& request = flags->request;
      app.add_option("--pipeline_config_path", request.pipeline_config_path,
                     "path to pipeline.config")
          ->required();
      app.add_option("--export_dir", request.export_dir,
                     "directory to export to, local or s3:// / oss://; must not exist (match models get "
                     "user/ and item/)")
          ->required();
      app.add_option("--checkpoint_path", request.checkpoint_path,
                     "checkpoint to export; default: the latest (or, with export_config "
                     "exporter_type \"best\", the best) checkpoint in model_dir");
      app.add_option("--asset_files", flags->asset_files,
                     "comma-separated files copied into the export directory");
      app.add_option("--additional_export_config", request.additional_export_config,
                     "JSON object merged into model_acc.json, e.g. '{\"cand_seq_pk\": \"cand_seq\"}'");
      app.add_option("--num_shards", request.num_shards,
                     "USE_DISTRIBUTED_EMBEDDING=1: split every embedding table by rows into this "
                     "many npz shards (default: env DIST_NUM_SHARDS, else 1, as upstream)");
      app.add_option("--item_input_path", request.item_input_path,
                     "accepted for compatibility (upstream samples the item tower's input here)");
      return [flags] {
        flags->request.asset_files = SplitList(flags->asset_files);
        exporting::UseServingGraphExecutor();  // the check run is the only model call
        exporting::remote::ExportWithRemotePaths(flags->request);
        return 0;
      };
    },
});

}  // namespace
}  // namespace tzrec::cli
