#include "checkpoint/checkpoint_choice.h"

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "common/test_support.h"
#include "checkpoint/checkpoint.h"

namespace tzrec::checkpoint {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::ErrorOf;
using testing::ScratchDir;
using testing::WriteTextFile;

void MakeCheckpoint(const ScratchDir& dir, int64_t step) {
  fs::create_directories(dir.path() / ("model.ckpt-" + std::to_string(step)) / "model");
}

protos::ExportConfig Best(const std::string& metric = "", bool larger_is_better = true) {
  protos::ExportConfig config;
  config.set_exporter_type("best");
  if (!metric.empty()) config.set_best_exporter_metric(metric);
  config.set_metric_larger_is_better(larger_is_better);
  return config;
}

TEST(LatestCheckpointTest, PicksTheLargestNumericStepAmongDirectories) {
  ScratchDir dir;
  for (int64_t step : {9, 10, 2}) MakeCheckpoint(dir, step);
  WriteTextFile(dir / "model.ckpt-99", "a file, not a checkpoint");
  fs::create_directories(dir.path() / "model.ckpt-abc");
  const auto latest = LatestCheckpoint(dir.path().string());
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->step, 10);
  EXPECT_EQ(latest->path, dir / "model.ckpt-10");
  EXPECT_THAT(latest->reason, HasSubstr("latest of 3 checkpoint(s)"));
}

TEST(LatestCheckpointTest, ModelDirHoldingACheckpointDirectlyIsStepZero) {
  ScratchDir dir;
  fs::create_directories(dir.path() / "model");
  const auto latest = LatestCheckpoint(dir.path().string());
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->path, dir.path().string());
  EXPECT_EQ(latest->step, 0);
}

TEST(LatestCheckpointTest, PathNamingACheckpointIsUsedAsIs) {
  const auto latest = LatestCheckpoint("/somewhere/model.ckpt-77");
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->path, "/somewhere/model.ckpt-77");
  EXPECT_EQ(latest->step, 77);
}

TEST(LatestCheckpointTest, NoneInAnEmptyOrMissingDirectory) {
  ScratchDir dir;
  EXPECT_FALSE(LatestCheckpoint(dir.path().string()).has_value());
  EXPECT_FALSE(LatestCheckpoint(dir / "missing").has_value());
}

TEST(EvalLogTest, ParsesLinesAndSkipsBlankOnes) {
  ScratchDir dir;
  WriteTextFile(dir / "log.txt",
                "{\"global_step\": 5, \"auc\": 0.5, \"binary_cross_entropy\": 0.7}\n\n"
                "{\"global_step\": 9, \"auc\": 0.75}\n");
  const auto records = ParseEvalLog(testing::ReadTextFile(dir / "log.txt"), dir / "log.txt");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].global_step, 5);
  EXPECT_EQ(records[0].line, 1);
  EXPECT_FALSE(records[0].metrics.contains("global_step"));
  EXPECT_DOUBLE_EQ(records[0].metrics["binary_cross_entropy"].get<double>(), 0.7);
  EXPECT_EQ(records[1].global_step, 9);
  EXPECT_EQ(records[1].line, 3);
}

TEST(EvalLogTest, BadLinesAreErrorsNamingFileAndLine) {
  ScratchDir dir;
  WriteTextFile(dir / "a.txt", "{\"global_step\": 1, \"auc\": 0.5}\nnot json\n");
  EXPECT_THAT(ErrorOf([&] { ParseEvalLog(testing::ReadTextFile(dir / "a.txt"), dir / "a.txt"); }), HasSubstr(dir / "a.txt" + ":2:"));
  WriteTextFile(dir / "b.txt", "{\"auc\": 0.5}\n");
  EXPECT_THAT(ErrorOf([&] { ParseEvalLog(testing::ReadTextFile(dir / "b.txt"), dir / "b.txt"); }), HasSubstr("global_step"));
  WriteTextFile(dir / "c.txt", "[1]\n");
  EXPECT_THAT(ErrorOf([&] { ParseEvalLog(testing::ReadTextFile(dir / "c.txt"), dir / "c.txt"); }), HasSubstr(":1:"));
}

class BestCheckpointTest : public ::testing::Test {
 protected:
  void Log(const std::string& text) { WriteTextFile(dir_ / kEvalResultFile, text); }
  std::string model_dir() const { return dir_.path().string(); }
  ScratchDir dir_;
};

TEST_F(BestCheckpointTest, LargestMetricWinsAndTiesGoToTheStepFirstSeen) {
  for (int64_t step : {0, 1, 2, 3}) MakeCheckpoint(dir_, step);
  Log("{\"global_step\": 0, \"auc\": 0.6}\n"
      "{\"global_step\": 2, \"auc\": 0.7}\n"
      "{\"global_step\": 1, \"auc\": 0.7}\n"
      "{\"global_step\": 3, \"auc\": 0.65}\n");
  const auto best = ChooseFromListing(ListModelDir(model_dir()), Best("auc"));
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->step, 2);
  EXPECT_EQ(best->path, dir_ / "model.ckpt-2");
  EXPECT_THAT(best->reason, HasSubstr("auc=0.7"));
}

TEST_F(BestCheckpointTest, DefaultMetricIsAuc) {
  for (int64_t step : {10, 20}) MakeCheckpoint(dir_, step);
  Log("{\"global_step\": 10, \"auc\": 0.8, \"loss\": 0.1}\n"
      "{\"global_step\": 20, \"auc\": 0.7, \"loss\": 0.05}\n");
  protos::ExportConfig config;
  config.set_exporter_type("best");  // best_exporter_metric left unset
  EXPECT_EQ(ChooseCheckpoint(model_dir(), config, "").step, 10);
}

TEST_F(BestCheckpointTest, SmallerIsBetterWhenConfigured) {
  for (int64_t step : {10, 20, 30}) MakeCheckpoint(dir_, step);
  Log("{\"global_step\": 10, \"binary_cross_entropy\": 0.5}\n"
      "{\"global_step\": 20, \"binary_cross_entropy\": 0.3}\n"
      "{\"global_step\": 30, \"binary_cross_entropy\": 0.4}\n");
  EXPECT_EQ(ChooseFromListing(ListModelDir(model_dir()), Best("binary_cross_entropy", false))->step, 20);
  EXPECT_EQ(ChooseFromListing(ListModelDir(model_dir()), Best("binary_cross_entropy", true))->step, 10);
}

TEST_F(BestCheckpointTest, AStepLoggedTwiceTakesItsLaterValue) {
  for (int64_t step : {1, 2}) MakeCheckpoint(dir_, step);
  Log("{\"global_step\": 1, \"auc\": 0.9}\n"
      "{\"global_step\": 2, \"auc\": 0.8}\n"
      "{\"global_step\": 1, \"auc\": 0.7}\n");
  EXPECT_EQ(ChooseFromListing(ListModelDir(model_dir()), Best())->step, 2);
}

TEST_F(BestCheckpointTest, NoLogFallsBackToLatestAndSaysWhy) {
  for (int64_t step : {4, 8}) MakeCheckpoint(dir_, step);
  const auto best = ChooseFromListing(ListModelDir(model_dir()), Best());
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->step, 8);
  EXPECT_THAT(best->reason, HasSubstr("no eval log"));
  EXPECT_THAT(best->reason, HasSubstr("latest"));
}

TEST_F(BestCheckpointTest, EmptyLogFallsBackToLatest) {
  for (int64_t step : {4, 8}) MakeCheckpoint(dir_, step);
  Log("\n\n");
  const auto best = ChooseFromListing(ListModelDir(model_dir()), Best());
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->step, 8);
  EXPECT_THAT(best->reason, HasSubstr("no entries"));
}

TEST_F(BestCheckpointTest, MissingMetricListsTheMetricsPresent) {
  MakeCheckpoint(dir_, 1);
  Log("{\"global_step\": 1, \"accuracy\": 0.9, \"binary_cross_entropy\": 0.2}\n");
  try {
    ChooseFromListing(ListModelDir(model_dir()), Best());
    ADD_FAILURE() << "missing metric accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("\"auc\""));
    EXPECT_THAT(e.what(), HasSubstr("accuracy, binary_cross_entropy"));
  }
}

TEST_F(BestCheckpointTest, BestStepWithoutItsDirectoryIsAnError) {
  MakeCheckpoint(dir_, 1);
  Log("{\"global_step\": 1, \"auc\": 0.6}\n{\"global_step\": 2, \"auc\": 0.9}\n");
  EXPECT_THAT(ErrorOf([&] { ChooseFromListing(ListModelDir(model_dir()), Best()); }),
              HasSubstr(dir_ / "model.ckpt-2" + " does not exist"));
}

TEST(ChooseCheckpointTest, ExplicitPathWinsAndMustExist) {
  ScratchDir dir;
  MakeCheckpoint(dir, 3);
  MakeCheckpoint(dir, 5);
  const auto chosen = ChooseCheckpoint(dir.path().string(), protos::ExportConfig(),
                                       dir / "model.ckpt-3");
  EXPECT_EQ(chosen.step, 3);
  EXPECT_THAT(chosen.reason, HasSubstr("--checkpoint_path"));
  EXPECT_THAT(ErrorOf([&] {
                ChooseCheckpoint(dir.path().string(), protos::ExportConfig(), dir / "nope");
              }),
              HasSubstr(dir / "nope"));
}

TEST(ChooseCheckpointTest, LatestByDefault) {
  ScratchDir dir;
  MakeCheckpoint(dir, 3);
  MakeCheckpoint(dir, 5);
  WriteTextFile(dir / kEvalResultFile, "{\"global_step\": 3, \"auc\": 0.9}\n");
  EXPECT_EQ(ChooseCheckpoint(dir.path().string(), protos::ExportConfig(), "").step, 5);
}

TEST(ChooseCheckpointTest, NoCheckpointIsAnErrorNamingModelDir) {
  ScratchDir dir;
  EXPECT_THAT(ErrorOf([&] { ChooseCheckpoint(dir.path().string(), protos::ExportConfig(), ""); }),
              HasSubstr("no checkpoint in model_dir " + dir.path().string()));
}

TEST(ChooseCheckpointTest, UnknownExporterTypeIsAConfigError) {
  ScratchDir dir;
  MakeCheckpoint(dir, 1);
  protos::ExportConfig config;
  config.set_exporter_type("final");
  EXPECT_THROW(ChooseCheckpoint(dir.path().string(), config, ""), ConfigError);
}

// The choice reads only the listing: no filesystem, as for a remote model_dir.
TEST(ChooseFromListingTest, DecidesFromNamesAndLogTextAlone) {
  ModelDirListing listing;
  listing.model_dir = "s3://bucket/run";
  listing.subdirectories = {"model.ckpt-9", "model.ckpt-10", "model.ckpt-2", "other", "model.ckpt-x"};
  const auto latest = ChooseFromListing(listing, protos::ExportConfig());
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->step, 10);  // numeric, not lexical, order
  EXPECT_EQ(latest->path, "s3://bucket/run/model.ckpt-10");
  listing.eval_log = "{\"global_step\": 9, \"auc\": 0.8}\n{\"global_step\": 10, \"auc\": 0.7}\n";
  protos::ExportConfig best;
  best.set_exporter_type("best");
  EXPECT_EQ(ChooseFromListing(listing, best)->step, 9);
  listing.subdirectories = {"model"};
  const auto direct = ChooseFromListing(listing, protos::ExportConfig());
  ASSERT_TRUE(direct.has_value());
  EXPECT_EQ(direct->path, "s3://bucket/run");
  EXPECT_EQ(direct->step, 0);
  listing.subdirectories.clear();
  EXPECT_FALSE(ChooseFromListing(listing, protos::ExportConfig()).has_value());
}

// Train, eval, predict and export pick the same checkpoint from one model_dir.
TEST(ChooseFromListingTest, EveryJobPicksTheSameLatest) {
  ScratchDir dir;
  MakeCheckpoint(dir, 7);
  MakeCheckpoint(dir, 12);
  EXPECT_EQ(LatestCheckpoint(dir.path().string())->path, dir / "model.ckpt-12");
  EXPECT_EQ(ChooseCheckpoint(dir.path().string(), protos::ExportConfig(), "").path, dir / "model.ckpt-12");
}

}  // namespace
}  // namespace tzrec::checkpoint
