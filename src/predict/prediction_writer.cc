#include "predict/prediction_writer.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "predict/parquet_prediction_writer.h"
#include "predict/prediction_format.h"

namespace tzrec::predict {

PredictionWriter::PredictionWriter(std::string path, std::vector<std::string> output_columns,
                                   std::vector<std::string> reserved_columns)
    : file_(std::move(path)), output_columns_(std::move(output_columns)),
      reserved_columns_(std::move(reserved_columns)) {
  for (const auto& name : reserved_columns_) {
    if (std::count(reserved_columns_.begin(), reserved_columns_.end(), name) > 1) {
      FailConfig("reserved_columns names '{}' twice", name);
    }
    if (std::find(output_columns_.begin(), output_columns_.end(), name) != output_columns_.end()) {
      FailConfig("column '{}' is in both reserved_columns and output_columns", name);
    }
  }
  for (const auto& name : output_columns_) {
    if (std::count(output_columns_.begin(), output_columns_.end(), name) > 1) {
      FailConfig("output_columns names '{}' twice", name);
    }
  }
}

void PredictionWriter::Start(const c10::Dict<std::string, at::Tensor>& predictions) {
  std::vector<std::string> available;
  for (const auto& entry : predictions) available.push_back(entry.key());
  std::sort(available.begin(), available.end());
  if (output_columns_.empty()) {
    output_columns_ = available;
  } else {
    for (const auto& name : output_columns_) {
      if (!predictions.contains(name)) {
        FailConfig("output column '{}' is not an output of the model (outputs: {})", name,
                   fmt::join(available, ", "));
      }
    }
  }
  for (const auto& name : reserved_columns_) {
    if (std::find(output_columns_.begin(), output_columns_.end(), name) != output_columns_.end()) {
      FailConfig("reserved column '{}' has the name of a model output; it cannot be written twice", name);
    }
  }
  header_ = output_columns_;
  header_.insert(header_.end(), reserved_columns_.begin(), reserved_columns_.end());
  WriteHeader();
  started_ = true;
}

void PredictionWriter::Write(const c10::Dict<std::string, at::Tensor>& predictions,
                             const std::vector<std::string>& reserved_values, int64_t rows) {
  if (!started_) Start(predictions);
  const size_t num_reserved = reserved_columns_.size();
  if (reserved_values.size() != static_cast<size_t>(rows) * num_reserved) {
    Fail("internal: {} reserved values for {} rows x {} columns", reserved_values.size(), rows, num_reserved);
  }
  WriteRows(predictions, reserved_values, rows);
  rows_written_ += rows;
}

namespace {

class CsvPredictionWriter : public PredictionWriter {
 public:
  CsvPredictionWriter(std::string path, std::vector<std::string> output_columns,
                      std::vector<std::string> reserved_columns)
      : PredictionWriter(std::move(path), std::move(output_columns), std::move(reserved_columns)) {}

 private:
  void WriteHeader() override {
    std::string line;
    for (size_t i = 0; i < header_.size(); ++i) {
      if (i) line += kOutputDelimiter;
      AppendCsvField(line, header_[i]);
    }
    line += '\n';
    file_.Write(line);
  }

  void WriteRows(const c10::Dict<std::string, at::Tensor>& predictions,
                 const std::vector<std::string>& reserved_values, int64_t rows) override {
    const size_t num_reserved = reserved_columns_.size();
    std::vector<std::vector<std::string>> cells;
    cells.reserve(output_columns_.size());
    for (const auto& name : output_columns_) {
      cells.push_back(FormatOutputColumn(name, predictions.at(name), rows));
    }
    buffer_.clear();
    for (int64_t r = 0; r < rows; ++r) {
      bool first = true;
      for (const auto& column : cells) {
        if (!first) buffer_ += kOutputDelimiter;
        first = false;
        AppendCsvField(buffer_, column[static_cast<size_t>(r)]);
      }
      for (size_t c = 0; c < num_reserved; ++c) {
        if (!first) buffer_ += kOutputDelimiter;
        first = false;
        AppendCsvField(buffer_, reserved_values[static_cast<size_t>(r) * num_reserved + c]);
      }
      buffer_ += '\n';
    }
    file_.Write(buffer_);
  }

  std::string buffer_;
};

}  // namespace

std::unique_ptr<PredictionWriter> PredictionWriter::Create(PredictionFormat format, const std::string& path,
                                                           std::vector<std::string> output_columns,
                                                           std::vector<std::string> reserved_columns) {
  if (format == PredictionFormat::kParquet) {
    return NewParquetPredictionWriter(path, std::move(output_columns), std::move(reserved_columns));
  }
  return std::unique_ptr<PredictionWriter>(
      new CsvPredictionWriter(path, std::move(output_columns), std::move(reserved_columns)));
}

}  // namespace tzrec::predict
