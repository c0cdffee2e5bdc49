// Sequence features (grouped `sequence_name` blocks and sequence_<type>
// features), after upstream's sequence cases in tzrec/features/*_test.py.
#include "common/error.h"
#include "features/fg/fg_test_util.h"

namespace tzrec::fg {
namespace {

using namespace tzrec::fg::testing;
using nlohmann::json;

json Group(std::vector<json> features, std::string delim = ";", int length = 50) {
  return {{"sequence_name", "click_50_seq"}, {"sequence_length", length}, {"sequence_delim", delim},
          {"sequence_pk", "user:click_50_seq"}, {"features", features}};
}

json SeqId(json extra) {
  json f = {{"feature_type", "id_feature"}, {"feature_name", "id_feat"}, {"default_value", "0"},
            {"expression", "user:id_str"}, {"value_type", "string"}, {"need_prefix", false}};
  if (!extra.is_null()) f.update(extra);
  return f;
}

TEST(SequenceTest, GroupedIdHashBucket) {
  struct Case {
    std::string default_value;
    int value_dim;
    std::vector<int64_t> ids, key_lengths;
  };
  for (const Case& c : std::vector<Case>{{"0", 0, {33, 44, 66, 26, 66}, {2, 1, 1, 1}},
                                         {"xyz", 0, {33, 44, 66, 13, 66}, {2, 1, 1, 1}},
                                         {"0", 1, {33, 66, 26, 66}, {1, 1, 1, 1}},
                                         {"xyz", 1, {33, 66, 13, 66}, {1, 1, 1, 1}}}) {
    auto engine = EngineFor({Group({SeqId({{"hash_bucket_size", 100}, {"default_value", c.default_value}, {"value_dim", c.value_dim}})})});
    EXPECT_EQ(engine.input_columns(), std::vector<std::string>{"click_50_seq__id_str"});
    auto out = RunFg(engine, {{"click_50_seq__id_str", {"abc\x1d" "efg;hij", "", "hij"}}});
    const auto& col = Col(out, "click_50_seq__id_feat");
    EXPECT_TRUE(col.sequence);
    EXPECT_EQ(col.has_key_lengths, c.value_dim != 1);
    EXPECT_EQ(col.ids, c.ids);
    EXPECT_EQ(col.lengths, c.key_lengths);
    EXPECT_THAT(col.seq_lengths, ElementsAre(2, 1, 1));
  }
}

TEST(SequenceTest, SimpleSequenceFeature) {
  json f = SeqId({{"feature_type", "sequence_id_feature"}, {"feature_name", "click_50_seq_id_feat"},
                  {"expression", "user:click_50_seq_id_str"}, {"hash_bucket_size", 100},
                  {"sequence_delim", ";"}, {"sequence_length", 50}, {"value_dim", 1}});
  auto engine = EngineFor({f});
  auto out = RunFg(engine, {{"click_50_seq_id_str", {"abc\x1d" "efg;hij", "", "hij"}}});
  EXPECT_THAT(Col(out, "click_50_seq_id_feat").ids, ElementsAre(33, 66, 26, 66));
  EXPECT_THAT(Col(out, "click_50_seq_id_feat").seq_lengths, ElementsAre(2, 1, 1));
}

TEST(SequenceTest, NumBucketsMultiValue) {
  auto engine = EngineFor({Group({SeqId({{"num_buckets", 10}, {"value_dim", 0}})})});
  auto out = RunFg(engine, {{"click_50_seq__id_str", {"1;2", "", "3", "4\x1d" "5;6"}}});
  const auto& col = Col(out, "click_50_seq__id_feat");
  EXPECT_THAT(col.ids, ElementsAre(1, 2, 0, 3, 4, 5, 6));
  EXPECT_THAT(col.lengths, ElementsAre(1, 1, 1, 1, 2, 1));
  EXPECT_THAT(col.seq_lengths, ElementsAre(2, 1, 1, 2));
  auto dim1 = EngineFor({Group({SeqId({{"num_buckets", 10}, {"value_dim", 1}})})});
  out = RunFg(dim1, {{"click_50_seq__id_str", {"1;2", "", "3", "4\x1d" "5;6"}}});
  EXPECT_THAT(Col(out, "click_50_seq__id_feat").ids, ElementsAre(1, 2, 0, 3, 4, 6));
}

TEST(SequenceTest, VocabListEmptyElementsTakeDefault) {
  auto engine = EngineFor({Group({SeqId({{"vocab_list", {"0", "<OOV>", "a", "b", "c"}}, {"default_bucketize_value", 1}, {"value_dim", 1}})}, "|")});
  auto out = RunFg(engine, {{"click_50_seq__id_str", {"c||a|b|b|", "", "a|b||c"}}});
  EXPECT_THAT(Col(out, "click_50_seq__id_feat").ids, ElementsAre(4, 0, 2, 3, 3, 0, 0, 2, 3, 0, 4));
  EXPECT_THAT(Col(out, "click_50_seq__id_feat").seq_lengths, ElementsAre(6, 1, 4));
}

TEST(SequenceTest, TruncatesToSequenceLength) {
  auto engine = EngineFor({Group({SeqId({{"num_buckets", 10}, {"value_dim", 1}})}, ";", 2)});
  auto out = RunFg(engine, {{"click_50_seq__id_str", {"1;2;3;4", "5"}}});
  EXPECT_THAT(Col(out, "click_50_seq__id_feat").ids, ElementsAre(1, 2, 5));
  EXPECT_THAT(Col(out, "click_50_seq__id_feat").seq_lengths, ElementsAre(2, 1));
}

TEST(SequenceTest, ComboCrossesUserValueWithEachElement) {
  json combo = {{"feature_type", "combo_feature"}, {"feature_name", "combo_feat"}, {"default_value", "0"},
                {"expression", {"user:id_str", "item:iid_str"}}, {"value_type", "string"}, {"hash_bucket_size", 100}, {"value_dim", 0}};
  auto engine = EngineFor({Group({combo})});
  EXPECT_EQ(engine.input_columns(), (std::vector<std::string>{"id_str", "click_50_seq__iid_str"}));
  auto out = RunFg(engine, {{"id_str", {"ua", "", "ub"}}, {"click_50_seq__iid_str", {"abc\x1d" "efg;hij", "", "hij"}}});
  EXPECT_THAT(Col(out, "click_50_seq__combo_feat").ids, ElementsAre(2, 42, 3, 26, 23));
  EXPECT_THAT(Col(out, "click_50_seq__combo_feat").lengths, ElementsAre(2, 1, 1, 1));
  EXPECT_THAT(Col(out, "click_50_seq__combo_feat").seq_lengths, ElementsAre(2, 1, 1));
}

TEST(SequenceTest, DenseRawSequence) {
  json raw = {{"feature_type", "raw_feature"}, {"feature_name", "raw_feat"}, {"default_value", "0"},
              {"expression", "item:price"}, {"value_type", "float"}};
  auto engine = EngineFor({Group({raw})});
  auto out = RunFg(engine, {{"click_50_seq__price", {"0.1;0.2", "", "0.3"}}});
  const auto& col = Col(out, "click_50_seq__raw_feat");
  EXPECT_FALSE(col.sparse);
  EXPECT_THAT(col.dense, Pointwise(FloatNear(1e-7), std::vector<float>{0.1f, 0.2f, 0.0f, 0.3f}));
  EXPECT_THAT(col.seq_lengths, ElementsAre(2, 1, 1));
}

}  // namespace
}  // namespace tzrec::fg
