#include "predict/predictor.h"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

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

}  // namespace

PredictSummary Predict(const PredictRequest& request) {
  CheckRequest(request);
  // Cheap checks first: the input files, before loading a model.
  const std::vector<std::string> files = data::ExpandInputPath(request.predict_input_path);
  // A checkpoint wins over an export, as upstream.
  std::unique_ptr<PredictionModel> model =
      !request.pipeline_config_path.empty()
          ? PredictionModel::FromCheckpoint(LoadPipelineConfig(request.pipeline_config_path),
                                            request.checkpoint_path)
          : PredictionModel::FromExportDir(request.scripted_model_path);
  const protos::DataConfig& data_config = model->config().data_config();
  const data::BatchIteratorOptions config_options = data::BatchIteratorOptionsFromConfig(
      data_config, request.predict_input_path, /*num_epochs=*/1, /*for_eval=*/true);
  const data::CsvOptions csv = config_options.csv;
  const bool parquet_dataset =
      request.dataset_type.empty() ? config_options.parquet_dataset : request.dataset_type == "ParquetDataset";
  // Parquet input gets Parquet output, as upstream derives its writer from the
  // dataset type: the type is known only once the model's config is.
  const bool parquet_output = request.writer_type.empty() ? data::IsParquetPath(files.front(), parquet_dataset)
                                                          : request.writer_type == "ParquetWriter";
  std::unique_ptr<PredictionWriter> writer_ptr =
      PredictionWriter::Create(parquet_output ? PredictionFormat::kParquet : PredictionFormat::kCsv,
                               request.predict_output_path, request.output_columns, request.reserved_columns);
  PredictionWriter& writer = *writer_ptr;
  const int64_t batch_size = request.batch_size > 0 ? request.batch_size : config_options.batch_size;
  if (batch_size <= 0) FailConfig("data_config batch_size must be positive, got {}", batch_size);
  const int threads = request.predict_threads > 0
                          ? request.predict_threads
                          : std::max<int>(static_cast<int>(data_config.num_workers()), 1);
  at::set_num_threads(ModelThreads(threads));

  // Engines are built here so that a bad FG spec fails before any thread starts.
  std::vector<fg::FgEngine> engines;
  for (int i = 0; i < threads; ++i) engines.push_back(model->NewFgEngine());
  const std::vector<std::string> input_columns = engines.front().input_columns();
  // Reserved columns are written as read: text.
  data::ParquetOptions parquet = config_options.parquet;
  data::ProjectColumns(engines.front(), request.reserved_columns, parquet);
  spdlog::info("predicting {} with {} ({} file(s), batch size {}, {} parser thread(s))",
               request.predict_input_path, model->source(), files.size(), batch_size, threads);

  const size_t depth = static_cast<size_t>(threads) * 2;
  BoundedQueue<RawBatch> raw_queue(depth);
  OrderedQueue<ParsedBatch> parsed_queue(depth);
  BoundedQueue<PredictedBatch> predicted_queue(2);
  FailureLatch failure([&] {
    raw_queue.Cancel();
    parsed_queue.Cancel();
    predicted_queue.Cancel();
  });
  auto guarded = [&failure](auto&& body) {
    return [&failure, body]() mutable {
      try {
        body();
      } catch (...) {
        failure.Record(std::current_exception());
      }
    };
  };

  // CPU seconds of each stage's thread(s) (the model's: its calling thread), logged at
  // the end so a slow run shows which stage limits it.
  StageClock read_clock, parse_clock, model_clock, write_clock;
  int64_t batches = 0;
  std::thread reader(guarded([&] {
    StageTimer timer(read_clock);
    int64_t sequence = 0;
    for (const auto& file : files) {
      const std::unique_ptr<data::RowReader> file_reader =
          data::OpenRowReader(file, parquet_dataset, csv, parquet);
      const std::vector<int> reserved =
          CheckColumns(file, file_reader->column_names(), input_columns, request.reserved_columns);
      if (sequence == 0) {
        // The first file's types of the reserved columns (Parquet output keeps them).
        const std::vector<data::ColumnType> types = file_reader->column_types();
        std::vector<data::ColumnType> reserved_types;
        for (int index : reserved) reserved_types.push_back(types[static_cast<size_t>(index)]);
        writer.SetReservedTypes(reserved_types, parquet.list_separator);
      }
      while (request.predict_steps == 0 || sequence < request.predict_steps) {
        auto rows = std::make_unique<data::RowBatch>();
        if (file_reader->ReadRows(batch_size, rows.get()) == 0) break;
        if (rows->num_rows == 0) continue;  // every row of the chunk was bad and skipped
        if (!raw_queue.Push(RawBatch{sequence, std::move(rows), reserved})) return;
        ++sequence;
      }
      if (request.predict_steps != 0 && sequence >= request.predict_steps) break;
    }
    batches = sequence;
    raw_queue.Close();
    parsed_queue.Close(sequence);
  }));

  std::vector<std::thread> parsers;
  for (int i = 0; i < threads; ++i) {
    parsers.emplace_back(guarded([&, i] {
      StageTimer timer(parse_clock);
      while (std::optional<RawBatch> raw = raw_queue.Pop()) {
        ParsedBatch parsed = ParseBatch(engines[static_cast<size_t>(i)], *raw);
        const int64_t sequence = raw->sequence;
        raw.reset();  // frees the CSV text before waiting for the model
        if (!parsed_queue.Push(sequence, std::move(parsed))) return;
      }
    }));
  }

  std::thread writer_thread(guarded([&] {
    StageTimer timer(write_clock);
    Progress progress("Predicting", 0, "rows");
    while (std::optional<PredictedBatch> batch = predicted_queue.Pop()) {
      writer.Write(batch->predictions, batch->reserved, batch->rows);
      progress.Update(static_cast<uint64_t>(writer.rows_written()));
    }
    progress.Finish();
  }));

  // The model runs on this thread, one batch at a time, in input order.
  guarded([&] {
    StageTimer timer(model_clock);
    while (std::optional<ParsedBatch> parsed = parsed_queue.Pop()) {
      if (parsed->rows == 0) continue;  // every row was bad and skipped
      PredictedBatch predicted;
      predicted.predictions = model->Run(parsed->inputs);
      predicted.reserved = std::move(parsed->reserved);
      predicted.rows = parsed->rows;
      if (!predicted_queue.Push(std::move(predicted))) return;
    }
    predicted_queue.Close();
  })();

  reader.join();
  for (auto& t : parsers) t.join();
  writer_thread.join();
  failure.RethrowIfFailed();

  if (!writer.started()) {
    Fail("no rows to predict in {}", request.predict_input_path);
  }
  writer.Commit();
  PredictSummary summary;
  summary.rows = writer.rows_written();
  summary.batches = batches;
  summary.columns = writer.header();
  summary.model_source = model->source();
  spdlog::info("wrote {} predictions ({} batches) to {}", summary.rows, summary.batches, writer.path());
  spdlog::info("CPU seconds by stage: read {:.2f}, parse/FG {:.2f}, model {:.2f}, write {:.2f}",
               read_clock.seconds(), parse_clock.seconds(), model_clock.seconds(), write_clock.seconds());
  return summary;
}

}  // namespace tzrec::predict
