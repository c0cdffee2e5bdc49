// `tzrec predict`: batch prediction over CSV files, as upstream's
// tzrec.main.predict (export dir) and predict_checkpoint (checkpoint) do.
//
// Pipeline (each stage on its own thread(s), joined by bounded queues, so
// reading/FG and model execution overlap):
//
//   reader (1)  --raw CSV batches-->  FG parsers (predict_threads)
//     --model inputs, reordered by batch number-->  model (1)
//     --predictions-->  writer (1)
//
// The output has the input's row order. It is written to a temporary file
// beside predict_output_path and renamed into place only when every row was
// written; any failure leaves no output file. See prediction_format.h for the
// output's layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tzrec::predict {

struct PredictRequest {
  // An export directory (scripted_model.pt, fg.json, pipeline.config)...
  std::string scripted_model_path;
  // ...or a pipeline.config plus a checkpoint (empty: latest in model_dir).
  // When both are given the checkpoint is used, as upstream does.
  std::string pipeline_config_path;
  std::string checkpoint_path;

  // Comma-separated paths, glob patterns or directories of CSV or Parquet
  // files (*.parquet, or any file but *.csv / *.txt with ParquetDataset).
  std::string predict_input_path;
  // The output CSV file, or for Parquet the directory that gets
  // part-0.parquet; must not exist.
  std::string predict_output_path;
  // Upstream's --dataset_type (empty: data_config.dataset_type) and
  // --writer_type (empty: ParquetWriter for Parquet input, else CsvWriter).
  std::string dataset_type;
  std::string writer_type;
  // Input columns copied to the output, after the output columns.
  std::vector<std::string> reserved_columns;
  // Model outputs to write; empty: all of them, sorted by name (upstream).
  std::vector<std::string> output_columns;
  // Rows per batch; 0: data_config eval_batch_size, else batch_size.
  int64_t batch_size = 0;
  // FG parser threads; 0: max(data_config.num_workers, 1). The model runs
  // with the remaining cores as intra-op threads (at least one).
  int predict_threads = 0;
  // Stop after this many batches; 0: all.
  int64_t predict_steps = 0;
};

struct PredictSummary {
  int64_t rows = 0;
  int64_t batches = 0;
  std::vector<std::string> columns;  // the header, in order
  std::string model_source;          // "export dir ...", "checkpoint ..."
};

// Runs the prediction; throws tzrec::Error / ConfigError on failure.
PredictSummary Predict(const PredictRequest& request);

}  // namespace tzrec::predict
