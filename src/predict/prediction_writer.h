// Writes prediction batches as one CSV file (layout: prediction_format.h),
// through an AtomicOutputFile: the file appears at its path only on Commit().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/core/Dict.h>

#include "predict/output_file.h"

namespace tzrec::predict {

class PredictionWriter {
 public:
  // `output_columns` empty: every output of the first batch, sorted by name.
  PredictionWriter(std::string path, std::vector<std::string> output_columns,
                   std::vector<std::string> reserved_columns);

  // `reserved_values` is row-major: rows x reserved_columns.size(). The first
  // call fixes the output columns and writes the header; an output column the
  // model does not produce is an error listing those it does.
  void Write(const c10::Dict<std::string, at::Tensor>& predictions,
             const std::vector<std::string>& reserved_values, int64_t rows);

  // Output columns, or the full header once the first batch is written.
  const std::vector<std::string>& header() const { return header_; }
  bool started() const { return started_; }
  int64_t rows_written() const { return rows_written_; }

  void Commit() { file_.Commit(); }

 private:
  void Start(const c10::Dict<std::string, at::Tensor>& predictions);

  AtomicOutputFile file_;
  std::vector<std::string> output_columns_;
  std::vector<std::string> reserved_columns_;
  std::vector<std::string> header_;
  bool started_ = false;
  int64_t rows_written_ = 0;
  std::string buffer_;
};

}  // namespace tzrec::predict
