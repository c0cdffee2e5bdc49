#include "models/xdeepfm.h"

#include "common/error.h"
#include "config/model_type.h"
#include "models/modules/cin.h"
#include "models/modules/jit_module.h"
#include "models/rank_model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildXDeepFM(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::xDeepFM& cfg = model_config.xdeepfm();
  Task task = RankTask(context.config);

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const EmbeddingGroupLayout& layout = group.layout;
  const std::vector<int64_t>& wide_dims = layout.dims("wide", "xdeepfm");
  const int64_t wide_dim = WideEmbeddingDim(model_config);
  for (size_t i = 0; i < wide_dims.size(); ++i) {
    // WIDE groups hold only sparse features, each wide_embedding_dim wide;
    // the CIN's [B, N, D] view relies on it.
    if (wide_dims[i] != wide_dim) {
      FailConfig("model_config.xdeepfm: feature {} of group 'wide' is {} wide, the CIN needs "
                 "wide_embedding_dim ({})",
                 i, wide_dims[i], wide_dim);
    }
  }
  const int64_t feature_num = static_cast<int64_t>(wide_dims.size());

  torch::jit::Module root = NewModule("xDeepFM");
  AddChild(root, "embedding_group", group.module);
  AddChild(root, "deep", BuildMlp(layout.total_dim("deep", "xdeepfm"), MlpFromProto(cfg.deep()),
                                  "model_config.xdeepfm.deep"));
  const std::vector<int64_t> cin_layer_size(cfg.cin().cin_layer_size().begin(),
                                            cfg.cin().cin_layer_size().end());
  AddChild(root, "cin", BuildCIN(feature_num, cin_layer_size, "model_config.xdeepfm.cin"));
  int64_t final_in = cfg.deep().hidden_units(cfg.deep().hidden_units_size() - 1);
  for (int64_t size : cin_layer_size) final_in += size;
  AddChild(root, "final", BuildMlp(final_in, MlpFromProto(cfg.final()), "model_config.xdeepfm.final"));
  AddChild(root, "output_mlp",
           BuildLinear(cfg.final().hidden_units(cfg.final().hidden_units_size() - 1),
                       task.num_class, /*bias=*/true));

  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    wide = torch.reshape(grouped[\"wide\"], [-1, {}, {}])\n", feature_num, wide_dim);
  src += "    y_cin = self.cin.forward(wide)\n";
  src += "    y_deep = self.deep.forward(grouped[\"deep\"])\n";
  src += "    y = self.output_mlp.forward(self.final.forward(torch.cat([y_cin, y_deep], 1)))\n";
  return FinishRankModel("xdeepfm", root, src, task, layout, context.options.table_storage);
}

}  // namespace tzrec::models
