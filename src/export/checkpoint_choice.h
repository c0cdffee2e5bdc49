// Which checkpoint an export restores, following upstream's checkpoint_util:
//   - --checkpoint_path, when given, as is;
//   - else export_config.exporter_type "latest" (the default): the
//     model.ckpt-<step> directory of model_dir with the largest step;
//   - or "best": the step whose best_exporter_metric (default "auc") is the
//     largest (metric_larger_is_better, the default) or smallest in
//     model_dir/train_eval_result_v2.txt; on a tie the step first seen in the
//     log wins. No log, or a log without entries, falls back to latest.
// Where upstream crashes or guesses, tzrec reports: a metric absent from the
// log is an error listing the metrics that are there, and a best step whose
// checkpoint directory is gone is an error naming the directory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/protos/export.pb.h"
#include "train/eval_log.h"

namespace tzrec::exporting {

// model_dir/train_eval_result_v2.txt, written by train_eval.
inline constexpr const char* kEvalLogFileName = train::kEvalResultFile;

// One line of the eval log: {"global_step": N, "<metric>": value, ...}.
struct EvalRecord {
  int64_t global_step = 0;
  int line = 0;                    // 1-based line in the file
  nlohmann::ordered_json metrics;  // the other keys, in file order
};

// Reads an eval log. Blank lines are skipped; a line that is not a JSON object
// with an integer global_step is an Error naming the file and line.
std::vector<EvalRecord> ReadEvalLog(const std::string& path);

// The step in a checkpoint path: ".../model.ckpt-1200" -> 1200; 0 when the
// name carries none (as upstream).
int64_t CheckpointStep(const std::string& path);

struct CheckpointChoice {
  std::string path;
  int64_t step = 0;
  std::string reason;  // one line for the log: why this checkpoint
};

// The latest checkpoint of `model_dir` (a path that already names a
// model.ckpt-<step> directory is used as is; a model_dir holding model/ or
// optimizer/ directly counts as step 0). nullopt when there is none.
std::optional<CheckpointChoice> LatestCheckpoint(const std::string& model_dir);

// The best checkpoint by the eval log, or the latest when the log is missing
// or empty (the reason says so). Errors as described above.
std::optional<CheckpointChoice> BestCheckpoint(const std::string& model_dir,
                                               const protos::ExportConfig& export_config);

// The checkpoint export restores: `checkpoint_path` when not empty (it must
// exist), else latest or best per export_config. An Error naming model_dir
// when there is no checkpoint at all; a ConfigError for an exporter_type other
// than "latest" / "best".
CheckpointChoice ChooseCheckpoint(const std::string& model_dir,
                                  const protos::ExportConfig& export_config,
                                  const std::string& checkpoint_path);

}  // namespace tzrec::exporting
