#include "models/test_multi_task.h"

#include "config/pipeline_config.h"
#include "models/test_models.h"

namespace tzrec::models::testing {

protos::EasyRecConfig SmallMultiTaskConfig(const std::string& model_block) {
  std::string text = SmallFeaturesConfigHead(200, R"(label_fields: "clk" label_fields: "buy")") + R"(
model_config {
  feature_groups { group_name: "all" feature_names: "cat_a" feature_names: "cat_b" feature_names: "price" group_type: DEEP }
  )" + model_block + R"(
}
)";
  return ParsePipelineConfigText(text, "small_multi_task.config");
}

std::string TwoTaskTowers(const std::string& extra_ctr, const std::string& extra_cvr) {
  return R"(
    task_towers { tower_name: "ctr" label_name: "clk" mlp { hidden_units: [8] }
                  metrics { auc {} } losses { binary_cross_entropy {} } )" +
         extra_ctr + R"( }
    task_towers { tower_name: "cvr" label_name: "buy" mlp { hidden_units: [8] }
                  metrics { auc {} } losses { binary_cross_entropy {} } )" +
         extra_cvr + " }\n";
}

TensorMap MakeMultiTaskBatch(int64_t batch_size, double noise) {
  SyntheticBatch b = MakeSyntheticBatch(batch_size, 0.0);
  at::Tensor clk = b.labels;
  at::Tensor buy = clk * (b.inputs["price.values"].squeeze(1) > 0.5).to(at::kFloat);
  auto flip = [&](const at::Tensor& label) {
    return (label + (at::rand({batch_size}) < noise).to(at::kFloat)).remainder(2.0);
  };
  TensorMap inputs = b.inputs;
  inputs["clk"] = flip(clk);
  inputs["buy"] = flip(buy);
  return inputs;
}

BuiltModel BuildModelFrom(protos::EasyRecConfig config, const ModelBuildOptions& options) {
  BuiltModel b;
  b.config = std::move(config);
  b.features = CreateFeatures(b.config);
  b.model = BuildModel(b.config, FeaturePointers(b.features), options);
  return b;
}

std::map<std::string, at::Tensor> StateMap(const Model& model) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, tensor] : model.StateDict()) out[name] = tensor;
  return out;
}

std::vector<std::string> StateNames(const Model& model) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : model.StateDict()) names.push_back(name);
  return names;
}

at::Tensor AllGroup(const std::map<std::string, at::Tensor>& state, const TensorMap& batch) {
  const std::string bags = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  const at::Tensor& b_len = batch.at("cat_b.lengths");
  at::Tensor b_off = at::cumsum(b_len, 0) - b_len;
  at::Tensor b_sum = std::get<0>(
      at::embedding_bag(state.at(bags + "cat_b_emb.weight"), batch.at("cat_b.values"), b_off, false, 0));
  at::Tensor eb = b_sum / at::clamp(b_len, 1).unsqueeze(1).to(at::kFloat);  // mean pooling
  at::Tensor ea = at::embedding(state.at(bags + "cat_a_emb.weight"), batch.at("cat_a.values"));
  return at::cat({ea, eb, batch.at("price.values")}, 1);
}

at::Tensor ReluMlp(const std::map<std::string, at::Tensor>& state, const std::string& prefix,
                   at::Tensor x, int layers) {
  for (int i = 0; i < layers; ++i) {
    x = at::relu(Linear(state, prefix + ".mlp." + std::to_string(i) + ".perceptron.0", x));
  }
  return x;
}

at::Tensor Linear(const std::map<std::string, at::Tensor>& state, const std::string& prefix,
                  const at::Tensor& x) {
  return at::linear(x, state.at(prefix + ".weight"), state.at(prefix + ".bias"));
}

}  // namespace tzrec::models::testing
