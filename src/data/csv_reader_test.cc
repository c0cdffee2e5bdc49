#include "data/csv_reader.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"

namespace tzrec::data {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class CsvReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("csv_reader_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  fs::path dir_;
};

std::vector<std::vector<std::string>> ReadAll(CsvReader& reader, int64_t batch_rows, int* batches = nullptr) {
  std::vector<std::vector<std::string>> rows;
  RowBatch batch;
  int n = 0;
  while (reader.ReadRows(batch_rows, &batch) > 0) {
    ++n;
    for (int64_t r = 0; r < batch.num_rows; ++r) {
      std::vector<std::string> row;
      for (size_t c = 0; c < batch.num_columns(); ++c) row.emplace_back(batch.Field(r, c));
      rows.push_back(row);
    }
  }
  if (batches) *batches = n;
  return rows;
}

TEST_F(CsvReaderTest, HeaderQuotesCrlfAndBlankLines) {
  auto path = Write("a.csv", "id,name,score\r\n1,\"a,b\",0.5\r\n\r\n2,\"say \"\"hi\"\"\",\n3,\"two\nlines\",1\n4,,2");
  CsvOptions options;
  options.with_header = true;
  CsvReader reader(path, options);
  EXPECT_THAT(reader.column_names(), ElementsAre("id", "name", "score"));
  auto rows = ReadAll(reader, 2);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_THAT(rows[0], ElementsAre("1", "a,b", "0.5"));
  EXPECT_THAT(rows[1], ElementsAre("2", "say \"hi\"", ""));
  EXPECT_THAT(rows[2], ElementsAre("3", "two\nlines", "1"));
  EXPECT_THAT(rows[3], ElementsAre("4", "", "2"));
}

TEST_F(CsvReaderTest, NamedColumnsCustomDelimiterSmallChunks) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += std::to_string(i) + "\t\xe4\xb8\xad" + std::to_string(i % 7) + "\n";
  auto path = Write("b.tsv", text);
  CsvOptions options;
  options.delimiter = '\t';
  options.column_names = {"id", "cat"};
  options.read_chunk_bytes = 64;  // records straddle every refill
  CsvReader reader(path, options);
  int batches = 0;
  auto rows = ReadAll(reader, 300, &batches);
  ASSERT_EQ(rows.size(), 1000u);
  EXPECT_EQ(batches, 4);
  EXPECT_THAT(rows[999], ElementsAre("999", "\xe4\xb8\xad" "5"));
}

TEST_F(CsvReaderTest, WrongColumnCountNamesFileAndLine) {
  auto path = Write("c.csv", "1,2\n3,4\n5\n6,7\n");
  CsvOptions options;
  options.column_names = {"a", "b"};
  CsvReader reader(path, options);
  try {
    ReadAll(reader, 10);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path + ":3"));
    EXPECT_THAT(e.what(), HasSubstr("expected 2 fields"));
  }
  options.skip_bad_rows = true;
  CsvReader lenient(path, options);
  RowBatch batch;
  EXPECT_EQ(lenient.ReadRows(10, &batch), 4);
  EXPECT_EQ(batch.num_rows, 3);
  EXPECT_EQ(lenient.skipped_rows(), 1);
  EXPECT_THAT(batch.line_numbers, ElementsAre(1, 2, 4));
  // Row origins reach FG errors as file:line.
  EXPECT_EQ(batch.ToInputBatch().RowOrigin(2), path + ":4");
}

TEST_F(CsvReaderTest, MissingFileAndMissingColumnNames) {
  EXPECT_THROW(CsvReader((dir_ / "nope.csv").string(), CsvOptions{}), Error);
  auto path = Write("d.csv", "1,2\n");
  EXPECT_THROW(CsvReader(path, CsvOptions{}), Error);  // no header and no names
  auto bad = Write("e.csv", "\"open,1\n");
  CsvOptions options;
  options.column_names = {"a", "b"};
  CsvReader reader(bad, options);
  EXPECT_THROW(ReadAll(reader, 10), Error);
}

}  // namespace
}  // namespace tzrec::data
