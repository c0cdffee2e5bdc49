#include "models/dlrm.h"

#include <set>

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/rank_model.h"

namespace tzrec::models {

torch::jit::Module BuildInteractionArch(int64_t feature_num) {
  // Upstream keeps the indices in a non-persistent buffer (absent from the
  // state dict); computing them in forward keeps the module parameter-free.
  torch::jit::Module m = NewModule("InteractionArch");
  DefineMethods(m, fmt::format(
                       "def forward(self, features: Tensor) -> Tensor:\n"
                       "    interactions = torch.bmm(features, torch.transpose(features, 1, 2))\n"
                       "    idx = torch.triu_indices({0}, {0}, 1, device=features.device)\n"
                       "    return interactions[:, idx[0], idx[1]]\n",
                       feature_num));
  return m;
}

std::unique_ptr<Model> BuildDLRM(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::DLRM& cfg = model_config.dlrm();
  Task task = RankTask(context.config);

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const EmbeddingGroupLayout& layout = group.layout;

  const bool single_group = layout.group_dims.size() == 1;
  const std::string sparse_group = single_group ? layout.group_dims.begin()->first : "sparse";
  const bool has_dense = !single_group && layout.has_group("dense");
  const std::vector<int64_t>& sparse_dims = layout.dims(sparse_group, "dlrm");
  const std::set<int64_t> distinct(sparse_dims.begin(), sparse_dims.end());
  if (distinct.size() != 1) {
    std::string dims;
    for (int64_t d : sparse_dims) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    FailConfig("model_config.dlrm: every feature of group '{}' must have the same embedding dim, "
               "got [{}]",
               sparse_group, dims);
  }
  const int64_t sparse_num = static_cast<int64_t>(sparse_dims.size());
  const int64_t per_sparse_dim = sparse_dims[0];
  const int64_t sparse_dim = layout.total_dim(sparse_group, "dlrm");

  torch::jit::Module root = NewModule("DLRM");
  AddChild(root, "embedding_group", group.module);
  int64_t dense_out = 0;
  if (has_dense) {
    if (!cfg.has_dense_mlp() || cfg.dense_mlp().hidden_units_size() == 0) {
      FailConfig("model_config.dlrm.dense_mlp: needs hidden_units for the 'dense' group");
    }
    dense_out = cfg.dense_mlp().hidden_units(cfg.dense_mlp().hidden_units_size() - 1);
    if (dense_out != per_sparse_dim) {
      FailConfig("model_config.dlrm.dense_mlp: the last hidden unit ({}) must equal the sparse "
                 "embedding dim ({})",
                 dense_out, per_sparse_dim);
    }
    AddChild(root, "dense_mlp", BuildMlp(layout.total_dim("dense", "dlrm"),
                                         MlpFromProto(cfg.dense_mlp()), "model_config.dlrm.dense_mlp"));
  }
  const int64_t feature_num = sparse_num + (has_dense ? 1 : 0);
  AddChild(root, "interaction", BuildInteractionArch(feature_num));
  int64_t feature_dim = feature_num * (feature_num - 1) / 2 + dense_out;
  if (cfg.arch_with_sparse()) feature_dim += sparse_dim;
  AddChild(root, "final_mlp",
           BuildMlp(feature_dim, MlpFromProto(cfg.final()), "model_config.dlrm.final"));
  AddChild(root, "output_mlp",
           BuildLinear(cfg.final().hidden_units(cfg.final().hidden_units_size() - 1),
                       task.num_class, /*bias=*/true));

  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    sparse_group = grouped[{}]\n", PyStr(sparse_group));
  src += fmt::format("    feat = torch.reshape(sparse_group, [-1, {}, {}])\n", sparse_num,
                     per_sparse_dim);
  std::string parts = "self.interaction.forward(feat)";
  if (has_dense) {
    src += "    dense = self.dense_mlp.forward(grouped[\"dense\"])\n";
    src += "    feat = torch.cat([torch.unsqueeze(dense, 1), feat], 1)\n";
    parts = "self.interaction.forward(feat), dense";
  }
  if (cfg.arch_with_sparse()) parts += ", sparse_group";
  src += fmt::format("    y = self.final_mlp.forward(torch.cat([{}], -1))\n", parts);
  src += "    y = self.output_mlp.forward(y)\n";
  return FinishRankModel("dlrm", root, src, task, layout, context.options.table_storage);
}

}  // namespace tzrec::models
