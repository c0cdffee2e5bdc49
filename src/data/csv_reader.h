// A fast CSV reader for training/eval/predict input: reads a file in large
// chunks and splits rows into fields in place (no per-field allocation). Fields
// may be quoted with '"' ("" inside a quoted field is one quote; quoted fields
// may span lines). Lines end in \n or \r\n; blank lines are skipped.
//
// Column names come from the header line (data_config.with_header) or are
// given (data_config.input_fields). A row with the wrong number of fields is an
// error naming file and line, or, with skip_bad_rows, counted and dropped.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data/row_reader.h"

namespace tzrec::data {

struct CsvOptions {
  char delimiter = ',';
  bool with_header = false;
  std::vector<std::string> column_names;  // required when with_header is false
  bool skip_bad_rows = false;
  size_t read_chunk_bytes = 8 << 20;
};

class CsvReader : public RowReader {
 public:
  CsvReader(std::string path, CsvOptions options);
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  const std::string& path() const override { return path_; }
  const std::vector<std::string>& column_names() const override { return column_names_; }
  // Fills `batch` with up to max_rows rows; returns the number read (0: end of file).
  int64_t ReadRows(int64_t max_rows, RowBatch* batch) override;
  int64_t skipped_rows() const override { return skipped_rows_; }

 private:
  // Ensures the buffer holds a whole record starting at pos_, reading more as
  // needed; returns the end of that record (index of its '\n' or buffer end),
  // or npos at end of input.
  size_t FindRecordEnd(size_t from);
  bool Refill();
  // Splits one record [begin, end) (in `data`, writable) into `out`; returns the count.
  size_t SplitRecord(char* data, size_t begin, size_t end, bool quoted, std::vector<std::string_view>& out,
                     int64_t line);

  std::string path_;
  CsvOptions options_;
  std::FILE* file_ = nullptr;
  bool eof_ = false;
  // Read buffer (not a std::string: resizing one zero-fills every chunk).
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;
  size_t size_ = 0;
  size_t pos_ = 0;
  bool record_quoted_ = false;  // set by FindRecordEnd
  int64_t line_ = 1;
  int64_t skipped_rows_ = 0;
  std::vector<std::string> column_names_;
};

}  // namespace tzrec::data
