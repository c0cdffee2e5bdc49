// Which checkpoint of a model_dir a job reads: one rule set for train
// (continue_train, fine_tune_checkpoint), eval, predict, export and remote
// export, following upstream's checkpoint_util.
//
// Latest: the model.ckpt-<step> directory with the largest step; a model_dir
// holding model/ (or optimizer/) directly is a checkpoint of step 0; a path
// that itself names a model.ckpt-<step> directory is used as is.
// Best (export_config.exporter_type "best"): the step whose
// best_exporter_metric (default "auc") is largest (metric_larger_is_better,
// the default) or smallest in the eval log (eval_log.h); on a tie the step
// first seen wins; a step logged twice takes its later value. No log, or a log
// without entries, falls back to latest (the reason says so). Where upstream
// crashes or guesses, tzrec reports: a metric absent from the log is an error
// listing the metrics there, and a best step whose directory is gone is an
// error naming it.
//
// The choice itself is a pure function of a listing of the model_dir (its
// subdirectory names and the eval log's text), so a remote model_dir is
// decided from its object listing exactly as a local one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/eval_log.h"
#include "config/protos/export.pb.h"

namespace tzrec::checkpoint {

struct CheckpointChoice {
  std::string path;
  int64_t step = 0;    // 0 when the directory name carries none (as upstream)
  std::string reason;  // one line for the log: why this checkpoint
};

// What the choice needs to know of a model_dir.
struct ModelDirListing {
  std::string model_dir;                    // joined with the names below into paths
  std::vector<std::string> subdirectories;  // names of the directories directly in it
  std::optional<std::string> eval_log;      // the eval log's text, when it has one
};

// The listing of a local model_dir (empty when it does not exist).
ModelDirListing ListModelDir(const std::string& model_dir);

// The checkpoint `rules` (exporter_type, best_exporter_metric,
// metric_larger_is_better) pick from `listing`; nullopt when it holds none.
// ConfigError for an exporter_type other than "latest" / "best".
std::optional<CheckpointChoice> ChooseFromListing(const ModelDirListing& listing,
                                                  const protos::ExportConfig& rules);

// The latest checkpoint of a local model_dir (or the checkpoint a path names).
std::optional<CheckpointChoice> LatestCheckpoint(const std::string& model_dir);

// The checkpoint an export restores: `checkpoint_path` when not empty (it
// must exist), else latest or best per export_config. An Error naming
// model_dir when there is no checkpoint at all.
CheckpointChoice ChooseCheckpoint(const std::string& model_dir, const protos::ExportConfig& export_config,
                                  const std::string& checkpoint_path);

}  // namespace tzrec::checkpoint
