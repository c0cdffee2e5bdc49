// Small, allocation-free text helpers for the FG hot path.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

namespace tzrec::fg {

// Calls fn(part) for each part of `text` split at `sep` (empty parts included).
template <typename Fn>
inline void ForEachPart(std::string_view text, char sep, Fn&& fn) {
  // A plain loop: CSV cells are short, and memchr's call overhead dominates there.
  const char* p = text.data();
  const char* end = p + text.size();
  const char* start = p;
  for (; p != end; ++p) {
    if (*p == sep) {
      fn(std::string_view(start, static_cast<size_t>(p - start)));
      start = p + 1;
    }
  }
  fn(std::string_view(start, static_cast<size_t>(end - start)));
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

// Digits-only integer fast path; false when `s` is anything else (or would
// overflow), so the caller falls back to the general parser.
inline bool ParseDigits(std::string_view s, bool negative, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;  // 18 digits cannot overflow
  int64_t v = 0;
  for (char c : s) {
    unsigned d = static_cast<unsigned>(c - '0');
    if (d > 9) return false;
    v = v * 10 + static_cast<int64_t>(d);
  }
  *out = negative ? -v : v;
  return true;
}

// Whole-string integer parse ("+" and surrounding blanks allowed).
inline bool ParseInt64(std::string_view s, int64_t* out) {
  if (!s.empty() && s.front() == '-' && ParseDigits(s.substr(1), true, out)) return true;
  if (ParseDigits(s, false, out)) return true;
  s = Trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Whole-string floating-point parse; accepts integers, decimals, exponents,
// nan and inf.
inline bool ParseDouble(std::string_view s, double* out) {
  // Fast path for plain decimals ([-]digits[.digits], at most 15 significant
  // digits): mantissa and 10^k are exact doubles, so one division rounds
  // correctly, giving the same result as from_chars.
  {
    static constexpr double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
                                        1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    const char* p = s.data();
    const char* end = p + s.size();
    bool negative = p != end && *p == '-';
    if (negative) ++p;
    int64_t mantissa = 0;
    int digits = 0, frac = 0;
    bool dot = false, ok = p != end;
    for (; p != end; ++p) {
      unsigned d = static_cast<unsigned>(*p - '0');
      if (d <= 9) {
        mantissa = mantissa * 10 + d;
        ++digits;
        frac += dot;
      } else if (*p == '.' && !dot) {
        dot = true;
      } else {
        ok = false;
        break;
      }
    }
    if (ok && digits > 0 && digits <= 15) {
      double v = static_cast<double>(mantissa) / kPow10[frac];
      *out = negative ? -v : v;
      return true;
    }
  }
  s = Trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace tzrec::fg
