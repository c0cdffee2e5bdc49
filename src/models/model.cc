#include "models/model.h"

#include <algorithm>

#include "common/error.h"
#include "config/model_type.h"
#include "config/proto_fields.h"
#include "models/deep_fm.h"
#include "models/dbmtl.h"
#include "models/dc2vr.h"
#include "models/dcn_v1.h"
#include "models/dcn_v2.h"
#include "models/mmoe.h"
#include "models/pepnet.h"
#include "models/ple.h"
#include "models/rocket_launching.h"
#include "models/simple_multi_task.h"
#include "models/dlrm.h"
#include "models/dssm.h"
#include "models/dssm_v2.h"
#include "models/mind.h"
#include "models/dat.h"
#include "models/mask_net.h"
#include "models/multi_tower.h"
#include "models/multi_tower_din.h"
#include "models/wide_and_deep.h"
#include "models/xdeepfm.h"
#include "models/wukong.h"
#include "models/modules/jit_module.h"

namespace tzrec::models {

const std::map<std::string, ModelBuilder>& ModelBuilders() {
  // One line per model type, keyed by the model_config oneof name.
  static const std::map<std::string, ModelBuilder> builders = {
      {"deepfm", &BuildDeepFM},
      {"dbmtl", &BuildDBMTL},
      {"dc2vr", &BuildDC2VR},
      {"dcn_v1", &BuildDCNV1},
      {"dcn_v2", &BuildDCNV2},
      {"mmoe", &BuildMMoEModel},
      {"pepnet", &BuildPEPNet},
      {"ple", &BuildPLE},
      {"rocket_launching", &BuildRocketLaunching},
      {"simple_multi_task", &BuildSimpleMultiTask},
      {"dlrm", &BuildDLRM},
      {"dssm", &BuildDSSM},
      {"dssm_v2", &BuildDSSMV2},
      {"mind", &BuildMIND},
      {"dat", &BuildDAT},
      {"mask_net", &BuildMaskNet},
      {"multi_tower", &BuildMultiTower},
      {"multi_tower_din", &BuildMultiTowerDIN},
      {"wide_and_deep", &BuildWideAndDeep},
      {"xdeepfm", &BuildXDeepFM},
      {"wukong", &BuildWuKong},
  };
  return builders;
}

EmbeddingGroupOptions GroupOptions(const ModelBuildOptions& options) {
  EmbeddingGroupOptions group;
  group.storage = options.table_storage;
  group.sequence_storage = options.sequence_table_storage;
  group.embedded_inputs = options.embedded_inputs;
  group.tables_restored_later = options.tables_restored_later;
  group.tile_user_embeddings = options.tile_user_embeddings;
  return group;
}

EmbeddingGroup BuildModelEmbeddingGroup(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  EmbeddingGroupOptions options = GroupOptions(context.options);
  options.wide_embedding_dim = WideEmbeddingDim(model_config);
  if (const google::protobuf::Message* model = ModelMessage(model_config)) {
    options.wide_init_fn = GetString(*model, "wide_init_fn");
  }
  return BuildEmbeddingGroup(context.features, model_config.feature_groups(), options);
}

std::unique_ptr<Model> BuildModel(const protos::EasyRecConfig& config,
                                  const std::vector<const Feature*>& features,
                                  const ModelBuildOptions& options) {
  const std::string type = ModelType(config.model_config());
  if (type.empty()) FailConfig("model_config: no model type is set");
  auto it = ModelBuilders().find(type);
  if (it == ModelBuilders().end()) {
    std::string known;
    for (const auto& [name, builder] : ModelBuilders()) known += (known.empty() ? "" : ", ") + name;
    FailConfig("model_config.{}: this model type cannot be built by tzrec yet (available: {})",
               type, known);
  }
  ModelContext context{config, features, options};
  return it->second(context);
}

Model::Model(std::string type, torch::jit::Module module, std::vector<Task> tasks,
             std::vector<std::string> output_names, std::vector<std::string> table_names,
             TableStorage table_storage)
    : type_(std::move(type)),
      module_(std::move(module)),
      tasks_(std::move(tasks)),
      output_names_(std::move(output_names)),
      table_names_(std::move(table_names)),
      table_storage_(table_storage) {}

c10::Dict<std::string, at::Tensor> Model::Forward(const TensorMap& inputs) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : inputs) dict.insert(name, tensor);
  return Forward(dict);
}

c10::Dict<std::string, at::Tensor> Model::Forward(const c10::Dict<std::string, at::Tensor>& inputs) {
  try {
    return ForwardDict(module_, inputs);
  } catch (const std::exception& e) {
    // The interpreter reports a missing dict key as "KeyError: <key>" at the
    // end of a TorchScript traceback; turn that into one line.
    std::string message = e.what();
    const std::string marker = "KeyError: ";
    auto key = message.rfind(marker);
    if (key != std::string::npos) {
      std::string name = message.substr(key + marker.size());
      name = name.substr(0, name.find('\n'));
      Fail("model input '{}' is missing from the batch", name);
    }
    throw;
  }
}

void Model::SetTraining(bool training) { module_.train(training); }

bool Model::IsTable(const std::string& name) const {
  return std::find(table_names_.begin(), table_names_.end(), name) != table_names_.end();
}

std::vector<std::pair<std::string, at::Tensor>> Model::SparseParameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : module_.named_parameters()) {
    std::string name = kStatePrefix + p.name;
    if (IsTable(name)) out.emplace_back(name, p.value);
  }
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> Model::DenseParameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : module_.named_parameters()) {
    std::string name = kStatePrefix + p.name;
    if (!IsTable(name)) out.emplace_back(name, p.value);
  }
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> Model::StateDict() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : module_.named_parameters()) out.emplace_back(kStatePrefix + p.name, p.value);
  for (const auto& b : module_.named_buffers()) out.emplace_back(kStatePrefix + b.name, b.value);
  return out;
}

void Model::SetTableStorage(const std::string& name, TableStorage storage) {
  table_storage_by_name_[name] = storage;
}

void Model::SetTableStorages(const EmbeddingGroupLayout& layout, const std::string& prefix) {
  for (const auto& [path, storage] : layout.table_storage) SetTableStorage(prefix + path, storage);
}

void Model::LoadStateDict(const TensorMap& state, const std::string& source) {
  LoadStateDict(
      [&state](const std::string& name) {
        auto it = state.find(name);
        return it == state.end() ? at::Tensor() : it->second;
      },
      source);
}

void Model::LoadStateDict(const TensorLookup& lookup, const std::string& source,
                          const std::function<void(const std::string& name)>& loaded) {
  at::NoGradGuard no_grad;
  for (auto& [name, target] : StateDict()) {
    const at::Tensor value = lookup(name);
    if (!value.defined()) Fail("{}: tensor {} is missing", source, name);
    auto own = table_storage_by_name_.find(name);
    const TableStorage storage = own != table_storage_by_name_.end() ? own->second : table_storage_;
    if (IsTable(name) && storage != TableStorage::kFp32) {
      // A quantized table is packed from the FP32 table the checkpoint holds.
      if (value.dim() != 2 || value.size(0) != target.size(0)) {
        Fail("{}: tensor {} has shape {}, expected [{}, dim]", source, name,
             c10::str(value.sizes()), target.size(0));
      }
      if (EmptyStoredTable(1, value.size(1), storage).size(1) != target.size(1)) {
        Fail("{}: tensor {} has shape {} which does not fit the model's table", source, name,
             c10::str(value.sizes()));
      }
      PackTableInto(value, storage, target);
      if (loaded) loaded(name);
      continue;
    }
    if (value.sizes() != target.sizes()) {
      Fail("{}: tensor {} has shape {}, expected {}", source, name, c10::str(value.sizes()),
           c10::str(target.sizes()));
    }
    target.copy_(value);
    if (loaded) loaded(name);
  }
}

void Model::SaveScripted(const std::string& path) const {
  try {
    module_.save(path);
  } catch (const c10::Error& e) {
    Fail("cannot save {}: {}", path, e.what_without_backtrace());
  }
}

}  // namespace tzrec::models
