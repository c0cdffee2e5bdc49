#include "train/train_eval.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "checkpoint/checkpoint.h"
#include "checkpoint/checkpoint_choice.h"
#include "common/error.h"
#include "config/pipeline_config.h"
#include "data/gen_data.h"
#include "models/test_models.h"

namespace fs = std::filesystem;

namespace tzrec::train {
namespace {

std::vector<std::string> Lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(TrainEvalTest, TrainsEvaluatesAndContinues) {
  fs::path root = fs::temp_directory_path() / ("tzrec_train_eval_test_" + std::to_string(::getpid()));
  fs::remove_all(root);
  protos::EasyRecConfig config = models::testing::SmallDeepFMConfig();
  data::GenDataOptions gen;
  gen.output_dir = (root / "data").string();
  gen.num_rows = 3000;
  data::GenDataSummary data = data::GenerateData(config, gen);
  config.set_train_input_path(data.train_path);
  config.set_eval_input_path(data.eval_path);
  config.set_model_dir((root / "model").string());
  config.mutable_data_config()->set_batch_size(64);
  config.mutable_train_config()->set_num_steps(30);
  config.mutable_train_config()->set_save_checkpoints_steps(20);
  const std::string config_path = (root / "pipeline.config").string();
  SavePipelineConfig(config, config_path);

  TrainEvalOptions options;
  options.pipeline_config_path = config_path;
  TrainAndEvaluate(options);
  std::vector<int64_t> steps;
  for (const auto& [step, path] : checkpoint::ListCheckpoints(config.model_dir())) steps.push_back(step);
  EXPECT_EQ(steps, (std::vector<int64_t>{20, 29}));
  EXPECT_TRUE(fs::exists(root / "model" / "pipeline.config"));
  auto log = Lines(root / "model" / "train_eval_result_v2.txt");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].rfind("{\"global_step\": 20, \"auc\": ", 0), 0u) << log[0];
  EXPECT_NE(log[1].find("\"binary_cross_entropy\": "), std::string::npos) << log[1];

  // A model_dir with checkpoints needs --continue_train.
  EXPECT_THROW(TrainAndEvaluate(options), Error);
  config.mutable_train_config()->set_num_steps(40);
  SavePipelineConfig(config, config_path);
  options.continue_train = true;
  TrainAndEvaluate(options);
  EXPECT_EQ(checkpoint::LatestCheckpoint(config.model_dir())->path, (root / "model" / "model.ckpt-39").string());
  EXPECT_EQ(Lines(root / "model" / "train_eval_result_v2.txt").size(), 3u);

  EvalOptions eval;
  eval.pipeline_config_path = config_path;
  auto metrics = Evaluate(eval);
  EXPECT_GT(metrics.at("auc"), 0.0);
  auto result = Lines(root / "model" / "eval_result.txt");
  ASSERT_EQ(result.size(), 1u);
  EXPECT_EQ(result[0].rfind("{\"global_step\": 39, ", 0), 0u) << result[0];
  fs::remove_all(root);
}

}  // namespace
}  // namespace tzrec::train
