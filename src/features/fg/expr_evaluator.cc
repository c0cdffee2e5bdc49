#include "features/fg/expr_evaluator.h"

#include <muParser.h>

#include <cmath>
#include <regex>

#include "common/error.h"

namespace tzrec::fg {
namespace {

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double Pow(double x, double y) { return std::pow(x, y); }

}  // namespace

struct ExprEvaluator::Impl {
  mutable mu::Parser parser;
  mutable std::vector<double> slots;
};

ExprEvaluator::ExprEvaluator(const std::string& expression, const std::vector<std::string>& variables,
                             const std::string& where)
    : where_(where), impl_(std::make_unique<Impl>()) {
  static const std::regex kVectorCall(R"(^\s*(dot|euclid_dist)\s*\(\s*(\w+)\s*,\s*(\w+)\s*\)\s*$)");
  std::smatch match;
  if (std::regex_match(expression, match, kVectorCall)) {
    vector_fn_ = match[1] == "dot" ? VectorFn::kDot : VectorFn::kEuclidDist;
    if (variables.size() != 2 || match[2] != variables[0] || match[3] != variables[1]) {
      FailConfig("{}: '{}' needs its two arguments to be the variables in order ({} given)", where,
                 expression, variables.size());
    }
    return;
  }
  impl_->slots.assign(variables.size(), 0.0);
  try {
    impl_->parser.DefineFun("sigmoid", Sigmoid);
    impl_->parser.DefineFun("pow", Pow);
    for (size_t i = 0; i < variables.size(); ++i) {
      impl_->parser.DefineVar(variables[i], &impl_->slots[i]);
    }
    impl_->parser.SetExpr(expression);
    // Evaluating once surfaces syntax errors and unknown names now, not per row.
    impl_->parser.Eval();
  } catch (const mu::Parser::exception_type& e) {
    FailConfig("{}: bad expression '{}': {}", where, expression, e.GetMsg());
  }
}

ExprEvaluator::~ExprEvaluator() = default;

double ExprEvaluator::Eval(const double* values) const {
  for (size_t i = 0; i < impl_->slots.size(); ++i) impl_->slots[i] = values[i];
  try {
    return impl_->parser.Eval();
  } catch (const mu::Parser::exception_type& e) {
    Fail("{}: evaluating expression failed: {}", where_, e.GetMsg());
  }
}

double ExprEvaluator::EvalVector(const std::vector<double>& a, const std::vector<double>& b) const {
  if (a.size() != b.size()) {
    Fail("{}: vector arguments differ in length ({} and {})", where_, a.size(), b.size());
  }
  double acc = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    acc += vector_fn_ == VectorFn::kDot ? a[i] * b[i] : (a[i] - b[i]) * (a[i] - b[i]);
  }
  return vector_fn_ == VectorFn::kDot ? acc : std::sqrt(acc);
}

}  // namespace tzrec::fg
