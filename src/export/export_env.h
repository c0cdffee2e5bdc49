// Environment variables that steer export, read once and checked up front, as
// upstream's tzrec.acc.utils reads them:
//   QUANT_EMB     pooled (EmbeddingBagCollection) tables: unset -> INT8,
//                 "0" -> off, "1" -> INT8 (upstream's old spelling), else one
//                 of FP32 FP16 INT8 INT4 INT2;
//   QUANT_EC_EMB  sequence (EmbeddingCollection) tables, same values, unset ->
//                 off. Upstream quantizes them with QUANT_EMB's dtype; tzrec
//                 uses QUANT_EC_EMB's own;
//   INPUT_TILE    "2" / "3": user-side features arrive with batch size 1;
//   USE_DISTRIBUTED_EMBEDDING  "1": the distributed-embedding export (dense
//                 graph + sparse/ tables, export/distributed/); it always tiles
//                 user features after the lookup, so INPUT_TILE becomes "3"
//                 (another value is overridden with a warning, as upstream);
//                 any other value is off, as upstream reads it;
//   DIST_QUANT    with USE_DISTRIBUTED_EMBEDDING=1: unset, "", "0", "NONE" ->
//                 float rows; "INT8" -> rows quantized per row (case and
//                 surrounding blanks ignored, as upstream); else an error;
//   ENABLE_TRT, ENABLE_AOT: GPU export modes tzrec does not have; switching
//                 one on is an error rather than an export that silently lacks
//                 what was asked for.
// Any other value is a ConfigError naming the variable and the value.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "models/modules/table_storage.h"

namespace tzrec::exporting {


// Looks a variable up; nullopt when unset. Tests pass a map instead of the
// process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment.
EnvLookup ProcessEnv();

struct ExportEnv {
  // Pooled tables' storage; nullopt = not quantized (kept FP32 as trained).
  std::optional<models::TableStorage> quant_emb;
  // Sequence tables' storage; nullopt = not quantized.
  std::optional<models::TableStorage> quant_ec_emb;
  // 0 (no tiling), 2 or 3.
  int input_tile = 0;
  // USE_DISTRIBUTED_EMBEDDING=1, and its DIST_QUANT=INT8.
  bool distributed_embedding = false;
  bool dist_quant_int8 = false;
  // MAX_EXPORT_BATCH_SIZE: the most rows the export's check run feeds the
  // model; nullopt when unset.
  std::optional<int64_t> max_export_batch_size;
  // Variables copied verbatim into model_acc.json, in upstream's key order.
  nlohmann::ordered_json acc_entries = nlohmann::ordered_json::object();
};

// Reads and checks every export variable; ConfigError on a bad value.
ExportEnv ReadExportEnv(const EnvLookup& env);

// model_acc.json's content: {"SPARSE_INT64": "1"}, then the variables that are
// set (INPUT_TILE, QUANT_EMB, QUANT_EC_EMB, DIST_QUANT: "INT8" when on,
// ENABLE_TRT, AOTI_AUTOTUNE_WITH_SAMPLE_INPUTS, MAX_EXPORT_BATCH_SIZE), then
// `additional_export_config`'s keys merged in like Python's dict.update (an
// existing key keeps its place and takes the new value), then
// "DISTRIBUTED_EMBEDDING": "1" for a distributed-embedding export (last, so
// that additional_export_config cannot turn it off).
nlohmann::ordered_json ModelAccJson(const ExportEnv& env,
                                    const nlohmann::ordered_json& additional_export_config);

// Parses --additional_export_config: empty -> empty object; otherwise it must
// be a JSON object (ConfigError naming the flag otherwise).
nlohmann::ordered_json ParseAdditionalExportConfig(const std::string& text);

}  // namespace tzrec::exporting
