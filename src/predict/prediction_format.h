// How predictions become CSV text.
//
// Output file layout (decided here, documented in docs/predict.md):
//  - delimiter ',' (the default of upstream's CSV writer, pyarrow.csv);
//  - a header line naming every column;
//  - the model's output columns first, then the reserved input columns, as
//    upstream's writer orders them;
//  - a scalar output ([B]) is one number per row; a vector output ([B, D],
//    e.g. tower embeddings or softmax probs; higher ranks are flattened per
//    row) is one field holding the D values joined by ',' and therefore
//    quoted: "0.1,0.2,0.3" (upstream's create_faiss_index splits a string
//    embedding column on ',');
//  - float32 values are written as the shortest text that reads back to the
//    same float32 (so a reader recovers the exact value), float64 likewise as
//    doubles, integers as integers, booleans as true/false;
//  - reserved columns are copied verbatim from the input;
//  - a field is quoted only when it holds the delimiter, a quote, CR or LF
//    (RFC 4180: quotes inside are doubled).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <ATen/ATen.h>

namespace tzrec::predict {

inline constexpr char kOutputDelimiter = ',';
// Between the values of a vector output, inside one field.
inline constexpr char kVectorSeparator = ',';

// Appends `text` as one CSV field (quoted when needed).
void AppendCsvField(std::string& out, std::string_view text, char delimiter = kOutputDelimiter);

// The text of each of the `rows` rows of output `name` (not yet quoted).
// The tensor's first dimension must be `rows`; an error names the output and
// its shape otherwise.
std::vector<std::string> FormatOutputColumn(const std::string& name, const at::Tensor& tensor,
                                            int64_t rows);

}  // namespace tzrec::predict
