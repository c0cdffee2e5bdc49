// Batches of model input tensors from CSV or Parquet files: the
// training/eval/predict entry point of the data path.
//
//   auto engine = std::make_shared<fg::FgEngine>(fg::FgEngine::FromFile(fg_json, fg_options));
//   BatchIterator it(options, engine, {label_fields, sample_weight_fields});
//   Batch batch;
//   while (it.Next(&batch)) model.forward(batch.inputs) ...
//
// input_path is a comma-separated list of paths or glob patterns (as upstream);
// files are read in that order, each split into batches of batch_size rows (a
// file's last batch may be smaller unless drop_remainder). After the last file
// the iterator starts over, num_epochs times in all (<= 0: without end).
//
// Several files are read at once with num_workers > 1 (data_config.num_workers,
// at most one worker per file): worker w reads files w, w + W, w + 2W, ... with
// its own FG engine and parser on its own thread, a few batches ahead, and
// Next() takes one batch from each worker in turn, so the order depends only
// on the files and W. With shuffle (train only, as upstream), each worker
// reads its files in a random order every epoch, and batches pass through a
// buffer of shuffle_buffer_size batches from which Next() takes one at random.
#pragma once

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "data/csv_reader.h"
#include "data/parquet_reader.h"
#include "data/data_parser.h"
#include "features/fg/fg_engine.h"

namespace tzrec::data {

struct BatchIteratorOptions {
  std::string input_path;
  int64_t batch_size = 1024;
  int num_epochs = 1;
  bool drop_remainder = false;
  CsvOptions csv;
  // data_config.dataset_type ParquetDataset: files not named *.csv / *.txt
  // are Parquet (a *.parquet file is Parquet whatever the dataset type).
  bool parquet_dataset = false;
  ParquetOptions parquet;
  // Files read at once (see above); 1: on the caller's thread.
  int num_workers = 1;
  bool shuffle = false;
  int64_t shuffle_buffer_size = 32;  // batches
  uint64_t seed = 0;                 // file order and the shuffle buffer
};

struct Batch {
  TensorMap inputs;       // features, labels, sample weights
  int64_t batch_size = 0; // rows in this batch
  int epoch = 0;          // 0-based
};

// Paths matching a comma-separated list of paths/globs, in the given order
// (each glob's matches sorted); a directory stands for the files in it (part
// files; names starting with '.' or '_' skipped). No match at all is an error.
std::vector<std::string> ExpandInputPath(const std::string& input_path);

class BatchIterator {
 public:
  BatchIterator(BatchIteratorOptions options, std::shared_ptr<const fg::FgEngine> engine,
                DataParserOptions parser_options);
  ~BatchIterator();
  BatchIterator(const BatchIterator&) = delete;  // workers point at it
  BatchIterator& operator=(const BatchIterator&) = delete;

  // Next batch; false when every epoch is done. Errors of a worker are
  // thrown here.
  bool Next(Batch* batch);

  const std::vector<std::string>& files() const { return files_; }
  // Rows dropped as bad so far (FG values and CSV rows), with skip_bad_rows.
  int64_t skipped_rows() const;
  int64_t rows_read() const;

  class FileStream;  // one worker's files, reader and parser

 private:
  bool NextFromWorkers(Batch* batch);

  BatchIteratorOptions options_;
  std::vector<std::string> files_;
  std::vector<std::unique_ptr<FileStream>> streams_;
  struct Workers;
  std::unique_ptr<Workers> workers_;  // when streams_.size() > 1
  size_t turn_ = 0;                   // the worker Next() takes from
  std::vector<Batch> shuffle_buffer_;
  std::mt19937_64 shuffle_rng_;
};

}  // namespace tzrec::data
