// lookup_feature: `map` holds "key:value" items (split at `separator`), `key`
// one or more keys. Every key found yields its value. Discrete lookups keep the
// value text (as "key_value" with needKey); continuous ones parse the value and
// reduce all hits with the combiner (sum, mean, max, min; empty keeps each hit).
// No hit: no value (default_value).
#include <algorithm>

#include "features/fg/text_util.h"
#include "features/fg/transform.h"

namespace tzrec::fg {
namespace {

class LookupTransform : public FeatureTransform {
 public:
  using FeatureTransform::FeatureTransform;

  bool Extract(const std::string_view* inputs, RawValues& values) const override {
    auto& items = values.parts_a;
    items.clear();
    ForEachPart(inputs[0], spec_.separator, [&](std::string_view p) {
      if (!p.empty()) items.push_back(p);
    });
    auto& keys = values.parts_b;
    keys.clear();
    ForEachPart(inputs[1], spec_.separator, [&](std::string_view p) {
      if (!p.empty()) keys.push_back(p);
    });
    const bool discrete = spec_.IsDiscrete();
    auto& hits = values.numbers_b;
    hits.clear();
    for (auto key : keys) {
      for (auto item : items) {
        size_t colon = item.find(':');
        if (colon == std::string_view::npos) BadValue("map item is not key:value:", item);
        if (item.substr(0, colon) != key) continue;
        std::string_view value = item.substr(colon + 1);
        if (discrete) {
          if (spec_.need_key) {
            values.tokens.push_back(values.Keep(std::string(key) + "_" + std::string(value)));
          } else {
            values.tokens.push_back(value);
          }
        } else {
          ParseNumbers(value, ',', hits);
        }
        break;
      }
    }
    if (discrete) return !values.tokens.empty();
    if (hits.empty()) return false;
    const std::string& c = spec_.combiner;
    if (c.empty()) {
      values.numbers = hits;
    } else if (c == "sum" || c == "mean") {
      double s = 0;
      for (double h : hits) s += h;
      values.numbers.push_back(c == "sum" ? s : s / static_cast<double>(hits.size()));
    } else if (c == "max") {
      values.numbers.push_back(*std::max_element(hits.begin(), hits.end()));
    } else {
      values.numbers.push_back(*std::min_element(hits.begin(), hits.end()));
    }
    return true;
  }
};

}  // namespace

std::unique_ptr<FeatureTransform> MakeLookupTransform(const FeatureSpec& spec, HashKind hash_kind) {
  return std::make_unique<LookupTransform>(spec, hash_kind);
}

}  // namespace tzrec::fg
