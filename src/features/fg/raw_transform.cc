// raw_feature: the input's parts (split at `separator`) are numbers.
#include "features/fg/transform.h"

namespace tzrec::fg {
namespace {

class RawTransform : public FeatureTransform {
 public:
  using FeatureTransform::FeatureTransform;

  bool Extract(const std::string_view* inputs, RawValues& values) const override {
    ParseNumbers(inputs[0], spec_.separator, values.numbers);
    return !values.numbers.empty();
  }
};

}  // namespace

std::unique_ptr<FeatureTransform> MakeRawTransform(const FeatureSpec& spec, HashKind hash_kind) {
  return std::make_unique<RawTransform>(spec, hash_kind);
}

}  // namespace tzrec::fg
