#include "data/batch_iterator.h"

#include <glob.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <thread>

#include "common/error.h"
#include "common/pipeline_queue.h"
#include "common/strings.h"

namespace tzrec::data {

std::vector<std::string> ExpandInputPath(const std::string& input_path) {
  std::vector<std::string> files;
  for (const std::string& pattern : SplitList(input_path)) {
    glob_t g{};
    int rc = glob(pattern.c_str(), 0, nullptr, &g);
    if (rc == 0) {
      std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
      std::sort(matches.begin(), matches.end());
      for (const std::string& match : matches) {
        std::error_code ec;
        if (!std::filesystem::is_directory(match, ec)) {
          files.push_back(match);
          continue;
        }
        std::vector<std::string> parts;
        for (const auto& entry : std::filesystem::directory_iterator(match, ec)) {
          const std::string name = entry.path().filename().string();
          if (entry.is_regular_file() && name[0] != '.' && name[0] != '_') parts.push_back(entry.path().string());
        }
        std::sort(parts.begin(), parts.end());
        files.insert(files.end(), parts.begin(), parts.end());
      }
    }
    globfree(&g);
  }
  if (files.empty()) Fail("no input files match '{}'", input_path);
  return files;
}

// One worker's share of the files, read in batches through its own parser.
class BatchIterator::FileStream {
 public:
  FileStream(const BatchIteratorOptions& options, std::vector<std::string> files,
             std::shared_ptr<const fg::FgEngine> engine, const DataParserOptions& parser_options,
             uint64_t seed)
      : options_(options), files_(std::move(files)), engine_(std::move(engine)),
        parser_(engine_.get(), parser_options), rng_(seed) {
    StartEpoch();
  }

  // The stream's next batch, epochs after each other; false when done.
  bool Next(Batch* batch) {
    if (Done()) return false;
    int64_t files_without_batch = 0;
    while (true) {
      if (!reader_ && !OpenNextFile()) return false;
      const int64_t read = reader_->ReadRows(options_.batch_size, &rows_);
      if (read == 0 || (options_.drop_remainder && read < options_.batch_size)) {
        // End of this file (a short last batch is dropped when asked). A whole
        // pass over the files without a batch ends iteration instead of spinning.
        if (++files_without_batch > static_cast<int64_t>(files_.size())) return false;
        if (!OpenNextFile()) return false;
        continue;
      }
      if (rows_.num_rows == 0) continue;  // every row read was bad and skipped
      int64_t skipped = 0;
      batch->inputs = parser_.Parse(rows_, &skipped);
      fg_skipped_ += skipped;
      batch->batch_size = rows_.num_rows - skipped;
      batch->epoch = epoch_;
      rows_read_ += batch->batch_size;
      if (batch->batch_size == 0) continue;
      return true;
    }
  }

  int64_t skipped_rows() const { return csv_skipped_ + fg_skipped_; }
  int64_t rows_read() const { return rows_read_; }

 private:
  bool Done() const { return options_.num_epochs > 0 && epoch_ >= options_.num_epochs; }

  void StartEpoch() {
    next_file_ = 0;
    if (options_.shuffle) std::shuffle(files_.begin(), files_.end(), rng_);
  }

  bool OpenNextFile() {
    if (reader_) {
      csv_skipped_ += reader_->skipped_rows();
      reader_.reset();
    }
    if (next_file_ == files_.size()) {
      ++epoch_;
      if (Done()) return false;
      StartEpoch();
    }
    reader_ = OpenRowReader(files_[next_file_++], options_.parquet_dataset, options_.csv, options_.parquet);
    return true;
  }

  const BatchIteratorOptions& options_;
  std::vector<std::string> files_;
  std::shared_ptr<const fg::FgEngine> engine_;
  DataParser parser_;
  std::mt19937_64 rng_;
  size_t next_file_ = 0;
  int epoch_ = 0;
  std::unique_ptr<RowReader> reader_;
  RowBatch rows_;
  // Counters are read by the consumer while a worker runs.
  std::atomic<int64_t> csv_skipped_{0}, fg_skipped_{0}, rows_read_{0};
};

// Worker threads, each filling a small queue from its stream.
struct BatchIterator::Workers {
  std::vector<std::unique_ptr<BoundedQueue<Batch>>> queues;
  std::vector<std::exception_ptr> errors;
  std::vector<std::thread> threads;

  ~Workers() {
    for (auto& queue : queues) queue->Cancel();
    for (auto& thread : threads) thread.join();
  }
};

BatchIterator::BatchIterator(BatchIteratorOptions options, std::shared_ptr<const fg::FgEngine> engine,
                             DataParserOptions parser_options)
    : options_(std::move(options)), files_(ExpandInputPath(options_.input_path)), shuffle_rng_(options_.seed) {
  if (options_.batch_size <= 0) FailConfig("batch_size must be positive, got {}", options_.batch_size);
  // Parquet decodes only what FG reads and the columns read as text: labels,
  // weights, the sampler's item id.
  if (options_.parquet.columns.empty()) {
    std::vector<std::string> text_columns = parser_options.label_fields;
    text_columns.insert(text_columns.end(), parser_options.sample_weight_fields.begin(),
                        parser_options.sample_weight_fields.end());
    if (parser_options.negative_sampler) text_columns.push_back(parser_options.negative_sampler->item_id_field());
    ProjectColumns(*engine, text_columns, options_.parquet);
  }
  const size_t num_streams =
      std::max<size_t>(1, std::min<size_t>(files_.size(), static_cast<size_t>(std::max(options_.num_workers, 1))));
  std::vector<std::vector<std::string>> shares(num_streams);
  for (size_t i = 0; i < files_.size(); ++i) shares[i % num_streams].push_back(files_[i]);
  for (size_t w = 0; w < num_streams; ++w) {
    // An FG engine holds per-call scratch: a worker thread gets its own.
    auto stream_engine =
        w == 0 ? engine : std::make_shared<const fg::FgEngine>(engine->specs(), engine->options());
    DataParserOptions stream_parser = parser_options;
    stream_parser.seed = parser_options.seed + w;
    streams_.push_back(std::make_unique<FileStream>(options_, std::move(shares[w]), std::move(stream_engine),
                                                    stream_parser, options_.seed + 1 + w));
  }
  if (num_streams == 1) return;
  workers_ = std::make_unique<Workers>();
  workers_->errors.resize(num_streams);
  for (size_t w = 0; w < num_streams; ++w) {
    workers_->queues.push_back(std::make_unique<BoundedQueue<Batch>>(2));
  }
  for (size_t w = 0; w < num_streams; ++w) {
    workers_->threads.emplace_back([this, w] {
      BoundedQueue<Batch>& queue = *workers_->queues[w];
      try {
        Batch batch;
        while (streams_[w]->Next(&batch)) {
          if (!queue.Push(std::move(batch))) return;
          batch = Batch();
        }
      } catch (...) {
        workers_->errors[w] = std::current_exception();
      }
      queue.Close();
    });
  }
}

BatchIterator::~BatchIterator() = default;

int64_t BatchIterator::skipped_rows() const {
  int64_t total = 0;
  for (const auto& stream : streams_) total += stream->skipped_rows();
  return total;
}

int64_t BatchIterator::rows_read() const {
  int64_t total = 0;
  for (const auto& stream : streams_) total += stream->rows_read();
  return total;
}

// One batch from each worker in turn; a finished worker is passed over, and
// its error, if it failed, is thrown.
bool BatchIterator::NextFromWorkers(Batch* batch) {
  if (!workers_) return streams_.front()->Next(batch);
  auto& queues = workers_->queues;
  for (size_t tried = 0; tried < queues.size(); ++tried) {
    const size_t w = turn_;
    turn_ = (turn_ + 1) % queues.size();
    std::optional<Batch> next = queues[w]->Pop();
    if (next) {
      *batch = std::move(*next);
      return true;
    }
    if (workers_->errors[w]) {
      std::exception_ptr error = workers_->errors[w];
      workers_->errors[w] = nullptr;
      std::rethrow_exception(error);
    }
  }
  return false;
}

bool BatchIterator::Next(Batch* batch) {
  if (!options_.shuffle || options_.shuffle_buffer_size <= 1) return NextFromWorkers(batch);
  // Upstream's buffer: fill it, then hand out a random one per call; at the
  // end, what is left in random order.
  Batch next;
  while (static_cast<int64_t>(shuffle_buffer_.size()) < options_.shuffle_buffer_size && NextFromWorkers(&next)) {
    shuffle_buffer_.push_back(std::move(next));
    next = Batch();
  }
  if (shuffle_buffer_.empty()) return false;
  std::uniform_int_distribution<size_t> pick(0, shuffle_buffer_.size() - 1);
  const size_t i = pick(shuffle_rng_);
  *batch = std::move(shuffle_buffer_[i]);
  shuffle_buffer_[i] = std::move(shuffle_buffer_.back());
  shuffle_buffer_.pop_back();
  return true;
}

}  // namespace tzrec::data
