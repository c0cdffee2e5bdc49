#include "export/exporter.h"

#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "config/pipeline_config.h"
#include "checkpoint/checkpoint_choice.h"
#include "export/distributed/distributed_export.h"
#include "export/export_check.h"
#include "export/export_manifest.h"
#include "export/export_staging.h"
#include "export/exported_config.h"
#include "export/model_export.h"
#include "features/export_features.h"
#include "features/feature_factory.h"
#include "features/fg_json.h"
#include "features/python_json.h"

namespace tzrec::exporting {

namespace fs = std::filesystem;

namespace {

std::string JoinPath(const std::string& subdir, const std::string& name) {
  return subdir.empty() ? name : subdir + "/" + name;
}

void CheckAssetFiles(const std::vector<std::string>& asset_files) {
  for (const std::string& asset : asset_files) {
    std::error_code ec;
    if (!fs::is_regular_file(asset, ec)) Fail("--asset_files: {} does not exist", asset);
  }
}

// Rows for the check run of `set`: the item tower reads --item_input_path when
// given (as upstream), everything else train_input_path.
ExportCheckOptions CheckOptionsFor(const ExportFeatureSet& set, const ExportRequest& request,
                                   const protos::EasyRecConfig& config, const ExportEnv& env) {
  ExportCheckOptions options;
  options.input_path = set.subdir == "item" && !request.item_input_path.empty() ? request.item_input_path
                                                                                 : config.train_input_path();
  options.max_rows = env.max_export_batch_size.value_or(0);
  return options;
}

// One exported directory: model, config, fg.json, model_acc.json, assets;
// then its check run.
void WriteArtifactSet(const ExportStaging& staging, const ExportFeatureSet& set,
                      const protos::EasyRecConfig& config, const ModelExporter& model,
                      const nlohmann::ordered_json& model_acc,
                      const std::vector<std::string>& asset_files, ExportCheckOptions check) {
  const std::string where = set.subdir.empty() ? staging.export_dir() : staging.FinalPath(set.subdir);
  spdlog::info("exporting {} ({} features)", where, set.features.size());

  const ModelExporter::Written written =
      model.Write(set, staging.LocalPath(JoinPath(set.subdir, "scripted_model.pt")));
  std::string output_list;
  for (const auto& name : written.output_names) output_list += (output_list.empty() ? "" : ", ") + name;
  spdlog::info("scripted_model.pt outputs: {}", output_list);

  // Feature assets go beside the model under "<stem>_<md5><ext>"; the config
  // names their final location.
  const std::string local_dir = staging.LocalDir(set.subdir);
  const protos::EasyRecConfig exported =
      ExportedPipelineConfig(config, set.features, local_dir, staging.FinalPath(set.subdir));
  staging.WriteFile(JoinPath(set.subdir, "pipeline.config"), PipelineConfigToText(exported));

  FgJsonOptions fg_options;
  fg_options.asset_dir = local_dir;
  staging.WriteFile(JoinPath(set.subdir, "fg.json"),
                    DumpPythonJson(CreateFgJson(set.features, fg_options)));
  staging.WriteFile(JoinPath(set.subdir, "model_acc.json"), DumpPythonJson(model_acc));

  for (const std::string& asset : asset_files) {
    staging.CopyFile(asset, JoinPath(set.subdir, fs::path(asset).filename().string()));
  }
  check.input_tile = written.takes_batch_size;
  CheckExportedModel(local_dir, exported, check);
}

}  // namespace

void Export(const ExportRequest& request, const EnvLookup& env_lookup) {
  // Everything that can be refused cheaply is checked first.
  const ExportEnv env = ReadExportEnv(env_lookup);
  const nlohmann::ordered_json additional =
      ParseAdditionalExportConfig(request.additional_export_config);
  const protos::EasyRecConfig config = LoadPipelineConfig(request.pipeline_config_path);
  if (request.export_dir.empty()) FailConfig("--export_dir is required");
  RefuseExistingExportDir(request.export_dir);
  CheckAssetFiles(request.asset_files);

  const FeatureList feature_list = CreateFeatures(config);
  const std::vector<const Feature*> features = FeaturePointers(feature_list);
  const std::vector<ExportFeatureSet> sets = ExportFeatureSets(config.model_config(), features);

  const checkpoint::CheckpointChoice checkpoint =
      checkpoint::ChooseCheckpoint(config.model_dir(), config.export_config(), request.checkpoint_path);
  spdlog::info("exporting checkpoint {} (step {}): {}", checkpoint.path, checkpoint.step,
               checkpoint.reason);
  if (env.distributed_embedding) {
    distributed::DistributedExportRequest distributed_request;
    distributed_request.export_dir = request.export_dir;
    distributed_request.asset_files = request.asset_files;
    distributed_request.num_shards = request.num_shards;
    distributed::ExportDistributedEmbedding(distributed_request, config, features, env,
                                            ModelAccJson(env, additional), checkpoint, env_lookup);
    return;
  }
  const ModelExporter model(config, features, env, checkpoint);
  const nlohmann::ordered_json model_acc = ModelAccJson(env, additional);

  std::unique_ptr<ExportStaging> staging = ExportStaging::Begin(request.export_dir, request.published_export_dir);
  for (const ExportFeatureSet& set : sets) {
    WriteArtifactSet(*staging, set, config, model, model_acc, request.asset_files,
                     CheckOptionsFor(set, request, config, env));
  }
  // Last: the manifest vouches for everything written before it.
  WriteExportManifest(*staging, checkpoint);
  staging->Publish();
  spdlog::info("exported to {}", staging->export_dir());
}

}  // namespace tzrec::exporting
