#include "predict/parquet_prediction_writer.h"

#include <charconv>
#include <cstdlib>
#include <filesystem>

#include <arrow/api.h>
#include <arrow/io/interfaces.h>
#include <parquet/arrow/writer.h>

#include "common/error.h"

namespace tzrec::predict {

namespace {

// Arrow's output stream over the AtomicOutputFile, so the Parquet file too
// appears complete or not at all.
class AtomicStream : public arrow::io::OutputStream {
 public:
  explicit AtomicStream(AtomicOutputFile& file) : file_(file) {}
  arrow::Status Close() override {
    closed_ = true;
    return arrow::Status::OK();
  }
  bool closed() const override { return closed_; }
  arrow::Result<int64_t> Tell() const override { return position_; }
  // A failed write (a full disk, a file size limit) is returned as Arrow's
  // status rather than thrown through Parquet's writer; Check() reports it.
  arrow::Status Write(const void* data, int64_t nbytes) override {
    try {
      file_.Write(std::string_view(static_cast<const char*>(data), static_cast<size_t>(nbytes)));
    } catch (const Error& e) {
      return arrow::Status::IOError(e.what());
    }
    position_ += nbytes;
    return arrow::Status::OK();
  }

 private:
  AtomicOutputFile& file_;
  int64_t position_ = 0;
  bool closed_ = false;
};

void Check(const arrow::Status& status, const std::string& path) {
  if (status.ok()) return;
  // The file's own failure already names the file and the system's reason.
  if (status.IsIOError() && status.message().rfind("cannot write ", 0) == 0) Fail("{}", status.message());
  Fail("cannot write {}: {}", path, status.ToString());
}

// One output tensor [rows, ...] as an Arrow column.
std::shared_ptr<arrow::Array> OutputColumn(const std::string& name, const at::Tensor& output, int64_t rows,
                                           const std::string& path) {
  if (output.dim() == 0 || output.size(0) != rows) {
    Fail("output {} has shape {}, expected [{}, ...]", name, c10::str(output.sizes()), rows);
  }
  at::Tensor t = output.detach().cpu().contiguous();
  std::shared_ptr<arrow::Array> out;
  if (t.dim() > 1) {
    // A vector per row: list<float32>.
    t = t.reshape({rows, -1}).to(at::kFloat).contiguous();
    const int64_t width = t.size(1);
    auto* pool = arrow::default_memory_pool();
    arrow::ListBuilder list(pool, std::make_shared<arrow::FloatBuilder>(pool));
    auto* values = static_cast<arrow::FloatBuilder*>(list.value_builder());
    for (int64_t r = 0; r < rows; ++r) {
      Check(list.Append(), path);
      Check(values->AppendValues(t.data_ptr<float>() + r * width, width), path);
    }
    Check(list.Finish(&out), path);
    return out;
  }
  switch (t.scalar_type()) {
    case at::kDouble: {
      arrow::DoubleBuilder b;
      Check(b.AppendValues(t.data_ptr<double>(), rows), path);
      Check(b.Finish(&out), path);
      return out;
    }
    case at::kLong: case at::kInt: {
      const at::Tensor v = t.to(at::kLong);
      arrow::Int64Builder b;
      Check(b.AppendValues(v.data_ptr<int64_t>(), rows), path);
      Check(b.Finish(&out), path);
      return out;
    }
    case at::kBool: {
      arrow::BooleanBuilder b;
      for (int64_t r = 0; r < rows; ++r) Check(b.Append(t[r].item<bool>()), path);
      Check(b.Finish(&out), path);
      return out;
    }
    default: {
      const at::Tensor v = t.to(at::kFloat);
      arrow::FloatBuilder b;
      Check(b.AppendValues(v.data_ptr<float>(), rows), path);
      Check(b.Finish(&out), path);
      return out;
    }
  }
}

// One reserved column of `rows` text cells as `type`: the inverse of the
// reader's text form (empty cells null, list cells split on `separator`).
std::shared_ptr<arrow::Array> ReservedColumn(const std::vector<std::string>& values, size_t column,
                                             size_t num_columns, int64_t rows, const data::ColumnType& type,
                                             char separator, const std::string& path) {
  using Kind = data::ColumnType::Kind;
  std::shared_ptr<arrow::DataType> value_type =
      type.kind == Kind::kInt64   ? arrow::int64()
      : type.kind == Kind::kFloat ? arrow::float32()
      : type.kind == Kind::kDouble ? arrow::float64()
      : type.kind == Kind::kBool  ? arrow::boolean()
                                  : arrow::utf8();
  std::unique_ptr<arrow::ArrayBuilder> builder;
  Check(arrow::MakeBuilder(arrow::default_memory_pool(), type.list ? arrow::list(value_type) : value_type, &builder),
        path);
  arrow::ArrayBuilder* values_builder =
      type.list ? static_cast<arrow::ListBuilder*>(builder.get())->value_builder() : builder.get();
  auto append = [&](std::string_view text) {
    switch (type.kind) {
      case Kind::kInt64: {
        int64_t v = 0;
        std::from_chars(text.data(), text.data() + text.size(), v);
        return static_cast<arrow::Int64Builder*>(values_builder)->Append(v);
      }
      case Kind::kFloat:
        return static_cast<arrow::FloatBuilder*>(values_builder)->Append(std::strtof(std::string(text).c_str(), nullptr));
      case Kind::kDouble:
        return static_cast<arrow::DoubleBuilder*>(values_builder)->Append(std::strtod(std::string(text).c_str(), nullptr));
      case Kind::kBool:
        return static_cast<arrow::BooleanBuilder*>(values_builder)->Append(text == "1");
      case Kind::kString:
        break;
    }
    return static_cast<arrow::StringBuilder*>(values_builder)->Append(text);
  };
  for (int64_t r = 0; r < rows; ++r) {
    const std::string_view cell = values[static_cast<size_t>(r) * num_columns + column];
    if (type.list) {
      Check(static_cast<arrow::ListBuilder*>(builder.get())->Append(), path);
      for (size_t begin = 0; !cell.empty() && begin <= cell.size();) {
        const size_t end = std::min(cell.find(separator, begin), cell.size());
        Check(append(cell.substr(begin, end - begin)), path);
        begin = end + 1;
      }
    } else if (cell.empty() && type.kind != Kind::kString) {
      Check(builder->AppendNull(), path);
    } else {
      Check(append(cell), path);
    }
  }
  std::shared_ptr<arrow::Array> out;
  Check(builder->Finish(&out), path);
  return out;
}

class ParquetPredictionWriter : public PredictionWriter {
 public:
  ParquetPredictionWriter(const std::string& output_dir, std::vector<std::string> output_columns,
                          std::vector<std::string> reserved_columns)
      : PredictionWriter((std::filesystem::path(output_dir) / kParquetPartFile).string(), std::move(output_columns),
                         std::move(reserved_columns)),
        stream_(std::make_shared<AtomicStream>(file_)) {}

  void SetReservedTypes(const std::vector<data::ColumnType>& types, char list_separator) override {
    reserved_types_ = types;
    list_separator_ = list_separator;
  }

  void Commit() override {
    if (writer_) Check(writer_->Close(), file_.path());
    PredictionWriter::Commit();
  }

 private:
  void WriteHeader() override {}  // the schema is written with the first rows

  void WriteRows(const c10::Dict<std::string, at::Tensor>& predictions,
                 const std::vector<std::string>& reserved_values, int64_t rows) override {
    std::vector<std::shared_ptr<arrow::Array>> columns;
    for (const auto& name : output_columns_) {
      columns.push_back(OutputColumn(name, predictions.at(name), rows, file_.path()));
    }
    const size_t num_reserved = reserved_columns_.size();
    for (size_t c = 0; c < num_reserved; ++c) {
      const data::ColumnType type = c < reserved_types_.size() ? reserved_types_[c] : data::ColumnType{};
      columns.push_back(
          ReservedColumn(reserved_values, c, num_reserved, rows, type, list_separator_, file_.path()));
    }
    if (!writer_) {
      std::vector<std::shared_ptr<arrow::Field>> fields;
      for (size_t i = 0; i < columns.size(); ++i) fields.push_back(arrow::field(header_[i], columns[i]->type()));
      schema_ = arrow::schema(fields);
      auto writer = parquet::arrow::FileWriter::Open(*schema_, arrow::default_memory_pool(), stream_,
                                                     parquet::WriterProperties::Builder().compression(
                                                         parquet::Compression::SNAPPY)->build());
      if (!writer.ok()) Check(writer.status(), file_.path());
      writer_ = std::move(*writer);
    }
    Check(writer_->WriteTable(*arrow::Table::Make(schema_, columns, rows), rows), file_.path());
  }

  std::vector<data::ColumnType> reserved_types_;  // empty: strings
  char list_separator_ = '\x1d';
  std::shared_ptr<AtomicStream> stream_;
  std::shared_ptr<arrow::Schema> schema_;
  std::unique_ptr<parquet::arrow::FileWriter> writer_;
};

}  // namespace

std::unique_ptr<PredictionWriter> NewParquetPredictionWriter(const std::string& output_dir,
                                                             std::vector<std::string> output_columns,
                                                             std::vector<std::string> reserved_columns) {
  return std::make_unique<ParquetPredictionWriter>(output_dir, std::move(output_columns),
                                                   std::move(reserved_columns));
}

}  // namespace tzrec::predict
