// match_feature: `user` is a two-level map "pk^sk:v,sk:v|pk^sk:v" ('|' between
// first-level entries, '^' after the first key, ',' between second-level items,
// ':' before a value). hit: the value at [category][item]; "ALL" for either key
// matches every entry (multihit). Discrete output is
// "<feature_name>_[<pk>_][<sk>_]<value>" (the keys when show_category /
// show_item), continuous output the value itself.
#include "features/fg/text_util.h"
#include "features/fg/transform.h"

namespace tzrec::fg {
namespace {

class MatchTransform : public FeatureTransform {
 public:
  using FeatureTransform::FeatureTransform;

  bool Extract(const std::string_view* inputs, RawValues& values) const override {
    const std::string_view category = inputs[1];
    const std::string_view item = inputs[2];
    const bool all_category = spec_.inputs[1].side == "const" && spec_.inputs[1].name == "ALL";
    const bool all_item = spec_.inputs[2].side == "const" && spec_.inputs[2].name == "ALL";
    if ((!all_category && category.empty()) || (!all_item && item.empty())) return false;
    const bool discrete = spec_.IsDiscrete();
    bool found = false;
    ForEachPart(inputs[0], '|', [&](std::string_view entry) {
      if (entry.empty()) return;
      size_t caret = entry.find('^');
      if (caret == std::string_view::npos) BadValue("map entry has no '^':", entry);
      std::string_view pk = entry.substr(0, caret);
      if (!all_category && pk != category) return;
      ForEachPart(entry.substr(caret + 1), ',', [&](std::string_view kv) {
        if (kv.empty()) return;
        size_t colon = kv.rfind(':');
        if (colon == std::string_view::npos) BadValue("map item is not key:value:", kv);
        std::string_view sk = kv.substr(0, colon);
        if (!all_item && sk != item) return;
        std::string_view value = kv.substr(colon + 1);
        found = true;
        if (discrete) {
          std::string token = spec_.fg_name + "_";
          if (spec_.show_category) token.append(pk).push_back('_');
          if (spec_.show_item) token.append(sk).push_back('_');
          token.append(value);
          values.tokens.push_back(values.Keep(std::move(token)));
        } else {
          double v;
          if (!ParseDouble(value, &v)) BadValue("map value is not a number:", value);
          values.numbers.push_back(v);
        }
      });
    });
    return found;
  }
};

}  // namespace

std::unique_ptr<FeatureTransform> MakeMatchTransform(const FeatureSpec& spec, HashKind hash_kind) {
  return std::make_unique<MatchTransform>(spec, hash_kind);
}

}  // namespace tzrec::fg
