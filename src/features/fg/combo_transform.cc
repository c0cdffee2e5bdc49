// combo_feature: the cross product of its inputs' values, each combination
// joined with '_' (first input varies slowest). If any input has no value the
// feature has none (and takes default_value).
#include "features/fg/text_util.h"
#include "features/fg/transform.h"

namespace tzrec::fg {
namespace {

class ComboTransform : public FeatureTransform {
 public:
  using FeatureTransform::FeatureTransform;

  bool Extract(const std::string_view* inputs, RawValues& values) const override {
    std::vector<std::string> acc{""};
    std::vector<std::string> next;
    for (size_t i = 0; i < spec_.inputs.size(); ++i) {
      auto& parts = values.parts_a;
      parts.clear();
      ForEachPart(inputs[i], spec_.separator, [&](std::string_view p) {
        if (!p.empty()) parts.push_back(p);
      });
      if (parts.empty()) return false;
      next.clear();
      for (const auto& prefix : acc) {
        for (auto p : parts) {
          std::string s = prefix;
          if (i > 0) s.push_back('_');
          s.append(p);
          next.push_back(std::move(s));
        }
      }
      acc.swap(next);
    }
    for (auto& s : acc) values.tokens.push_back(values.Keep(std::move(s)));
    return !values.tokens.empty();
  }
};

}  // namespace

std::unique_ptr<FeatureTransform> MakeComboTransform(const FeatureSpec& spec, HashKind hash_kind) {
  return std::make_unique<ComboTransform>(spec, hash_kind);
}

}  // namespace tzrec::fg
