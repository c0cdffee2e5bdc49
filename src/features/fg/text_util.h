// Small, allocation-free text helpers for the FG hot path.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/strings.h"

namespace tzrec::fg {

// ForEachPart, SplitInto and Trim: common/strings.h (found from tzrec::fg as
// members of the enclosing namespace).

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
