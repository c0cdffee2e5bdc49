// The FG engine: fg.json + a batch of raw text rows -> a FeatureBatch of model
// inputs. It reads nothing but fg.json, so serving (which has only the export
// dir) and training run the very same code.
//
//   FgEngine engine = FgEngine::FromFile("export/fg.json", {});
//   FeatureBatch out = engine.Process(input_batch);
//
// Modes (data_config.fg_mode):
//   kFg (FG_DAG, FG_NORMAL): columns are raw values named by the fg.json
//       expressions ("user:age" reads column "age"; a grouped sequence's
//       per-element inputs read "<sequence_name>__<name>").
//   kEncoded (FG_NONE): columns are already-encoded features named after the
//       features; ids/floats joined by fg_encoded_multival_sep (default \x03),
//       sequence elements by the sequence_delim; weighted ids as "id:weight".
//
// Bad values (a malformed number, an id out of range) either throw tzrec::Error
// naming the row's origin, feature and value, or, with skip_bad_rows, drop the
// row and list it in FeatureBatch::skipped_rows.
//
// An engine holds per-call scratch: use one engine per thread.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "features/fg/feature_batch.h"
#include "features/fg/fg_spec.h"
#include "features/fg/hash_bucket.h"
#include "features/fg/input_batch.h"

namespace tzrec::fg {

enum class FgMode { kFg, kEncoded };

struct FgEngineOptions {
  FgMode mode = FgMode::kFg;
  char fg_encoded_multival_sep = '\x03';
  // FG_NONE only: per-feature fg_encoded_default_value (from the feature
  // configs) used for empty cells; without one an empty sparse cell has no ids,
  // an empty dense cell is an error.
  std::unordered_map<std::string, std::string> fg_encoded_defaults;
  bool skip_bad_rows = false;
  HashKind hash_kind = HashKindFromEnv();
};

class FeatureTransform;

class FgEngine {
 public:
  FgEngine(std::vector<FeatureSpec> specs, FgEngineOptions options);
  static FgEngine FromFile(const std::string& fg_json_path, FgEngineOptions options);
  ~FgEngine();
  FgEngine(FgEngine&&) noexcept;
  FgEngine& operator=(FgEngine&&) noexcept;

  const FgEngineOptions& options() const { return options_; }
  const std::vector<FeatureSpec>& specs() const { return specs_; }
  // Names of the model-input features (stub features excluded), fg.json order.
  std::vector<std::string> output_names() const;
  // Columns Process reads.
  const std::vector<std::string>& input_columns() const { return input_columns_; }
  // Those of input_columns() Process also takes as numbers
  // (InputBatch::numeric_columns): FG_NONE's scalar features, one id or one
  // float per row, unweighted.
  const std::vector<std::string>& numeric_columns() const { return numeric_columns_; }

  FeatureBatch Process(const InputBatch& batch) const;
  // Same, reusing `out`'s memory (cheaper for a stream of batches).
  void Process(const InputBatch& batch, FeatureBatch* out) const;

 private:
  void ProcessFg(const InputBatch& batch, FeatureBatch& out) const;
  void ProcessEncoded(const InputBatch& batch, FeatureBatch& out) const;

  std::vector<FeatureSpec> specs_;
  FgEngineOptions options_;
  std::vector<std::string> input_columns_;
  std::vector<std::string> numeric_columns_;
  struct Plan;
  std::unique_ptr<Plan> plan_;
};

}  // namespace tzrec::fg
