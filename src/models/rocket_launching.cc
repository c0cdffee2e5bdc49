#include "models/rocket_launching.h"

#include <sstream>

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/modules/mlp.h"
#include "models/multi_task_rank.h"
#include "models/rank_model.h"

namespace tzrec::models {
namespace {

constexpr char kWhere[] = "model_config.rocket_launching";

// TorchScript lines running the perceptrons of the MLP child `mlp` one by one
// from `input`, so that every hidden layer is a variable "<var>_<i>".
std::string LayerByLayer(const std::string& mlp, const std::string& input, const std::string& var,
                         int layers, const std::string& indent) {
  std::string src;
  std::string x = input;
  for (int i = 0; i < layers; ++i) {
    const std::string y = fmt::format("{}_{}", var, i);
    src += fmt::format("{}{} = getattr(self.{}.mlp, \"{}\").forward({})\n", indent, y, mlp, i, x);
    x = y;
  }
  return src;
}

std::string Indent(const std::string& lines, const std::string& indent) {
  std::istringstream in(lines);
  std::string out, line;
  while (std::getline(in, line)) out += indent + line + "\n";
  return out;
}

at::Tensor NormalisedWeight(const at::Tensor& sample_weight) {
  const at::Tensor w = sample_weight.to(at::kFloat).view(-1);
  const at::Tensor mean = w.mean();
  // div_no_nan: zero weights everywhere when their mean is 0.
  return at::where(mean == 0, at::zeros_like(w), w / mean);
}

at::Tensor L2Normalize(const at::Tensor& x) { return x / x.norm(2, {1}, true).clamp_min(1e-12); }

}  // namespace

std::vector<std::pair<int, int>> DistillationLayerPairs(const protos::RocketLaunching& config) {
  std::vector<std::pair<int, int>> pairs;
  const auto& light = config.light_mlp().hidden_units();
  const auto& booster = config.booster_mlp().hidden_units();
  for (int i = 0; i < light.size(); ++i) {
    for (int j = 0; j < booster.size(); ++j) {
      if (light[i] == booster[j]) {
        pairs.emplace_back(i, j);
        break;
      }
    }
  }
  return pairs;
}

std::map<std::string, at::Tensor> RocketLaunchingLosses(
    const protos::RocketLaunching& config, const std::vector<std::pair<int, int>>& pairs,
    const c10::Dict<std::string, at::Tensor>& predictions, const at::Tensor& sample_weight) {
  std::map<std::string, at::Tensor> losses;
  if (!predictions.contains("logits_booster") || !predictions.contains("logits_light")) return losses;
  const at::Tensor w = sample_weight.defined() ? NormalisedWeight(sample_weight) : at::Tensor();

  if (config.feature_based_distillation()) {
    for (const auto& [i, j] : pairs) {
      const at::Tensor light = predictions.at(fmt::format("light_{}", i));
      const at::Tensor booster = predictions.at(fmt::format("booster_{}", j)).detach();
      at::Tensor loss;
      if (config.feature_distillation_function() == protos::COSINE) {
        at::Tensor cosine = (L2Normalize(booster) * L2Normalize(light)).sum(1);
        if (w.defined()) cosine = cosine * w;
        loss = -0.1 * cosine.mean();
      } else {
        // Upstream treats every other function (EUCLID, INNER_PRODUCT) as the
        // Euclidean distance.
        at::Tensor squared = at::square(booster - light);
        if (w.defined()) squared = squared.sum(1) * w;
        loss = at::sqrt(squared.sum());
      }
      losses[fmt::format("similarity_{}_{}", i, j)] = loss;
    }
  }

  const at::Tensor light_logits = predictions.at("logits_light");
  at::Tensor squared = at::square(light_logits - predictions.at("logits_booster").detach());
  if (w.defined()) {
    // Per row: softmax logits [B, C] weigh each of the row's columns alike
    // (upstream multiplies [B, C] by [B], which only broadcasts for C == B).
    squared = squared * (squared.dim() == 2 ? w.unsqueeze(1) : w);
  }
  losses["hint_l2_loss"] = squared.mean();
  return losses;
}

std::unique_ptr<Model> BuildRocketLaunching(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::RocketLaunching& cfg = model_config.rocket_launching();
  if (model_config.has_variational_dropout()) {
    FailConfig("model_config.variational_dropout: not supported by tzrec's rocket_launching yet");
  }
  // Each net learns the label with every configured loss; the booster's
  // outputs (and so its losses) exist in training only.
  Task light = RankTask(context.config, "_light");
  Task booster = RankTask(context.config, "_booster");
  booster.training_only = true;

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const std::string group_name = FirstFeatureGroup(context.config, "rocket_launching");
  int64_t share_dim = group.layout.total_dim(group_name, "rocket_launching");

  torch::jit::Module root = NewModule("RocketLaunching");
  AddChild(root, "embedding_group", group.module);
  if (cfg.has_share_mlp()) {
    AddChild(root, "share_mlp",
             BuildMlp(share_dim, MlpFromProto(cfg.share_mlp()), fmt::format("{}.share_mlp", kWhere)));
    share_dim = cfg.share_mlp().hidden_units(cfg.share_mlp().hidden_units_size() - 1);
  }
  // Upstream's attribute order: booster_mlp, booster_linear, light_mlp, light_linear.
  const int booster_layers = cfg.booster_mlp().hidden_units_size();
  AddChild(root, "booster_mlp",
           BuildMlp(share_dim, MlpFromProto(cfg.booster_mlp()), fmt::format("{}.booster_mlp", kWhere)));
  AddChild(root, "booster_linear",
           BuildLinear(cfg.booster_mlp().hidden_units(booster_layers - 1), light.num_class, /*bias=*/true));
  const int light_layers = cfg.light_mlp().hidden_units_size();
  AddChild(root, "light_mlp",
           BuildMlp(share_dim, MlpFromProto(cfg.light_mlp()), fmt::format("{}.light_mlp", kWhere)));
  AddChild(root, "light_linear",
           BuildLinear(cfg.light_mlp().hidden_units(light_layers - 1), light.num_class, /*bias=*/true));

  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    share = grouped[{}]\n", PyStr(group_name));
  if (cfg.has_share_mlp()) src += "    share = self.share_mlp.forward(share)\n";
  src += LayerByLayer("light_mlp", "share.detach()", "light", light_layers, "    ");
  src += fmt::format("    y = self.light_linear.forward(light_{})\n", light_layers - 1);
  src += "    out: Dict[str, Tensor] = {}\n";
  std::vector<std::string> outputs;
  src += RankOutputSource(light, "y", outputs);

  src += "    if self.training:\n";
  src += LayerByLayer("booster_mlp", "share", "booster", booster_layers, "        ");
  src += fmt::format("        y_booster = self.booster_linear.forward(booster_{})\n", booster_layers - 1);
  std::vector<std::string> training_outputs;
  src += Indent(RankOutputSource(booster, "y_booster", training_outputs), "    ");
  const std::vector<std::pair<int, int>> pairs = DistillationLayerPairs(cfg);
  if (cfg.feature_based_distillation()) {
    for (const auto& [i, j] : pairs) {
      src += fmt::format("        out[\"light_{0}\"] = light_{0}\n", i);
      src += fmt::format("        out[\"booster_{0}\"] = booster_{0}\n", j);
    }
  }
  src += "    return out\n";
  DefineMethods(root, src);

  std::vector<std::string> tables;
  for (const std::string& path : group.layout.table_weight_paths) {
    tables.push_back(std::string(kStatePrefix) + "embedding_group." + path);
  }
  auto model = std::make_unique<Model>("rocket_launching", root, std::vector<Task>{booster, light},
                                       outputs, tables, context.options.table_storage);
  model->SetTableStorages(group.layout, std::string(kStatePrefix) + "embedding_group.");
  model->SetTrainingLosses(
      [cfg, pairs](const c10::Dict<std::string, at::Tensor>& predictions, const at::Tensor& sample_weight) {
        return RocketLaunchingLosses(cfg, pairs, predictions, sample_weight);
      });
  return model;
}

}  // namespace tzrec::models
