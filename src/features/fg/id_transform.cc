// id_feature: each non-empty part of the input (split at `separator`) is one
// value; weighted ids are written "value:weight".
#include "features/fg/text_util.h"
#include "features/fg/transform.h"

namespace tzrec::fg {
namespace {

class IdTransform : public FeatureTransform {
 public:
  using FeatureTransform::FeatureTransform;

  bool Extract(const std::string_view* inputs, RawValues& values) const override {
    ForEachPart(inputs[0], spec_.separator, [&](std::string_view part) {
      if (part.empty()) return;
      if (!spec_.weighted) {
        values.tokens.push_back(part);
        return;
      }
      size_t colon = part.rfind(':');
      double w;
      if (colon == std::string_view::npos || !ParseDouble(part.substr(colon + 1), &w)) {
        BadValue("weighted value is not id:weight:", part);
      }
      values.tokens.push_back(part.substr(0, colon));
      values.weights.push_back(static_cast<float>(w));
    });
    return !values.tokens.empty();
  }
};

}  // namespace

std::unique_ptr<FeatureTransform> MakeIdTransform(const FeatureSpec& spec, HashKind hash_kind) {
  return std::make_unique<IdTransform>(spec, hash_kind);
}

}  // namespace tzrec::fg
