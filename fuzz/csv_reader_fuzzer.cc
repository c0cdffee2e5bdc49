// The CSV reader of training/eval/predict input (data/csv_reader.h), on a
// file holding the input after its first byte. That byte picks the options:
// bits 0-1 the delimiter (',' '\t' '|' ';'), bit 2 with_header (else three
// given column names), bit 3 skip_bad_rows, bits 4-7 the read chunk size
// (1 << (bits) bytes: from 1 byte, so records that span chunks, a quoted
// field's line breaks and "\r\n" split across reads are all reached).
// Every row read is then viewed as the FG engine would (RowBatch::ToInputBatch).
#include <cstdint>
#include <string>

#include "data/csv_reader.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  tzrec::data::CsvOptions options;
  options.delimiter = ",\t|;"[flags & 3];
  options.with_header = (flags & 4) != 0;
  if (!options.with_header) options.column_names = {"label", "user_id", "tags"};
  options.skip_bad_rows = (flags & 8) != 0;
  options.read_chunk_bytes = size_t{1} << (flags >> 4);
  const std::string path = tzrec::fuzzing::WriteScratchFile("input.csv", tzrec::fuzzing::AsView(data + 1, size - 1));
  tzrec::fuzzing::ExpectOnlyTzrecErrors([&] {
    tzrec::data::CsvReader reader(path, options);
    tzrec::data::RowBatch batch;
    // Batches of 3 rows: the reader's state carries across ReadRows calls.
    while (reader.ReadRows(3, &batch) > 0) {
      const tzrec::fg::InputBatch view = batch.ToInputBatch();
      for (int64_t r = 0; r < batch.num_rows; ++r) {
        for (size_t c = 0; c < batch.num_columns(); ++c) (void)batch.Field(r, c).size();
        view.RowOrigin(r);
      }
    }
  });
  return 0;
}
