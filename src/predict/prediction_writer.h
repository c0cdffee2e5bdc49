// Writes prediction batches, as one CSV file (layout: prediction_format.h)
// or as Parquet (part-0.parquet in the output directory, as upstream's
// ParquetWriter), through an AtomicOutputFile: the file appears at its path
// only on Commit().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/core/Dict.h>

#include "data/row_reader.h"
#include "predict/output_file.h"

namespace tzrec::predict {

enum class PredictionFormat { kCsv, kParquet };

class PredictionWriter {
 public:
  // `output_columns` empty: every output of the first batch, sorted by name.
  // kCsv writes the file `path`; kParquet the file `path`/part-0.parquet.
  static std::unique_ptr<PredictionWriter> Create(PredictionFormat format, const std::string& path,
                                                  std::vector<std::string> output_columns,
                                                  std::vector<std::string> reserved_columns);
  virtual ~PredictionWriter() = default;

  // `reserved_values` is row-major: rows x reserved_columns.size(). The first
  // call fixes the output columns and writes the header; an output column the
  // model does not produce is an error listing those it does.
  void Write(const c10::Dict<std::string, at::Tensor>& predictions,
             const std::vector<std::string>& reserved_values, int64_t rows);
  // Where the output appears.
  const std::string& path() const { return file_.path(); }
  // The input types of the reserved columns (in reserved_columns order) and
  // the separator the reader joined list cells with, for formats that keep
  // types (Parquet); before the first Write. CSV writes the text as it is.
  virtual void SetReservedTypes(const std::vector<data::ColumnType>& types, char list_separator) {}

  // Output columns, or the full header once the first batch is written.
  const std::vector<std::string>& header() const { return header_; }
  bool started() const { return started_; }
  int64_t rows_written() const { return rows_written_; }

  virtual void Commit() { file_.Commit(); }

 protected:
  PredictionWriter(std::string path, std::vector<std::string> output_columns,
                   std::vector<std::string> reserved_columns);
  // Called once, when the first batch fixed the columns (header()).
  virtual void WriteHeader() = 0;
  // One batch: output columns (in order) then reserved values (row-major).
  virtual void WriteRows(const c10::Dict<std::string, at::Tensor>& predictions,
                         const std::vector<std::string>& reserved_values, int64_t rows) = 0;

  AtomicOutputFile file_;
  std::vector<std::string> output_columns_;
  std::vector<std::string> reserved_columns_;
  std::vector<std::string> header_;

 private:
  void Start(const c10::Dict<std::string, at::Tensor>& predictions);

  bool started_ = false;
  int64_t rows_written_ = 0;
};

}  // namespace tzrec::predict
