// expr_feature FG cases, after upstream's tzrec/features/expr_feature_test.py.
#include "common/error.h"
#include "features/fg/fg_test_util.h"

namespace tzrec::fg {
namespace {

using namespace tzrec::fg::testing;
using nlohmann::json;

json Expr(json extra) {
  json f = {{"feature_type", "expr_feature"}, {"feature_name", "expr_feat"}, {"default_value", "0.1"},
            {"expression", "a+b"}, {"variables", {"user:a", "item:b"}}, {"value_type", "float"}};
  if (!extra.is_null()) f.update(extra);
  return f;
}

TEST(ExprTransformTest, DenseSum) {
  auto engine = EngineFor({Expr({})});
  auto out = RunFg(engine, {{"a", {"0.2", "", "0.3", ""}}, {"b", {"0.2", "0.2", "0.2", "0.2"}}});
  EXPECT_THAT(Col(out, "expr_feat").dense, Pointwise(FloatNear(1e-6), std::vector<float>{0.4f, 0.1f, 0.5f, 0.1f}));
}

TEST(ExprTransformTest, Boundaries) {
  auto engine = EngineFor({Expr({{"boundaries", {0.15, 0.25, 0.35}}})});
  auto out = RunFg(engine, {{"a", {"0.2", "0.1", "0.3", ""}}, {"b", {"0.2", "0.2", "0.2", "0.2"}}});
  EXPECT_THAT(Col(out, "expr_feat").ids, ElementsAre(3, 2, 3, 0));
  auto no_default = EngineFor({Expr({{"boundaries", {0.15, 0.25, 0.35}}, {"default_value", ""}})});
  out = RunFg(no_default, {{"a", {"0.2", "", "0.3"}}, {"b", {"0.2", "0.2", "0.2"}}});
  EXPECT_THAT(Col(out, "expr_feat").ids, ElementsAre(3, 3));
  EXPECT_THAT(Col(out, "expr_feat").lengths, ElementsAre(1, 0, 1));
}

TEST(ExprTransformTest, DotProduct) {
  auto engine = EngineFor({Expr({{"expression", "dot(a,b)"}, {"boundaries", {0.05, 0.10, 0.15}}, {"default_value", ""}})});
  auto out = RunFg(engine, {{"a", {"0.2\x1d" "0.2", "", "0.3\x1d" "0.4"}}, {"b", {"0.2\x1d" "0.2", "0.2\x1d" "0.2", "0.2\x1d" "0.2"}}});
  EXPECT_THAT(Col(out, "expr_feat").ids, ElementsAre(1, 2));
  EXPECT_THAT(Col(out, "expr_feat").lengths, ElementsAre(1, 0, 1));
  auto comma = EngineFor({Expr({{"expression", "dot(a,b)"}, {"boundaries", {0.05, 0.10, 0.15}}, {"default_value", "0.1"}, {"separator", ","}})});
  out = RunFg(comma, {{"a", {"0.2,0.3", "0.1,0.2", "0.3,0.4", ""}}, {"b", {"0.2,0.2", "0.2,0.2", "0.2,0.2", "0.2,0.2"}}});
  // 0.1 and the default 0.1 both equal the float32 boundary 0.1.
  EXPECT_THAT(Col(out, "expr_feat").ids, ElementsAre(2, 1, 2, 2));
}

TEST(ExprTransformTest, FunctionsAndErrors) {
  auto engine = EngineFor({Expr({{"expression", "sigmoid(a) + max(a, b) + log10(100)"}})});
  auto out = RunFg(engine, {{"a", {"0"}}, {"b", {"3"}}});
  EXPECT_THAT(Col(out, "expr_feat").dense, Pointwise(FloatNear(1e-6), std::vector<float>{0.5f + 3.0f + 2.0f}));
  EXPECT_THROW(EngineFor({Expr({{"expression", "a + c"}})}), ConfigError);
  EXPECT_THROW(RunFg(EngineFor({Expr({})}), {{"a", {"x"}}, {"b", {"1"}}}), Error);
}

}  // namespace
}  // namespace tzrec::fg
