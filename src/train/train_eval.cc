#include "train/train_eval.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "checkpoint/checkpoint.h"
#include "common/error.h"
#include "config/pipeline_config.h"
#include "data/batch_iterator.h"
#include "data/data_options.h"
#include "features/feature_factory.h"
#include "features/fg/fg_engine.h"
#include "features/fg/fg_spec.h"
#include "features/fg_json.h"
#include "models/model.h"
#include "train/eval_log.h"
#include "train/train_checkpoint.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace tzrec::train {
namespace {

// Everything built from the config that both commands need.
struct Pipeline {
  protos::EasyRecConfig config;
  FeatureList features;
  std::shared_ptr<const fg::FgEngine> engine;
  std::unique_ptr<models::Model> model;

  explicit Pipeline(const std::string& config_path) : config(LoadPipelineConfig(config_path)) {}

  void Build() {
    features = CreateFeatures(config);
    const std::vector<const Feature*> pointers = FeaturePointers(features);
    model = models::BuildModel(config, pointers);
    // The FG spec an export writes, so training sees exactly what serving sees.
    const nlohmann::ordered_json fg_json = CreateFgJson(pointers);
    engine = std::make_shared<fg::FgEngine>(
        fg::ParseFgJson(nlohmann::json::parse(fg_json.dump()), "fg.json of the pipeline config"),
        data::FgEngineOptionsFromConfig(config));
  }

  // Batches of `input_path`; num_epochs <= 0 repeats without end.
  BatchSource Source(const std::string& input_path, int num_epochs, bool for_eval) const {
    auto it = std::make_shared<data::BatchIterator>(
        data::BatchIteratorOptionsFromConfig(config.data_config(), input_path, num_epochs, for_eval),
        engine, data::DataParserOptionsFromConfig(config.data_config()));
    return [it](models::TensorMap& batch, int& epoch) {
      data::Batch b;
      if (!it->Next(&b)) return false;
      batch = std::move(b.inputs);
      epoch = b.epoch;
      return true;
    };
  }
};

}  // namespace

void TrainAndEvaluate(const TrainEvalOptions& options) {
  Pipeline p(options.pipeline_config_path);
  protos::EasyRecConfig& config = p.config;
  if (!options.model_dir.empty()) config.set_model_dir(options.model_dir);
  if (!options.train_input_path.empty()) config.set_train_input_path(options.train_input_path);
  if (!options.eval_input_path.empty()) config.set_eval_input_path(options.eval_input_path);
  if (!options.fine_tune_checkpoint.empty()) {
    config.mutable_train_config()->set_fine_tune_checkpoint(options.fine_tune_checkpoint);
  }
  const std::string& model_dir = config.model_dir();
  if (model_dir.empty()) FailConfig("model_dir: not set (in the config or with --model_dir)");
  if (config.train_input_path().empty()) FailConfig("train_input_path: not set");
  const protos::TrainConfig& tc = config.train_config();
  if (tc.num_steps() == 0 && tc.num_epochs() == 0) {
    FailConfig("train_config: set num_steps or num_epochs");
  }

  // Which checkpoint to start from: model_dir's latest when continuing,
  // else fine_tune_checkpoint's latest (model only).
  std::optional<std::string> restore;
  bool restore_optimizer = false;
  if (!tc.fine_tune_checkpoint().empty()) {
    restore = checkpoint::LatestCheckpoint(tc.fine_tune_checkpoint());
    if (!restore || !fs::exists(*restore)) {
      Fail("fine_tune_checkpoint [{}] does not exist", tc.fine_tune_checkpoint());
    }
  }
  int64_t start_step = 0;
  if (auto latest = checkpoint::LatestCheckpoint(model_dir); latest && fs::exists(*latest)) {
    if (!options.continue_train) {
      Fail("model_dir [{}] already has checkpoints; delete it or pass --continue_train", model_dir);
    }
    restore = latest;
    restore_optimizer = !options.ignore_restore_optimizer;
    start_step = *checkpoint::CheckpointStep(*latest) + 1;
  }

  p.Build();
  Trainer trainer(*p.model, config);
  if (restore) {
    spdlog::info("restoring {} from {}", restore_optimizer ? "model and optimizer" : "model", *restore);
    RestoreTrainCheckpoint(trainer, *restore, restore_optimizer);
  }
  fs::create_directories(model_dir);
  SavePipelineConfig(config, (fs::path(model_dir) / "pipeline.config").string());

  // Without num_epochs the data repeats until num_steps (upstream counts
  // epochs without end in that case).
  const int num_epochs = tc.num_epochs() > 0 ? static_cast<int>(tc.num_epochs()) : 0;
  BatchSource train = p.Source(config.train_input_path(), num_epochs, false);
  TrainLoopOptions loop;
  loop.start_step = start_step;
  loop.has_eval = !config.eval_input_path().empty();
  loop.eval_steps = config.eval_config().num_steps();
  TrainLoopHooks hooks;
  hooks.save_checkpoint = [&](int64_t step) {
    SaveTrainCheckpoint(model_dir, step, trainer, tc.keep_checkpoint_max());
  };
  hooks.eval_source = [&] { return p.Source(config.eval_input_path(), 1, true); };
  hooks.on_eval = [&](int64_t step, const std::map<std::string, double>& metrics) {
    AppendEvalResult((fs::path(model_dir) / kEvalResultFile).string(), step, metrics);
  };
  if (tc.num_steps() > 0 && start_step >= static_cast<int64_t>(tc.num_steps())) {
    spdlog::warn("checkpoint step {} already reaches num_steps {}; nothing to train", start_step - 1,
                 tc.num_steps());
    return;
  }
  RunTrainLoop(trainer, tc, train, loop, hooks);
}

std::map<std::string, double> Evaluate(const EvalOptions& options) {
  Pipeline p(options.pipeline_config_path);
  protos::EasyRecConfig& config = p.config;
  if (!options.eval_input_path.empty()) config.set_eval_input_path(options.eval_input_path);
  if (config.eval_input_path().empty()) FailConfig("eval_input_path: not set");
  std::string ckpt = options.checkpoint_path;
  if (ckpt.empty()) {
    auto latest = checkpoint::LatestCheckpoint(config.model_dir());
    if (!latest) Fail("no checkpoint found in model_dir [{}]", config.model_dir());
    ckpt = *latest;
  }
  p.Build();
  checkpoint::RestoreModel(*p.model, ckpt);
  // Evaluation needs no optimizer, but Trainer holds the loss/metric logic;
  // its optimizers are never stepped.
  Trainer trainer(*p.model, config);
  auto metrics = trainer.Evaluate(p.Source(config.eval_input_path(), 1, true),
                                  config.eval_config().num_steps());
  const int64_t step = checkpoint::CheckpointStep(ckpt).value_or(0);
  std::string text;
  for (const auto& [k, v] : metrics) text += fmt::format(" {}: {:.6f}", k, v);
  spdlog::info("eval of {}:{}", ckpt, text);
  if (!config.model_dir().empty()) {
    AppendEvalResult((fs::path(config.model_dir()) / options.eval_result_filename).string(), step,
                     metrics);
  }
  return metrics;
}

}  // namespace tzrec::train
