// raw_feature normalizers, written in fg.json as "method=<m>,<key>=<value>,...":
//   log10:      x > threshold ? log10(x) : default   (threshold 1e-10, default -10)
//   zscore:     (x - mean) / standard_deviation
//   minmax:     (x - min) / (max - min)
//   expression: any muparser expression of x, e.g. expr=log(x+3)
// Default values stand in for missing input and are never normalized.
#pragma once

#include <memory>
#include <string>

namespace tzrec::fg {

class ExprEvaluator;

class Normalizer {
 public:
  // Empty text: identity. `where` names the feature in errors.
  Normalizer(const std::string& text, const std::string& where);
  ~Normalizer();
  Normalizer(Normalizer&&) noexcept;
  Normalizer& operator=(Normalizer&&) noexcept;

  bool IsIdentity() const { return method_ == Method::kNone; }
  double Apply(double x) const;

 private:
  enum class Method { kNone, kLog10, kZScore, kMinMax, kExpression };
  Method method_ = Method::kNone;
  double a_ = 0, b_ = 0;  // threshold/default, mean/std, min/max
  std::unique_ptr<ExprEvaluator> expr_;
};

}  // namespace tzrec::fg
