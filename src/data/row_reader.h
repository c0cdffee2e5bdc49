// Where rows of input come from: a file read in batches of rows whose fields
// are text (CSV as it is, Parquet values turned into text), so the FG engine
// and the data parser do not care which format a file has.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "features/fg/input_batch.h"

namespace tzrec::data {

// Rows read by one ReadRows call. Fields point into `bytes`, which the batch
// owns: it stays valid until the batch is reused.
struct RowBatch {
  std::string file;
  std::vector<std::string> column_names;
  int64_t num_rows = 0;
  std::vector<std::string_view> fields;  // row-major, num_rows * column_names.size()
  std::vector<int64_t> line_numbers;     // 1-based line where each row starts
  std::string bytes;
  // Columns given as numbers instead of text (ParquetOptions::numeric_columns):
  // their fields are empty. One of ints / doubles holds num_rows values;
  // present (empty: no nulls) is 0 for a null.
  struct Numbers {
    std::string column;
    bool integers = true;
    std::vector<int64_t> ints;
    std::vector<double> doubles;
    std::vector<uint8_t> present;
  };
  std::vector<Numbers> numbers;

  // Empties the batch for rows of `file` with these columns (`numbers`
  // keeps its columns, emptied, for the reader to refill or replace).
  void Reset(const std::string& file_name, const std::vector<std::string>& columns);
  size_t num_columns() const { return column_names.size(); }
  std::string_view Field(int64_t row, size_t col) const { return fields[row * num_columns() + col]; }
  // Column index by name, -1 if absent.
  int ColumnIndex(std::string_view name) const;
  // A view for the FG engine; rows are described as "<file>:<line>".
  fg::InputBatch ToInputBatch() const;
};


struct CsvOptions;
struct ParquetOptions;

// What a column's values are, as far as the file says: CSV columns are text;
// a Parquet column has its type. Lists are joined into text by the reader
// (row_reader's RowBatch), `list` says the column holds them.
struct ColumnType {
  enum class Kind { kString, kInt64, kFloat, kDouble, kBool } kind = Kind::kString;
  bool list = false;
};

class RowReader {
 public:
  virtual ~RowReader() = default;
  virtual const std::string& path() const = 0;
  virtual const std::vector<std::string>& column_names() const = 0;
  // Fills `batch` with up to max_rows rows; returns the number read (0: end of file).
  virtual int64_t ReadRows(int64_t max_rows, RowBatch* batch) = 0;
  // Rows dropped as malformed (CSV with skip_bad_rows).
  virtual int64_t skipped_rows() const { return 0; }
  // One per column_names() entry.
  virtual std::vector<ColumnType> column_types() const {
    return std::vector<ColumnType>(column_names().size());
  }
};

// Parquet when `path` ends in .parquet, or when `parquet` (ParquetDataset)
// and it does not end in .csv/.txt; CSV otherwise.
bool IsParquetPath(const std::string& path, bool parquet_dataset);
std::unique_ptr<RowReader> OpenRowReader(const std::string& path, bool parquet_dataset, const CsvOptions& csv,
                                         const ParquetOptions& parquet);

}  // namespace tzrec::data
