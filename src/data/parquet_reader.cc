#include "data/parquet_reader.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/reader.h>
#include <parquet/exception.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "common/error.h"

namespace tzrec::data {

namespace {

void AppendText(const arrow::Array& array, int64_t row, char list_separator, std::string& out);

// Integers as integers, floats in their shortest round-trip form
// (std::to_chars: no locale, no allocation).
template <typename T>
void AppendNumber(T value, std::string& out) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, result.ptr);
}

// A list cell: its values' text joined by `list_separator`.
template <typename ListArray>
void AppendList(const ListArray& list, int64_t row, char list_separator, std::string& out) {
  const int64_t begin = list.value_offset(row);
  for (int64_t i = begin; i < begin + list.value_length(row); ++i) {
    if (i > begin) out += list_separator;
    AppendText(*list.values(), i, list_separator, out);
  }
}

// Appends the text of `array`[row] to `out`: what a CSV of the same data
// holds in that field.
void AppendText(const arrow::Array& array, int64_t row, char list_separator, std::string& out) {
  if (array.IsNull(row)) return;
  switch (array.type_id()) {
    case arrow::Type::BOOL:
      out += static_cast<const arrow::BooleanArray&>(array).Value(row) ? "1" : "0";
      return;
#define TZREC_NUMBER(ID, ARRAY)                                              \
  case arrow::Type::ID:                                                     \
    AppendNumber(static_cast<const arrow::ARRAY&>(array).Value(row), out); \
    return;
      TZREC_NUMBER(INT8, Int8Array)
      TZREC_NUMBER(INT16, Int16Array)
      TZREC_NUMBER(INT32, Int32Array)
      TZREC_NUMBER(INT64, Int64Array)
      TZREC_NUMBER(UINT8, UInt8Array)
      TZREC_NUMBER(UINT16, UInt16Array)
      TZREC_NUMBER(UINT32, UInt32Array)
      TZREC_NUMBER(UINT64, UInt64Array)
      TZREC_NUMBER(FLOAT, FloatArray)    // shortest text that reads back as the same float
      TZREC_NUMBER(DOUBLE, DoubleArray)
#undef TZREC_NUMBER
    case arrow::Type::STRING:
    case arrow::Type::BINARY:
      out += static_cast<const arrow::BinaryArray&>(array).GetView(row);
      return;
    case arrow::Type::LARGE_STRING:
    case arrow::Type::LARGE_BINARY:
      out += static_cast<const arrow::LargeBinaryArray&>(array).GetView(row);
      return;
    case arrow::Type::LIST:
      AppendList(static_cast<const arrow::ListArray&>(array), row, list_separator, out);
      return;
    case arrow::Type::LARGE_LIST:
      AppendList(static_cast<const arrow::LargeListArray&>(array), row, list_separator, out);
      return;
    default:
      return;  // refused when the file is opened
  }
}

bool Readable(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::BOOL: case arrow::Type::INT8: case arrow::Type::INT16: case arrow::Type::INT32:
    case arrow::Type::INT64: case arrow::Type::UINT8: case arrow::Type::UINT16: case arrow::Type::UINT32:
    case arrow::Type::UINT64: case arrow::Type::FLOAT: case arrow::Type::DOUBLE: case arrow::Type::STRING:
    case arrow::Type::BINARY: case arrow::Type::LARGE_STRING: case arrow::Type::LARGE_BINARY:
      return true;
    case arrow::Type::LIST: case arrow::Type::LARGE_LIST: {
      const auto& value = *static_cast<const arrow::BaseListType&>(type).value_type();
      return value.id() != arrow::Type::LIST && value.id() != arrow::Type::LARGE_LIST && Readable(value);
    }
    default:
      return false;
  }
}

ColumnType TypeOf(const arrow::DataType& type) {
  ColumnType out;
  const arrow::DataType* value = &type;
  if (type.id() == arrow::Type::LIST || type.id() == arrow::Type::LARGE_LIST) {
    out.list = true;
    value = static_cast<const arrow::BaseListType&>(type).value_type().get();
  }
  switch (value->id()) {
    case arrow::Type::INT8: case arrow::Type::INT16: case arrow::Type::INT32: case arrow::Type::INT64:
    case arrow::Type::UINT8: case arrow::Type::UINT16: case arrow::Type::UINT32: case arrow::Type::UINT64:
      out.kind = ColumnType::Kind::kInt64;
      break;
    case arrow::Type::FLOAT: out.kind = ColumnType::Kind::kFloat; break;
    case arrow::Type::DOUBLE: out.kind = ColumnType::Kind::kDouble; break;
    case arrow::Type::BOOL: out.kind = ColumnType::Kind::kBool; break;
    default: out.kind = ColumnType::Kind::kString;
  }
  return out;
}

// Scalar ints and floats, which can be handed over as numbers.
bool IsNumber(const arrow::DataType& type) {
  return arrow::is_integer(type.id()) || arrow::is_floating(type.id());
}

// Appends rows [begin, begin + count) of a numeric `array` to `out`.
template <typename ArrayType>
void CopyNumbers(const arrow::Array& array, int64_t begin, int64_t count, RowBatch::Numbers& out) {
  const auto* values = static_cast<const ArrayType&>(array).raw_values() + begin;
  if (out.integers) {
    out.ints.insert(out.ints.end(), values, values + count);
  } else {
    out.doubles.insert(out.doubles.end(), values, values + count);
  }
}

void AppendNumbers(const arrow::Array& array, int64_t begin, int64_t count, int64_t rows_before,
                   RowBatch::Numbers& out) {
  switch (array.type_id()) {
    case arrow::Type::INT8: CopyNumbers<arrow::Int8Array>(array, begin, count, out); break;
    case arrow::Type::INT16: CopyNumbers<arrow::Int16Array>(array, begin, count, out); break;
    case arrow::Type::INT32: CopyNumbers<arrow::Int32Array>(array, begin, count, out); break;
    case arrow::Type::INT64: CopyNumbers<arrow::Int64Array>(array, begin, count, out); break;
    case arrow::Type::UINT8: CopyNumbers<arrow::UInt8Array>(array, begin, count, out); break;
    case arrow::Type::UINT16: CopyNumbers<arrow::UInt16Array>(array, begin, count, out); break;
    case arrow::Type::UINT32: CopyNumbers<arrow::UInt32Array>(array, begin, count, out); break;
    case arrow::Type::UINT64: CopyNumbers<arrow::UInt64Array>(array, begin, count, out); break;
    case arrow::Type::FLOAT: CopyNumbers<arrow::FloatArray>(array, begin, count, out); break;
    case arrow::Type::DOUBLE: CopyNumbers<arrow::DoubleArray>(array, begin, count, out); break;
    default: break;  // IsNumber() chose the column
  }
  if (array.null_count() == 0 && out.present.empty()) return;
  // Nulls: mark every row so far present, then this range by its validity.
  out.present.resize(static_cast<size_t>(rows_before), 1);
  for (int64_t r = begin; r < begin + count; ++r) out.present.push_back(array.IsValid(r) ? 1 : 0);
}

}  // namespace

void ProjectColumns(const fg::FgEngine& engine, const std::vector<std::string>& text_columns,
                    ParquetOptions& options) {
  options.columns = engine.input_columns();
  options.columns.insert(options.columns.end(), text_columns.begin(), text_columns.end());
  options.numeric_columns.clear();
  for (const std::string& column : engine.numeric_columns()) {
    if (std::find(text_columns.begin(), text_columns.end(), column) == text_columns.end()) {
      options.numeric_columns.push_back(column);
    }
  }
}

struct ParquetReader::State {
  std::unique_ptr<parquet::arrow::FileReader> file;
  std::unique_ptr<arrow::RecordBatchReader> batches;
  std::shared_ptr<arrow::RecordBatch> current;
  int64_t next_row = 0;  // in `current`
  int64_t rows_read = 0;  // in the file
};

ParquetReader::ParquetReader(std::string path, ParquetOptions options)
    : path_(std::move(path)), options_(options), state_(std::make_unique<State>()) {
  auto fail = [&](const arrow::Status& status) {
    Fail("cannot read {} as Parquet: {}", path_, status.message());
  };
  auto input = arrow::io::ReadableFile::Open(path_);
  if (!input.ok()) fail(input.status());
  parquet::ArrowReaderProperties properties;
  properties.set_batch_size(options_.read_batch_rows);
  parquet::arrow::FileReaderBuilder builder;
  try {
    arrow::Status status = builder.Open(*input);
    if (!status.ok()) fail(status);
  } catch (const parquet::ParquetException& e) {
    Fail("cannot read {} as Parquet: {}", path_, e.what());
  }
  builder.properties(properties);
  auto file = builder.Build();
  if (!file.ok()) fail(file.status());
  state_->file = std::move(*file);
  std::shared_ptr<arrow::Schema> schema;
  arrow::Status status = state_->file->GetSchema(&schema);
  if (!status.ok()) fail(status);
  const std::set<std::string> wanted(options_.columns.begin(), options_.columns.end());
  std::vector<int> indices;
  for (int i = 0; i < schema->num_fields(); ++i) {
    const auto& field = schema->field(i);
    if (!wanted.empty() && !wanted.count(field->name())) continue;
    if (!Readable(*field->type())) {
      Fail("{}: column '{}' has type {}, which tzrec does not read (ints, floats, strings, bools and lists "
           "of them)",
           path_, field->name(), field->type()->ToString());
    }
    column_names_.push_back(field->name());
    column_types_.push_back(TypeOf(*field->type()));
    numeric_.push_back(IsNumber(*field->type()) &&
                       std::find(options_.numeric_columns.begin(), options_.numeric_columns.end(),
                                 field->name()) != options_.numeric_columns.end());
    indices.push_back(i);
  }
  std::vector<int> row_groups(static_cast<size_t>(state_->file->num_row_groups()));
  for (size_t g = 0; g < row_groups.size(); ++g) row_groups[g] = static_cast<int>(g);
  auto batches = state_->file->GetRecordBatchReader(row_groups, indices);
  if (!batches.ok()) fail(batches.status());
  state_->batches = std::move(*batches);
}

ParquetReader::~ParquetReader() = default;

int64_t ParquetReader::ReadRows(int64_t max_rows, RowBatch* batch) {
  batch->Reset(path_, column_names_);
  const size_t ncols = column_names_.size();
  // The numeric columns, in order; a batch this reader filled before keeps
  // their memory.
  size_t num_numeric = 0;
  for (size_t c = 0; c < ncols; ++c) {
    if (!numeric_[c]) continue;
    if (batch->numbers.size() <= num_numeric) batch->numbers.emplace_back();
    RowBatch::Numbers& n = batch->numbers[num_numeric++];
    n.column = column_names_[c];
    n.integers = column_types_[c].kind == ColumnType::Kind::kInt64;
  }
  batch->numbers.resize(num_numeric);
  std::vector<RowBatch::Numbers*> numbers(ncols, nullptr);
  for (size_t c = 0, k = 0; c < ncols; ++c) {
    if (numeric_[c]) numbers[c] = &batch->numbers[k++];
  }
  // Text first, column by column (bytes may grow), views after: [begin, end)
  // of each field, row-major.
  std::vector<std::pair<size_t, size_t>> spans;
  while (batch->num_rows < max_rows) {
    if (!state_->current || state_->next_row == state_->current->num_rows()) {
      arrow::Status status = state_->batches->ReadNext(&state_->current);
      if (!status.ok()) Fail("cannot read {} as Parquet: {}", path_, status.message());
      state_->next_row = 0;
      if (!state_->current) break;  // end of file
      continue;
    }
    const arrow::RecordBatch& record = *state_->current;
    const int64_t take = std::min(max_rows - batch->num_rows, record.num_rows() - state_->next_row);
    const size_t first = static_cast<size_t>(batch->num_rows) * ncols;
    spans.resize(first + static_cast<size_t>(take) * ncols);
    for (size_t c = 0; c < ncols; ++c) {
      const arrow::Array& column = *record.column(static_cast<int>(c));
      if (numbers[c] != nullptr) {
        // Numbers as they are; the text fields stay empty.
        AppendNumbers(column, state_->next_row, take, batch->num_rows, *numbers[c]);
        const size_t end = batch->bytes.size();
        for (int64_t r = 0; r < take; ++r) spans[first + static_cast<size_t>(r) * ncols + c] = {end, end};
        continue;
      }
      for (int64_t r = 0; r < take; ++r) {
        const size_t begin = batch->bytes.size();
        AppendText(column, state_->next_row + r, options_.list_separator, batch->bytes);
        spans[first + static_cast<size_t>(r) * ncols + c] = {begin, batch->bytes.size()};
      }
    }
    for (int64_t r = 0; r < take; ++r) batch->line_numbers.push_back(++state_->rows_read);
    state_->next_row += take;
    batch->num_rows += take;
  }
  batch->fields.reserve(spans.size());
  for (const auto& [begin, end] : spans) batch->fields.emplace_back(batch->bytes.data() + begin, end - begin);
  return batch->num_rows;
}

}  // namespace tzrec::data
