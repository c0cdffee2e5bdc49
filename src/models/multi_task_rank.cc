#include "models/multi_task_rank.h"

#include <algorithm>
#include <set>

#include "common/error.h"
#include "config/model_type.h"
#include "models/modules/jit_module.h"
#include "models/modules/task_tower.h"
#include "models/rank_model.h"

namespace tzrec::models {
namespace {

// Fields TaskTower, BayesTaskTower and InterventionTaskTower share.
template <typename Tower>
TaskTowerSpec ReadCommon(const Tower& tower, const std::string& where) {
  TaskTowerSpec spec;
  spec.where = where;
  spec.name = tower.tower_name();
  spec.task.suffix = "_" + tower.tower_name();
  spec.task.label_name = tower.label_name();
  spec.task.num_class = static_cast<int>(tower.num_class());
  spec.task.losses.assign(tower.losses().begin(), tower.losses().end());
  spec.task.metrics.assign(tower.metrics().begin(), tower.metrics().end());
  if (tower.has_mlp()) spec.mlp = MlpFromProto(tower.mlp());
  spec.weighting.weight = tower.weight();
  spec.weighting.task_space_indicator_label = tower.task_space_indicator_label();
  spec.weighting.in_task_space_weight = tower.in_task_space_weight();
  spec.weighting.out_task_space_weight = tower.out_task_space_weight();
  return spec;
}

TaskTowerSpec ReadTower(const google::protobuf::Message& message, const std::string& where) {
  if (const auto* t = dynamic_cast<const protos::TaskTower*>(&message)) {
    TaskTowerSpec spec = ReadCommon(*t, where);
    spec.weighting.sample_weight_name = t->sample_weight_name();
    return spec;
  }
  if (const auto* t = dynamic_cast<const protos::BayesTaskTower*>(&message)) {
    TaskTowerSpec spec = ReadCommon(*t, where);
    spec.weighting.sample_weight_name = t->sample_weight_name();
    spec.relation_tower_names.assign(t->relation_tower_names().begin(),
                                     t->relation_tower_names().end());
    if (t->has_relation_mlp()) spec.relation_mlp = MlpFromProto(t->relation_mlp());
    return spec;
  }
  if (const auto* t = dynamic_cast<const protos::InterventionTaskTower*>(&message)) {
    return ReadCommon(*t, where);
  }
  FailConfig("{}: {} is not a task tower tzrec knows", where, message.GetTypeName());
}

}  // namespace

std::vector<TaskTowerSpec> ReadTaskTowers(const protos::EasyRecConfig& config) {
  const protos::ModelConfig& model_config = config.model_config();
  const std::string type = ModelType(model_config);
  const google::protobuf::Message* model = ModelMessage(model_config);
  const std::string where = "model_config." + type + ".task_towers";
  const auto* field = model ? model->GetDescriptor()->FindFieldByName("task_towers") : nullptr;
  if (field == nullptr || !field->is_repeated() ||
      field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
    FailConfig("model_config.{}: not a multi-task model (it has no task_towers)", type);
  }
  const auto* reflection = model->GetReflection();
  const int count = reflection->FieldSize(*model, field);
  if (count == 0) FailConfig("{}: a multi-task model needs at least one task tower", where);

  const auto& labels = config.data_config().label_fields();
  std::vector<TaskTowerSpec> towers;
  std::set<std::string> names;
  for (int i = 0; i < count; ++i) {
    TaskTowerSpec spec =
        ReadTower(reflection->GetRepeatedMessage(*model, field, i), fmt::format("{}[{}]", where, i));
    if (spec.name.empty()) FailConfig("{}.tower_name: must not be empty", spec.where);
    if (!names.insert(spec.name).second) {
      FailConfig("{}.tower_name: '{}' is used by an earlier task tower", spec.where, spec.name);
    }
    if (spec.task.label_name.empty()) {
      if (i >= labels.size()) {
        FailConfig("{}.label_name: not set, and data_config.label_fields has no entry {} to "
                   "default to",
                   spec.where, i);
      }
      spec.task.label_name = labels[i];
    }
    if (!labels.empty()) {
      for (const std::string* label : {&spec.task.label_name, &spec.weighting.task_space_indicator_label}) {
        if (label->empty()) continue;
        if (std::find(labels.begin(), labels.end(), *label) == labels.end()) {
          FailConfig("{}: label '{}' is not one of data_config.label_fields", spec.where, *label);
        }
      }
    }
    CheckTaskLosses(spec.task, spec.where, "task tower");
    towers.push_back(std::move(spec));
  }
  return towers;
}

std::map<std::string, TaskLossWeighting> TaskLossWeightings(const protos::EasyRecConfig& config) {
  std::map<std::string, TaskLossWeighting> out;
  if (FamilyOf(ModelType(config.model_config())) != ModelFamily::kMultiTaskRank) return out;
  for (const TaskTowerSpec& spec : ReadTaskTowers(config)) out[spec.task.suffix] = spec.weighting;
  return out;
}

void CheckMultiTaskOptions(const protos::EasyRecConfig& config, const std::string& model_type) {
  const protos::ModelConfig& model_config = config.model_config();
  if (model_config.has_variational_dropout()) {
    FailConfig("model_config.variational_dropout: not supported by tzrec's {} yet", model_type);
  }
  if (model_config.use_pareto_loss_weight()) {
    FailConfig("model_config.use_pareto_loss_weight: not supported by tzrec's {} yet", model_type);
  }
}

std::string FirstFeatureGroup(const protos::EasyRecConfig& config, const std::string& model_type) {
  const protos::ModelConfig& model_config = config.model_config();
  if (model_config.feature_groups_size() == 0) {
    FailConfig("model_config.feature_groups: {} needs a feature group", model_type);
  }
  return model_config.feature_groups(0).group_name();
}

std::string MultiTaskOutputSource(const std::vector<TaskTowerSpec>& towers,
                                  const std::vector<std::string>& tower_outputs,
                                  std::vector<std::string>& output_names) {
  std::string src;
  for (size_t i = 0; i < towers.size(); ++i) {
    src += RankOutputSource(towers[i].task, tower_outputs.at(i), output_names);
  }
  return src;
}

TaskNets AddSharedBottom(torch::jit::Module& root, const std::optional<MlpOptions>& bottom_mlp,
                         const std::optional<MMoEOptions>& mmoe,
                         const std::vector<TaskTowerSpec>& towers, int64_t feature_in,
                         const std::string& where, std::string& src) {
  if (bottom_mlp) {
    AddChild(root, "bottom_mlp", BuildMlp(feature_in, *bottom_mlp, where + ".bottom_mlp"));
    feature_in = bottom_mlp->hidden_units.back();
    src += "    net = self.bottom_mlp.forward(net)\n";
  }
  const size_t num_task = towers.size();
  std::vector<std::string> task_inputs(num_task, "net");
  if (mmoe) {
    AddChild(root, "mmoe", BuildMMoE(feature_in, *mmoe, where));
    feature_in = mmoe->expert_mlp.hidden_units.back();
    src += "    task_inputs = self.mmoe.forward(net)\n";
    for (size_t i = 0; i < num_task; ++i) task_inputs[i] = fmt::format("task_inputs[{}]", i);
  }

  TaskNets nets{task_inputs, std::vector<int64_t>(num_task, feature_in)};
  torch::jit::Module task_mlps = NewModule("ModuleDict");
  for (size_t i = 0; i < num_task; ++i) {
    const TaskTowerSpec& tower = towers[i];
    if (!tower.mlp) continue;
    AddChild(task_mlps, tower.name, BuildMlp(feature_in, *tower.mlp, tower.where + ".mlp"));
    nets.vars[i] = fmt::format("task_net_{}", i);
    nets.dims[i] = tower.mlp->hidden_units.back();
    src += fmt::format("    {} = getattr(self.task_mlps, {}).forward({})\n", nets.vars[i],
                       PyStr(tower.name), task_inputs[i]);
  }
  AddChild(root, "task_mlps", task_mlps);
  return nets;
}

std::vector<std::string> AddTaskOutputs(torch::jit::Module& root, const std::vector<TaskTowerSpec>& towers,
                                        const TaskNets& nets, std::string& src) {
  torch::jit::Module task_outputs = NewModule("ModuleList");
  std::vector<std::string> tower_outputs;
  for (size_t i = 0; i < towers.size(); ++i) {
    AddChild(task_outputs, std::to_string(i),
             BuildLinear(nets.dims.at(i), towers[i].task.num_class, /*bias=*/true));
    tower_outputs.push_back(fmt::format("tower_{}", i));
    src += fmt::format("    tower_{} = getattr(self.task_outputs, \"{}\").forward({})\n", i, i, nets.vars.at(i));
  }
  AddChild(root, "task_outputs", task_outputs);
  return tower_outputs;
}

std::vector<std::string> AddTaskTowers(torch::jit::Module& root, const std::vector<TaskTowerSpec>& towers,
                                       const std::vector<std::string>& inputs,
                                       const std::vector<int64_t>& input_dims, std::string& src) {
  torch::jit::Module task_towers = NewModule("ModuleList");
  std::vector<std::string> tower_outputs;
  for (size_t i = 0; i < towers.size(); ++i) {
    AddChild(task_towers, std::to_string(i),
             BuildTaskTower(input_dims.at(i), towers[i].task.num_class, towers[i].mlp, towers[i].where));
    tower_outputs.push_back(fmt::format("tower_{}", i));
    src += fmt::format("    tower_{} = getattr(self._task_tower, \"{}\").forward({})\n", i, i, inputs.at(i));
  }
  AddChild(root, "_task_tower", task_towers);
  return tower_outputs;
}

std::unique_ptr<Model> FinishMultiTaskModel(const std::string& type, torch::jit::Module root,
                                            std::string forward_source,
                                            const std::vector<TaskTowerSpec>& towers,
                                            const std::vector<std::string>& tower_outputs,
                                            const EmbeddingGroupLayout& layout, TableStorage table_storage) {
  forward_source += "    out: Dict[str, Tensor] = {}\n";
  std::vector<std::string> outputs;
  forward_source += MultiTaskOutputSource(towers, tower_outputs, outputs);
  forward_source += "    return out\n";
  DefineMethods(root, forward_source);
  return MakeMultiTaskModel(type, std::move(root), towers, std::move(outputs), layout, table_storage);
}

std::unique_ptr<Model> MakeMultiTaskModel(const std::string& type, torch::jit::Module root,
                                          const std::vector<TaskTowerSpec>& towers,
                                          std::vector<std::string> output_names,
                                          const EmbeddingGroupLayout& layout,
                                          TableStorage table_storage) {
  std::vector<Task> tasks;
  for (const TaskTowerSpec& spec : towers) tasks.push_back(spec.task);
  std::vector<std::string> tables;
  for (const std::string& path : layout.table_weight_paths) {
    tables.push_back(std::string(kStatePrefix) + "embedding_group." + path);
  }
  auto model = std::make_unique<Model>(type, std::move(root), std::move(tasks),
                                       std::move(output_names), std::move(tables), table_storage);
  model->SetTableStorages(layout, std::string(kStatePrefix) + "embedding_group.");
  return model;
}

}  // namespace tzrec::models
