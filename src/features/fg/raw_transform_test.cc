// raw_feature FG cases, after upstream's tzrec/features/raw_feature_test.py.
#include <cmath>

#include "common/error.h"
#include "features/fg/fg_test_util.h"

namespace tzrec::fg {
namespace {

using namespace tzrec::fg::testing;
using nlohmann::json;

json RawFeature(json extra) {
  json f = {{"feature_type", "raw_feature"}, {"feature_name", "raw_feat"}, {"default_value", "0"},
            {"expression", "user:raw_input"}, {"value_type", "float"}};
  if (!extra.is_null()) f.update(extra);
  return f;
}

std::vector<float> Dense(const FgEngine& engine, const std::vector<std::string>& input) {
  auto out = RunFg(engine, {{"raw_input", input}});
  EXPECT_FALSE(Col(out, "raw_feat").sparse);
  return Col(out, "raw_feat").dense;
}

TEST(RawTransformTest, DenseWithDefault) {
  auto engine = EngineFor({RawFeature({{"default_value", "0.1"}})});
  EXPECT_THAT(Dense(engine, {"", "0.2", "0.3"}), Pointwise(FloatNear(1e-7), std::vector<float>{0.1f, 0.2f, 0.3f}));
  // High-precision text is rounded to float32 like the trainer's tensors.
  EXPECT_THAT(Dense(engine, {"0.202392938293829442"}), ElementsAre(0.202392938293829442f));
}

TEST(RawTransformTest, DenseMultiValue) {
  auto engine = EngineFor({RawFeature({{"default_value", "0.1\x1d" "0.4"}, {"value_dim", 2}})});
  EXPECT_EQ(Col(RunFg(engine, {{"raw_input", {"0.2\x1d" "0.5"}}}), "raw_feat").dense_dim, 2);
  EXPECT_THAT(Dense(engine, {"0.2\x1d" "0.5", "", "0.3\x1d" "0.6"}),
              Pointwise(FloatNear(1e-7), std::vector<float>{0.2f, 0.5f, 0.1f, 0.4f, 0.3f, 0.6f}));
  // Wrong number of values is an error, not a shifted tensor.
  EXPECT_THROW(Dense(engine, {"0.2\x1d" "0.5\x1d" "0.7"}), Error);
  EXPECT_THROW(Dense(engine, {"0.2"}), Error);
}

TEST(RawTransformTest, Normalizers) {
  auto log10 = EngineFor({RawFeature({{"default_value", "0.01"}, {"normalizer", "method=log10,threshold=0.05,default=-5"}})});
  // The default stands in for a missing value and is not normalized.
  EXPECT_THAT(Dense(log10, {"0.1", "", "10", "0.01"}), Pointwise(FloatNear(1e-6), std::vector<float>{-1, 0.01f, 1, -5}));

  auto zscore = EngineFor({RawFeature({{"default_value", "0.1"}, {"normalizer", "method=zscore,mean=0.1,standard_deviation=10.0"}})});
  EXPECT_THAT(Dense(zscore, {"0.2", "0.1", "0.3"}), Pointwise(FloatNear(1e-6), std::vector<float>{0.01f, 0.0f, 0.02f}));

  auto minmax = EngineFor({RawFeature({{"default_value", "0.1\x1d" "0.4"}, {"value_dim", 2}, {"normalizer", "method=minmax,min=0.1,max=0.6"}})});
  EXPECT_THAT(Dense(minmax, {"0.2\x1d" "0.5", "", "0.3\x1d" "0.6"}),
              Pointwise(FloatNear(1e-6), std::vector<float>{0.2f, 0.8f, 0.1f, 0.4f, 0.4f, 1.0f}));

  // The criteo examples' normalizer; muparser's log is the natural logarithm.
  auto expr = EngineFor({RawFeature({{"normalizer", "method=expression,expr=log(x+3)"}})});
  EXPECT_THAT(Dense(expr, {"1", "0", ""}), Pointwise(FloatNear(1e-6), std::vector<float>{std::log(4.0f), std::log(3.0f), 0.0f}));

  EXPECT_THROW(EngineFor({RawFeature({{"normalizer", "method=cube"}})}), ConfigError);
  EXPECT_THROW(EngineFor({RawFeature({{"normalizer", "method=expression,expr=log(x+"}})}), ConfigError);
}

TEST(RawTransformTest, Boundaries) {
  const json b = {0.05, 0.15, 0.25};
  auto engine = EngineFor({RawFeature({{"default_value", "0.1"}, {"boundaries", b}})});
  auto out = RunFg(engine, {{"raw_input", {"0.2", "0.1", "0.3", ""}}});
  EXPECT_TRUE(Col(out, "raw_feat").sparse);
  EXPECT_THAT(Col(out, "raw_feat").ids, ElementsAre(2, 1, 3, 1));
  EXPECT_THAT(Col(out, "raw_feat").lengths, ElementsAre(1, 1, 1, 1));

  auto no_default = EngineFor({RawFeature({{"default_value", ""}, {"boundaries", b}})});
  out = RunFg(no_default, {{"raw_input", {"0.2", "", "0.3"}}});
  EXPECT_THAT(Col(out, "raw_feat").ids, ElementsAre(2, 3));
  EXPECT_THAT(Col(out, "raw_feat").lengths, ElementsAre(1, 0, 1));

  auto multi = EngineFor({RawFeature({{"default_value", "0.1\x1d" "0.4"}, {"value_dim", 2}, {"boundaries", b}})});
  out = RunFg(multi, {{"raw_input", {"0.2\x1d" "0.5", "", "0.3\x1d" "0.6"}}});
  EXPECT_THAT(Col(out, "raw_feat").ids, ElementsAre(2, 3, 1, 3, 3, 3));
  EXPECT_THAT(Col(out, "raw_feat").lengths, ElementsAre(2, 2, 2));

  auto log10 = EngineFor({RawFeature({{"default_value", "0.01"}, {"boundaries", b}, {"normalizer", "method=log10,threshold=0.05,default=-5"}})});
  out = RunFg(log10, {{"raw_input", {"0.1", "", "10"}}});
  EXPECT_THAT(Col(out, "raw_feat").ids, ElementsAre(0, 0, 3));
}

// Boundaries are float32 (fg.json prints them widened to double); a value equal
// to a boundary goes above it, also for the widened text and negative values.
TEST(RawTransformTest, BoundaryEqualNegativeAndNaN) {
  auto engine = EngineFor({RawFeature({{"boundaries", {1.100000023841858, 2.200000047683716, 15.0}}})});
  auto out = RunFg(engine, {{"raw_input", {"1.1", "1.0999", "2.2", "15", "-3", "1e9", "nan", "NaN"}}});
  // NaN counts as missing -> default_value "0" -> bucket 0.
  EXPECT_THAT(Col(out, "raw_feat").ids, ElementsAre(1, 0, 2, 3, 0, 3, 0, 0));
}

TEST(RawTransformTest, MalformedNumberNamesRowAndValue) {
  auto engine = EngineFor({RawFeature({})});
  try {
    RunFg(engine, {{"raw_input", {"1", "2", "1.2.3"}}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("row 2"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("raw_feat"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("1.2.3"));
  }
  FgEngineOptions skip;
  skip.skip_bad_rows = true;
  auto lenient = EngineFor({RawFeature({})}, skip);
  auto out = RunFg(lenient, {{"raw_input", {"1", "x", "3"}}});
  EXPECT_EQ(out.num_rows, 2);
  EXPECT_THAT(out.skipped_rows, ElementsAre(1));
  EXPECT_THAT(Col(out, "raw_feat").dense, ElementsAre(1.0f, 3.0f));
}

}  // namespace
}  // namespace tzrec::fg
