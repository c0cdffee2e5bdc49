#include "models/ple.h"

#include "common/error.h"
#include "models/modules/extraction_net.h"
#include "models/modules/jit_module.h"
#include "models/multi_task_rank.h"
#include "models/rank_model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildPLE(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::PLE& cfg = model_config.ple();
  CheckMultiTaskOptions(context.config, "ple");
  std::vector<TaskTowerSpec> towers = ReadTaskTowers(context.config);
  if (cfg.extraction_networks_size() == 0) {
    FailConfig("model_config.ple.extraction_networks: PLE needs at least one extraction network");
  }

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const std::string group_name = FirstFeatureGroup(context.config, "ple");
  const int64_t feature_in = group.layout.total_dim(group_name, "ple");
  const size_t num_task = towers.size();

  torch::jit::Module root = NewModule("PLE");
  AddChild(root, "embedding_group", group.module);
  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    net = grouped[{}]\n", PyStr(group_name));
  src += "    task_feas: List[Tensor] = [";
  for (size_t i = 0; i < num_task; ++i) src += i ? ", net" : "net";
  src += "]\n    shared_fea = net\n";

  std::vector<int64_t> task_in(num_task, feature_in);
  int64_t shared_in = feature_in;
  torch::jit::Module nets = NewModule("ModuleList");
  const int layers = cfg.extraction_networks_size();
  for (int l = 0; l < layers; ++l) {
    const protos::ExtractionNetwork& layer = cfg.extraction_networks(l);
    ExtractionNetOptions options;
    options.expert_num_per_task = layer.expert_num_per_task();
    options.share_num = layer.share_num();
    options.task_expert_net = MlpFromProto(layer.task_expert_net());
    if (layer.has_share_expert_net()) options.share_expert_net = MlpFromProto(layer.share_expert_net());
    options.final_layer = l == layers - 1;
    ExtractionNet net = BuildExtractionNet(
        task_in, shared_in, options, fmt::format("model_config.ple.extraction_networks[{}]", l));
    AddChild(nets, std::to_string(l), net.module);
    src += fmt::format("    layer_out = getattr(self._extraction_nets, \"{}\").forward(task_feas, shared_fea)\n", l);
    src += fmt::format("    task_feas = layer_out[:{}]\n", num_task);
    task_in.assign(net.output_dims.begin(), net.output_dims.begin() + num_task);
    if (!options.final_layer) {
      src += fmt::format("    shared_fea = layer_out[{}]\n", num_task);
      shared_in = net.output_dims[num_task];
    }
  }
  AddChild(root, "_extraction_nets", nets);

  std::vector<std::string> task_feas;
  for (size_t i = 0; i < num_task; ++i) task_feas.push_back(fmt::format("task_feas[{}]", i));
  std::vector<std::string> tower_outputs = AddTaskTowers(root, towers, task_feas, task_in, src);
  return FinishMultiTaskModel("ple", root, src, towers, tower_outputs, group.layout,
                              context.options.table_storage);
}

}  // namespace tzrec::models
