// Shared by the multi-task model tests (models and train areas): small
// multi-task configs over the features of testing::SmallDeepFMConfig and
// synthetic batches with two labels.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "config/protos/pipeline.pb.h"
#include "features/feature_factory.h"
#include "models/model.h"

namespace tzrec::models::testing {

// Features cat_a (10 ids, dim 4), cat_b (20 ids, dim 4, mean pooling) and
// price (raw), one DEEP group "all" [cat_a, cat_b, price] (width 9), labels
// "clk" and "buy", and `model_block` as the model (e.g. "mmoe { ... }").
protos::EasyRecConfig SmallMultiTaskConfig(const std::string& model_block);

// Two binary task towers ctr (label clk) and cvr (label buy), each with
// mlp [8], auc and binary_cross_entropy; the extras go inside the towers.
std::string TwoTaskTowers(const std::string& extra_ctr = "",
                          const std::string& extra_cvr = "");

// A batch like testing::MakeSyntheticBatch(batch_size) with labels clk
// (cat_a < 5) and buy (clk and price > 0.5), each flipped with probability
// `noise`, added to the inputs.
TensorMap MakeMultiTaskBatch(int64_t batch_size, double noise = 0.05);

// A config with its features and the model built from them.
struct BuiltModel {
  protos::EasyRecConfig config;
  FeatureList features;
  std::unique_ptr<Model> model;
};
BuiltModel BuildModelFrom(protos::EasyRecConfig config, const ModelBuildOptions& options = {});

// The model's state dict by name, and its names in order.
std::map<std::string, at::Tensor> StateMap(const Model& model);
std::vector<std::string> StateNames(const Model& model);

// Recomputations for forward checks, from state-dict tensors:
// the "all" group of SmallMultiTaskConfig for `batch`, [B, 9];
at::Tensor AllGroup(const std::map<std::string, at::Tensor>& state, const TensorMap& batch);
// an MLP of `layers` Linear+ReLU perceptrons at `prefix` (e.g. "model.bottom_mlp").
at::Tensor ReluMlp(const std::map<std::string, at::Tensor>& state, const std::string& prefix,
                   at::Tensor x, int layers);
// a Linear at `prefix`.
at::Tensor Linear(const std::map<std::string, at::Tensor>& state, const std::string& prefix,
                  const at::Tensor& x);

}  // namespace tzrec::models::testing
