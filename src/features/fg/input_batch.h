// Raw input for FG: a batch of rows whose fields are text, addressed by column
// name. Columns are strided views so a row-major CSV buffer (fields[row * ncols
// + col]) is used in place, without copying.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tzrec::fg {

struct StridedColumn {
  const std::string_view* base = nullptr;
  size_t stride = 1;
  std::string_view operator[](int64_t row) const { return base[row * stride]; }
};

// A column whose values are numbers already (a Parquet int or float column),
// so encoded features (FG_NONE) read them without a round trip through text.
// Exactly one of ints / doubles is set; `present[row]` 0 is a null, read as
// an empty cell is (nullptr: no nulls).
struct NumericColumn {
  const int64_t* ints = nullptr;
  const double* doubles = nullptr;
  const uint8_t* present = nullptr;
  bool IsNull(int64_t row) const { return present != nullptr && present[row] == 0; }
};

struct InputBatch {
  int64_t num_rows = 0;
  std::unordered_map<std::string, StridedColumn> columns;
  // Columns given as numbers instead of text (FgEngine::numeric_columns()).
  std::unordered_map<std::string, NumericColumn> numeric_columns;
  // Where row r came from, for errors ("data.csv:17"); unset: "row <r>".
  std::function<std::string(int64_t)> describe_row;

  std::string RowOrigin(int64_t row) const {
    return describe_row ? describe_row(row) : "row " + std::to_string(row);
  }
  const StridedColumn* Find(const std::string& name) const {
    auto it = columns.find(name);
    return it == columns.end() ? nullptr : &it->second;
  }
  const NumericColumn* FindNumeric(const std::string& name) const {
    auto it = numeric_columns.find(name);
    return it == numeric_columns.end() ? nullptr : &it->second;
  }
};

// An InputBatch that owns its text: for tests, tools and request serving.
class OwnedInputBatch {
 public:
  explicit OwnedInputBatch(int64_t num_rows) : num_rows_(num_rows) {}
  // Values must have num_rows entries.
  void Add(const std::string& name, std::vector<std::string> values) {
    names_.push_back(name);
    texts_.push_back(std::move(values));
  }
  InputBatch View() {
    views_.clear();
    views_.reserve(texts_.size());
    InputBatch batch;
    batch.num_rows = num_rows_;
    for (size_t c = 0; c < texts_.size(); ++c) {
      std::vector<std::string_view> col;
      for (const auto& s : texts_[c]) col.emplace_back(s);
      col.resize(static_cast<size_t>(num_rows_));
      views_.push_back(std::move(col));
      batch.columns[names_[c]] = StridedColumn{views_.back().data(), 1};
    }
    return batch;
  }

 private:
  int64_t num_rows_;
  std::vector<std::string> names_;
  std::vector<std::vector<std::string>> texts_;
  std::vector<std::vector<std::string_view>> views_;
};

}  // namespace tzrec::fg
