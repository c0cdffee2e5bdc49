#include "features/python_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <system_error>

#include <fmt/format.h>

#include "common/error.h"

namespace tzrec {

std::string PythonFloatRepr(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";

  // Shortest round-trip digits, in scientific form "d.ddde+XX".
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value,
                                 std::chars_format::scientific);
  if (ec != std::errc()) Fail("cannot format floating point value {}", value);
  std::string text(buffer, end);

  std::string sign;
  if (!text.empty() && text[0] == '-') {
    sign = "-";
    text.erase(0, 1);
  }
  const size_t e_pos = text.find('e');
  std::string digits;
  for (size_t i = 0; i < e_pos; ++i) {
    if (text[i] != '.') digits.push_back(text[i]);
  }
  const int exponent = std::atoi(text.c_str() + e_pos + 1);
  // Python's float_repr_style "short": value = 0.<digits> * 10^decimal_point.
  const int decimal_point = exponent + 1;
  const int n = static_cast<int>(digits.size());

  std::string out = sign;
  if (decimal_point > -4 && decimal_point <= 16) {
    if (decimal_point <= 0) {
      out += "0." + std::string(-decimal_point, '0') + digits;
    } else if (decimal_point < n) {
      out += digits.substr(0, decimal_point) + "." + digits.substr(decimal_point);
    } else {
      out += digits + std::string(decimal_point - n, '0') + ".0";
    }
  } else {
    out += digits.substr(0, 1);
    if (n > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  }
  return out;
}

namespace {

// Decodes one UTF-8 code point starting at `i`; advances `i`. Rejects overlong
// forms, surrogates and truncated sequences, as Python's decoder does.
char32_t DecodeUtf8(const std::string& s, size_t& i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  int length;
  char32_t code;
  if (lead < 0x80) {
    ++i;
    return lead;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2;
    code = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    code = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    code = lead & 0x07;
  } else {
    Fail("invalid UTF-8 byte 0x{:02x} at offset {} in string value", lead, i);
  }
  if (i + length > s.size()) Fail("truncated UTF-8 sequence at offset {} in string value", i);
  for (int k = 1; k < length; ++k) {
    const unsigned char c = byte(i + k);
    if ((c & 0xC0) != 0x80) Fail("invalid UTF-8 sequence at offset {} in string value", i);
    code = (code << 6) | (c & 0x3F);
  }
  static constexpr char32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kMinForLength[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
    Fail("invalid UTF-8 sequence at offset {} in string value", i);
  }
  i += length;
  return code;
}

void AppendEscaped(std::string& out, const std::string& utf8) {
  out.push_back('"');
  size_t i = 0;
  while (i < utf8.size()) {
    const char32_t c = DecodeUtf8(utf8, i);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x10000) {
      out += fmt::format("\\u{:04x}", static_cast<uint32_t>(c));
    } else {
      const char32_t v = c - 0x10000;
      out += fmt::format("\\u{:04x}\\u{:04x}", static_cast<uint32_t>(0xD800 | (v >> 10)),
                         static_cast<uint32_t>(0xDC00 | (v & 0x3FF)));
    }
  }
  out.push_back('"');
}

void AppendValue(std::string& out, const nlohmann::ordered_json& value, int level) {
  using Type = nlohmann::ordered_json::value_t;
  const auto newline_indent = [&](int l) {
    out.push_back('\n');
    out.append(static_cast<size_t>(l) * 4, ' ');
  };
  switch (value.type()) {
    case Type::null:
      out += "null";
      break;
    case Type::boolean:
      out += value.get<bool>() ? "true" : "false";
      break;
    case Type::number_integer:
      out += std::to_string(value.get<int64_t>());
      break;
    case Type::number_unsigned:
      out += std::to_string(value.get<uint64_t>());
      break;
    case Type::number_float:
      out += PythonFloatRepr(value.get<double>());
      break;
    case Type::string:
      AppendEscaped(out, value.get_ref<const std::string&>());
      break;
    case Type::array: {
      if (value.empty()) {
        out += "[]";
        break;
      }
      out.push_back('[');
      bool first = true;
      for (const auto& item : value) {
        if (!first) out.push_back(',');
        first = false;
        newline_indent(level + 1);
        AppendValue(out, item, level + 1);
      }
      newline_indent(level);
      out.push_back(']');
      break;
    }
    case Type::object: {
      if (value.empty()) {
        out += "{}";
        break;
      }
      out.push_back('{');
      bool first = true;
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (!first) out.push_back(',');
        first = false;
        newline_indent(level + 1);
        AppendEscaped(out, it.key());
        out += ": ";
        AppendValue(out, it.value(), level + 1);
      }
      newline_indent(level);
      out.push_back('}');
      break;
    }
    default:
      Fail("value of JSON type '{}' has no Python json.dump form", value.type_name());
  }
}

}  // namespace

std::string PythonJsonString(const std::string& utf8) {
  std::string out;
  AppendEscaped(out, utf8);
  return out;
}

std::string DumpPythonJson(const nlohmann::ordered_json& value) {
  std::string out;
  AppendValue(out, value, 0);
  return out;
}

}  // namespace tzrec
