// Rows of text (a CSV file) as a typed Parquet file, for `gen_data --format
// parquet`: each column's type is what its values are, as a Parquet file of
// upstream's data would have it: int64 when every value is an integer,
// double when every value is a number, string otherwise; a column whose
// cells hold `list_separator` becomes a list of that type. Empty cells are
// nulls (empty lists for list columns).
#pragma once

#include <string>

namespace tzrec::data {

struct CsvOptions;

// Reads `csv_path` twice (types, then values) and writes `parquet_path`
// (snappy, row groups of `row_group_rows`). Error naming the files on failure.
void CsvToParquet(const std::string& csv_path, const CsvOptions& csv, char list_separator,
                  const std::string& parquet_path, int64_t row_group_rows = 65536);

}  // namespace tzrec::data
