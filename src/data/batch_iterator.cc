#include "data/batch_iterator.h"

#include <set>

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "common/error.h"

namespace tzrec::data {

std::vector<std::string> ExpandInputPath(const std::string& input_path) {
  std::vector<std::string> files;
  std::stringstream parts(input_path);
  std::string pattern;
  while (std::getline(parts, pattern, ',')) {
    if (pattern.empty()) continue;
    glob_t g{};
    int rc = glob(pattern.c_str(), 0, nullptr, &g);
    if (rc == 0) {
      std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
      std::sort(matches.begin(), matches.end());
      for (const std::string& match : matches) {
        std::error_code ec;
        if (!std::filesystem::is_directory(match, ec)) {
          files.push_back(match);
          continue;
        }
        std::vector<std::string> parts;
        for (const auto& entry : std::filesystem::directory_iterator(match, ec)) {
          const std::string name = entry.path().filename().string();
          if (entry.is_regular_file() && name[0] != '.' && name[0] != '_') parts.push_back(entry.path().string());
        }
        std::sort(parts.begin(), parts.end());
        files.insert(files.end(), parts.begin(), parts.end());
      }
    }
    globfree(&g);
  }
  if (files.empty()) Fail("no input files match '{}'", input_path);
  return files;
}

BatchIterator::BatchIterator(BatchIteratorOptions options, std::shared_ptr<const fg::FgEngine> engine,
                             DataParserOptions parser_options)
    : options_(std::move(options)), engine_(std::move(engine)),
      parser_(engine_.get(), parser_options), files_(ExpandInputPath(options_.input_path)) {
  if (options_.batch_size <= 0) FailConfig("batch_size must be positive, got {}", options_.batch_size);
  // Parquet decodes only what FG and the labels read.
  if (options_.parquet.columns.empty()) {
    options_.parquet.columns = engine_->input_columns();
    for (const auto* names : {&parser_options.label_fields, &parser_options.sample_weight_fields}) {
      options_.parquet.columns.insert(options_.parquet.columns.end(), names->begin(), names->end());
    }
    if (parser_options.negative_sampler) {
      options_.parquet.columns.push_back(parser_options.negative_sampler->item_id_field());
    }
  }
  // FG_NONE's scalar features take Parquet numbers as they are, unless the
  // column is also read as text (a label, a weight, the sampler's item id).
  if (options_.parquet.numeric_columns.empty()) {
    std::set<std::string> as_text(parser_options.label_fields.begin(), parser_options.label_fields.end());
    as_text.insert(parser_options.sample_weight_fields.begin(), parser_options.sample_weight_fields.end());
    if (parser_options.negative_sampler) as_text.insert(parser_options.negative_sampler->item_id_field());
    for (const std::string& column : engine_->numeric_columns()) {
      if (!as_text.count(column)) options_.parquet.numeric_columns.push_back(column);
    }
  }
}

BatchIterator::~BatchIterator() = default;

int64_t BatchIterator::skipped_rows() const {
  return csv_skipped_done_ + (reader_ ? reader_->skipped_rows() : 0) + fg_skipped_;
}

bool BatchIterator::OpenNextFile() {
  if (reader_) {
    csv_skipped_done_ += reader_->skipped_rows();
    reader_.reset();
  }
  if (next_file_ == files_.size()) {
    ++epoch_;
    next_file_ = 0;
    if (options_.num_epochs > 0 && epoch_ >= options_.num_epochs) return false;
  }
  reader_ = OpenRowReader(files_[next_file_++], options_.parquet_dataset, options_.csv, options_.parquet);
  return true;
}

bool BatchIterator::Next(Batch* batch) {
  if (options_.num_epochs > 0 && epoch_ >= options_.num_epochs) return false;
  int64_t files_without_batch = 0;
  while (true) {
    if (!reader_ && !OpenNextFile()) return false;
    const int64_t read = reader_->ReadRows(options_.batch_size, &rows_);
    if (read == 0 || (options_.drop_remainder && read < options_.batch_size)) {
      // End of this file (a short last batch is dropped when asked). A whole
      // pass over the files without a batch ends iteration instead of spinning.
      if (++files_without_batch > static_cast<int64_t>(files_.size())) return false;
      if (!OpenNextFile()) return false;
      continue;
    }
    if (rows_.num_rows == 0) continue;  // every row read was bad and skipped
    int64_t skipped = 0;
    batch->inputs = parser_.Parse(rows_, &skipped);
    fg_skipped_ += skipped;
    batch->batch_size = rows_.num_rows - skipped;
    batch->epoch = epoch_;
    rows_read_ += batch->batch_size;
    if (batch->batch_size == 0) continue;
    return true;
  }
}

}  // namespace tzrec::data
