// `tzrec create_fg_json`: write fg.json (and the asset files it names) for
// every feature of a pipeline.config, as upstream's tzrec.tools.create_fg_json.
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "cli/subcommand.h"
#include "common/error.h"
#include "common/strings.h"
#include "config/pipeline_config.h"
#include "features/fg_json.h"
#include "validation/validate.h"

namespace tzrec::cli {
namespace {

struct Flags {
  std::string pipeline_config_path;
  std::string fg_output_dir;
  std::string reserves;
  bool has_reserves = false;
  std::string fg_resource_name;
  bool remove_bucketizer = false;
  bool debug = false;
  std::string odps_project_name;
  std::string odps_schema_name;
  bool force_update_resource = false;
};

// Upstream's "--reserves label,request_id": comma separated, each stripped
// (Python's [x.strip() for x in text.strip().split(",")], empty pieces kept).
std::vector<std::string> SplitReserves(const std::string& text) {
  std::vector<std::string> columns;
  for (std::string_view part : SplitExact(Trim(text), ",")) columns.emplace_back(Trim(part));
  return columns;
}

int Run(const Flags& flags) {
  if (!flags.odps_project_name.empty() && !flags.fg_resource_name.empty()) {
    FailConfig("uploading fg.json as an ODPS resource (--odps_project_name with "
               "--fg_resource_name) is not supported; use --fg_output_dir");
  }
  if (flags.debug) spdlog::warn("--debug (reading one batch of train data) is ignored");
  const protos::EasyRecConfig config = LoadPipelineConfig(flags.pipeline_config_path);
  // Duplicate or nameless features would give an fg.json FG cannot run.
  ValidateFeatureConfigs(config);
  ConfigFgJsonOptions options;
  options.output_dir = flags.fg_output_dir;
  if (!flags.fg_resource_name.empty()) options.file_name = flags.fg_resource_name;
  options.has_reserves = flags.has_reserves;
  if (flags.has_reserves) options.reserves = SplitReserves(flags.reserves);
  options.remove_bucketizer = flags.remove_bucketizer;
  const std::string path = WriteConfigFgJson(config, options);
  spdlog::info("fg json written to {}", path);
  return 0;
}

const bool kRegistered = Register({
    "create_fg_json",
    "Write fg.json (feature generation spec) and its asset files for a pipeline.config",
    [](CLI::App& app) -> std::function<int()> {
      auto flags = std::make_shared<Flags>();
      app.add_option("--pipeline_config_path", flags->pipeline_config_path,
                     "path to pipeline.config")
          ->required();
      app.add_option("--fg_output_dir", flags->fg_output_dir,
                     "directory to write fg.json and its asset files to")
          ->required();
      auto* reserves = app.add_option("--reserves", flags->reserves,
                                      "reserved column names, e.g. label,request_id");
      app.add_option("--fg_resource_name", flags->fg_resource_name,
                     "file name of the fg json (default fg.json)");
      app.add_flag("--remove_bucketizer", flags->remove_bucketizer,
                   "drop bucketizer params (hash_bucket_size, vocab_*, boundaries, num_buckets)");
      app.add_flag("--debug", flags->debug, "accepted for compatibility; ignored");
      app.add_option("--odps_project_name", flags->odps_project_name,
                     "accepted for compatibility; uploading to ODPS is not supported");
      app.add_option("--odps_schema_name", flags->odps_schema_name,
                     "accepted for compatibility; ignored");
      app.add_flag("--force_update_resource", flags->force_update_resource,
                   "accepted for compatibility; ignored");
      return [flags, reserves] {
        flags->has_reserves = reserves->count() > 0;
        return Run(*flags);
      };
    },
});

}  // namespace
}  // namespace tzrec::cli
