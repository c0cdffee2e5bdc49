#include "models/mask_net.h"

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/modules/masknet.h"
#include "models/modules/mlp.h"
#include "models/multi_task_rank.h"
#include "models/rank_model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildMaskNet(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::MaskNetModule& cfg = model_config.mask_net().mask_net_module();
  const std::string where = "model_config.mask_net.mask_net_module";
  Task task = RankTask(context.config);
  // Upstream sizes output_linear from top_mlp's last hidden unit, so the
  // model (unlike the module) cannot do without it.
  if (!cfg.has_top_mlp() || cfg.top_mlp().hidden_units_size() == 0) {
    FailConfig("{}.top_mlp: the mask_net model needs a top_mlp with hidden_units", where);
  }

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const std::string group_name = FirstFeatureGroup(context.config, "mask_net");
  const int64_t feature_dim = group.layout.total_dim(group_name, "mask_net");

  torch::jit::Module root = NewModule("MaskNet");
  AddChild(root, "embedding_group", group.module);
  MaskNetModule mask_net = BuildMaskNetModule(feature_dim, cfg, where);
  AddChild(root, "mask_net_layer", mask_net.module);
  AddChild(root, "output_linear", BuildLinear(mask_net.output_dim, task.num_class, /*bias=*/false));

  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    hidden = self.mask_net_layer.forward(grouped[{}])\n", PyStr(group_name));
  src += "    y = self.output_linear.forward(hidden)\n";
  return FinishRankModel("mask_net", root, src, task, group.layout, context.options.table_storage);
}

}  // namespace tzrec::models
