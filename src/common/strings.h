// Splitting and trimming text: one home for the project's splitters.
//   SplitInto / SplitExact: Python's str.split(delim), empty pieces kept
//     ("a,,b" -> a, "", b; "" -> one empty piece); SplitInto reuses the
//     caller's vector (FG's hot path).
//   SplitList: a user's list ("a, b,,c" -> a, b, c): pieces trimmed, empty
//     ones dropped; for flags and config fields naming columns, files, paths.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tzrec {

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

inline std::vector<std::string_view> SplitExact(std::string_view text, std::string_view delim) {
  std::vector<std::string_view> out;
  SplitInto(text, delim, out);
  return out;
}

// Without leading and trailing spaces, tabs and carriage returns.
inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

inline std::vector<std::string> SplitList(std::string_view text, char sep = ',') {
  std::vector<std::string> out;
  ForEachPart(text, sep, [&](std::string_view part) {
    part = Trim(part);
    if (!part.empty()) out.emplace_back(part);
  });
  return out;
}

}  // namespace tzrec
