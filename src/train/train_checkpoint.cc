#include "train/train_checkpoint.h"

#include <memory>

#include "checkpoint/checkpoint.h"
#include "checkpoint/state_reader.h"
#include "common/error.h"

namespace tzrec::train {

namespace {

// torchrec's optimizer state dict is {"state": {param: {slot: tensor}}};
// flattened, a slot is "state.<param>.<slot>". A fused (sparse) optimizer
// names its slots "<table>.<name>", the table being the weight's module.
constexpr char kStatePrefix[] = "state.";

std::string TableOf(const std::string& weight) {
  const std::string module = weight.substr(0, weight.rfind('.'));
  return module.substr(module.rfind('.') + 1);
}

struct CheckpointSlot {
  std::string param;
  std::string slot;       // tzrec's slot name
  std::string saved_key;  // the key torchrec uses under state.<param>.
};

// Every state slot of `optimizer` with its checkpoint key.
std::vector<CheckpointSlot> SlotsOf(const Optimizer& optimizer, bool fused) {
  std::vector<CheckpointSlot> out;
  for (const auto& [param, tensor] : optimizer.parameters()) {
    const std::string prefix = param + ".";
    for (const auto& [key, value] : optimizer.state()) {
      if (key.compare(0, prefix.size(), prefix) != 0 || key.find('.', prefix.size()) != std::string::npos) continue;
      const std::string slot = key.substr(prefix.size());
      const std::string saved = optimizer.CheckpointSlotName(slot);
      out.push_back({param, slot, fused ? TableOf(param) + "." + saved : saved});
    }
  }
  return out;
}

// A checkpoint key "state.<param>.<saved>" back to tzrec's "<param>.<slot>"
// for the parameters of `optimizer`.
void CollectSlots(const Optimizer& optimizer, bool fused, const checkpoint::StateReader& reader,
                  models::TensorMap& out) {
  for (const auto& [param, tensor] : optimizer.parameters()) {
    const std::string prefix = kStatePrefix + param + ".";
    for (const checkpoint::TensorEntry& entry : reader.entries()) {
      if (entry.name.compare(0, prefix.size(), prefix) != 0) continue;
      std::string saved = entry.name.substr(prefix.size());
      if (fused) {
        const std::string table = TableOf(param) + ".";
        if (saved.compare(0, table.size(), table) != 0) continue;
        saved = saved.substr(table.size());
      }
      if (saved.find('.') != std::string::npos) continue;
      out[param + "." + optimizer.SlotFromCheckpointName(saved)] = reader.Read(entry.name);
    }
  }
}

}  // namespace

std::string SaveTrainCheckpoint(const std::string& model_dir, int64_t step, Trainer& trainer,
                                uint32_t keep_checkpoint_max) {
  std::vector<checkpoint::DcpItem> optimizer;
  const models::TensorMap state = trainer.OptimizerState();
  for (const auto& [optimizer_of, fused] :
       {std::pair<Optimizer*, bool>{&trainer.sparse_optimizer(), true}, {&trainer.dense_optimizer(), false}}) {
    for (const CheckpointSlot& s : SlotsOf(*optimizer_of, fused)) {
      optimizer.push_back({kStatePrefix + s.param + "." + s.saved_key, {"state", s.param, s.saved_key},
                           state.at(s.param + "." + s.slot), {}, {}});
    }
  }
  return checkpoint::SaveCheckpoint(model_dir, step, trainer.model().StateDict(), optimizer, keep_checkpoint_max);
}

int64_t RestoreTrainCheckpoint(Trainer& trainer, const std::string& checkpoint_path,
                               bool restore_optimizer) {
  checkpoint::RestoreModel(trainer.model(), checkpoint_path);
  if (restore_optimizer) {
    const std::unique_ptr<checkpoint::StateReader> reader =
        checkpoint::OpenStateDir(checkpoint_path, checkpoint::kOptimizerSubdir);
    models::TensorMap state;
    if (reader) {
      // tzrec's older state_dict.pt layout stores "<param>.<slot>" as is.
      for (const checkpoint::TensorEntry& entry : reader->entries()) {
        if (entry.name.rfind(kStatePrefix, 0) != 0) state[entry.name] = reader->Read(entry.name);
      }
      CollectSlots(trainer.sparse_optimizer(), true, *reader, state);
      CollectSlots(trainer.dense_optimizer(), false, *reader, state);
    }
    trainer.LoadOptimizerState(state, "checkpoint " + checkpoint_path);
  }
  auto step = checkpoint::CheckpointStep(checkpoint_path);
  return step ? *step : 0;
}

}  // namespace tzrec::train
