// Training multi-task models: per-task losses with their weights, metrics
// named <metric>_<tower>, and learning on generated data end to end.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "config/pipeline_config.h"
#include "data/gen_data.h"
#include "models/test_multi_task.h"
#include "train/train_eval.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace tzrec::train {
namespace {

using models::testing::BuildModelFrom;
using models::testing::BuiltModel;

std::string SmallMMoE(const std::string& extra_ctr = "", const std::string& extra_cvr = "") {
  return "mmoe { expert_mlp { hidden_units: [8] } num_expert: 2 " +
         models::testing::TwoTaskTowers(extra_ctr, extra_cvr) + "}";
}

at::Tensor Bce(const at::Tensor& logits, const at::Tensor& label) {
  return at::binary_cross_entropy_with_logits(logits, label, {}, {}, at::Reduction::None);
}

TEST(MultiTaskTrainerTest, LossesPerTowerWithTaskWeights) {
  protos::EasyRecConfig config = models::testing::SmallMultiTaskConfig(SmallMMoE("", "weight: 0.25"));
  // A data_config sample weight is ignored by multi-task models, as upstream.
  config.mutable_data_config()->add_sample_weight_fields("w");
  BuiltModel b = BuildModelFrom(config);
  Trainer trainer(*b.model, b.config);
  models::TensorMap batch = models::testing::MakeMultiTaskBatch(32);
  batch["w"] = at::rand({32});
  b.model->SetTraining(false);
  auto predictions = b.model->Forward(batch);
  auto losses = trainer.Losses(predictions, batch);
  ASSERT_EQ(losses.size(), 2u);
  double ctr = Bce(predictions.at("logits_ctr"), batch["clk"]).mean().item<double>();
  double cvr = Bce(predictions.at("logits_cvr"), batch["buy"]).mean().item<double>();
  EXPECT_NEAR(losses.at("binary_cross_entropy_ctr").item<double>(), ctr, 1e-6);
  EXPECT_NEAR(losses.at("binary_cross_entropy_cvr").item<double>(), 0.25 * cvr, 1e-6);
}

TEST(MultiTaskTrainerTest, SampleWeightAndTaskSpace) {
  protos::EasyRecConfig config = models::testing::SmallMultiTaskConfig(SmallMMoE(
      "", R"(weight: 2.0 sample_weight_name: "w" task_space_indicator_label: "clk"
             in_task_space_weight: 1.0 out_task_space_weight: 0.1)"));
  config.mutable_data_config()->add_sample_weight_fields("w");
  BuiltModel b = BuildModelFrom(config);
  Trainer trainer(*b.model, b.config);
  models::TensorMap batch = models::testing::MakeMultiTaskBatch(64);
  batch["w"] = at::rand({64}) + 0.5;
  b.model->SetTraining(false);
  auto predictions = b.model->Forward(batch);
  auto losses = trainer.Losses(predictions, batch);
  at::Tensor w = batch["w"] * at::where(batch["clk"] > 0, at::ones({64}), at::full({64}, 0.1f));
  w = w / w.mean() * 2.0;
  double expected = (Bce(predictions.at("logits_cvr"), batch["buy"]) * w).mean().item<double>();
  EXPECT_NEAR(losses.at("binary_cross_entropy_cvr").item<double>(), expected, 1e-5);
  batch.erase("w");
  try {
    trainer.Losses(predictions, batch);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'w'"), std::string::npos) << e.what();
  }
}

TEST(MultiTaskTrainerTest, MetricsAreSuffixedByTower) {
  BuiltModel b = BuildModelFrom(models::testing::SmallMultiTaskConfig(SmallMMoE()));
  Trainer trainer(*b.model, b.config);
  auto remaining = std::make_shared<int>(2);
  auto metrics = trainer.Evaluate([remaining](models::TensorMap& batch, int& epoch) {
    if ((*remaining)-- <= 0) return false;
    batch = models::testing::MakeMultiTaskBatch(128);
    epoch = 0;
    return true;
  });
  std::vector<std::string> names;
  for (const auto& [name, value] : metrics) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"auc_ctr", "auc_cvr", "binary_cross_entropy_ctr",
                                             "binary_cross_entropy_cvr"}));
}

// train_eval on gen_data output: each model learns both tasks.
void ExpectLearnsOnce(const std::string& name, const std::string& model_block, uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  at::manual_seed(static_cast<int64_t>(seed));
  fs::path root = fs::temp_directory_path() /
                  ("tzrec_multi_task_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(root);
  protos::EasyRecConfig config = models::testing::SmallMultiTaskConfig(model_block);
  data::GenDataOptions gen;
  gen.output_dir = (root / "data").string();
  gen.num_rows = 6000;
  gen.eval_rows = 2000;
  gen.seed = seed;
  data::GenDataSummary data = data::GenerateData(config, gen);
  config.set_train_input_path(data.train_path);
  config.set_eval_input_path(data.eval_path);
  config.set_model_dir((root / "model").string());
  config.mutable_data_config()->set_batch_size(64);
  config.mutable_train_config()->set_num_steps(300);
  config.mutable_train_config()->set_save_checkpoints_steps(1000);
  config.mutable_train_config()->set_log_step_count_steps(1000);
  const std::string config_path = (root / "pipeline.config").string();
  SavePipelineConfig(config, config_path);
  TrainEvalOptions options;
  options.pipeline_config_path = config_path;
  TrainAndEvaluate(options);
  std::ifstream log(root / "model" / "train_eval_result_v2.txt");
  std::string line;
  ASSERT_TRUE(std::getline(log, line)) << name;
  nlohmann::json result = nlohmann::json::parse(line);
  EXPECT_EQ(result.at("global_step"), 299) << line;
  EXPECT_GT(result.at("auc_ctr").get<double>(), 0.6) << name << ": " << line;
  EXPECT_GT(result.at("auc_cvr").get<double>(), 0.6) << name << ": " << line;
  EXPECT_TRUE(result.contains("binary_cross_entropy_cvr")) << line;
  fs::remove_all(root);
}

// Two seeds (data and initialisation): a rule learnt under one only could be
// that seed's luck.
void ExpectLearns(const std::string& name, const std::string& model_block) {
  for (uint64_t seed : {2024, 7}) ExpectLearnsOnce(name, model_block, seed);
}

TEST(MultiTaskTrainerTest, MMoELearnsGeneratedData) { ExpectLearns("mmoe", SmallMMoE()); }

TEST(MultiTaskTrainerTest, DBMTLLearnsGeneratedData) {
  ExpectLearns("dbmtl", "dbmtl { bottom_mlp { hidden_units: [16] } " +
                            models::testing::TwoTaskTowers(
                                "", R"(relation_tower_names: "ctr" relation_mlp { hidden_units: [4] })") +
                            "}");
}

TEST(MultiTaskTrainerTest, PLELearnsGeneratedData) {
  ExpectLearns("ple", R"(ple {
    extraction_networks { network_name: "l1" expert_num_per_task: 1 share_num: 1
                          task_expert_net { hidden_units: [8] } share_expert_net { hidden_units: [8] } }
    extraction_networks { network_name: "l2" expert_num_per_task: 1 share_num: 1
                          task_expert_net { hidden_units: [8] } share_expert_net { hidden_units: [8] } })" +
                          models::testing::TwoTaskTowers() + "}");
}

}  // namespace
}  // namespace tzrec::train
