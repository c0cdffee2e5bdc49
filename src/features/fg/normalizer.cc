#include "features/fg/normalizer.h"

#include <cmath>
#include <map>
#include <sstream>

#include "common/error.h"
#include "features/fg/expr_evaluator.h"

namespace tzrec::fg {
namespace {

std::map<std::string, std::string> ParseKeyValues(const std::string& text, const std::string& where) {
  std::map<std::string, std::string> out;
  std::string item;
  std::istringstream in(text);
  // The expression itself may contain commas (min(x,1)): everything after
  // "expr=" belongs to it.
  auto expr_pos = text.find("expr=");
  std::string head = expr_pos == std::string::npos ? text : text.substr(0, expr_pos);
  std::istringstream head_in(head);
  while (std::getline(head_in, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos) FailConfig("{}: normalizer part '{}' is not key=value", where, item);
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  if (expr_pos != std::string::npos) out["expr"] = text.substr(expr_pos + 5);
  return out;
}

double Number(const std::map<std::string, std::string>& kv, const std::string& key, double fallback,
              bool required, const std::string& where) {
  auto it = kv.find(key);
  if (it == kv.end()) {
    if (required) FailConfig("{}: normalizer needs '{}'", where, key);
    return fallback;
  }
  try {
    size_t used = 0;
    double v = std::stod(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  FailConfig("{}: normalizer '{}={}' is not a number", where, key, it->second);
}

}  // namespace

Normalizer::Normalizer(const std::string& text, const std::string& where) {
  if (text.empty()) return;
  auto kv = ParseKeyValues(text, where);
  const std::string method = kv.count("method") ? kv["method"] : "";
  if (method == "log10") {
    method_ = Method::kLog10;
    a_ = Number(kv, "threshold", 1e-10, false, where);
    b_ = Number(kv, "default", -10.0, false, where);
  } else if (method == "zscore") {
    method_ = Method::kZScore;
    a_ = Number(kv, "mean", 0.0, false, where);
    b_ = Number(kv, "standard_deviation", 1.0, false, where);
    if (b_ == 0.0) FailConfig("{}: zscore standard_deviation must not be 0", where);
  } else if (method == "minmax") {
    method_ = Method::kMinMax;
    a_ = Number(kv, "min", 0.0, true, where);
    b_ = Number(kv, "max", 0.0, true, where);
    if (!(b_ > a_)) FailConfig("{}: minmax needs max > min", where);
  } else if (method == "expression") {
    method_ = Method::kExpression;
    if (!kv.count("expr")) FailConfig("{}: expression normalizer needs expr=...", where);
    expr_ = std::make_unique<ExprEvaluator>(kv["expr"], std::vector<std::string>{"x"}, where);
  } else {
    FailConfig("{}: normalizer '{}' has unknown method '{}' (log10, zscore, minmax, expression)",
               where, text, method);
  }
}

Normalizer::~Normalizer() = default;
Normalizer::Normalizer(Normalizer&&) noexcept = default;
Normalizer& Normalizer::operator=(Normalizer&&) noexcept = default;

double Normalizer::Apply(double x) const {
  switch (method_) {
    case Method::kNone: return x;
    case Method::kLog10: return x > a_ ? std::log10(x) : b_;
    case Method::kZScore: return (x - a_) / b_;
    case Method::kMinMax: return (x - a_) / (b_ - a_);
    case Method::kExpression: return expr_->Eval(&x);
  }
  return x;
}

}  // namespace tzrec::fg
