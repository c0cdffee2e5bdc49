// FG_NONE: already-encoded columns parse to the same FeatureBatch layout, after
// the fg-encoded cases in upstream's tzrec/features/*_test.py.
#include "common/error.h"
#include "features/fg/fg_test_util.h"

namespace tzrec::fg {
namespace {

using namespace tzrec::fg::testing;
using nlohmann::json;

FgEngineOptions Encoded(std::unordered_map<std::string, std::string> defaults = {}) {
  FgEngineOptions o;
  o.mode = FgMode::kEncoded;
  o.fg_encoded_defaults = std::move(defaults);
  return o;
}

json Id(json extra = json::object()) {
  json f = {{"feature_type", "id_feature"}, {"feature_name", "id_feat"}, {"default_value", ""},
            {"expression", ""}, {"value_type", "string"}, {"num_buckets", 100}};
  if (!extra.is_null()) f.update(extra);
  return f;
}

TEST(FgEncodedTest, SparseIds) {
  auto engine = EngineFor({Id()}, Encoded());
  EXPECT_EQ(engine.input_columns(), std::vector<std::string>{"id_feat"});
  auto out = RunFg(engine, {{"id_feat", {"1\x03" "2", "", "", "3"}}});
  EXPECT_THAT(Col(out, "id_feat").ids, ElementsAre(1, 2, 3));
  EXPECT_THAT(Col(out, "id_feat").lengths, ElementsAre(2, 0, 0, 1));
  auto with_default = EngineFor({Id()}, Encoded({{"id_feat", "0"}}));
  out = RunFg(with_default, {{"id_feat", {"1\x03" "2", "", "", "3"}}});
  EXPECT_THAT(Col(out, "id_feat").ids, ElementsAre(1, 2, 0, 0, 3));
  EXPECT_THAT(Col(out, "id_feat").lengths, ElementsAre(2, 1, 1, 1));
}

TEST(FgEncodedTest, WeightedIds) {
  auto engine = EngineFor({Id({{"weighted", true}, {"num_buckets", 10}})}, Encoded());
  auto out = RunFg(engine, {{"id_feat", {"1:1.0", "2:1.5\x03" "3:2.0", "4:2.5"}}});
  EXPECT_THAT(Col(out, "id_feat").ids, ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(Col(out, "id_feat").lengths, ElementsAre(1, 2, 1));
  EXPECT_THAT(Col(out, "id_feat").weights, ElementsAre(1.0f, 1.5f, 2.0f, 2.5f));
  EXPECT_THROW(RunFg(engine, {{"id_feat", {"1:1.0", "2:nan"}}}), Error);
}

TEST(FgEncodedTest, DenseAndBucketizedRaw) {
  json raw = {{"feature_type", "raw_feature"}, {"feature_name", "raw_feat"}, {"default_value", "0"}, {"value_type", "float"}};
  auto dense = EngineFor({raw}, Encoded({{"raw_feat", "0.1"}}));
  EXPECT_THAT(Col(RunFg(dense, {{"raw_feat", {"", "0.2", "0.3"}}}), "raw_feat").dense,
              ElementsAre(0.1f, 0.2f, 0.3f));
  json raw2 = raw;
  raw2["value_dim"] = 2;
  auto dense2 = EngineFor({raw2}, Encoded({{"raw_feat", "0.0\x03" "0.0"}}));
  EXPECT_THAT(Col(RunFg(dense2, {{"raw_feat", {"0.1\x03" "0.4", "0.2\x03" "0.5", "", "0.3\x03" "0.6"}}}), "raw_feat").dense,
              ElementsAre(0.1f, 0.4f, 0.2f, 0.5f, 0.0f, 0.0f, 0.3f, 0.6f));
  // An empty dense cell without fg_encoded_default_value is an error, not a NaN.
  EXPECT_THROW(RunFg(EngineFor({raw}, Encoded()), {{"raw_feat", {"1", ""}}}), Error);
  EXPECT_THROW(RunFg(dense2, {{"raw_feat", {"0.1"}}}), Error);
  // FG turns NaN into the default, so an encoded NaN or inf is corrupt data.
  for (const char* bad : {"nan", "inf", "-inf"}) {
    EXPECT_THROW(RunFg(dense, {{"raw_feat", {"0.2", bad}}}), Error) << bad;
  }

  json sparse = raw;
  sparse["boundaries"] = {0.1, 0.2, 0.3};
  auto bucketized = EngineFor({sparse}, Encoded());
  auto out = RunFg(bucketized, {{"raw_feat", {"1", "", "", "3"}}});
  EXPECT_THAT(Col(out, "raw_feat").ids, ElementsAre(1, 3));
  EXPECT_THAT(Col(out, "raw_feat").lengths, ElementsAre(1, 0, 0, 1));
  // Encoded ids must fit the table: 4 buckets here.
  EXPECT_THROW(RunFg(bucketized, {{"raw_feat", {"4"}}}), Error);
  EXPECT_THROW(RunFg(bucketized, {{"raw_feat", {"-1"}}}), Error);
}

TEST(FgEncodedTest, Sequences) {
  json group = {{"sequence_name", "click_50_seq"}, {"sequence_length", 50}, {"sequence_delim", ";"},
                {"features", {Id({{"num_buckets", 10}, {"default_value", "0"}, {"value_dim", 0}})}}};
  auto engine = EngineFor({group}, Encoded());
  EXPECT_EQ(engine.input_columns(), std::vector<std::string>{"click_50_seq__id_feat"});
  auto out = RunFg(engine, {{"click_50_seq__id_feat", {"1;2", "", "3", "4\x03" "5;6"}}});
  const auto& c = Col(out, "click_50_seq__id_feat");
  EXPECT_THAT(c.ids, ElementsAre(1, 2, 3, 4, 5, 6));
  EXPECT_THAT(c.lengths, ElementsAre(1, 1, 1, 2, 1));
  EXPECT_THAT(c.seq_lengths, ElementsAre(2, 0, 1, 2));
  auto with_default = EngineFor({group}, Encoded({{"click_50_seq__id_feat", "0"}}));
  out = RunFg(with_default, {{"click_50_seq__id_feat", {"1;2", "", "3", "4\x03" "5;6"}}});
  EXPECT_THAT(Col(out, "click_50_seq__id_feat").ids, ElementsAre(1, 2, 0, 3, 4, 5, 6));
  EXPECT_THAT(Col(out, "click_50_seq__id_feat").seq_lengths, ElementsAre(2, 1, 1, 2));

  json raw = {{"feature_type", "raw_feature"}, {"feature_name", "raw_feat"}, {"default_value", "0"}, {"value_type", "float"}, {"value_dim", 2}};
  json raw_group = {{"sequence_name", "click_50_seq"}, {"sequence_length", 50}, {"sequence_delim", ";"}, {"features", {raw}}};
  auto dense = EngineFor({raw_group}, Encoded({{"click_50_seq__raw_feat", "0\x03" "0"}}));
  out = RunFg(dense, {{"click_50_seq__raw_feat", {"0.1\x03" "1.1;0.2\x03" "1.2", "", "0.3\x03" "1.3"}}});
  EXPECT_THAT(Col(out, "click_50_seq__raw_feat").dense,
              Pointwise(FloatNear(1e-7), std::vector<float>{0.1f, 1.1f, 0.2f, 1.2f, 0, 0, 0.3f, 1.3f}));
  EXPECT_THAT(Col(out, "click_50_seq__raw_feat").seq_lengths, ElementsAre(2, 1, 1));
}

TEST(FgEncodedTest, BadCellsNameRowFeatureAndValue) {
  auto engine = EngineFor({Id()}, Encoded());
  try {
    RunFg(engine, {{"id_feat", {"1", "2\x03" "x"}}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("row 1"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("id_feat"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("'x'"));
  }
  EXPECT_THROW(RunFg(engine, {{"id_feat", {"100"}}}), Error);
  EXPECT_THROW(RunFg(engine, {{"other", {"1"}}}), Error);
  FgEngineOptions skip = Encoded();
  skip.skip_bad_rows = true;
  auto lenient = EngineFor({Id()}, skip);
  auto out = RunFg(lenient, {{"id_feat", {"1", "x", "2"}}});
  EXPECT_THAT(out.skipped_rows, ElementsAre(1));
  EXPECT_THAT(Col(out, "id_feat").ids, ElementsAre(1, 2));
}

}  // namespace
}  // namespace tzrec::fg
