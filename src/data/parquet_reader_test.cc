#include "data/parquet_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <fmt/format.h>
#include <parquet/arrow/writer.h>

#include "common/error.h"
#include "data/batch_iterator.h"

namespace fs = std::filesystem;

namespace tzrec::data {
namespace {

fs::path TestDir() {
  fs::path dir = fs::temp_directory_path() / ("tzrec_parquet_reader_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

template <typename T>
std::shared_ptr<arrow::Array> Finish(T& builder) {
  std::shared_ptr<arrow::Array> out;
  EXPECT_TRUE(builder.Finish(&out).ok());
  return out;
}

// 23 rows in row groups of 5 (Arrow's own writer): every column type the
// reader takes, with nulls and empty lists.
fs::path WriteSample() {
  const int rows = 23;
  arrow::Int64Builder id;
  arrow::Int32Builder small;
  arrow::FloatBuilder price;
  arrow::DoubleBuilder score;
  arrow::StringBuilder name;
  arrow::LargeStringBuilder tag;
  arrow::BooleanBuilder flag;
  auto* pool = arrow::default_memory_pool();
  arrow::ListBuilder ids(pool, std::make_shared<arrow::Int64Builder>(pool));
  auto* ids_values = static_cast<arrow::Int64Builder*>(ids.value_builder());
  for (int r = 0; r < rows; ++r) {
    EXPECT_TRUE(id.Append(int64_t{1} << 40 | r).ok());
    EXPECT_TRUE((r % 4 == 3 ? small.AppendNull() : small.Append(-r)).ok());
    EXPECT_TRUE(price.Append(0.1f * static_cast<float>(r)).ok());
    EXPECT_TRUE(score.Append(r / 3.0).ok());
    EXPECT_TRUE(name.Append("n" + std::to_string(r)).ok());
    EXPECT_TRUE(tag.Append(r % 2 ? "odd" : "").ok());
    EXPECT_TRUE(flag.Append(r % 2 == 0).ok());
    if (r % 5 == 4) {
      EXPECT_TRUE(ids.AppendNull().ok());
    } else {
      EXPECT_TRUE(ids.Append().ok());
      for (int k = 0; k < r % 3; ++k) EXPECT_TRUE(ids_values->Append(r * 10 + k).ok());
    }
  }
  auto schema = arrow::schema({arrow::field("id", arrow::int64()), arrow::field("small", arrow::int32()),
                               arrow::field("price", arrow::float32()), arrow::field("score", arrow::float64()),
                               arrow::field("name", arrow::utf8()), arrow::field("tag", arrow::large_utf8()),
                               arrow::field("flag", arrow::boolean()),
                               arrow::field("ids", arrow::list(arrow::int64()))});
  auto table = arrow::Table::Make(schema, {Finish(id), Finish(small), Finish(price), Finish(score), Finish(name),
                                           Finish(tag), Finish(flag), Finish(ids)});
  const fs::path path = TestDir() / "sample.parquet";
  auto out = arrow::io::FileOutputStream::Open(path.string());
  EXPECT_TRUE(out.ok());
  EXPECT_TRUE(parquet::arrow::WriteTable(*table, pool, *out, /*chunk_size=*/5).ok());
  EXPECT_TRUE((*out)->Close().ok());
  return path;
}

TEST(ParquetReaderTest, ValuesReadAsTheTextACsvWouldHold) {
  const fs::path path = WriteSample();
  ParquetOptions options;
  options.list_separator = '\x03';
  options.read_batch_rows = 4;  // record batches cross row groups and reads
  ParquetReader reader(path.string(), options);
  EXPECT_EQ(reader.column_names(),
            (std::vector<std::string>{"id", "small", "price", "score", "name", "tag", "flag", "ids"}));
  RowBatch batch;
  std::vector<std::vector<std::string>> rows;
  int64_t n;
  while ((n = reader.ReadRows(7, &batch)) > 0) {
    EXPECT_LE(n, 7);
    for (int64_t r = 0; r < n; ++r) {
      std::vector<std::string> row;
      for (size_t c = 0; c < batch.num_columns(); ++c) row.emplace_back(batch.Field(r, c));
      rows.push_back(row);
    }
  }
  ASSERT_EQ(rows.size(), 23u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"1099511627776", "0", "0", "0", "n0", "", "1", ""}));
  EXPECT_EQ(rows[3], (std::vector<std::string>{"1099511627779", "", "0.3", "1", "n3", "odd", "0", ""}));
  EXPECT_EQ(rows[4][7], "");  // a null list
  EXPECT_EQ(rows[5][7], "50\x03" "51");
  EXPECT_EQ(rows[22][2], fmt::format("{}", 0.1f * 22.0f));
  EXPECT_EQ(std::stof(rows[7][2]), 0.1f * 7.0f);  // float text reads back exactly
  EXPECT_EQ(rows[1][3], "0.3333333333333333");
  EXPECT_EQ(batch.num_rows, 0);
  // Rows are numbered for errors: the last batch described its rows 22..23.
}

TEST(ParquetReaderTest, DecodesOnlyTheColumnsAsked) {
  ParquetOptions options;
  options.columns = {"ids", "id", "not_in_the_file"};
  ParquetReader reader(WriteSample().string(), options);
  // File order; a name the file lacks is left for the caller to report.
  EXPECT_EQ(reader.column_names(), (std::vector<std::string>{"id", "ids"}));
  RowBatch batch;
  ASSERT_EQ(reader.ReadRows(100, &batch), 23);
  EXPECT_EQ(batch.num_columns(), 2u);
  EXPECT_EQ(batch.Field(5, 0), "1099511627781");
  EXPECT_EQ(batch.Field(5, 1), "50\x1d" "51");
}

TEST(ParquetReaderTest, BatchesComeFromDirectoriesOfPartFilesAndErrorsNameTheFile) {
  const fs::path path = WriteSample();
  const fs::path dir = TestDir() / "parts";
  fs::create_directories(dir);
  fs::copy_file(path, dir / "part-0.parquet", fs::copy_options::overwrite_existing);
  fs::copy_file(path, dir / "part-1.parquet", fs::copy_options::overwrite_existing);
  std::ofstream(dir / "_SUCCESS") << "";
  EXPECT_EQ(ExpandInputPath(dir.string()),
            (std::vector<std::string>{(dir / "part-0.parquet").string(), (dir / "part-1.parquet").string()}));

  std::ofstream(TestDir() / "bad.parquet") << "not parquet at all";
  try {
    ParquetReader reader((TestDir() / "bad.parquet").string(), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.parquet"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ParquetReader((TestDir() / "missing.parquet").string(), {}), Error);
  EXPECT_TRUE(IsParquetPath("x/part-0.parquet", false));
  EXPECT_FALSE(IsParquetPath("x/data.csv", true));
  EXPECT_TRUE(IsParquetPath("x/part-00000", true));
}

// FG_NONE features take Parquet ints and floats as numbers (no text round
// trip): the tensors equal those of the same rows as CSV text, nulls
// included, and a bad id still names its file and row.
TEST(ParquetReaderTest, NumericColumnsGiveTheTensorsTheirTextGives) {
  const int rows = 37;
  arrow::Int64Builder a;
  arrow::Int32Builder b;
  arrow::DoubleBuilder c, d;
  arrow::Int64Builder label;
  std::string csv = "a,b,c,d,label\n";
  for (int r = 0; r < rows; ++r) {
    EXPECT_TRUE(a.Append(r * 7 % 100).ok());
    EXPECT_TRUE((r % 5 == 2 ? b.AppendNull() : b.Append(r % 50)).ok());
    EXPECT_TRUE(c.Append(r / 8.0 - 1).ok());
    EXPECT_TRUE(d.Append(static_cast<double>(r % 9)).ok());
    EXPECT_TRUE(label.Append(r % 2).ok());
    csv += fmt::format("{},{},{},{},{}\n", r * 7 % 100, r % 5 == 2 ? "" : std::to_string(r % 50), r / 8.0 - 1,
                       r % 9, r % 2);
  }
  auto schema = arrow::schema({arrow::field("a", arrow::int64()), arrow::field("b", arrow::int32()),
                               arrow::field("c", arrow::float64()), arrow::field("d", arrow::float64()),
                               arrow::field("label", arrow::int64())});
  auto table = arrow::Table::Make(schema, {Finish(a), Finish(b), Finish(c), Finish(d), Finish(label)});
  const fs::path dir = TestDir();
  auto out = arrow::io::FileOutputStream::Open((dir / "numeric.parquet").string());
  EXPECT_TRUE(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), *out, 10).ok());
  EXPECT_TRUE((*out)->Close().ok());
  std::ofstream(dir / "numeric.csv") << csv;
  std::ofstream(dir / "fg.json") << R"({"features": [
    {"feature_type": "id_feature", "feature_name": "a", "expression": "item:a", "num_buckets": 100, "value_dim": 1},
    {"feature_type": "id_feature", "feature_name": "b", "expression": "item:b", "num_buckets": 50, "value_dim": 1},
    {"feature_type": "raw_feature", "feature_name": "c", "expression": "item:c", "value_type": "float"},
    {"feature_type": "id_feature", "feature_name": "d", "expression": "item:d", "num_buckets": 10, "value_dim": 1}]})";
  fg::FgEngineOptions encoded;
  encoded.mode = fg::FgMode::kEncoded;
  auto engine = std::make_shared<fg::FgEngine>(fg::FgEngine::FromFile((dir / "fg.json").string(), encoded));
  EXPECT_EQ(engine->numeric_columns(), (std::vector<std::string>{"a", "b", "c", "d"}));
  auto read_all = [&](const std::string& file, bool skip_bad_rows) {
    BatchIteratorOptions options;
    options.input_path = (dir / file).string();
    options.batch_size = 16;
    options.csv.with_header = true;
    fg::FgEngineOptions engine_options = encoded;
    engine_options.skip_bad_rows = skip_bad_rows;
    auto e = std::make_shared<fg::FgEngine>(fg::FgEngine::FromFile((dir / "fg.json").string(), engine_options));
    BatchIterator it(options, e, {{"label"}, {}});
    std::vector<TensorMap> batches;
    Batch batch;
    while (it.Next(&batch)) batches.push_back(batch.inputs);
    return batches;
  };
  for (bool skip_bad_rows : {false, true}) {  // column by column, and row by row
    const auto from_text = read_all("numeric.csv", skip_bad_rows);
    const auto from_numbers = read_all("numeric.parquet", skip_bad_rows);
    ASSERT_EQ(from_text.size(), 3u);
    ASSERT_EQ(from_numbers.size(), 3u);
    for (size_t i = 0; i < from_text.size(); ++i) {
      ASSERT_EQ(from_text[i].size(), from_numbers[i].size());
      for (const auto& [name, tensor] : from_text[i]) {
        EXPECT_TRUE(at::equal(tensor, from_numbers[i].at(name))) << name << " batch " << i;
      }
    }
  }
  // An id out of range in a numeric column.
  arrow::Int64Builder big;
  for (int r = 0; r < 3; ++r) EXPECT_TRUE(big.Append(r == 2 ? 100 : r).ok());
  auto bad = arrow::Table::Make(arrow::schema({arrow::field("a", arrow::int64())}), {Finish(big)});
  auto bad_out = arrow::io::FileOutputStream::Open((dir / "bad_id.parquet").string());
  EXPECT_TRUE(parquet::arrow::WriteTable(*bad, arrow::default_memory_pool(), *bad_out, 10).ok());
  EXPECT_TRUE((*bad_out)->Close().ok());
  std::ofstream(dir / "fg_a.json") << R"({"features": [
    {"feature_type": "id_feature", "feature_name": "a", "expression": "item:a", "num_buckets": 100, "value_dim": 1}]})";
  BatchIteratorOptions options;
  options.input_path = (dir / "bad_id.parquet").string();
  BatchIterator it(options,
                   std::make_shared<fg::FgEngine>(fg::FgEngine::FromFile((dir / "fg_a.json").string(), encoded)), {});
  Batch batch;
  try {
    it.Next(&batch);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad_id.parquet:3: feature 'a': id outside [0, 100): '100'"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace tzrec::data
