#include "train/train_eval.h"

#include <filesystem>
#include <fstream>
#include <memory>

#include <spdlog/spdlog.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/checkpoint_choice.h"
#include "common/error.h"
#include "common/progress.h"
#include "config/pipeline_config.h"
#include "validation/validate.h"
#include "data/batch_iterator.h"
#include "data/data_options.h"
#include "features/feature_factory.h"
#include "features/fg/fg_spec.h"
#include "features/fg_json.h"
#include "models/model.h"
#include "checkpoint/eval_log.h"
#include "train/event_file.h"
#include "train/train_checkpoint.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace tzrec::train {
namespace {

// Everything a job builds from the config before it touches data.
struct Job {
  protos::EasyRecConfig config;
  FeatureList features;
  std::shared_ptr<const fg::FgEngine> engine;
  std::unique_ptr<models::Model> model;
};

// Loads, validates and builds. `edit` applies command-line overrides before
// validation, so that an override is checked like the config itself.
Job BuildJob(const std::string& config_path, const std::function<void(protos::EasyRecConfig&)>& edit) {
  Job job;
  job.config = LoadPipelineConfig(config_path);
  edit(job.config);
  ValidatePipelineConfig(job.config);
  CheckSupported(job.config);
  job.features = CreateFeatures(job.config);
  auto pointers = FeaturePointers(job.features);
  // Training reads its inputs through the same FG engine and fg.json that the
  // export hands to serving, so both see identical ids.
  nlohmann::json fg_json = nlohmann::json::parse(CreateFgJson(pointers).dump());
  job.engine = std::make_shared<fg::FgEngine>(fg::ParseFgJson(fg_json, config_path),
                                              data::FgEngineOptionsFromConfig(job.config));
  job.model = models::BuildModel(job.config, pointers);
  return job;
}

// Upstream's TensorBoard summaries: train_config.tensorboard_summaries (by
// default "loss" and "learning_rate") when use_tensorboard is on.
struct TensorBoardSummaries {
  bool loss = false;
  bool learning_rate = false;
};

TensorBoardSummaries SummariesOf(const protos::TrainConfig& train_config) {
  TensorBoardSummaries out;
  if (!train_config.use_tensorboard()) return out;
  if (train_config.tensorboard_summaries().empty()) {
    out.loss = out.learning_rate = true;
    return out;
  }
  for (const std::string& name : train_config.tensorboard_summaries()) {
    if (name == "loss") {
      out.loss = true;
    } else if (name == "learning_rate") {
      out.learning_rate = true;
    } else {
      // Histograms and gradient norms need the backward pass's tensors;
      // tzrec does not write them yet.
      spdlog::warn("train_config.tensorboard_summaries: '{}' is not written by tzrec (only loss, "
                   "learning_rate)", name);
    }
  }
  return out;
}

// Writes each evaluation's metrics as metric/<name> through `writer`.
std::function<void(int64_t, const std::map<std::string, double>&)> MetricSummaries(
    std::shared_ptr<EventFileWriter> writer) {
  return [writer](int64_t step, const std::map<std::string, double>& metrics) {
    for (const auto& [name, value] : metrics) writer->AddScalar("metric/" + name, value, step);
    writer->Flush();
  };
}

std::unique_ptr<data::BatchIterator> MakeIterator(const Job& job, const std::string& input_path,
                                                  int num_epochs, bool for_eval) {
  const auto& data_config = job.config.data_config();
  data::DataParserOptions parser_options = data::DataParserOptionsFromConfig(data_config);
  // Fixed seeds: a run's sampled negatives repeat, and eval's differ from train's.
  data::SetNegativeSampler(data_config, FeaturePointers(job.features), for_eval, for_eval ? 2 : 1,
                           parser_options);
  return std::make_unique<data::BatchIterator>(
      data::BatchIteratorOptionsFromConfig(data_config, input_path, num_epochs, for_eval), job.engine,
      std::move(parser_options));
}

BatchSource SourceOf(std::shared_ptr<data::BatchIterator> iterator) {
  return [iterator](models::TensorMap& batch, int& epoch) {
    data::Batch next;
    if (!iterator->Next(&next)) return false;
    batch = std::move(next.inputs);
    epoch = next.epoch;
    return true;
  };
}

}  // namespace

void TrainAndEvaluate(const TrainEvalOptions& options) {
  Job job = BuildJob(options.pipeline_config_path, [&](protos::EasyRecConfig& config) {
    if (!options.model_dir.empty()) config.set_model_dir(options.model_dir);
    if (!options.train_input_path.empty()) config.set_train_input_path(options.train_input_path);
    if (!options.eval_input_path.empty()) config.set_eval_input_path(options.eval_input_path);
    if (!options.fine_tune_checkpoint.empty()) {
      config.mutable_train_config()->set_fine_tune_checkpoint(options.fine_tune_checkpoint);
    }
  });
  const auto& config = job.config;
  const std::string& model_dir = config.model_dir();
  if (model_dir.empty()) FailConfig("{}: model_dir is not set", options.pipeline_config_path);
  if (config.train_input_path().empty()) {
    FailConfig("{}: train_input_path is not set (or pass --train_input_path)", options.pipeline_config_path);
  }

  Trainer trainer(*job.model, config);
  int64_t start_step = 0;
  if (auto latest = checkpoint::LatestCheckpoint(model_dir)) {
    if (!options.continue_train) {
      Fail("model_dir {} already has checkpoints ({}); pass --continue_train to resume, or use another "
           "model_dir", model_dir, latest->path);
    }
    start_step = RestoreTrainCheckpoint(trainer, latest->path, !options.ignore_restore_optimizer) + 1;
    spdlog::info("continuing from {} at step {}", latest->path, start_step);
  } else if (!config.train_config().fine_tune_checkpoint().empty()) {
    auto fine_tune = checkpoint::LatestCheckpoint(config.train_config().fine_tune_checkpoint());
    if (!fine_tune) Fail("fine_tune_checkpoint {} has no checkpoint", config.train_config().fine_tune_checkpoint());
    // A fine-tune source may hold more than this model (another head, a
    // larger model): only the model's own tensors must be there.
    checkpoint::RestoreOptions restore;
    restore.allow_extra = true;
    checkpoint::RestoreModel(*job.model, fine_tune->path, restore);
    spdlog::info("fine-tuning from {}", fine_tune->path);
  }

  const auto& train_config = config.train_config();
  // No epoch count with a step budget: cycle the data until the budget is spent.
  int num_epochs = train_config.num_epochs() > 0 ? static_cast<int>(train_config.num_epochs())
                   : train_config.num_steps() > 0 ? 0
                                                  : 1;
  // The inputs are checked before model_dir is created, so that a run refused
  // for a missing file, a missing column or a bad first row leaves none behind:
  // the train files (and the first batch, read ahead), the eval files.
  std::shared_ptr<data::BatchIterator> train_iterator =
      MakeIterator(job, config.train_input_path(), num_epochs, /*for_eval=*/false);
  auto first_batch = std::make_shared<data::Batch>();
  const bool has_first_batch = train_iterator->Next(first_batch.get());
  if (!config.eval_input_path().empty()) data::ExpandInputPath(config.eval_input_path());

  fs::create_directories(model_dir);
  SavePipelineConfig(config, (fs::path(model_dir) / "pipeline.config").string());

  Progress progress("train", train_config.num_steps(), "steps");
  int64_t steps_seen = start_step;
  BatchSource rest = SourceOf(train_iterator);
  BatchSource inner = [first_batch, pending = has_first_batch, rest](models::TensorMap& batch,
                                                                      int& epoch) mutable {
    if (!pending) return rest(batch, epoch);
    pending = false;
    batch = std::move(first_batch->inputs);
    epoch = first_batch->epoch;
    return true;
  };
  BatchSource train_source = [&](models::TensorMap& batch, int& epoch) {
    if (!inner(batch, epoch)) return false;
    progress.Update(++steps_seen);
    return true;
  };

  TrainLoopOptions loop;
  loop.start_step = start_step;
  loop.has_eval = !config.eval_input_path().empty();
  loop.eval_steps = config.eval_config().num_steps();
  TrainLoopHooks hooks;
  const std::string eval_log = (fs::path(model_dir) / checkpoint::kEvalResultFile).string();
  hooks.save_checkpoint = [&](int64_t step) {
    SaveTrainCheckpoint(model_dir, step, trainer, train_config.keep_checkpoint_max());
  };
  hooks.eval_source = [&]() -> BatchSource {
    return SourceOf(MakeIterator(job, config.eval_input_path(), 1, /*for_eval=*/true));
  };
  std::function<void(int64_t, const std::map<std::string, double>&)> eval_summaries;
  const TensorBoardSummaries summaries = SummariesOf(train_config);
  std::shared_ptr<EventFileWriter> train_events;
  if (summaries.loss || summaries.learning_rate) {
    // Upstream's layout: training scalars in model_dir, evaluation in model_dir/eval_val.
    train_events = std::make_shared<EventFileWriter>(model_dir);
    eval_summaries = MetricSummaries(
        std::make_shared<EventFileWriter>((fs::path(model_dir) / "eval_val").string()));
    hooks.on_log = [&](int64_t step, const StepResult& result, double sparse_lr, double dense_lr) {
      if (summaries.loss) {
        for (const auto& [name, value] : result.losses) train_events->AddScalar("loss/" + name, value, step);
        train_events->AddScalar("loss/total", result.total_loss, step);
      }
      if (summaries.learning_rate) {
        // Upstream's param groups: the sparse (fused embedding) optimizer's, then the dense one's.
        train_events->AddScalar("lr/g0", sparse_lr, step);
        train_events->AddScalar("lr/g1", dense_lr, step);
      }
      train_events->Flush();
    };
  }
  hooks.on_eval = [&](int64_t step, const std::map<std::string, double>& metrics) {
    checkpoint::AppendEvalResult(eval_log, step, metrics);
    if (eval_summaries) eval_summaries(step, metrics);
  };
  int64_t last = RunTrainLoop(trainer, train_config, train_source, loop, hooks);
  progress.Finish();
  if (last < start_step) spdlog::warn("no training step ran: the train input is empty or num_steps is reached");
}

std::map<std::string, double> Evaluate(const EvalOptions& options) {
  Job job = BuildJob(options.pipeline_config_path, [&](protos::EasyRecConfig& config) {
    if (!options.eval_input_path.empty()) config.set_eval_input_path(options.eval_input_path);
  });
  const auto& config = job.config;
  if (config.eval_input_path().empty()) {
    FailConfig("{}: eval_input_path is not set (or pass --eval_input_path)", options.pipeline_config_path);
  }
  std::string checkpoint_path = options.checkpoint_path;
  if (checkpoint_path.empty()) {
    auto latest = checkpoint::LatestCheckpoint(config.model_dir());
    if (!latest) Fail("no checkpoint model.ckpt-* in model_dir {}", config.model_dir());
    checkpoint_path = latest->path;
  } else if (!fs::is_directory(checkpoint_path)) {
    Fail("checkpoint {} does not exist", checkpoint_path);
  }
  checkpoint::RestoreOptions restore;
  restore.use_dense_ema = checkpoint::UseDenseEma(config.eval_config(), config.train_config());
  checkpoint::RestoreModel(*job.model, checkpoint_path, restore);
  spdlog::info("evaluating {}", checkpoint_path);

  Trainer trainer(*job.model, config);
  auto metrics = trainer.Evaluate(SourceOf(MakeIterator(job, config.eval_input_path(), 1, true)),
                                  config.eval_config().num_steps());
  int64_t step = checkpoint::CheckpointStep(checkpoint_path).value_or(-1);
  std::string line = checkpoint::EvalResultLine(step, metrics);
  spdlog::info("eval result: {}", line);
  if (!config.model_dir().empty() && config.train_config().use_tensorboard()) {
    // As upstream's evaluate: metrics into model_dir/eval.
    MetricSummaries(std::make_shared<EventFileWriter>((fs::path(config.model_dir()) / "eval").string()))(
        std::max<int64_t>(step, 0), metrics);
  }
  if (!config.model_dir().empty() && !options.eval_result_filename.empty()) {
    // Appended, as upstream's evaluate opens the file with "a".
    checkpoint::AppendEvalResult((fs::path(config.model_dir()) / options.eval_result_filename).string(), step,
                     metrics);
  }
  return metrics;
}

}  // namespace tzrec::train
