#include "export/model_export.h"

#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "config/model_type.h"
#include "checkpoint/checkpoint.h"
#include "export/input_tile.h"
#include "export/script_module_file.h"
#include "models/match_model.h"
#include "models/model.h"

namespace tzrec::exporting {

struct ModelExporter::State {
  const protos::EasyRecConfig& config;
  const std::vector<const Feature*>& features;
  checkpoint::CheckpointChoice checkpoint;
  models::TableStorage pooled_storage = models::TableStorage::kFp32;
  models::TableStorage sequence_storage = models::TableStorage::kFp32;
  int input_tile = 0;
  // The checkpoint's model tensors, read one at a time while restoring.
  std::unique_ptr<checkpoint::StateReader> reader;
};

namespace {

// The storage of tables for QUANT_EMB (pooled) or QUANT_EC_EMB (sequence).
models::TableStorage TableStorageFor(const std::optional<models::TableStorage>& quant) {
  return quant.value_or(models::TableStorage::kFp32);
}

}  // namespace

ModelExporter::ModelExporter(const protos::EasyRecConfig& config,
                             const std::vector<const Feature*>& features, const ExportEnv& env,
                             const checkpoint::CheckpointChoice& checkpoint)
    : state_(new State{config, features, checkpoint}) {
  state_->pooled_storage = TableStorageFor(env.quant_emb);
  state_->sequence_storage = TableStorageFor(env.quant_ec_emb);
  state_->input_tile = env.input_tile;
  spdlog::info("pooled embedding tables: {}{}", models::TableStorageName(state_->pooled_storage),
               env.quant_emb ? "" : " (QUANT_EMB=0)");
  if (env.quant_ec_emb) {
    spdlog::info("sequence embedding tables: {} (QUANT_EC_EMB)", models::TableStorageName(*env.quant_ec_emb));
  }
  state_->reader = checkpoint::OpenModelState(
      checkpoint.path, checkpoint::UseDenseEma(config.export_config(), config.train_config()));
}

ModelExporter::~ModelExporter() = default;

ModelExporter::Written ModelExporter::Write(const ExportFeatureSet& set,
                                              const std::string& path) const {
  models::ModelBuildOptions options;
  options.table_storage = state_->pooled_storage;
  options.tables_restored_later = true;  // every tensor comes from the checkpoint
  options.sequence_table_storage = state_->sequence_storage;
  options.tile_user_embeddings = state_->input_tile == 3;
  std::unique_ptr<models::Model> model;
  const std::string type = ModelType(state_->config.model_config());
  if (set.subdir.empty()) {
    model = models::BuildModel(state_->config, state_->features, options);
  } else if (FamilyOf(type) == ModelFamily::kMatch) {
    // user/ and item/: one tower each, with the full model's state-dict names.
    model = models::BuildMatchTower(state_->config, state_->features, set.subdir, options);
  } else {
    FailConfig("model_config.{}: exporting its \"{}\" part is not available in tzrec yet", type,
               set.subdir);
  }
  // Streamed: memory holds the exported model plus one FP32 table rather than
  // the whole checkpoint. A tower takes its part of the checkpoint.
  checkpoint::RestoreModel(*model, *state_->reader, "checkpoint " + state_->checkpoint.path,
                           /*allow_extra=*/!set.subdir.empty());
  model->SetTraining(false);
  // Nothing trains a served model: without requires_grad, libtorch runs the
  // forward-only embedding bag (no backward bookkeeping per lookup; FP32
  // batch-1 latency 0.37 -> 0.30-0.35 ms on the benchmark DeepFM).
  for (const at::Tensor& parameter : model->module().parameters()) parameter.set_requires_grad(false);
  if (state_->input_tile == 0) {
    SaveScriptModule(model->module(), path);
    return {model->output_names(), false};
  }
  const TiledInputs tiled = UserTiledInputs(set.features);
  if (tiled.sparse.empty() && tiled.dense.empty() && !set.subdir.empty()) {
    // A match tower without user-side inputs (the item tower): nothing to tile.
    SaveScriptModule(model->module(), path);
    return {model->output_names(), false};
  }
  spdlog::info("INPUT_TILE={}: {} user-side input(s) arrive with batch 1", state_->input_tile,
               tiled.sparse.size() + tiled.dense.size());
  torch::jit::Module wrapper =
      WrapWithInputTile(model->module(), WrapperTiledInputs(tiled, state_->input_tile));
  wrapper.eval();
  SaveScriptModule(wrapper, path);
  return {model->output_names(), true};
}

}  // namespace tzrec::exporting
