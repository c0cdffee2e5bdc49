#include "data/csv_reader.h"

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "common/error.h"

namespace tzrec::data {

CsvReader::CsvReader(std::string path, CsvOptions options)
    : path_(std::move(path)), options_(std::move(options)) {
  file_ = std::fopen(path_.c_str(), "rb");
  if (file_ == nullptr) Fail("cannot open input file {}: {}", path_, std::strerror(errno));
  if (options_.with_header) {
    size_t end = FindRecordEnd(pos_);
    if (end == std::string::npos) Fail("{}: with_header is set but the file is empty", path_);
    std::vector<std::string_view> names;
    SplitRecord(buffer_.get(), pos_, end, record_quoted_, names, line_);
    for (auto n : names) column_names_.emplace_back(n);
    for (const char* p = buffer_.get() + pos_; p < buffer_.get() + end; ++p) line_ += *p == '\n';
    pos_ = std::min(end + 1, size_);
    ++line_;
  } else {
    column_names_ = options_.column_names;
    if (column_names_.empty()) {
      Fail("{}: the CSV has no header (with_header: false) and no input_fields name its columns", path_);
    }
  }
}

CsvReader::~CsvReader() {
  if (file_ != nullptr) std::fclose(file_);
}

bool CsvReader::Refill() {
  if (eof_) return false;
  // Drop consumed bytes, then append a chunk.
  const size_t keep = size_ - pos_;
  if (keep + options_.read_chunk_bytes > capacity_) {
    capacity_ = keep + options_.read_chunk_bytes;
    std::unique_ptr<char[]> bigger(new char[capacity_]);
    if (keep) std::memcpy(bigger.get(), buffer_.get() + pos_, keep);
    buffer_ = std::move(bigger);
  } else if (keep) {
    std::memmove(buffer_.get(), buffer_.get() + pos_, keep);
  }
  pos_ = 0;
  size_ = keep;
  size_t got = std::fread(buffer_.get() + size_, 1, options_.read_chunk_bytes, file_);
  size_ += got;
  if (got < options_.read_chunk_bytes) {
    if (std::ferror(file_)) Fail("error reading {}: {}", path_, std::strerror(errno));
    eof_ = true;
  }
  return got > 0;
}

size_t CsvReader::FindRecordEnd(size_t from) {
  // `from` is pos_ on entry; refills shift the buffer, so work with offsets.
  size_t offset = from - pos_;
  while (true) {
    const char* base = buffer_.get() + pos_;
    const size_t avail = size_ - pos_;
    if (offset < avail) {
      const char* start = base + offset;
      const char* nl = static_cast<const char*>(std::memchr(start, '\n', avail - offset));
      const char* stop = nl ? nl : base + avail;
      record_quoted_ = std::memchr(start, '"', static_cast<size_t>(stop - start)) != nullptr;
      if (!record_quoted_) {
        if (nl) return static_cast<size_t>(nl - buffer_.get());
      } else {
        // Quote-aware scan from the record start.
        bool in_quotes = false;
        for (const char* p = start; p < base + avail; ++p) {
          if (*p == '"') in_quotes = !in_quotes;
          else if (*p == '\n' && !in_quotes) return static_cast<size_t>(p - buffer_.get());
        }
      }
    }
    if (!Refill()) {
      // End of input: a last line without '\n' is still a record.
      if (size_ > pos_ + offset) return size_;
      return std::string::npos;
    }
  }
}

size_t CsvReader::SplitRecord(char* data, size_t begin, size_t end, bool quoted,
                              std::vector<std::string_view>& out, int64_t line) {
  out.clear();
  if (end > begin && data[end - 1] == '\r') --end;
  const char delim = options_.delimiter;
  const char* rec = data + begin;
  const size_t len = end - begin;
  if (!quoted) {
    const char* p = rec;
    const char* stop = rec + len;
    const char* start = p;
    for (; p != stop; ++p) {
      if (*p == delim) {
        out.emplace_back(start, static_cast<size_t>(p - start));
        start = p + 1;
      }
    }
    out.emplace_back(start, static_cast<size_t>(stop - start));
    return out.size();
  }
  // Quoted fields: unescape in place (the result is never longer).
  size_t i = begin;
  while (true) {
    char* field = data + i;
    char* w = field;
    if (i < end && data[i] == '"') {
      ++i;
      while (true) {
        if (i >= end) Fail("{}:{}: unterminated quoted field", path_, line);
        if (data[i] == '"') {
          if (i + 1 < end && data[i + 1] == '"') {
            *w++ = '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        *w++ = data[i++];
      }
      if (i < end && data[i] != delim) {
        Fail("{}:{}: unexpected character after a closing quote", path_, line);
      }
    } else {
      while (i < end && data[i] != delim) *w++ = data[i++];
    }
    out.emplace_back(field, static_cast<size_t>(w - field));
    if (i >= end) return out.size();
    ++i;  // delimiter
  }
}

int64_t CsvReader::ReadRows(int64_t max_rows, RowBatch* batch) {
  batch->Reset(path_, column_names_);
  struct Record {
    size_t offset, length;
    bool quoted;
  };
  std::vector<Record> records;
  while (static_cast<int64_t>(records.size()) < max_rows) {
    size_t end = FindRecordEnd(pos_);
    if (end == std::string::npos) break;
    const char* rec = buffer_.get() + pos_;
    const size_t len = end - pos_;
    const int64_t line = line_;
    if (record_quoted_) {
      for (size_t i = 0; i < len; ++i) line_ += rec[i] == '\n';  // newlines inside quotes
    }
    ++line_;
    const bool blank = len == 0 || (len == 1 && rec[0] == '\r');
    if (!blank) {
      records.push_back({batch->bytes.size(), len, record_quoted_});
      batch->bytes.append(rec, len);
      batch->line_numbers.push_back(line);
    }
    pos_ = std::min(end + 1, size_);
  }
  const size_t ncols = column_names_.size();
  batch->fields.reserve(records.size() * ncols);
  std::vector<std::string_view> row;
  size_t kept = 0;
  for (size_t r = 0; r < records.size(); ++r) {
    const int64_t line = batch->line_numbers[r];
    size_t n = SplitRecord(batch->bytes.data(), records[r].offset, records[r].offset + records[r].length,
                           records[r].quoted, row, line);
    if (n != ncols) {
      if (!options_.skip_bad_rows) {
        Fail("{}:{}: expected {} fields (delimiter '{}'), got {}", path_, line, ncols,
             options_.delimiter, n);
      }
      ++skipped_rows_;
      continue;
    }
    batch->fields.insert(batch->fields.end(), row.begin(), row.end());
    batch->line_numbers[kept++] = line;
  }
  batch->line_numbers.resize(kept);
  batch->num_rows = static_cast<int64_t>(kept);
  return static_cast<int64_t>(records.size());
}

}  // namespace tzrec::data
