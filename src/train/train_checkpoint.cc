#include "train/train_checkpoint.h"

#include "checkpoint/checkpoint.h"
#include "common/error.h"

namespace tzrec::train {

std::string SaveTrainCheckpoint(const std::string& model_dir, int64_t step, Trainer& trainer,
                                uint32_t keep_checkpoint_max) {
  return checkpoint::SaveCheckpoint(model_dir, step, trainer.model().StateDict(),
                                    trainer.OptimizerState(), keep_checkpoint_max);
}

int64_t RestoreTrainCheckpoint(Trainer& trainer, const std::string& checkpoint_path,
                               bool restore_optimizer) {
  checkpoint::RestoreModel(trainer.model(), checkpoint_path);
  if (restore_optimizer) {
    trainer.LoadOptimizerState(checkpoint::ReadOptimizerState(checkpoint_path),
                               "checkpoint " + checkpoint_path);
  }
  auto step = checkpoint::CheckpointStep(checkpoint_path);
  return step ? *step : 0;
}

}  // namespace tzrec::train
