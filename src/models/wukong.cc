#include "models/wukong.h"

#include <set>

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/modules/mlp.h"
#include "models/modules/wukong_layer.h"
#include "models/rank_model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildWuKong(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::WuKong& cfg = model_config.wukong();
  Task task = RankTask(context.config);

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const EmbeddingGroupLayout& layout = group.layout;

  const bool single_group = layout.group_dims.size() == 1;
  const std::string sparse_group = single_group ? layout.group_dims.begin()->first : "sparse";
  const bool has_dense = !single_group && layout.has_group("dense");
  const std::vector<int64_t>& sparse_dims = layout.dims(sparse_group, "wukong");
  if (std::set<int64_t>(sparse_dims.begin(), sparse_dims.end()).size() != 1) {
    std::string dims;
    for (int64_t d : sparse_dims) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    FailConfig("model_config.wukong: every feature of group '{}' must have the same embedding "
               "dim, got [{}]",
               sparse_group, dims);
  }
  const int64_t sparse_num = static_cast<int64_t>(sparse_dims.size());
  const int64_t per_sparse_dim = sparse_dims[0];

  torch::jit::Module root = NewModule("WuKong");
  AddChild(root, "embedding_group", group.module);
  if (has_dense) {
    if (!cfg.has_dense_mlp() || cfg.dense_mlp().hidden_units_size() == 0) {
      FailConfig("model_config.wukong.dense_mlp: needs hidden_units for the 'dense' group");
    }
    const int64_t dense_out = cfg.dense_mlp().hidden_units(cfg.dense_mlp().hidden_units_size() - 1);
    if (dense_out != per_sparse_dim) {
      FailConfig("model_config.wukong.dense_mlp: the last hidden unit ({}) must equal the sparse "
                 "embedding dim ({})",
                 dense_out, per_sparse_dim);
    }
    AddChild(root, "dense_mlp", BuildMlp(layout.total_dim("dense", "wukong"),
                                         MlpFromProto(cfg.dense_mlp()), "model_config.wukong.dense_mlp"));
  }

  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    feat = torch.reshape(grouped[{}], [-1, {}, {}])\n", PyStr(sparse_group),
                     sparse_num, per_sparse_dim);
  if (has_dense) {
    src += "    dense = self.dense_mlp.forward(grouped[\"dense\"])\n";
    src += "    feat = torch.cat([torch.unsqueeze(dense, 1), feat], 1)\n";
  }

  // Upstream's attribute is "_wukong_layers"; the state dict keeps the underscore.
  torch::jit::Module layers = NewModule("ModuleList");
  int64_t feature_num = sparse_num + (has_dense ? 1 : 0);
  for (int i = 0; i < cfg.wukong_layers_size(); ++i) {
    WuKongLayer layer = BuildWuKongLayer(per_sparse_dim, feature_num, cfg.wukong_layers(i),
                                         fmt::format("model_config.wukong.wukong_layers[{}]", i));
    AddChild(layers, std::to_string(i), layer.module);
    src += fmt::format("    feat = getattr(self._wukong_layers, \"{}\").forward(feat)\n", i);
    feature_num = layer.output_feature_num;
  }
  AddChild(root, "_wukong_layers", layers);
  if (cfg.final().hidden_units_size() == 0) {
    FailConfig("model_config.wukong.final.hidden_units: must have at least one layer");
  }
  AddChild(root, "final_mlp", BuildMlp(feature_num * per_sparse_dim, MlpFromProto(cfg.final()),
                                       "model_config.wukong.final"));
  AddChild(root, "output_mlp",
           BuildLinear(cfg.final().hidden_units(cfg.final().hidden_units_size() - 1),
                       task.num_class, /*bias=*/true));
  src += fmt::format("    y = self.final_mlp.forward(torch.reshape(feat, [-1, {}]))\n",
                     feature_num * per_sparse_dim);
  src += "    y = self.output_mlp.forward(y)\n";
  return FinishRankModel("wukong", root, src, task, layout, context.options.table_storage);
}

}  // namespace tzrec::models
