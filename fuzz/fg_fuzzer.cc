// fg.json and the FG engine over raw rows (features/fg/): the engine an
// export's fg.json drives in predict and serve, given fg.json text from a
// file (FgEngine::FromFile, as an export is read) and rows of raw text.
//
// Input: <fg.json> "\n%%<flags>\n" <rows>. Flags: 'e' FG_NONE (encoded
// columns) instead of FG_DAG, 's' skip_bad_rows. Rows: a header line of
// column names, then one line per row; fields separated by '\t' (short rows
// padded with ""). Without the separator the whole input is fg.json and the
// engine runs on one row of empty columns.
//
// Besides crashes, the output must be the shape the model inputs are built
// from (data::AddFeatureTensors): per sparse feature one length per row that
// add up to the ids, weights beside weighted ids, dense_dim values per dense
// row; a sequence one seq_length per row.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "features/fg/fg_engine.h"
#include "fuzz_util.h"

namespace {

using tzrec::fg::FeatureBatch;
using tzrec::fg::FeatureColumn;

constexpr size_t kMaxRows = 64;
constexpr size_t kMaxColumns = 64;

std::vector<std::string> Split(std::string_view text, char sep) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (true) {
    const size_t end = text.find(sep, begin);
    parts.emplace_back(text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
    if (end == std::string_view::npos) return parts;
    begin = end + 1;
  }
}

[[noreturn]] void Broken(const FeatureColumn& column, const char* what) {
  std::fprintf(stderr, "fuzz finding: FG output %s: %s\n", column.name.c_str(), what);
  std::abort();
}

void CheckShape(const FeatureBatch& batch) {
  const auto rows = static_cast<size_t>(batch.num_rows);
  for (const FeatureColumn& column : batch.features) {
    if (column.sequence) {
      if (column.seq_lengths.size() != rows) Broken(column, "seq_lengths is not one per row");
      continue;
    }
    if (column.sparse) {
      if (column.lengths.size() != rows) Broken(column, "lengths is not one per row");
      const int64_t total = std::accumulate(column.lengths.begin(), column.lengths.end(), int64_t{0});
      if (total != static_cast<int64_t>(column.ids.size())) Broken(column, "lengths do not add up to the ids");
      if (column.weighted && column.weights.size() != column.ids.size()) Broken(column, "weights are not one per id");
    } else if (column.dense.size() != rows * static_cast<size_t>(column.dense_dim)) {
      Broken(column, "dense is not dense_dim values per row");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = tzrec::fuzzing::AsView(data, size);
  std::string_view fg_json = input;
  std::string_view flags;
  std::string_view rows_text;
  const size_t separator = input.find("\n%%");
  if (separator != std::string_view::npos) {
    fg_json = input.substr(0, separator);
    const size_t flags_end = input.find('\n', separator + 3);
    flags = input.substr(separator + 3, flags_end == std::string_view::npos ? std::string_view::npos
                                                                             : flags_end - separator - 3);
    if (flags_end != std::string_view::npos) rows_text = input.substr(flags_end + 1);
  }
  tzrec::fg::FgEngineOptions options;
  options.mode = flags.find('e') != std::string_view::npos ? tzrec::fg::FgMode::kEncoded : tzrec::fg::FgMode::kFg;
  options.skip_bad_rows = flags.find('s') != std::string_view::npos;

  const std::string path = tzrec::fuzzing::WriteScratchFile("fg.json", fg_json);
  tzrec::fuzzing::ExpectOnlyTzrecErrors([&] {
    const tzrec::fg::FgEngine engine = tzrec::fg::FgEngine::FromFile(path, options);
    std::vector<std::string> lines = Split(rows_text, '\n');
    std::vector<std::string> header = lines.empty() || lines[0].empty() ? std::vector<std::string>{}
                                                                        : Split(lines[0], '\t');
    if (header.size() > kMaxColumns) header.resize(kMaxColumns);
    // Every column the engine reads exists: a missing one is its own (tested)
    // error and would stop every input before the values are parsed.
    for (const std::string& column : engine.input_columns()) {
      if (std::find(header.begin(), header.end(), column) == header.end()) header.push_back(column);
    }
    const size_t rows = std::max<size_t>(1, std::min(kMaxRows, lines.size() > 1 ? lines.size() - 1 : 0));
    std::vector<std::vector<std::string>> columns(header.size(), std::vector<std::string>(rows));
    for (size_t r = 0; r < rows && r + 1 < lines.size(); ++r) {
      const std::vector<std::string> fields = Split(lines[r + 1], '\t');
      for (size_t c = 0; c < fields.size() && c < header.size(); ++c) columns[c][r] = fields[c];
    }
    tzrec::fg::OwnedInputBatch owned(static_cast<int64_t>(rows));
    for (size_t c = 0; c < header.size(); ++c) owned.Add(header[c], std::move(columns[c]));
    const FeatureBatch batch = engine.Process(owned.View());
    CheckShape(batch);
    for (const FeatureColumn& column : batch.features) tzrec::fg::RowTexts(column, batch.num_rows);
  });
  return 0;
}
