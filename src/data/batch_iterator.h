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
#pragma once

#include <memory>
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

  // Next batch; false when every epoch is done.
  bool Next(Batch* batch);

  const std::vector<std::string>& files() const { return files_; }
  // Rows dropped as bad so far (FG values and CSV rows), with skip_bad_rows.
  int64_t skipped_rows() const;
  int64_t rows_read() const { return rows_read_; }

 private:
  bool OpenNextFile();

  BatchIteratorOptions options_;
  std::shared_ptr<const fg::FgEngine> engine_;
  DataParser parser_;
  std::vector<std::string> files_;
  size_t next_file_ = 0;
  int epoch_ = 0;
  std::unique_ptr<RowReader> reader_;
  RowBatch rows_;
  int64_t csv_skipped_done_ = 0;  // from readers already closed
  int64_t fg_skipped_ = 0;
  int64_t rows_read_ = 0;
};

}  // namespace tzrec::data
