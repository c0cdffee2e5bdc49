#include "export/export_env.h"

#include <cctype>
#include <cstdlib>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/error.h"

namespace tzrec::exporting {
namespace {

// Unset -> `unset`; "0" -> off; "1" -> INT8; a dtype name -> that dtype.
std::optional<models::TableStorage> ParseQuant(const EnvLookup& env, const std::string& variable,
                                     std::optional<models::TableStorage> unset) {
  const std::optional<std::string> value = env(variable);
  if (!value) return unset;
  if (*value == "0") return std::nullopt;
  if (*value == "1") return models::TableStorage::kInt8;
  if (std::optional<models::TableStorage> storage = models::TableStorageFromName(*value)) return storage;
  FailConfig("{}={:?} is not a valid quantization: use 0 (off), FP32, FP16, INT8, INT4 or INT2",
             variable, *value);
}

int ParseInputTile(const EnvLookup& env) {
  const std::optional<std::string> value = env("INPUT_TILE");
  if (!value || *value == "0") return 0;
  if (*value == "2") return 2;
  if (*value == "3") return 3;
  FailConfig("INPUT_TILE={:?} is not valid: use 2 (tile user features before embedding), "
             "3 (after embedding) or 0 / unset (no tiling)",
             *value);
}

// A variable naming a mode tzrec cannot export: unset or a value upstream
// reads as off is fine, anything else is refused.
void RefuseMode(const EnvLookup& env, const std::string& variable, const std::string& off_prefix,
                const char* what) {
  const std::optional<std::string> value = env(variable);
  if (!value || value->empty()) return;
  if (value->compare(0, off_prefix.size(), off_prefix) == 0) return;
  FailConfig("{}={:?} asks for {}, which tzrec does not support; unset it or set it to {}",
             variable, *value, what, off_prefix);
}

// USE_DISTRIBUTED_EMBEDDING and DIST_QUANT, as upstream's acc utils read them.
void ParseDistributedEmbedding(const EnvLookup& env, ExportEnv& result) {
  result.distributed_embedding = env("USE_DISTRIBUTED_EMBEDDING").value_or("0") == "1";
  if (!result.distributed_embedding) return;
  std::string quant = env("DIST_QUANT").value_or("");
  quant.erase(0, quant.find_first_not_of(" \t\n\r"));
  quant.erase(quant.find_last_not_of(" \t\n\r") + 1);
  for (char& c : quant) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (quant == "INT8") {
    result.dist_quant_int8 = true;
  } else if (!quant.empty() && quant != "0" && quant != "NONE") {
    FailConfig("DIST_QUANT={:?} is not supported: use INT8, or unset it (0 / NONE) for float rows",
               env("DIST_QUANT").value_or(""));
  }
  // The dense graph takes looked-up embeddings and tiles the user side after
  // the lookup: INPUT_TILE=3 whatever was asked.
  const std::optional<std::string> tile = env("INPUT_TILE");
  if (tile && *tile != "3") {
    spdlog::warn("USE_DISTRIBUTED_EMBEDDING=1 requires INPUT_TILE=3, got INPUT_TILE={}; using 3", *tile);
  }
  result.input_tile = 3;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

ExportEnv ReadExportEnv(const EnvLookup& env) {
  ExportEnv result;
  result.quant_emb = ParseQuant(env, "QUANT_EMB", models::TableStorage::kInt8);
  result.quant_ec_emb = ParseQuant(env, "QUANT_EC_EMB", std::nullopt);
  ParseDistributedEmbedding(env, result);
  if (!result.distributed_embedding) result.input_tile = ParseInputTile(env);
  // Upstream turns RTP on with exactly "1"; its export needs Alibaba's closed
  // RTP converter. The open sparse/dense split is the distributed-embedding export.
  if (env("USE_RTP").value_or("0") == "1") {
    FailConfig("USE_RTP=1 asks for an RTP export, which needs the closed RTP converter and "
               "tzrec does not write; unset it, or use USE_DISTRIBUTED_EMBEDDING=1 for the open "
               "sparse/dense split");
  }
  RefuseMode(env, "ENABLE_TRT", "0", "a TensorRT export");
  RefuseMode(env, "ENABLE_AOT", "0", "an AOTInductor export");
  RefuseMode(env, "UNIFIED_AOT", "0", "an AOTInductor export");
  if (const auto value = env("MAX_EXPORT_BATCH_SIZE")) {
    char* end = nullptr;
    const long long size = std::strtoll(value->c_str(), &end, 10);
    if (value->empty() || *end != '\0' || size <= 0) {
      FailConfig("MAX_EXPORT_BATCH_SIZE={:?} is not a positive integer", *value);
    }
    result.max_export_batch_size = size;
  }
  // Upstream's order of the copied variables.
  for (const char* name : {"INPUT_TILE", "QUANT_EMB", "QUANT_EC_EMB", "ENABLE_TRT",
                           "AOTI_AUTOTUNE_WITH_SAMPLE_INPUTS", "MAX_EXPORT_BATCH_SIZE"}) {
    if (const auto value = env(name)) result.acc_entries[name] = *value;
    if (result.distributed_embedding && std::string(name) == "INPUT_TILE") {
      result.acc_entries[name] = "3";
    }
    if (result.dist_quant_int8 && std::string(name) == "QUANT_EC_EMB") {
      result.acc_entries["DIST_QUANT"] = "INT8";
    }
  }
  return result;
}

nlohmann::ordered_json ModelAccJson(const ExportEnv& env,
                                    const nlohmann::ordered_json& additional_export_config) {
  nlohmann::ordered_json acc = nlohmann::ordered_json::object();
  // The scripted model takes int64 ids.
  acc["SPARSE_INT64"] = "1";
  for (const auto& [key, value] : env.acc_entries.items()) acc[key] = value;
  if (additional_export_config.is_object()) {
    for (const auto& [key, value] : additional_export_config.items()) acc[key] = value;
  }
  if (env.distributed_embedding) acc["DISTRIBUTED_EMBEDDING"] = "1";
  return acc;
}

nlohmann::ordered_json ParseAdditionalExportConfig(const std::string& text) {
  if (text.empty()) return nlohmann::ordered_json::object();
  nlohmann::ordered_json parsed;
  try {
    parsed = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    FailConfig("--additional_export_config is not valid JSON ({}): {}", e.what(), text);
  }
  if (!parsed.is_object()) {
    FailConfig("--additional_export_config must be a JSON object like {{\"key\": \"value\"}}, "
               "got: {}",
               text);
  }
  return parsed;
}

}  // namespace tzrec::exporting
