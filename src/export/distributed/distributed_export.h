// `USE_DISTRIBUTED_EMBEDDING=1 tzrec export`: the export for serving systems
// that keep embedding tables in a separate, distributed embedding store, as
// upstream's export_distributed_embedding writes it:
//
//   export_dir/
//     scripted_model.pt   the dense graph (dense_graph.h): embeddings in, outputs out
//     dense_meta.json     how its embedding inputs are assembled
//     sparse/             the tables as npz shards + json metadata (sparse_tables.h)
//     pipeline.config, fg.json, model_acc.json ("INPUT_TILE": "3",
//                         "DIST_QUANT": "INT8" when set, "DISTRIBUTED_EMBEDDING": "1"
//                         last), assets
//
// Tables are streamed from the checkpoint block by block
// (checkpoint::StateReader), so the largest table never has to fit in
// memory. Everything is written into the export's staging directory and
// published at the end: a failure publishes nothing.
//
// Match models (DSSM) are refused, as upstream refuses them for its
// single-graph dense exports: their towers are exported per directory.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/protos/pipeline.pb.h"
#include "checkpoint/checkpoint_choice.h"
#include "export/export_env.h"
#include "features/feature.h"

namespace tzrec::exporting::distributed {

// Environment variable giving the number of row shards when --num_shards is
// not given (tzrec's addition; upstream writes one shard).
inline constexpr char kNumShardsEnv[] = "DIST_NUM_SHARDS";

struct DistributedExportRequest {
  std::string export_dir;
  std::vector<std::string> asset_files;
  // 0: DIST_NUM_SHARDS, else 1.
  int num_shards = 0;
};

// ConfigError for a model the distributed export cannot split (match and TDM
// models), naming the model type.
void CheckDistributedExportable(const protos::EasyRecConfig& config);

// The number of shards: `flag` when > 0, else DIST_NUM_SHARDS, else 1.
// ConfigError for a value that is not a positive integer.
int ResolveNumShards(int flag, const EnvLookup& env);

// Runs the export (export_dir already checked not to exist). Throws on
// failure, leaving nothing at export_dir.
void ExportDistributedEmbedding(const DistributedExportRequest& request,
                                const protos::EasyRecConfig& config,
                                const std::vector<const Feature*>& features, const ExportEnv& env,
                                const nlohmann::ordered_json& model_acc,
                                const checkpoint::CheckpointChoice& checkpoint, const EnvLookup& env_lookup);

}  // namespace tzrec::exporting::distributed
