#include "data/row_reader.h"

#include "data/csv_reader.h"
#include "data/parquet_reader.h"

namespace tzrec::data {

void RowBatch::Reset(const std::string& file_name, const std::vector<std::string>& columns) {
  file = file_name;
  column_names = columns;
  num_rows = 0;
  fields.clear();
  line_numbers.clear();
  bytes.clear();
  // Kept with their memory (a reader refills the same columns batch after batch).
  for (Numbers& n : numbers) {
    n.ints.clear();
    n.doubles.clear();
    n.present.clear();
  }
}

int RowBatch::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < column_names.size(); ++i) {
    if (column_names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

fg::InputBatch RowBatch::ToInputBatch() const {
  fg::InputBatch batch;
  batch.num_rows = num_rows;
  const size_t ncols = num_columns();
  for (size_t c = 0; c < ncols; ++c) {
    batch.columns[column_names[c]] = fg::StridedColumn{fields.data() + c, ncols};
  }
  for (const Numbers& n : numbers) {
    fg::NumericColumn& column = batch.numeric_columns[n.column];
    if (n.integers) {
      column.ints = n.ints.data();
    } else {
      column.doubles = n.doubles.data();
    }
    if (!n.present.empty()) column.present = n.present.data();
    batch.columns.erase(n.column);
  }
  batch.describe_row = [this](int64_t row) {
    return file + ":" + std::to_string(line_numbers[static_cast<size_t>(row)]);
  };
  return batch;
}

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

bool IsParquetPath(const std::string& path, bool parquet_dataset) {
  if (EndsWith(path, ".parquet")) return true;
  if (EndsWith(path, ".csv") || EndsWith(path, ".txt")) return false;
  return parquet_dataset;
}

std::unique_ptr<RowReader> OpenRowReader(const std::string& path, bool parquet_dataset, const CsvOptions& csv,
                                         const ParquetOptions& parquet) {
  if (IsParquetPath(path, parquet_dataset)) return std::make_unique<ParquetReader>(path, parquet);
  return std::make_unique<CsvReader>(path, csv);
}

}  // namespace tzrec::data
