#include "features/fg/feature_batch.h"

#include <fmt/format.h>

namespace tzrec::fg {
namespace {

// Appends `count` values from `values` at `offset` to `out`, joined by ",".
template <typename T>
void AppendValues(const std::vector<T>& values, size_t& offset, int64_t count, std::string& out) {
  for (int64_t i = 0; i < count; ++i) {
    if (i > 0) out += ',';
    out += fmt::format("{}", values[offset++]);
  }
}

}  // namespace

std::vector<std::string> RowTexts(const FeatureColumn& column, int64_t num_rows) {
  std::vector<std::string> texts(static_cast<size_t>(num_rows));
  size_t value = 0;    // next id or dense value
  size_t element = 0;  // next sequence element (its entry in lengths)
  for (int64_t r = 0; r < num_rows; ++r) {
    std::string& text = texts[static_cast<size_t>(r)];
    if (!column.sequence) {
      if (column.sparse) {
        AppendValues(column.ids, value, column.lengths[static_cast<size_t>(r)], text);
      } else {
        AppendValues(column.dense, value, column.dense_dim, text);
      }
      continue;
    }
    const int64_t elements = column.seq_lengths[static_cast<size_t>(r)];
    for (int64_t e = 0; e < elements; ++e) {
      if (e > 0) text += ';';
      if (column.sparse) {
        AppendValues(column.ids, value, column.lengths[element++], text);
      } else {
        AppendValues(column.dense, value, column.dense_dim, text);
      }
    }
  }
  return texts;
}

}  // namespace tzrec::fg
