// Example data generator (`tzrec gen_data`): writes train.csv and eval.csv whose
// columns are exactly what a pipeline.config's features read, so any config can
// be trained end to end without real data.
//
// What is written
// - Columns: for fg_mode FG_DAG / FG_NORMAL the raw inputs the features read
//   ("user:age" -> column "age"; grouped sequence inputs "<seq>__<input>"), for
//   FG_NONE / FG_BUCKETIZE one encoded column per feature, named after it; then
//   data_config.label_fields and sample_weight_fields. If data_config.input_fields
//   (or input_fields_str) is set, exactly those columns in that order.
// - A header row, unless input_fields is set and with_header is false (then the
//   reader takes the column names from input_fields, as upstream's CsvDataset does).
//   Cells are separated by data_config.delimiter; a cell that contains the
//   delimiter, a quote or a newline is quoted CSV-style.
// - Values shaped like the feature: ids from a skewed (log-uniform) distribution
//   over the feature's id space, vocab entries, floats spread across boundaries,
//   value_dim floats, sequences joined by sequence_delim. Multi-values use the
//   feature's separator (default \x1d) for raw inputs and
//   data_config.fg_encoded_multival_sep (default \x03) for encoded ones.
// - Labels: each label field follows its own rule, a logistic function of 2-4
//   chosen non-sequence columns plus Gaussian noise (binary 0/1, a float for
//   regression losses, a class id when model_config.num_class > 1), so a trained
//   model can beat AUC 0.5 by a clear margin.
//
// --format parquet writes train.parquet / eval.parquet instead: the same rows,
// columns typed as their values are (int64, double, string, lists of them).
//
// With data_config.negative_sampler, output_dir/item_gl is the item table it
// draws from (upstream's format: id, weight, attrs), one row per train item.
//
// Split: --num_rows is the total; eval.csv gets --eval_rows rows (default 10% of
// num_rows, at least 1 when num_rows >= 2), train.csv the rest.
//
// Determinism: rows are generated in fixed-size chunks, each from its own
// xoshiro256** stream seeded from (seed, file, chunk), with our own mappings from
// random bits to values; the bytes depend only on the config and the seed, not on
// the number of threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/protos/pipeline.pb.h"

namespace tzrec::data {

struct GenDataOptions {
  std::string output_dir;
  int64_t num_rows = 0;
  // < 0: 10% of num_rows (at least 1 when num_rows >= 2).
  int64_t eval_rows = -1;
  uint64_t seed = 2024;
  // Worker threads generating chunks; output bytes do not depend on it.
  int num_threads = 2;
  // "csv" (train.csv, eval.csv) or "parquet" (train.parquet, eval.parquet:
  // the same rows with typed columns, parquet_writer.h).
  std::string format = "csv";
};

// The rule behind one label column, for users (logged) and tests.
struct LabelRule {
  std::string label;
  enum class Kind { kBinary, kRegression, kMultiClass } kind = Kind::kBinary;
  int num_class = 2;
  std::vector<std::string> columns;  // the columns the label depends on
  std::vector<double> weights;       // weight of each column's signal in the logit
};

struct GenDataSummary {
  std::vector<std::string> columns;  // CSV columns in file order
  bool header = true;
  std::string train_path, eval_path;
  int64_t train_rows = 0, eval_rows = 0;
  std::vector<LabelRule> label_rules;
  // With data_config.negative_sampler: the item table it draws from
  // (output_dir/item_gl, gen_item_table.h), from the train rows' items.
  std::string item_table_path;
  int64_t item_table_items = 0;
};

// The column names gen_data writes for `config`, in order (no files written).
std::vector<std::string> GenDataColumns(const protos::EasyRecConfig& config);

// Writes output_dir/train.csv and output_dir/eval.csv (creating output_dir).
// Throws ConfigError for configs it cannot generate data for (naming the feature
// or field), Error for I/O failures.
GenDataSummary GenerateData(const protos::EasyRecConfig& config, const GenDataOptions& options);

}  // namespace tzrec::data
