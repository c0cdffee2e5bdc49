// Parquet input (data_config.dataset_type ParquetDataset, or any input file
// named *.parquet), read with Apache Arrow's C++ Parquet reader.
//
// Row groups are streamed in record batches of a bounded size, so memory
// follows the batch, not the file. Each value becomes the text the FG engine
// reads from a CSV of the same data, so both formats share one path from
// here on: integers and floats in their shortest round-trip form, strings as
// they are, lists (multi-value and sequence features) joined with
// `list_separator`, nulls empty (the features' defaults apply, as for an
// empty CSV field).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/row_reader.h"
#include "features/fg/fg_engine.h"

namespace tzrec::data {

struct ParquetOptions {
  // Between the values of a list cell: data_config.fg_encoded_multival_sep
  // for encoded input (FG_NONE), FG's \x1d for raw input.
  char list_separator = '\x1d';
  // Rows decoded at a time.
  int64_t read_batch_rows = 8192;
  // Columns to decode (others are skipped: Parquet stores columns apart);
  // empty: every column. Names the file lacks are left out here; whoever
  // needs them reports them missing, as for CSV.
  std::vector<std::string> columns;
  // Columns to give as numbers (RowBatch::numbers) when the file stores them
  // as scalar ints or floats, instead of text: the FG engine's
  // numeric_columns() that nothing else reads as text.
  std::vector<std::string> numeric_columns;
};

// The columns a reader of `engine`'s inputs decodes: what FG reads plus
// `text_columns` (labels, weights, reserved columns: read as text), and
// FG_NONE's scalar features as numbers unless they are also text columns.
void ProjectColumns(const fg::FgEngine& engine, const std::vector<std::string>& text_columns,
                    ParquetOptions& options);

class ParquetReader : public RowReader {
 public:
  // Opens `path` and reads its schema. Error naming the file when it is
  // missing or not Parquet, or has a column of a type tzrec does not read.
  ParquetReader(std::string path, ParquetOptions options);
  ~ParquetReader() override;

  const std::string& path() const override { return path_; }
  const std::vector<std::string>& column_names() const override { return column_names_; }
  std::vector<ColumnType> column_types() const override { return column_types_; }
  int64_t ReadRows(int64_t max_rows, RowBatch* batch) override;

 private:
  struct State;
  std::string path_;
  ParquetOptions options_;
  std::vector<std::string> column_names_;
  std::vector<ColumnType> column_types_;
  std::vector<bool> numeric_;  // per column: given as numbers
  std::unique_ptr<State> state_;
};

}  // namespace tzrec::data
