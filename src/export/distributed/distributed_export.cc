#include "export/distributed/distributed_export.h"

#include <filesystem>

#include <spdlog/spdlog.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/state_reader.h"
#include "common/error.h"
#include "config/model_type.h"
#include "config/pipeline_config.h"
#include "export/distributed/dense_graph.h"
#include "export/distributed/sparse_tables.h"
#include "export/export_manifest.h"
#include "export/export_staging.h"
#include "export/exported_config.h"
#include "features/export_features.h"
#include "features/fg_json.h"
#include "features/python_json.h"

namespace tzrec::exporting::distributed {

namespace fs = std::filesystem;

void CheckDistributedExportable(const protos::EasyRecConfig& config) {
  const std::string type = ModelType(config.model_config());
  const ModelFamily family = FamilyOf(type);
  if (family == ModelFamily::kMatch || family == ModelFamily::kTdm) {
    FailConfig("USE_DISTRIBUTED_EMBEDDING=1 does not support {} models (model_config.{}): their "
               "export is split per tower; unset USE_DISTRIBUTED_EMBEDDING",
               ModelFamilyName(family), type);
  }
}

int ResolveNumShards(int flag, const EnvLookup& env) {
  if (flag > 0) return flag;
  const std::optional<std::string> value = env(kNumShardsEnv);
  if (!value || value->empty()) return 1;
  char* end = nullptr;
  const long long n = std::strtoll(value->c_str(), &end, 10);
  if (*end != '\0' || n < 1 || n > 9999) {
    FailConfig("{}={:?} is not a number of shards (1 to 9999)", kNumShardsEnv, *value);
  }
  return static_cast<int>(n);
}

void ExportDistributedEmbedding(const DistributedExportRequest& request,
                                const protos::EasyRecConfig& config,
                                const std::vector<const Feature*>& features, const ExportEnv& env,
                                const nlohmann::ordered_json& model_acc,
                                const checkpoint::CheckpointChoice& checkpoint, const EnvLookup& env_lookup) {
  CheckDistributedExportable(config);
  SparseExportOptions sparse_options;
  sparse_options.quant_int8 = env.dist_quant_int8;
  sparse_options.num_shards = ResolveNumShards(request.num_shards, env_lookup);

  // Everything that can be refused is checked before the staging directory
  // exists: the plan against the checkpoint's index (no table is read).
  const std::vector<ExportFeatureSet> sets = ExportFeatureSets(config.model_config(), features);
  const std::vector<const Feature*>& exported = sets.front().features;
  const std::vector<SparseInput> inputs = DenseGraphInputs(config, features);
  const SparsePlan plan = PlanSparseTables(inputs);
  const std::unique_ptr<checkpoint::StateReader> state = checkpoint::OpenModelState(
      checkpoint.path, checkpoint::UseDenseEma(config.export_config(), config.train_config()));
  const checkpoint::StateReader& reader = *state;
  CheckSparseTables(plan, reader, sparse_options);
  spdlog::info("distributed-embedding export: {} tables in {} shard(s){}", plan.tables.size(),
               sparse_options.num_shards, sparse_options.quant_int8 ? ", DIST_QUANT=INT8" : "");

  std::unique_ptr<ExportStaging> staging = ExportStaging::Begin(request.export_dir);
  const std::vector<std::string> outputs =
      WriteDenseGraph(config, features, inputs, reader, staging->LocalPath("scripted_model.pt"));
  std::string output_list;
  for (const auto& name : outputs) output_list += (output_list.empty() ? "" : ", ") + name;
  spdlog::info("scripted_model.pt (dense graph) outputs: {}", output_list);
  staging->WriteFile("dense_meta.json", DumpPythonJson(DenseMeta(inputs)));

  WriteSparseTables(plan, reader, staging->LocalDir("sparse"), sparse_options);

  const std::string local_dir = staging->LocalDir("");
  const protos::EasyRecConfig exported_config =
      ExportedPipelineConfig(config, exported, local_dir, staging->FinalPath(""));
  staging->WriteFile("pipeline.config", PipelineConfigToText(exported_config));
  FgJsonOptions fg_options;
  fg_options.asset_dir = local_dir;
  staging->WriteFile("fg.json", DumpPythonJson(CreateFgJson(exported, fg_options)));
  staging->WriteFile("model_acc.json", DumpPythonJson(model_acc));
  for (const std::string& asset : request.asset_files) {
    staging->CopyFile(asset, fs::path(asset).filename().string());
  }
  // Last: the manifest vouches for everything written before it (it hashes
  // the shards too, reading them once more).
  WriteExportManifest(*staging, checkpoint);
  staging->Publish();
  spdlog::info("exported to {}", staging->export_dir());
}

}  // namespace tzrec::exporting::distributed
