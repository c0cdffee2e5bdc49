#include "models/dcn_v1.h"

#include "common/error.h"
#include "models/modules/cross.h"
#include "models/modules/jit_module.h"
#include "models/multi_task_rank.h"
#include "models/rank_model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildDCNV1(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::DCNV1& cfg = model_config.dcn_v1();
  Task task = RankTask(context.config);

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const std::string group_name = FirstFeatureGroup(context.config, "dcn_v1");
  const int64_t group_dim = group.layout.total_dim(group_name, "dcn_v1");

  torch::jit::Module root = NewModule("DCNV1");
  AddChild(root, "embedding_group", group.module);
  AddChild(root, "cross", BuildCross(group_dim, cfg.cross().cross_num(), "model_config.dcn_v1.cross"));
  AddChild(root, "deep", BuildMlp(group_dim, MlpFromProto(cfg.deep()), "model_config.dcn_v1.deep"));
  // The cross output keeps the group's width.
  const int64_t final_in = group_dim + cfg.deep().hidden_units(cfg.deep().hidden_units_size() - 1);
  AddChild(root, "final_dnn",
           BuildMlp(final_in, MlpFromProto(cfg.final()), "model_config.dcn_v1.final"));
  AddChild(root, "output_linear",
           BuildLinear(cfg.final().hidden_units(cfg.final().hidden_units_size() - 1),
                       task.num_class, /*bias=*/false));

  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    features = grouped[{}]\n", PyStr(group_name));
  src += "    net = torch.cat([self.cross.forward(features), self.deep.forward(features)], -1)\n";
  src += "    y = self.output_linear.forward(self.final_dnn.forward(net))\n";
  return FinishRankModel("dcn_v1", root, src, task, group.layout, context.options.table_storage);
}

}  // namespace tzrec::models
