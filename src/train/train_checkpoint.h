// Checkpoints of a training run: the model and both optimizers' state in
// model_dir/model.ckpt-<step> (format in checkpoint/checkpoint.h).
#pragma once

#include <cstdint>
#include <string>

#include "train/trainer.h"

namespace tzrec::train {

// Saves model.ckpt-<step> and prunes to keep_checkpoint_max (0 keeps all).
std::string SaveTrainCheckpoint(const std::string& model_dir, int64_t step, Trainer& trainer,
                                uint32_t keep_checkpoint_max);

// Restores model and optimizer state from a checkpoint directory (for
// --continue_train / fine-tuning) and returns its step. Errors name a missing
// or misshapen tensor and the checkpoint.
int64_t RestoreTrainCheckpoint(Trainer& trainer, const std::string& checkpoint_path,
                               bool restore_optimizer = true);

}  // namespace tzrec::train
