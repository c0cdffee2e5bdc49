#include "models/wide_and_deep.h"

#include "models/modules/jit_module.h"
#include "models/rank_model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildWideAndDeep(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::WideAndDeep& cfg = model_config.wide_and_deep();
  Task task = RankTask(context.config);

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const EmbeddingGroupLayout& layout = group.layout;
  layout.dims("wide", "wide_and_deep");

  torch::jit::Module root = NewModule("WideAndDeep");
  AddChild(root, "embedding_group", group.module);
  AddChild(root, "deep_mlp", BuildMlp(layout.total_dim("deep", "wide_and_deep"),
                                      MlpFromProto(cfg.deep()), "model_config.wide_and_deep.deep"));
  int64_t final_dim = cfg.deep().hidden_units(cfg.deep().hidden_units_size() - 1);
  if (cfg.has_final()) {
    AddChild(root, "final_mlp", BuildMlp(1 + final_dim, MlpFromProto(cfg.final()),
                                         "model_config.wide_and_deep.final"));
    final_dim = cfg.final().hidden_units(cfg.final().hidden_units_size() - 1);
  }
  AddChild(root, "output_mlp", BuildLinear(final_dim, task.num_class, /*bias=*/true));

  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += "    y_wide = torch.sum(grouped[\"wide\"], [1], True)\n";
  src += "    y_deep = self.deep_mlp.forward(grouped[\"deep\"])\n";
  if (cfg.has_final()) {
    src += "    y = self.output_mlp.forward(self.final_mlp.forward(torch.cat([y_wide, y_deep], 1)))\n";
  } else {
    src += "    y = y_wide + self.output_mlp.forward(y_deep)\n";
  }
  return FinishRankModel("wide_and_deep", root, src, task, layout, context.options.table_storage);
}

}  // namespace tzrec::models
