// Small, allocation-free text helpers for the FG hot path.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace tzrec::fg {

// Calls fn(part) for each part of `text` split at `sep` (empty parts included).
template <typename Fn>
inline void ForEachPart(std::string_view text, char sep, Fn&& fn) {
  const char* p = text.data();
  const char* end = p + text.size();
  while (true) {
    const char* hit = static_cast<const char*>(std::memchr(p, sep, static_cast<size_t>(end - p)));
    if (hit == nullptr) {
      fn(std::string_view(p, static_cast<size_t>(end - p)));
      return;
    }
    fn(std::string_view(p, static_cast<size_t>(hit - p)));
    p = hit + 1;
  }
}

// Split by a (possibly multi-character) delimiter into `out` (cleared first).
inline void SplitInto(std::string_view text, std::string_view delim, std::vector<std::string_view>& out) {
  out.clear();
  if (delim.size() == 1) {
    ForEachPart(text, delim[0], [&](std::string_view part) { out.push_back(part); });
    return;
  }
  size_t start = 0;
  while (true) {
    size_t hit = text.find(delim, start);
    if (hit == std::string_view::npos) {
      out.push_back(text.substr(start));
      return;
    }
    out.push_back(text.substr(start, hit - start));
    start = hit + delim.size();
  }
}

inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Whole-string integer parse ("+" and surrounding blanks allowed).
inline bool ParseInt64(std::string_view s, int64_t* out) {
  s = Trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Whole-string floating-point parse; accepts integers, decimals, exponents,
// nan and inf.
inline bool ParseDouble(std::string_view s, double* out) {
  s = Trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  // Integers are the common case in CTR data and parse faster this way.
  if (s.size() < 16) {
    int64_t v;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && ptr == s.data() + s.size()) {
      *out = static_cast<double>(v);
      return true;
    }
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace tzrec::fg
