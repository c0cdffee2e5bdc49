// expr_feature: evaluates `expression` over its variables (each input's value
// as a number; dot/euclid_dist take whole value lists). Any variable without a
// value makes the feature take default_value.
#include "features/fg/expr_evaluator.h"
#include "features/fg/text_util.h"
#include "features/fg/transform.h"

namespace tzrec::fg {
namespace {

class ExprTransform : public FeatureTransform {
 public:
  ExprTransform(const FeatureSpec& spec, HashKind hash_kind)
      : FeatureTransform(spec, hash_kind), evaluator_(spec.expression, VariableNames(spec),
                                                      "fg.json feature '" + spec.name + "'") {}

  bool Extract(const std::string_view* inputs, RawValues& values) const override {
    const size_t n = spec_.inputs.size();
    if (evaluator_.is_vector_function()) {
      auto& a = values.numbers;
      auto& b = values.numbers_b;
      a.clear();
      b.clear();
      ParseNumbers(inputs[0], spec_.separator, a);
      ParseNumbers(inputs[1], spec_.separator, b);
      if (a.empty() || b.empty()) return false;
      double r = evaluator_.EvalVector(a, b);
      a.assign(1, r);
      return true;
    }
    scalars_.resize(n);
    auto& parsed = values.numbers_b;
    for (size_t i = 0; i < n; ++i) {
      parsed.clear();
      ParseNumbers(inputs[i], spec_.separator, parsed);
      if (parsed.empty()) return false;
      if (parsed.size() != 1) BadValue("variable needs one value, got:", inputs[i]);
      scalars_[i] = parsed[0];
    }
    values.numbers.push_back(evaluator_.Eval(scalars_.data()));
    return true;
  }

 private:
  static std::vector<std::string> VariableNames(const FeatureSpec& spec) {
    std::vector<std::string> names;
    for (const auto& in : spec.inputs) names.push_back(in.name);
    return names;
  }
  ExprEvaluator evaluator_;
  mutable std::vector<double> scalars_;
};

}  // namespace

std::unique_ptr<FeatureTransform> MakeExprTransform(const FeatureSpec& spec, HashKind hash_kind) {
  return std::make_unique<ExprTransform>(spec, hash_kind);
}

}  // namespace tzrec::fg
