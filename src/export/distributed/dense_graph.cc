#include "export/distributed/dense_graph.h"

#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "config/model_type.h"
#include "export/input_tile.h"
#include "export/script_module_file.h"
#include "models/model.h"
#include "models/modules/embedding_group.h"
#include "models/modules/jit_module.h"

namespace tzrec::exporting::distributed {

namespace {

// Rank models keep their embedding group at model.embedding_group.
constexpr char kGroupPrefix[] = "model.embedding_group.";

// Rows of the export-time check batch.
constexpr int64_t kCheckRows = 2;

const Feature* FindFeature(const std::vector<const Feature*>& features, const std::string& name) {
  for (const Feature* f : features) {
    if (f->name() == name) return f;
  }
  return nullptr;
}

// The inputs that arrive with one row under INPUT_TILE=3: the user side.
TiledInputs UserSideInputs(const std::vector<SparseInput>& inputs,
                           const std::vector<models::EmbeddedInput>& embedded,
                           const std::vector<const Feature*>& features) {
  TiledInputs tiled;
  std::set<std::string> done;
  for (const models::EmbeddedInput& input : embedded) {
    const Feature* feature = FindFeature(features, input.feature);
    if (feature == nullptr || !feature->is_user_feature() || !done.insert(input.key).second) continue;
    // [rows, dim] embeddings repeat as rows; lengths as 1-D.
    tiled.dense.push_back(input.key);
    if (input.jagged) tiled.sparse.push_back(input.lengths_key);
  }
  for (const Feature* feature : features) {
    if (feature->is_user_feature() && feature->is_dense()) tiled.dense.push_back(feature->values_key());
  }
  return tiled;
}

// A zero batch of every input the graph reads.
c10::Dict<std::string, at::Tensor> CheckBatch(const std::vector<models::EmbeddedInput>& embedded,
                                              const std::vector<const Feature*>& features) {
  c10::Dict<std::string, at::Tensor> batch;
  for (const models::EmbeddedInput& input : embedded) {
    batch.insert(input.key, at::zeros({kCheckRows, input.dim}));
    if (input.jagged) batch.insert(input.lengths_key, at::ones({kCheckRows}, at::kLong));
  }
  for (const Feature* feature : features) {
    if (!feature->is_dense()) continue;
    batch.insert(feature->values_key(), at::zeros({kCheckRows, static_cast<int64_t>(feature->value_dim())}));
    if (feature->is_sequence()) batch.insert(feature->lengths_key(), at::ones({kCheckRows}, at::kLong));
  }
  // Every input carries all rows: no tiling (batch_size 1), as predict runs it.
  batch.insert("batch_size", at::scalar_tensor(1, at::kLong));
  return batch;
}

std::vector<models::EmbeddedInput> EmbeddedInputs(const protos::EasyRecConfig& config,
                                                  const std::vector<const Feature*>& features) {
  models::EmbeddingGroupOptions options;
  options.wide_embedding_dim = WideEmbeddingDim(config.model_config());
  options.embedded_inputs = true;
  return models::BuildEmbeddingGroup(features, config.model_config().feature_groups(), options)
      .layout.embedded_inputs;
}

}  // namespace

std::vector<SparseInput> DenseGraphInputs(const protos::EasyRecConfig& config,
                                          const std::vector<const Feature*>& features) {
  std::vector<SparseInput> inputs;
  for (const models::EmbeddedInput& e : EmbeddedInputs(config, features)) {
    SparseInput input;
    input.key = e.key;
    input.state_name = kGroupPrefix + e.table_path;
    input.dim = e.dim;
    input.jagged = e.jagged;
    input.pooling = e.pooling;
    inputs.push_back(std::move(input));
  }
  return inputs;
}

nlohmann::ordered_json DenseMeta(const std::vector<SparseInput>& inputs) {
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  meta["sequence__ec"] = nlohmann::ordered_json::array();
  std::set<std::string> seen;
  for (const SparseInput& input : inputs) {
    if (!seen.insert(input.key).second) continue;
    if (input.jagged) {
      const std::string key = input.key.substr(0, input.key.size() - std::string("__ec").size());
      meta["sequence__ec"].push_back(input.key);
      meta["sequence__ec"].push_back(key + "__lengths");
    } else {
      meta[input.key] = nlohmann::ordered_json::array({input.key});
    }
  }
  return meta;
}

std::vector<std::string> WriteDenseGraph(const protos::EasyRecConfig& config,
                                         const std::vector<const Feature*>& features,
                                         const std::vector<SparseInput>& inputs,
                                         const checkpoint::StateReader& checkpoint,
                                         const std::string& path) {
  models::ModelBuildOptions options;
  options.embedded_inputs = true;
  std::unique_ptr<models::Model> model = models::BuildModel(config, features, options);

  // Only the dense weights: tables stay in the checkpoint.
  models::TensorMap state;
  for (const auto& [name, tensor] : model->StateDict()) {
    if (checkpoint.Find(name) == nullptr) {
      Fail("checkpoint {}: tensor {} is missing", checkpoint.path(), name);
    }
    state[name] = checkpoint.Read(name);
  }
  model->LoadStateDict(state, "checkpoint " + checkpoint.path());
  model->SetTraining(false);

  const std::vector<models::EmbeddedInput> embedded = EmbeddedInputs(config, features);
  torch::jit::Module graph = WrapWithInputTile(model->module(), UserSideInputs(inputs, embedded, features));
  graph.eval();
  try {
    at::NoGradGuard no_grad;
    models::ForwardDict(graph, CheckBatch(embedded, features));
  } catch (const c10::Error& e) {
    const std::string message = e.what_without_backtrace();
    Fail("the dense graph does not run on a check batch: {}", message.substr(0, message.find('\n')));
  }
  SaveScriptModule(graph, path);
  spdlog::info("dense graph: {} embedding inputs, {} dense parameters", inputs.size(), state.size());
  return model->output_names();
}

}  // namespace tzrec::exporting::distributed
