#include "data/parquet_writer.h"

#include <charconv>
#include <cstdlib>

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/writer.h>

#include "common/error.h"
#include "data/csv_reader.h"

namespace tzrec::data {

namespace {

using Kind = ColumnType::Kind;

bool IsInt(std::string_view s) {
  int64_t v;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size();
}

bool IsNumber(std::string_view s) {
  if (s.empty()) return false;
  const std::string text(s);
  char* end = nullptr;
  std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

template <typename F>
void ForEachPart(std::string_view cell, char separator, bool list, F&& f) {
  if (!list) {
    f(cell);
    return;
  }
  size_t begin = 0;
  while (true) {
    const size_t end = cell.find(separator, begin);
    f(cell.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
    if (end == std::string_view::npos) return;
    begin = end + 1;
  }
}

void Check(const arrow::Status& status, const std::string& path) {
  if (!status.ok()) Fail("cannot write {}: {}", path, status.ToString());
}

std::shared_ptr<arrow::DataType> ValueType(Kind kind) {
  return kind == Kind::kInt64 ? arrow::int64() : kind == Kind::kDouble ? arrow::float64() : arrow::utf8();
}

}  // namespace

void CsvToParquet(const std::string& csv_path, const CsvOptions& csv, char list_separator,
                  const std::string& parquet_path, int64_t row_group_rows) {
  // Pass 1: the type of every column.
  std::vector<ColumnType> types;
  std::vector<std::string> names;
  {
    CsvReader reader(csv_path, csv);
    names = reader.column_names();
    // Each column starts as int64 and widens to double, then string, as
    // values require.
    types.assign(names.size(), ColumnType{Kind::kInt64, false});
    RowBatch batch;
    while (reader.ReadRows(row_group_rows, &batch) > 0) {
      for (size_t c = 0; c < names.size(); ++c) {
        for (int64_t r = 0; r < batch.num_rows; ++r) {
          const std::string_view cell = batch.Field(r, c);
          if (cell.find(list_separator) != std::string_view::npos) types[c].list = true;
          ForEachPart(cell, list_separator, true, [&](std::string_view part) {
            if (part.empty()) return;
            if (types[c].kind == Kind::kInt64 && !IsInt(part)) types[c].kind = Kind::kDouble;
            if (types[c].kind == Kind::kDouble && !IsNumber(part)) types[c].kind = Kind::kString;
          });
        }
      }
    }
  }
  std::vector<std::shared_ptr<arrow::Field>> fields;
  for (size_t c = 0; c < names.size(); ++c) {
    const auto value = ValueType(types[c].kind);
    fields.push_back(arrow::field(names[c], types[c].list ? arrow::list(value) : value));
  }
  const auto schema = arrow::schema(fields);

  // Pass 2: the values, one row group per read.
  auto out = arrow::io::FileOutputStream::Open(parquet_path);
  if (!out.ok()) Check(out.status(), parquet_path);
  auto writer = parquet::arrow::FileWriter::Open(
      *schema, arrow::default_memory_pool(), *out,
      parquet::WriterProperties::Builder().compression(parquet::Compression::SNAPPY)->build());
  if (!writer.ok()) Check(writer.status(), parquet_path);
  CsvReader reader(csv_path, csv);
  RowBatch batch;
  while (reader.ReadRows(row_group_rows, &batch) > 0) {
    std::vector<std::shared_ptr<arrow::Array>> columns;
    for (size_t c = 0; c < names.size(); ++c) {
      std::unique_ptr<arrow::ArrayBuilder> builder;
      Check(arrow::MakeBuilder(arrow::default_memory_pool(), schema->field(static_cast<int>(c))->type(), &builder),
            parquet_path);
      arrow::ArrayBuilder* values = builder.get();
      if (types[c].list) values = static_cast<arrow::ListBuilder*>(builder.get())->value_builder();
      for (int64_t r = 0; r < batch.num_rows; ++r) {
        const std::string_view cell = batch.Field(r, c);
        if (types[c].list) {
          Check(static_cast<arrow::ListBuilder*>(builder.get())->Append(), parquet_path);
          if (cell.empty()) continue;
        } else if (cell.empty()) {
          Check(builder->AppendNull(), parquet_path);
          continue;
        }
        ForEachPart(cell, list_separator, types[c].list, [&](std::string_view part) {
          switch (types[c].kind) {
            case Kind::kInt64: {
              int64_t v = 0;
              std::from_chars(part.data(), part.data() + part.size(), v);
              Check(static_cast<arrow::Int64Builder*>(values)->Append(v), parquet_path);
              break;
            }
            case Kind::kDouble:
              Check(static_cast<arrow::DoubleBuilder*>(values)->Append(std::strtod(std::string(part).c_str(), nullptr)),
                    parquet_path);
              break;
            default:
              Check(static_cast<arrow::StringBuilder*>(values)->Append(part), parquet_path);
              break;
          }
        });
      }
      std::shared_ptr<arrow::Array> array;
      Check(builder->Finish(&array), parquet_path);
      columns.push_back(array);
    }
    Check((*writer)->WriteTable(*arrow::Table::Make(schema, columns, batch.num_rows), batch.num_rows), parquet_path);
  }
  Check((*writer)->Close(), parquet_path);
  Check((*out)->Close(), parquet_path);
}

}  // namespace tzrec::data
