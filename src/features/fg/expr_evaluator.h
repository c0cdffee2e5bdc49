// Arithmetic expressions over named variables, evaluated with muparser (the
// Debian libmuparser): operators + - * / ^, comparisons, ?:, and functions such as
// log (natural), ln, log10, log2, exp, sqrt, abs, sin..., min, max, sum, avg, plus
// sigmoid(x) and pow(x,y) added here. Two vector functions of exactly two
// variables are recognised when they are the whole expression: dot(a,b) and
// euclid_dist(a,b); their variables may hold several values.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace tzrec::fg {

class ExprEvaluator {
 public:
  // `where` names the feature in errors. Throws ConfigError on a bad expression
  // or an unknown variable.
  ExprEvaluator(const std::string& expression, const std::vector<std::string>& variables,
                const std::string& where);
  ~ExprEvaluator();

  // A vector function (dot, euclid_dist) takes whole value lists; otherwise each
  // variable has one value.
  bool is_vector_function() const { return vector_fn_ != VectorFn::kNone; }

  // Scalar form: values[i] is variable i.
  double Eval(const double* values) const;
  // Vector form: two value lists of equal length.
  double EvalVector(const std::vector<double>& a, const std::vector<double>& b) const;

 private:
  enum class VectorFn { kNone, kDot, kEuclidDist };
  VectorFn vector_fn_ = VectorFn::kNone;
  std::string where_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tzrec::fg
