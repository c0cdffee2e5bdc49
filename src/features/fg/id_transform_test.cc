// id_feature FG cases, after upstream's tzrec/features/id_feature_test.py.
#include "common/error.h"
#include "features/fg/fg_test_util.h"

namespace tzrec::fg {
namespace {

using namespace tzrec::fg::testing;
using nlohmann::json;

json IdFeature(json extra) {
  json f = {{"feature_type", "id_feature"}, {"feature_name", "id_feat"},
            {"expression", "user:id_input"}, {"value_type", "string"},
            {"need_prefix", false},        {"default_value", ""}};
  if (!extra.is_null()) f.update(extra);
  return f;
}

TEST(IdTransformTest, HashBucketMultiValueAndMissing) {
  auto engine = EngineFor({IdFeature({{"hash_bucket_size", 100}, {"value_dim", 0}})});
  auto out = RunFg(engine, {{"id_input", {"abc\x1d" "efg", "", "hij"}}});
  const auto& c = Col(out, "id_feat");
  EXPECT_THAT(c.ids, ElementsAre(33, 44, 66));
  EXPECT_THAT(c.lengths, ElementsAre(2, 0, 1));
  EXPECT_TRUE(c.sparse);
  EXPECT_FALSE(c.sequence);
}

TEST(IdTransformTest, HashBucketDefaultValue) {
  auto engine = EngineFor({IdFeature({{"hash_bucket_size", 100}, {"default_value", "xyz"}})});
  auto out = RunFg(engine, {{"id_input", {"abc\x1d" "efg", "", "hij"}}});
  EXPECT_THAT(Col(out, "id_feat").ids, ElementsAre(33, 44, 13, 66));
  EXPECT_THAT(Col(out, "id_feat").lengths, ElementsAre(2, 1, 1));
}

TEST(IdTransformTest, NumericIdsHashAsDecimalText) {
  auto engine = EngineFor({IdFeature({{"hash_bucket_size", 100}})});
  auto out = RunFg(engine, {{"id_input", {"1", "2", "", "3"}}});
  EXPECT_THAT(Col(out, "id_feat").ids, ElementsAre(95, 70, 13));
  EXPECT_THAT(Col(out, "id_feat").lengths, ElementsAre(1, 1, 0, 1));

  auto with_default = EngineFor({IdFeature({{"hash_bucket_size", 100}, {"default_value", "4"}})});
  out = RunFg(with_default, {{"id_input", {"1", "2", "", "3"}}});
  EXPECT_THAT(Col(out, "id_feat").ids, ElementsAre(95, 70, 56, 13));
}

TEST(IdTransformTest, FarmHashOption) {
  FgEngineOptions options;
  options.hash_kind = HashKind::kFarmHash;
  auto engine = EngineFor({IdFeature({{"hash_bucket_size", 100}})}, options);
  auto out = RunFg(engine, {{"id_input", {"1", "2", "", "3"}}});
  EXPECT_THAT(Col(out, "id_feat").ids, ElementsAre(49, 59, 21));
  EXPECT_THAT(Col(out, "id_feat").lengths, ElementsAre(1, 1, 0, 1));
}

struct VocabCase {
  std::string default_value;
  json vocab_list;
  int default_bucketize_value;
  std::vector<int64_t> ids;
  std::vector<int64_t> lengths;
};

// fg.json carries the vocab_list as upstream writes it: [default_value, "<OOV>",
// vocab...] unless the config set default_bucketize_value.
TEST(IdTransformTest, VocabList) {
  std::vector<VocabCase> cases = {
      {"", {"", "<OOV>", "abc", "efg"}, 1, {2, 3, 1}, {2, 0, 1}},
      {"xyz", {"xyz", "<OOV>", "abc", "efg"}, 1, {2, 3, 0, 1}, {2, 1, 1}},
      {"abc", {"abc", "<OOV>", "abc", "efg"}, 1, {2, 3, 2, 1}, {2, 1, 1}},
      {"", {"xyz", "abc", "efg"}, 0, {1, 2, 0}, {2, 0, 1}},
      {"xyz", {"xyz", "abc", "efg"}, 0, {1, 2, 0, 0}, {2, 1, 1}},
  };
  for (const auto& c : cases) {
    auto engine = EngineFor({IdFeature({{"default_value", c.default_value},
                                        {"vocab_list", c.vocab_list},
                                        {"default_bucketize_value", c.default_bucketize_value}})});
    auto out = RunFg(engine, {{"id_input", {"abc\x1d" "efg", "", "hij"}}});
    EXPECT_EQ(Col(out, "id_feat").ids, c.ids) << c.vocab_list.dump();
    EXPECT_EQ(Col(out, "id_feat").lengths, c.lengths) << c.vocab_list.dump();
  }
}

TEST(IdTransformTest, VocabDict) {
  struct Case {
    std::string default_value;
    json dict;
    int dbv;
    std::vector<int64_t> ids, lengths;
  };
  std::vector<Case> cases = {
      {"", {{"abc", 2}, {"efg", 2}}, 1, {2, 2, 1}, {2, 0, 1}},
      {"xyz", {{"abc", 2}, {"efg", 2}, {"xyz", 0}}, 1, {2, 2, 0, 1}, {2, 1, 1}},
      {"abc", {{"abc", 0}, {"efg", 2}}, 1, {0, 2, 0, 1}, {2, 1, 1}},
      {"", {{"abc", 1}, {"efg", 1}}, 0, {1, 1, 0}, {2, 0, 1}},
      {"xyz", {{"xyz", 0}, {"abc", 1}, {"efg", 1}}, 0, {1, 1, 0, 0}, {2, 1, 1}},
  };
  for (const auto& c : cases) {
    auto engine = EngineFor({IdFeature(
        {{"default_value", c.default_value}, {"vocab_dict", c.dict}, {"default_bucketize_value", c.dbv}})});
    auto out = RunFg(engine, {{"id_input", {"abc\x1d" "efg", "", "hij"}}});
    EXPECT_EQ(Col(out, "id_feat").ids, c.ids) << c.dict.dump();
    EXPECT_EQ(Col(out, "id_feat").lengths, c.lengths) << c.dict.dump();
  }
}

TEST(IdTransformTest, NumBuckets) {
  auto engine = EngineFor({IdFeature({{"num_buckets", 100}})});
  auto out = RunFg(engine, {{"id_input", {"0\x1d" "1", "", "2"}}});
  EXPECT_THAT(Col(out, "id_feat").ids, ElementsAre(0, 1, 2));
  EXPECT_THAT(Col(out, "id_feat").lengths, ElementsAre(2, 0, 1));

  auto with_default = EngineFor({IdFeature({{"num_buckets", 100}, {"default_value", "3"}})});
  out = RunFg(with_default, {{"id_input", {"0\x1d" "1", "", "2"}}});
  EXPECT_THAT(Col(out, "id_feat").ids, ElementsAre(0, 1, 3, 2));
  EXPECT_THAT(Col(out, "id_feat").lengths, ElementsAre(2, 1, 1));
}

// Our decision: an id outside [0, num_buckets) (or not an integer) is an error
// naming row, feature and value; skip_bad_rows drops and counts the row instead.
TEST(IdTransformTest, NumBucketsOutOfRange) {
  auto engine = EngineFor({IdFeature({{"num_buckets", 10}})});
  for (const char* bad : {"10", "-1", "abc", "1.5"}) {
    try {
      RunFg(engine, {{"id_input", {"1", bad}}});
      FAIL() << "no error for " << bad;
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), ::testing::HasSubstr("row 1"));
      EXPECT_THAT(e.what(), ::testing::HasSubstr("id_feat"));
      EXPECT_THAT(e.what(), ::testing::HasSubstr(bad));
    }
  }
  FgEngineOptions skip;
  skip.skip_bad_rows = true;
  auto lenient = EngineFor({IdFeature({{"num_buckets", 10}})}, skip);
  auto out = RunFg(lenient, {{"id_input", {"1", "10", "9\x1d" "11", "2"}}});
  EXPECT_EQ(out.num_rows, 2);
  EXPECT_THAT(out.skipped_rows, ElementsAre(1, 2));
  EXPECT_THAT(Col(out, "id_feat").ids, ElementsAre(1, 2));
  EXPECT_THAT(Col(out, "id_feat").lengths, ElementsAre(1, 1));
}

TEST(IdTransformTest, WeightedIds) {
  auto engine = EngineFor({IdFeature({{"num_buckets", 100000}, {"weighted", true}})});
  auto out = RunFg(engine, {{"id_input", {"123:0.5", "1391:0.3", "", "12:0.9\x1d" "123:0.21", ""}}});
  const auto& c = Col(out, "id_feat");
  EXPECT_TRUE(c.weighted);
  EXPECT_THAT(c.ids, ElementsAre(123, 1391, 12, 123));
  EXPECT_THAT(c.lengths, ElementsAre(1, 1, 0, 2, 0));
  EXPECT_THAT(c.weights, Pointwise(FloatNear(1e-6), std::vector<float>{0.5f, 0.3f, 0.9f, 0.21f}));
  EXPECT_THROW(RunFg(engine, {{"id_input", {"123"}}}), Error);
}

TEST(IdTransformTest, ValueDimTruncates) {
  auto engine = EngineFor({IdFeature({{"num_buckets", 10}, {"value_dim", 2}})});
  auto out = RunFg(engine, {{"id_input", {"1\x1d" "2\x1d" "3", "4"}}});
  EXPECT_THAT(Col(out, "id_feat").ids, ElementsAre(1, 2, 4));
  EXPECT_THAT(Col(out, "id_feat").lengths, ElementsAre(2, 1));
}

TEST(IdTransformTest, CustomSeparatorUnicodeAndNegativeText) {
  auto engine = EngineFor({IdFeature({{"hash_bucket_size", 1000003}, {"separator", "|"}})});
  auto out = RunFg(engine, {{"id_input", {"\xe4\xb8\xad\xe6\x96\x87|-5", "||"}}});
  const auto& c = Col(out, "id_feat");
  EXPECT_THAT(c.lengths, ElementsAre(2, 0));
  EXPECT_EQ(c.ids[0], static_cast<int64_t>(HashToBucket("\xe4\xb8\xad\xe6\x96\x87", 1000003, HashKind::kStdHash)));
  EXPECT_EQ(c.ids[1], static_cast<int64_t>(HashToBucket("-5", 1000003, HashKind::kStdHash)));
}

TEST(IdTransformTest, MissingInputColumnIsAnError) {
  auto engine = EngineFor({IdFeature({{"hash_bucket_size", 10}})});
  EXPECT_EQ(engine.input_columns(), std::vector<std::string>{"id_input"});
  try {
    RunFg(engine, {{"other", {"1"}}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("'id_input'"));
  }
}

TEST(IdTransformTest, DiscreteFeatureWithoutBucketizerIsAConfigError) {
  EXPECT_THROW(EngineFor({IdFeature({})}), ConfigError);
  EXPECT_THROW(EngineFor({IdFeature({{"num_buckets", 10}, {"hash_bucket_size", 10}})}), ConfigError);
}

}  // namespace
}  // namespace tzrec::fg
