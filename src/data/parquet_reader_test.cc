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

}  // namespace
}  // namespace tzrec::data
