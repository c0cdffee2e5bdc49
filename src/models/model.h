// A model built from pipeline.config: one TorchScript module tree used for
// training, evaluation, prediction and export alike.
//
// The root module has forward(data: Dict[str, Tensor]) -> Dict[str, Tensor]
// (inputs `<feature>.values` / `.lengths` / `.weights`, outputs such as
// `logits` and `probs`). Saving the root gives scripted_model.pt.
//
// Parameter names follow upstream's state dict ("model." + module path), e.g.
// model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.<table>.weight
// and model.deep_mlp.mlp.0.perceptron.0.weight.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <torch/script.h>

#include "config/protos/pipeline.pb.h"
#include "features/feature.h"
#include "models/modules/embedding_group.h"

namespace tzrec::models {

using TensorMap = std::unordered_map<std::string, at::Tensor>;

// Prefix of every state-dict name, as upstream's TrainWrapper adds it.
inline constexpr char kStatePrefix[] = "model.";

struct ModelBuildOptions {
  // Pooled tables: FP32 for training; other forms for export (QUANT_EMB).
  TableStorage table_storage = TableStorage::kFp32;
  // Sequence-group tables (QUANT_EC_EMB).
  TableStorage sequence_table_storage = TableStorage::kFp32;
  // The model reads looked-up embeddings instead of ids and has no tables
  // (the distributed-embedding export's dense graph); see embedding_group.h
  // for the inputs ("<feature>__ebc", "<feature>__ec" + "<feature>__lengths").
  bool embedded_inputs = false;
  // Tables left uninitialised: the caller restores every tensor (export).
  bool tables_restored_later = false;
  // INPUT_TILE=3: user-side sparse features arrive once per request and are
  // looked up once; their embeddings are tiled to data["batch_size"] rows.
  bool tile_user_embeddings = false;
};

// The embedding-group options `options` implies (wide settings are the
// builder's to add).
EmbeddingGroupOptions GroupOptions(const ModelBuildOptions& options);

// One prediction head: which outputs it writes, the label it learns and how it
// is scored. Rank models have one task with an empty suffix; multi-task models
// have one per tower, suffixed "_<tower>".
struct Task {
  std::string suffix;
  std::string label_name;
  int num_class = 1;
  std::vector<protos::LossConfig> losses;
  std::vector<protos::MetricConfig> metrics;
  // The task's outputs exist in training mode only (rocket_launching's
  // booster net): its losses count in training only and it has no eval metrics.
  bool training_only = false;
};

// Losses a model adds to its tasks' in training (upstream's model-specific
// terms, e.g. rocket_launching's distillation), by name, from training-mode
// predictions and the batch's sample weight column (undefined when none).
using TrainingLossFn = std::function<std::map<std::string, at::Tensor>(
    const c10::Dict<std::string, at::Tensor>& predictions, const at::Tensor& sample_weight)>;

class Model {
 public:
  Model(std::string type, torch::jit::Module module, std::vector<Task> tasks,
        std::vector<std::string> output_names, std::vector<std::string> table_names,
        TableStorage table_storage);

  // The oneof name of the model config: "deepfm", ...
  const std::string& type() const { return type_; }
  torch::jit::Module& module() { return module_; }
  const std::vector<Task>& tasks() const { return tasks_; }
  // Names of forward's outputs, in order.
  const std::vector<std::string>& output_names() const { return output_names_; }

  // Runs forward. Missing inputs are an error naming the input.
  c10::Dict<std::string, at::Tensor> Forward(const TensorMap& inputs);
  c10::Dict<std::string, at::Tensor> Forward(const c10::Dict<std::string, at::Tensor>& inputs);

  // Training mode: dropout active, batch norm uses and updates batch stats.
  void SetTraining(bool training);
  bool training() const { return module_.is_training(); }

  // The model's own training losses (see TrainingLossFn); empty for models
  // without them.
  void SetTrainingLosses(TrainingLossFn losses) { training_losses_ = std::move(losses); }
  std::map<std::string, at::Tensor> TrainingLosses(const c10::Dict<std::string, at::Tensor>& predictions,
                                                   const at::Tensor& sample_weight) const {
    if (!training_losses_) return {};
    return training_losses_(predictions, sample_weight);
  }

  // Trainable parameters by state-dict name, split like upstream's optimizers:
  // embedding tables (sparse gradients) and everything else.
  std::vector<std::pair<std::string, at::Tensor>> SparseParameters() const;
  std::vector<std::pair<std::string, at::Tensor>> DenseParameters() const;

  // Parameters and buffers by state-dict name, in module order. Tensors are
  // the live ones (not copies).
  std::vector<std::pair<std::string, at::Tensor>> StateDict() const;

  // Copies `state` into the model. Every tensor of the model must be present
  // with its shape (an error names the tensor and `source`); extra entries are
  // ignored. FP32 tables load into FP16/quantized tables by packing them.
  void LoadStateDict(const TensorMap& state, const std::string& source);
  // The same, one tensor at a time: `lookup` returns the tensor of a name (an
  // undefined tensor when absent) and `loaded` (optional) is told after each
  // one is copied, so a caller reading from a file can drop its pages: peak
  // memory is then the model plus one tensor.
  using TensorLookup = std::function<at::Tensor(const std::string& name)>;
  void LoadStateDict(const TensorLookup& lookup, const std::string& source,
                     const std::function<void(const std::string& name)>& loaded = nullptr);

  // Storage of the table `name` (state-dict name) when it differs from the
  // model's table_storage (sequence tables under QUANT_EC_EMB).
  void SetTableStorage(const std::string& name, TableStorage storage);
  // Applies layout.table_storage to the tables under `prefix` ("model." +
  // the group module's path + ".").
  void SetTableStorages(const EmbeddingGroupLayout& layout, const std::string& prefix);

  // Saves the root module as TorchScript (scripted_model.pt).
  void SaveScripted(const std::string& path) const;

 private:
  bool IsTable(const std::string& name) const;

  std::string type_;
  torch::jit::Module module_;
  std::vector<Task> tasks_;
  std::vector<std::string> output_names_;
  std::vector<std::string> table_names_;  // state-dict names of table weights
  TableStorage table_storage_;
  std::map<std::string, TableStorage> table_storage_by_name_;
  TrainingLossFn training_losses_;
};

// What a model builder sees.
struct ModelContext {
  const protos::EasyRecConfig& config;
  const std::vector<const Feature*>& features;
  ModelBuildOptions options;
};

using ModelBuilder = std::unique_ptr<Model> (*)(const ModelContext& context);

// The embedding group of every feature group of the model config, with the
// context's options and the model's wide settings (wide_embedding_dim,
// wide_init_fn, where the model has them).
EmbeddingGroup BuildModelEmbeddingGroup(const ModelContext& context);

// Model types with a builder, keyed by the model_config oneof name.
const std::map<std::string, ModelBuilder>& ModelBuilders();

// Builds config.model_config's model. ConfigError when the type is unset or
// has no builder (the message lists the supported types).
std::unique_ptr<Model> BuildModel(const protos::EasyRecConfig& config,
                                  const std::vector<const Feature*>& features,
                                  const ModelBuildOptions& options = {});

}  // namespace tzrec::models
