#include "predict/prediction_format.h"

#include <fmt/format.h>

#include "common/error.h"

namespace tzrec::predict {
namespace {

std::string ShapeText(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

// Appends values [begin, end) of a flat tensor, joined by kVectorSeparator.
template <typename T, typename Format>
void AppendValues(std::string& out, const T* data, int64_t begin, int64_t end, Format format) {
  for (int64_t i = begin; i < end; ++i) {
    if (i > begin) out += kVectorSeparator;
    format(out, data[i]);
  }
}

}  // namespace

void AppendCsvField(std::string& out, std::string_view text, char delimiter) {
  bool quote = false;
  for (char c : text) {
    if (c == delimiter || c == '"' || c == '\n' || c == '\r') {
      quote = true;
      break;
    }
  }
  if (!quote) {
    out.append(text);
    return;
  }
  out += '"';
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

std::vector<std::string> FormatOutputColumn(const std::string& name, const at::Tensor& tensor,
                                            int64_t rows) {
  if (tensor.dim() == 0 || tensor.size(0) != rows) {
    Fail("model output '{}' has shape {}; expected one row per input row ({} rows)", name,
         ShapeText(tensor), rows);
  }
  at::Tensor t = tensor.detach().to(at::kCPU);
  if (t.is_floating_point() && t.scalar_type() != at::kDouble) t = t.to(at::kFloat);
  t = t.contiguous().reshape({rows, -1});
  const int64_t width = t.size(1);
  std::vector<std::string> cells(static_cast<size_t>(rows));
  auto fill = [&](const auto* data, auto format) {
    for (int64_t r = 0; r < rows; ++r) AppendValues(cells[r], data, r * width, (r + 1) * width, format);
  };
  // fmt's "{}" is the shortest representation that round-trips.
  auto as_number = [](std::string& out, auto v) { fmt::format_to(std::back_inserter(out), "{}", v); };
  switch (t.scalar_type()) {
    case at::kFloat: fill(t.data_ptr<float>(), as_number); break;
    case at::kDouble: fill(t.data_ptr<double>(), as_number); break;
    case at::kLong: fill(t.data_ptr<int64_t>(), as_number); break;
    case at::kInt: fill(t.data_ptr<int32_t>(), as_number); break;
    case at::kShort: fill(t.data_ptr<int16_t>(), as_number); break;
    case at::kChar: fill(t.data_ptr<int8_t>(), [](std::string& out, int8_t v) { out += std::to_string(v); }); break;
    case at::kByte: fill(t.data_ptr<uint8_t>(), [](std::string& out, uint8_t v) { out += std::to_string(v); }); break;
    case at::kBool: fill(t.data_ptr<bool>(), [](std::string& out, bool v) { out += v ? "true" : "false"; }); break;
    default: Fail("model output '{}' has dtype {}, which predict cannot write", name, std::string(c10::toString(t.scalar_type())));
  }
  return cells;
}

}  // namespace tzrec::predict
