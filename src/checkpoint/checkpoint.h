// Checkpoints: model_dir/model.ckpt-<step>/ with
//   model/state_dict.pt      parameters and buffers by upstream state-dict name
//                            ("model.embedding_group.emb_impls.__BASE__.ebc...")
//   optimizer/state_dict.pt  optimizer slots by "<param>.<slot>"
// Each file is a pickled Dict[str, Tensor] in PyTorch's zip format, so stock
// PyTorch reads it with torch.load(path). <step> is the 0-based global step.
//
// (Upstream writes torch.distributed.checkpoint shards in the same two
// directories; reading those is a separate task, see DESIGN.md section 4.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/model.h"

namespace tzrec::checkpoint {

inline constexpr char kCheckpointPrefix[] = "model.ckpt-";
inline constexpr char kModelSubdir[] = "model";
inline constexpr char kOptimizerSubdir[] = "optimizer";
inline constexpr char kStateFile[] = "state_dict.pt";

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// model_dir/model.ckpt-<step>
std::string CheckpointPath(const std::string& model_dir, int64_t step);

// The step of a checkpoint path (".../model.ckpt-1200" -> 1200); nullopt when
// the last component is not model.ckpt-<digits>.
std::optional<int64_t> CheckpointStep(const std::string& path);

// Checkpoint directories of model_dir as (step, path), by increasing step.
std::vector<std::pair<int64_t, std::string>> ListCheckpoints(const std::string& model_dir);

// A path that already names a model.ckpt-<step> directory is returned as is;
// else the model.ckpt-* directory of `model_dir` with the largest step;
// nullopt when there is none.
std::optional<std::string> LatestCheckpoint(const std::string& model_dir);

// Writes model.ckpt-<step> (replacing one of that step), complete or not at
// all: files go to a temporary directory renamed into place. Then keeps only
// the newest `keep_checkpoint_max` checkpoints (0 keeps all). Returns the path.
std::string SaveCheckpoint(const std::string& model_dir, int64_t step, const NamedTensors& model_state,
                           const models::TensorMap& optimizer_state, uint32_t keep_checkpoint_max = 0);

// Removes all but the newest `keep` checkpoints (keep 0: none removed).
void PruneCheckpoints(const std::string& model_dir, uint32_t keep);

// Pickled Dict[str, Tensor] files, as torch.save / torch.load see them.
void WriteTensorFile(const std::string& path, const NamedTensors& tensors);
models::TensorMap ReadTensorFile(const std::string& path);

// The model tensors of a checkpoint directory. Error naming the file when it
// is missing or unreadable.
models::TensorMap ReadModelState(const std::string& checkpoint_path);
// The optimizer tensors; empty when the checkpoint has none.
models::TensorMap ReadOptimizerState(const std::string& checkpoint_path);

// Loads a checkpoint's model tensors into `model`; a tensor missing from the
// checkpoint or of the wrong shape is an error naming it and the checkpoint.
void RestoreModel(models::Model& model, const std::string& checkpoint_path);

}  // namespace tzrec::checkpoint
