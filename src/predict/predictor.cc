#include "predict/predictor.h"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/progress.h"
#include "config/pipeline_config.h"
#include "data/batch_iterator.h"
#include "data/csv_reader.h"
#include "data/data_options.h"
#include "data/data_parser.h"
#include "common/pipeline_queue.h"
#include "predict/prediction_model.h"
#include "predict/prediction_writer.h"

namespace tzrec::predict {
namespace {

// CSV rows as read, numbered in input order.
struct RawBatch {
  int64_t sequence = 0;
  std::unique_ptr<data::RowBatch> rows;  // heap: its fields point into its own bytes
  std::vector<int> reserved_indices;        // per file: columns may be ordered differently
};

// Model inputs of one batch and the reserved fields of its rows.
struct ParsedBatch {
  data::TensorMap inputs;
  std::vector<std::string> reserved;  // row-major
  int64_t rows = 0;
};

struct PredictedBatch {
  c10::Dict<std::string, at::Tensor> predictions;
  std::vector<std::string> reserved;
  int64_t rows = 0;
};

// The first failure of any stage wins; it cancels every queue so that all
// other stages stop instead of waiting forever.
class FailureLatch {
 public:
  explicit FailureLatch(std::function<void()> cancel_all) : cancel_all_(std::move(cancel_all)) {}
  void Record(std::exception_ptr error) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (first_) return;
      first_ = error;
    }
    cancel_all_();
  }
  void RethrowIfFailed() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (first_) std::rethrow_exception(first_);
  }

 private:
  std::function<void()> cancel_all_;
  std::mutex mutex_;
  std::exception_ptr first_;
};

// Indices of the reserved columns in `columns`; every column FG reads and
// every reserved column must be there (an error names the file and lists
// what it has).
std::vector<int> CheckColumns(const std::string& file, const std::vector<std::string>& columns,
                              const std::vector<std::string>& input_columns,
                              const std::vector<std::string>& reserved_columns) {
  auto index_of = [&](const std::string& name) {
    auto it = std::find(columns.begin(), columns.end(), name);
    return it == columns.end() ? -1 : static_cast<int>(it - columns.begin());
  };
  for (const auto& name : input_columns) {
    if (index_of(name) < 0) {
      Fail("input column '{}' (read by the model's features) is missing from {} (columns: {})", name,
           file, fmt::join(columns, ", "));
    }
  }
  std::vector<int> indices;
  for (const auto& name : reserved_columns) {
    const int index = index_of(name);
    if (index < 0) {
      Fail("reserved column '{}' is missing from {} (columns: {})", name, file, fmt::join(columns, ", "));
    }
    indices.push_back(index);
  }
  return indices;
}

ParsedBatch ParseBatch(const fg::FgEngine& engine, const RawBatch& raw) {
  const data::RowBatch& rows = *raw.rows;
  const fg::FeatureBatch features = engine.Process(rows.ToInputBatch());
  ParsedBatch parsed;
  data::AddFeatureTensors(features, parsed.inputs);
  parsed.rows = features.num_rows;
  // Rows FG dropped as bad (skip_bad_rows) have no prediction: drop their
  // reserved fields too, so that the columns stay aligned.
  std::vector<bool> skipped(static_cast<size_t>(rows.num_rows), false);
  for (int64_t r : features.skipped_rows) skipped[static_cast<size_t>(r)] = true;
  parsed.reserved.reserve(static_cast<size_t>(parsed.rows) * raw.reserved_indices.size());
  for (int64_t r = 0; r < rows.num_rows; ++r) {
    if (skipped[static_cast<size_t>(r)]) continue;
    for (int c : raw.reserved_indices) parsed.reserved.emplace_back(rows.Field(r, static_cast<size_t>(c)));
  }
  return parsed;
}

// Sums the CPU time of the threads of one pipeline stage.
class StageClock {
 public:
  void Add(double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    seconds_ += seconds;
  }
  double seconds() const { return seconds_; }

 private:
  std::mutex mutex_;
  double seconds_ = 0;
};

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Adds the CPU time the current thread spends in its scope to a StageClock.
class StageTimer {
 public:
  explicit StageTimer(StageClock& clock) : clock_(clock), start_(ThreadCpuSeconds()) {}
  ~StageTimer() { clock_.Add(ThreadCpuSeconds() - start_); }

 private:
  StageClock& clock_;
  double start_;
};

// The flags' own checks, before any file is read.
void CheckRequest(const PredictRequest& request) {
  if (request.pipeline_config_path.empty() && request.scripted_model_path.empty()) {
    FailConfig("predict needs --scripted_model_path (an export directory) or --pipeline_config_path");
  }
  if (!request.pipeline_config_path.empty() && !request.scripted_model_path.empty()) {
    spdlog::warn("both --pipeline_config_path and --scripted_model_path are given; predicting with the "
                 "checkpoint, as upstream does");
  }
  if (request.predict_input_path.empty()) FailConfig("--predict_input_path is not set");
  if (request.predict_output_path.empty()) FailConfig("--predict_output_path is not set");
  if (request.batch_size < 0) FailConfig("--batch_size must be positive, got {}", request.batch_size);
  if (request.predict_threads < 0) FailConfig("--predict_threads must be positive, got {}", request.predict_threads);
  if (request.predict_steps < 0) FailConfig("--predict_steps must be positive, got {}", request.predict_steps);
  if (!request.dataset_type.empty() && request.dataset_type != "CsvDataset" &&
      request.dataset_type != "ParquetDataset") {
    FailConfig("--dataset_type {} is not supported (CsvDataset or ParquetDataset)", request.dataset_type);
  }
  if (!request.writer_type.empty() && request.writer_type != "CsvWriter" && request.writer_type != "ParquetWriter") {
    FailConfig("--writer_type {} is not supported (CsvWriter or ParquetWriter)", request.writer_type);
  }
}

// Intra-op threads for the model: the cores the `parsers` leave free, at
// least one. Measured on a busy 2-core machine: 2 intra-op threads next to 2
// parsers made a run ~3x slower than 1 (OpenMP threads spin while they wait
// for a core). Cores this process may run on (taskset / cgroup cpusets narrow
// them), not the machine's: intra-op threads beyond those only wait.
int ModelThreads(int parsers) {
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) cores = std::max(1, CPU_COUNT(&allowed));
  return std::max(1, cores - parsers);
}

// A checkpoint wins over an export, as upstream.
std::unique_ptr<PredictionModel> OpenModel(const PredictRequest& request) {
  if (!request.pipeline_config_path.empty()) {
    return PredictionModel::FromCheckpoint(LoadPipelineConfig(request.pipeline_config_path), request.checkpoint_path);
  }
  return PredictionModel::FromExportDir(request.scripted_model_path);
}

// Everything the pipeline needs, settled and checked before any thread starts.
struct PredictPlan {
  std::vector<std::string> files;
  bool parquet_dataset = false;
  data::CsvOptions csv;
  data::ParquetOptions parquet;  // projected to the columns FG reads and the reserved ones
  int64_t batch_size = 0;
  std::vector<fg::FgEngine> engines;       // one per parser thread
  std::vector<std::string> input_columns;  // what FG reads: every file must have them
  std::unique_ptr<PredictionWriter> writer;
};

// The data_config's settings, overridden by the flags. The steps keep their
// order: it decides which of several problems is reported.
PredictPlan PlanPrediction(const PredictRequest& request, std::vector<std::string> files,
                           const PredictionModel& model) {
  PredictPlan plan;
  plan.files = std::move(files);
  const protos::DataConfig& data_config = model.config().data_config();
  const data::BatchIteratorOptions config_options = data::BatchIteratorOptionsFromConfig(
      data_config, request.predict_input_path, /*num_epochs=*/1, /*for_eval=*/true);
  plan.csv = config_options.csv;
  plan.parquet_dataset =
      request.dataset_type.empty() ? config_options.parquet_dataset : request.dataset_type == "ParquetDataset";
  // Parquet input gets Parquet output, as upstream derives its writer from the
  // dataset type: the type is known only once the model's config is.
  const bool parquet_output = request.writer_type.empty()
                                  ? data::IsParquetPath(plan.files.front(), plan.parquet_dataset)
                                  : request.writer_type == "ParquetWriter";
  plan.writer = PredictionWriter::Create(parquet_output ? PredictionFormat::kParquet : PredictionFormat::kCsv,
                                         request.predict_output_path, request.output_columns,
                                         request.reserved_columns);
  plan.batch_size = request.batch_size > 0 ? request.batch_size : config_options.batch_size;
  if (plan.batch_size <= 0) FailConfig("data_config batch_size must be positive, got {}", plan.batch_size);
  const int threads = request.predict_threads > 0
                          ? request.predict_threads
                          : std::max<int>(static_cast<int>(data_config.num_workers()), 1);
  at::set_num_threads(ModelThreads(threads));

  // Engines are built here so that a bad FG spec fails before any thread starts.
  for (int i = 0; i < threads; ++i) plan.engines.push_back(model.NewFgEngine());
  plan.input_columns = plan.engines.front().input_columns();
  // Reserved columns are written as read: text.
  plan.parquet = config_options.parquet;
  data::ProjectColumns(plan.engines.front(), request.reserved_columns, plan.parquet);
  return plan;
}

// The reader -> parsers -> model -> writer pipeline of predictor.h over one
// plan. Each stage is a member run on its own thread(s), the model on the
// calling thread; they share the queues, the failure latch and the stages'
// CPU clocks.
class PredictPipeline {
 public:
  PredictPipeline(const PredictRequest& request, const PredictPlan& plan, PredictionModel& model)
      : request_(request),
        plan_(plan),
        writer_(*plan.writer),
        model_(model),
        raw_queue_(plan.engines.size() * 2),
        parsed_queue_(plan.engines.size() * 2),
        predicted_queue_(2),
        failure_([this] {
          raw_queue_.Cancel();
          parsed_queue_.Cancel();
          predicted_queue_.Cancel();
        }) {}

  // Runs every stage to its end; rethrows the first failure of any stage.
  void Run();

  // Batches read; set once Run() returned.
  int64_t batches() const { return batches_; }

  // CPU seconds of each stage's thread(s) (the model's: its calling thread),
  // logged at the end so a slow run shows which stage limits it.
  void LogStageTimes() const {
    spdlog::info("CPU seconds by stage: read {:.2f}, parse/FG {:.2f}, model {:.2f}, write {:.2f}",
                 read_clock_.seconds(), parse_clock_.seconds(), model_clock_.seconds(), write_clock_.seconds());
  }

 private:
  // `body` for a thread: its exception, instead of ending the process,
  // cancels the pipeline and is rethrown by Run().
  template <typename Body>
  auto Guarded(Body body) {
    return [this, body]() mutable {
      try {
        body();
      } catch (...) {
        failure_.Record(std::current_exception());
      }
    };
  }

  // Reads the files in order into numbered raw batches, up to predict_steps.
  void ReadFiles() {
    StageTimer timer(read_clock_);
    int64_t sequence = 0;
    for (const auto& file : plan_.files) {
      const std::unique_ptr<data::RowReader> file_reader =
          data::OpenRowReader(file, plan_.parquet_dataset, plan_.csv, plan_.parquet);
      const std::vector<int> reserved =
          CheckColumns(file, file_reader->column_names(), plan_.input_columns, request_.reserved_columns);
      if (sequence == 0) {
        // The first file's types of the reserved columns (Parquet output keeps them).
        const std::vector<data::ColumnType> types = file_reader->column_types();
        std::vector<data::ColumnType> reserved_types;
        for (int index : reserved) reserved_types.push_back(types[static_cast<size_t>(index)]);
        writer_.SetReservedTypes(reserved_types, plan_.parquet.list_separator);
      }
      while (request_.predict_steps == 0 || sequence < request_.predict_steps) {
        auto rows = std::make_unique<data::RowBatch>();
        if (file_reader->ReadRows(plan_.batch_size, rows.get()) == 0) break;
        if (rows->num_rows == 0) continue;  // every row of the chunk was bad and skipped
        if (!raw_queue_.Push(RawBatch{sequence, std::move(rows), reserved})) return;
        ++sequence;
      }
      if (request_.predict_steps != 0 && sequence >= request_.predict_steps) break;
    }
    batches_ = sequence;
    raw_queue_.Close();
    parsed_queue_.Close(sequence);
  }

  // One parser thread: FG on raw batches, in whatever order they come.
  void ParseBatches(const fg::FgEngine& engine) {
    StageTimer timer(parse_clock_);
    while (std::optional<RawBatch> raw = raw_queue_.Pop()) {
      ParsedBatch parsed = ParseBatch(engine, *raw);
      const int64_t sequence = raw->sequence;
      raw.reset();  // frees the CSV text before waiting for the model
      if (!parsed_queue_.Push(sequence, std::move(parsed))) return;
    }
  }

  void RunModel() {
    StageTimer timer(model_clock_);
    while (std::optional<ParsedBatch> parsed = parsed_queue_.Pop()) {
      if (parsed->rows == 0) continue;  // every row was bad and skipped
      PredictedBatch predicted;
      predicted.predictions = model_.Run(parsed->inputs);
      predicted.reserved = std::move(parsed->reserved);
      predicted.rows = parsed->rows;
      if (!predicted_queue_.Push(std::move(predicted))) return;
    }
    predicted_queue_.Close();
  }

  void WriteBatches() {
    StageTimer timer(write_clock_);
    Progress progress("Predicting", 0, "rows");
    while (std::optional<PredictedBatch> batch = predicted_queue_.Pop()) {
      writer_.Write(batch->predictions, batch->reserved, batch->rows);
      progress.Update(static_cast<uint64_t>(writer_.rows_written()));
    }
    progress.Finish();
  }

  const PredictRequest& request_;
  const PredictPlan& plan_;
  PredictionWriter& writer_;
  PredictionModel& model_;
  // Declared before failure_, whose callback cancels them.
  BoundedQueue<RawBatch> raw_queue_;
  OrderedQueue<ParsedBatch> parsed_queue_;
  BoundedQueue<PredictedBatch> predicted_queue_;
  FailureLatch failure_;
  StageClock read_clock_, parse_clock_, model_clock_, write_clock_;
  int64_t batches_ = 0;  // written by the reader thread, read after it joined
};

// Out of the class: Guarded's return type is deduced only once it is defined.
void PredictPipeline::Run() {
  std::thread reader(Guarded([this] { ReadFiles(); }));
  std::vector<std::thread> parsers;
  for (const fg::FgEngine& engine : plan_.engines) {
    parsers.emplace_back(Guarded([this, &engine] { ParseBatches(engine); }));
  }
  std::thread writer(Guarded([this] { WriteBatches(); }));
  // The model runs on this thread, one batch at a time, in input order.
  Guarded([this] { RunModel(); })();

  reader.join();
  for (auto& t : parsers) t.join();
  writer.join();
  failure_.RethrowIfFailed();
}

// After every stage finished: the output is renamed into place only now, and
// only if it has rows.
PredictSummary CommitOutput(const PredictRequest& request, PredictionWriter& writer, const PredictionModel& model,
                            int64_t batches) {
  if (!writer.started()) {
    Fail("no rows to predict in {}", request.predict_input_path);
  }
  writer.Commit();
  PredictSummary summary;
  summary.rows = writer.rows_written();
  summary.batches = batches;
  summary.columns = writer.header();
  summary.model_source = model.source();
  spdlog::info("wrote {} predictions ({} batches) to {}", summary.rows, summary.batches, writer.path());
  return summary;
}

}  // namespace

PredictSummary Predict(const PredictRequest& request) {
  CheckRequest(request);
  // Cheap checks first: the input files, before loading a model.
  std::vector<std::string> files = data::ExpandInputPath(request.predict_input_path);
  const std::unique_ptr<PredictionModel> model = OpenModel(request);
  const PredictPlan plan = PlanPrediction(request, std::move(files), *model);
  spdlog::info("predicting {} with {} ({} file(s), batch size {}, {} parser thread(s))",
               request.predict_input_path, model->source(), plan.files.size(), plan.batch_size,
               plan.engines.size());

  PredictPipeline pipeline(request, plan, *model);
  pipeline.Run();
  PredictSummary summary = CommitOutput(request, *plan.writer, *model, pipeline.batches());
  pipeline.LogStageTimes();
  return summary;
}

}  // namespace tzrec::predict
