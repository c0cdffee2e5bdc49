#include "models/deep_fm.h"

#include <set>

#include "common/error.h"
#include "config/model_type.h"
#include "models/modules/fm.h"
#include "models/modules/jit_module.h"
#include "models/rank_model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildDeepFM(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::DeepFM& cfg = model_config.deepfm();
  Task task = RankTask(context.config);

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const EmbeddingGroupLayout& layout = group.layout;

  layout.dims("wide", "deepfm");
  const std::string fm_group = layout.has_group("fm") ? "fm" : "deep";
  const std::vector<int64_t>& fm_dims = layout.dims(fm_group, "deepfm");
  if (std::set<int64_t>(fm_dims.begin(), fm_dims.end()).size() != 1) {
    std::string dims;
    for (int64_t d : fm_dims) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    FailConfig("model_config.deepfm: every feature of group '{}' must have the same embedding "
               "dim for the FM part, got [{}]",
               fm_group, dims);
  }
  const int64_t fm_num = static_cast<int64_t>(fm_dims.size());
  const int64_t fm_dim = fm_dims[0];

  torch::jit::Module root = NewModule("DeepFM");
  AddChild(root, "embedding_group", group.module);
  AddChild(root, "fm", BuildFactorizationMachine());
  torch::jit::Module deep_mlp = BuildMlp(layout.total_dim("deep", "deepfm"),
                                         MlpFromProto(cfg.deep()), "model_config.deepfm.deep");
  AddChild(root, "deep_mlp", deep_mlp);
  int64_t final_dim = cfg.deep().hidden_units(cfg.deep().hidden_units_size() - 1);
  if (cfg.has_final()) {
    AddChild(root, "final_mlp", BuildMlp(1 + fm_dim + final_dim, MlpFromProto(cfg.final()),
                                         "model_config.deepfm.final"));
    final_dim = cfg.final().hidden_units(cfg.final().hidden_units_size() - 1);
  }
  AddChild(root, "output_mlp", BuildLinear(final_dim, task.num_class, /*bias=*/true));

  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  // Each group tensor leaves the dict when it is consumed, so the wide and
  // FM inputs are freed before the deep MLP allocates its activations: a lower
  // peak that malloc keeps, instead of returning and re-faulting it per call.
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += "    y_wide = torch.sum(grouped.pop(\"wide\"), [1], True)\n";
  src += fmt::format("    fm_in = torch.reshape({}, [-1, {}, {}])\n",
                     fm_group == "fm" ? "grouped.pop(\"fm\")" : "grouped[\"deep\"]", fm_num, fm_dim);
  src += "    y_fm = self.fm.forward(fm_in)\n";
  src += "    y_deep = self.deep_mlp.forward(grouped.pop(\"deep\"))\n";
  if (cfg.has_final()) {
    src += "    y = self.output_mlp.forward(self.final_mlp.forward(torch.cat([y_wide, y_fm, y_deep], 1)))\n";
  } else {
    src += "    y = y_wide + torch.sum(y_fm, [1], True) + self.output_mlp.forward(y_deep)\n";
  }
  return FinishRankModel("deepfm", root, src, task, layout, context.options.table_storage);
}

}  // namespace tzrec::models
