#include "models/dcn_v2.h"

#include "common/error.h"
#include "models/modules/cross.h"
#include "models/modules/jit_module.h"
#include "models/multi_task_rank.h"
#include "models/rank_model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildDCNV2(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::DCNV2& cfg = model_config.dcn_v2();
  Task task = RankTask(context.config);

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const std::string group_name = FirstFeatureGroup(context.config, "dcn_v2");
  const int64_t group_dim = group.layout.total_dim(group_name, "dcn_v2");

  torch::jit::Module root = NewModule("DCNV2");
  AddChild(root, "embedding_group", group.module);
  int64_t cross_dim = group_dim;
  if (cfg.has_backbone()) {
    AddChild(root, "backbone",
             BuildMlp(group_dim, MlpFromProto(cfg.backbone()), "model_config.dcn_v2.backbone"));
    cross_dim = cfg.backbone().hidden_units(cfg.backbone().hidden_units_size() - 1);
  }
  AddChild(root, "cross", BuildCrossV2(cross_dim, cfg.cross().cross_num(), cfg.cross().low_rank(),
                                       "model_config.dcn_v2.cross"));
  int64_t final_in = cross_dim;
  if (cfg.has_deep()) {
    AddChild(root, "deep",
             BuildMlp(group_dim, MlpFromProto(cfg.deep()), "model_config.dcn_v2.deep"));
    final_in += cfg.deep().hidden_units(cfg.deep().hidden_units_size() - 1);
  }
  AddChild(root, "final", BuildMlp(final_in, MlpFromProto(cfg.final()), "model_config.dcn_v2.final"));
  AddChild(root, "output_mlp",
           BuildLinear(cfg.final().hidden_units(cfg.final().hidden_units_size() - 1),
                       task.num_class, /*bias=*/false));

  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    features = grouped[{}]\n", PyStr(group_name));
  src += cfg.has_backbone() ? "    net = self.cross.forward(self.backbone.forward(features))\n"
                            : "    net = self.cross.forward(features)\n";
  if (cfg.has_deep()) src += "    net = torch.cat([net, self.deep.forward(features)], -1)\n";
  src += "    y = self.output_mlp.forward(self.final.forward(net))\n";
  return FinishRankModel("dcn_v2", root, src, task, group.layout, context.options.table_storage);
}

}  // namespace tzrec::models
