// Checkpoints: model_dir/model.ckpt-<step>/ with
//   model/      parameters and buffers by upstream state-dict name
//               ("model.embedding_group.emb_impls.__BASE__.ebc...")
//   optimizer/  optimizer state in torchrec's names (train/train_checkpoint.h)
//   dense_ema/  (read only) EMA copies of the dense parameters
// each a torch.distributed.checkpoint directory (.metadata + .distcp files),
// as TorchEasyRec writes them: tzrec reads TorchEasyRec's checkpoints, and
// TorchEasyRec (dcp.load) reads tzrec's. tzrec's older layout, one
// state_dict.pt (a pickled Dict[str, Tensor]) per directory, is still read.
// <step> is the 0-based global step. docs/checkpoints.md has the details.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/dcp_writer.h"
#include "config/protos/train.pb.h"
#include "checkpoint/state_reader.h"
#include "models/model.h"

namespace tzrec::checkpoint {

inline constexpr char kCheckpointPrefix[] = "model.ckpt-";
inline constexpr char kModelSubdir[] = "model";
inline constexpr char kOptimizerSubdir[] = "optimizer";
inline constexpr char kDenseEmaSubdir[] = "dense_ema";
// TorchEasyRec's dumps of NVIDIA dynamic-embedding tables: not read.
inline constexpr char kDynamicEmbSubdir[] = "dynamicemb";

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// model_dir/model.ckpt-<step>
std::string CheckpointPath(const std::string& model_dir, int64_t step);

// The step of a checkpoint path (".../model.ckpt-1200" -> 1200); nullopt when
// the last component is not model.ckpt-<digits>.
std::optional<int64_t> CheckpointStep(const std::string& path);

// Checkpoint directories of model_dir as (step, path), by increasing step;
// staging directories of saves ("model.ckpt-<step>.tmp-<pid>") are not listed.
std::vector<std::pair<int64_t, std::string>> ListCheckpoints(const std::string& model_dir);

// Which checkpoint a job reads (latest, best): checkpoint_choice.h.

// Writes model.ckpt-<step> (replacing one of that step), complete or not at
// all: files go to "<checkpoint>.tmp-<pid>" renamed into place, and the
// staging directories of killed saves (their process gone) are removed
// first (common/staging.h). model/ holds
// `model_state`, optimizer/ `optimizer_state` (already in the checkpoint's
// names, see train/train_checkpoint.h). Then keeps only the newest
// `keep_checkpoint_max` checkpoints (0 keeps all). Returns the path.
std::string SaveCheckpoint(const std::string& model_dir, int64_t step, const NamedTensors& model_state,
                           const std::vector<DcpItem>& optimizer_state, uint32_t keep_checkpoint_max = 0);

// Removes all but the newest `keep` checkpoints (keep 0: none removed).
void PruneCheckpoints(const std::string& model_dir, uint32_t keep);

// A pickled Dict[str, Tensor] file, as torch.save writes it (the older
// layout's state_dict.pt; tests use it to build such checkpoints).
void WriteTensorFile(const std::string& path, const NamedTensors& tensors);

// The model tensors of a checkpoint, read lazily (state_reader.h); with
// `use_dense_ema`, the dense parameters saved in dense_ema/ replace the
// model's own (upstream's export_config.use_dense_ema). Error naming the
// checkpoint when it has no model/, or has dynamicemb/.
std::unique_ptr<StateReader> OpenModelState(const std::string& checkpoint_path, bool use_dense_ema = false);
// Every model tensor, read.
models::TensorMap ReadModelState(const std::string& checkpoint_path);
// The optimizer tensors by their checkpoint names; empty when there are none.
models::TensorMap ReadOptimizerState(const std::string& checkpoint_path);

// upstream's config_util.use_dense_ema: the eval or export config's own
// use_dense_ema when set, else whether the dense optimizer keeps an EMA.
template <typename EvalOrExportConfig>
bool UseDenseEma(const EvalOrExportConfig& config, const protos::TrainConfig& train_config) {
  return config.has_use_dense_ema() ? config.use_dense_ema() : train_config.dense_optimizer().has_ema();
}

struct RestoreOptions {
  bool use_dense_ema = false;
  // Tensors the model does not have are an error unless allowed (a match
  // model's tower restores only its own part of the checkpoint).
  bool allow_extra = false;
};

// Copies `state` into `model` one tensor at a time, dropping each tensor's
// file pages after it is copied (or packed into a quantized table), so memory
// holds the model plus one table. Errors name `source` and list every missing
// (and unless allowed, every extra) tensor; a shape mismatch names the
// tensor and both shapes.
void RestoreModel(models::Model& model, const StateReader& state, const std::string& source,
                  bool allow_extra);
void RestoreModel(models::Model& model, const std::string& checkpoint_path, const RestoreOptions& options = {});

}  // namespace tzrec::checkpoint
