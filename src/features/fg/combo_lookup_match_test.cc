// combo_feature, lookup_feature and match_feature FG cases, after upstream's
// tzrec/features/{combo,lookup,match}_feature_test.py.
#include "common/error.h"
#include "features/fg/fg_test_util.h"

namespace tzrec::fg {
namespace {

using namespace tzrec::fg::testing;
using nlohmann::json;

json Combo(json extra) {
  json f = {{"feature_type", "combo_feature"}, {"feature_name", "combo_feat"}, {"default_value", ""},
            {"expression", {"user:uid_str", "item:iid_str"}}, {"value_type", "string"}, {"value_dim", 0}};
  if (!extra.is_null()) f.update(extra);
  return f;
}

const std::vector<std::string> kUid = {"ua\x1dub", "uc\x1dud", "uee\x1duf", "ug", "uh", "uj", "", "", ""};
const std::vector<std::string> kIid = {"ia\x1dib", "ic", "", "id\x1die", "if", "", "ig\1dih", "ij", ""};

TEST(ComboTransformTest, HashBucketCrossProduct) {
  auto engine = EngineFor({Combo({{"hash_bucket_size", 100}})});
  auto out = RunFg(engine, {{"uid_str", kUid}, {"iid_str", kIid}});
  EXPECT_THAT(Col(out, "combo_feat").ids, ElementsAre(37, 90, 5, 97, 60, 56, 40, 57, 55));
  EXPECT_THAT(Col(out, "combo_feat").lengths, ElementsAre(4, 2, 0, 2, 1, 0, 0, 0, 0));
  auto with_default = EngineFor({Combo({{"hash_bucket_size", 100}, {"default_value", "xyz"}})});
  out = RunFg(with_default, {{"uid_str", kUid}, {"iid_str", kIid}});
  EXPECT_THAT(Col(out, "combo_feat").ids, ElementsAre(37, 90, 5, 97, 60, 56, 13, 40, 57, 55, 13, 13, 13, 13));
  EXPECT_THAT(Col(out, "combo_feat").lengths, ElementsAre(4, 2, 1, 2, 1, 1, 1, 1, 1));
}

TEST(ComboTransformTest, VocabListOrderIsFirstInputOuter) {
  auto engine = EngineFor({Combo({{"vocab_list", {"", "<OOV>", "ua_ia", "ua_ib", "ub_ia"}}, {"default_bucketize_value", 1}})});
  auto out = RunFg(engine, {{"uid_str", {"ua\x1dub", "ua\x1dub", "ua\x1dub", "ua", "ua", "ua", "", "", ""}},
                          {"iid_str", {"ia\x1dib", "ia", "", "ia\x1dib", "ib", "", "ia\1dib", "ia", ""}}});
  EXPECT_THAT(Col(out, "combo_feat").ids, ElementsAre(2, 3, 4, 1, 2, 4, 2, 3, 3));
  EXPECT_THAT(Col(out, "combo_feat").lengths, ElementsAre(4, 2, 0, 2, 1, 0, 0, 0, 0));
}

json Lookup(json extra) {
  json f = {{"feature_type", "lookup_feature"}, {"feature_name", "lookup_feat"}, {"map", "user:kv_cate"},
            {"key", "item:cate"}, {"default_value", "0"}, {"value_type", "float"}, {"needDiscrete", false},
            {"needKey", false}, {"combiner", "sum"}};
  if (!extra.is_null()) f.update(extra);
  return f;
}

const std::vector<std::string> kMap = {"ca:1\x1d" "cb:2", "ca:1\x1d" "cb:2", "ca:1\x1d" "cb:2", "ca:1\x1d" "cb:2", "ca:1\x1d" "cb:2", "", ""};
const std::vector<std::string> kKey = {"ca\x1d" "cb", "ca", "ca\x1d" "cd", "cd", "", "ca", ""};

TEST(LookupTransformTest, DenseCombiners) {
  auto sum = EngineFor({Lookup({})});
  EXPECT_THAT(Col(RunFg(sum, {{"kv_cate", kMap}, {"cate", kKey}}), "lookup_feat").dense, ElementsAre(3, 1, 1, 0, 0, 0, 0));
  auto mean = EngineFor({Lookup({{"combiner", "mean"}})});
  EXPECT_THAT(Col(RunFg(mean, {{"kv_cate", kMap}, {"cate", kKey}}), "lookup_feat").dense, ElementsAre(1.5, 1, 1, 0, 0, 0, 0));
}

// value_dim > 1: upstream writes a stub lookup ("<name>__lookup", string values)
// and a raw_feature reading it through "feature:".
TEST(LookupTransformTest, MultiDimThroughStubAndFeatureInput) {
  json stub = Lookup({{"feature_name", "lookup_feat__lookup"}, {"default_value", "0,0"}, {"value_type", "string"},
                      {"value_dim", 1}, {"needDiscrete", true}, {"combiner", ""}, {"stub_type", true}});
  json raw = {{"feature_type", "raw_feature"}, {"feature_name", "lookup_feat"}, {"default_value", "0"},
              {"expression", "feature:lookup_feat__lookup"}, {"separator", ","}, {"value_dim", 2}, {"value_type", "float"}};
  auto engine = EngineFor({stub, raw});
  EXPECT_EQ(engine.output_names(), std::vector<std::string>{"lookup_feat"});
  EXPECT_EQ(engine.input_columns(), (std::vector<std::string>{"kv_cate", "cate"}));
  auto out = RunFg(engine, {{"kv_cate", {"ca:1,2\x1d" "cb:3,4", "ca:1,2\x1d" "cb:3,4", "ca:1,2\x1d" "cb:3,4", "", "ca:1,2\x1d" "cb:3,4"}},
                          {"cate", {"ca", "cd", "", "ca", ""}}});
  ASSERT_EQ(out.features.size(), 1u);
  EXPECT_THAT(Col(out, "lookup_feat").dense, ElementsAre(1, 2, 0, 0, 0, 0, 0, 0, 0, 0));
}

TEST(LookupTransformTest, Boundaries) {
  const json b = {-0.5, 0.5, 1.5, 2.5};
  auto sum = EngineFor({Lookup({{"boundaries", b}})});
  auto out = RunFg(sum, {{"kv_cate", kMap}, {"cate", kKey}});
  EXPECT_THAT(Col(out, "lookup_feat").ids, ElementsAre(4, 2, 2, 1, 1, 1, 1));
  auto mean = EngineFor({Lookup({{"boundaries", b}, {"combiner", "mean"}})});
  EXPECT_THAT(Col(RunFg(mean, {{"kv_cate", kMap}, {"cate", kKey}}), "lookup_feat").ids, ElementsAre(3, 2, 2, 1, 1, 1, 1));
  auto each = EngineFor({Lookup({{"boundaries", b}, {"combiner", ""}})});
  out = RunFg(each, {{"kv_cate", kMap}, {"cate", kKey}});
  EXPECT_THAT(Col(out, "lookup_feat").ids, ElementsAre(2, 3, 2, 2, 1, 1, 1, 1));
  EXPECT_THAT(Col(out, "lookup_feat").lengths, ElementsAre(2, 1, 1, 1, 1, 1, 1));
}

TEST(LookupTransformTest, NumBuckets) {
  auto no_default = EngineFor({Lookup({{"num_buckets", 10}, {"default_value", ""}, {"value_type", "string"},
                                       {"needDiscrete", true}, {"combiner", ""}, {"value_dim", 1}})});
  auto out = RunFg(no_default, {{"kv_cate", kMap}, {"cate", {"ca\x1d" "cb", "ca", "ca\x1d" "cd", "cd", "", "ca", ""}}});
  EXPECT_THAT(Col(out, "lookup_feat").ids, ElementsAre(1, 2, 1, 1));
  EXPECT_THAT(Col(out, "lookup_feat").lengths, ElementsAre(2, 1, 1, 0, 0, 0, 0));
  auto with_default = EngineFor({Lookup({{"num_buckets", 10}, {"value_type", "string"}, {"needDiscrete", true}, {"combiner", ""}})});
  out = RunFg(with_default, {{"kv_cate", kMap}, {"cate", {"ca\x1d" "cb", "ca", "ca\x1d" "cd", "cd", "", "ca", ""}}});
  EXPECT_THAT(Col(out, "lookup_feat").ids, ElementsAre(1, 2, 1, 1, 0, 0, 0, 0));
}

json Match(json extra) {
  json f = {{"feature_type", "match_feature"}, {"feature_name", "match_feat"}, {"user", "user:match_cate_brand"},
            {"category", "item:cate"}, {"item", "item:brand"}, {"matchType", "hit"}, {"default_value", "0"},
            {"value_type", "float"}, {"needDiscrete", false}, {"show_category", false}, {"show_item", false}};
  if (!extra.is_null()) f.update(extra);
  return f;
}

Columns MatchInput() {
  const std::string m = "ca^ba:1,bb:2|cb^ba:3,bb:4";
  return {{"match_cate_brand", {m, m, m, "", ""}}, {"cate", {"ca", "ca", "", "ca", ""}}, {"brand", {"ba", "", "", "ba", ""}}};
}

TEST(MatchTransformTest, DenseBoundariesNumBucketsHash) {
  EXPECT_THAT(Col(RunFg(EngineFor({Match({})}), MatchInput()), "match_feat").dense, ElementsAre(1, 0, 0, 0, 0));

  auto b = EngineFor({Match({{"boundaries", {-0.5, 0.5, 1.5, 2.5}}})});
  EXPECT_THAT(Col(RunFg(b, MatchInput()), "match_feat").ids, ElementsAre(2, 1, 1, 1, 1));
  auto b_nodefault = EngineFor({Match({{"boundaries", {-0.5, 0.5, 1.5, 2.5}}, {"default_value", ""}})});
  auto out = RunFg(b_nodefault, MatchInput());
  EXPECT_THAT(Col(out, "match_feat").ids, ElementsAre(2));
  EXPECT_THAT(Col(out, "match_feat").lengths, ElementsAre(1, 0, 0, 0, 0));

  // Discrete output is "<feature_name>_<value>": hash("match_feat_1") % 100 = 71.
  auto h = EngineFor({Match({{"hash_bucket_size", 100}, {"default_value", "z"}, {"value_type", "string"}, {"needDiscrete", true}, {"value_dim", 1}})});
  EXPECT_THAT(Col(RunFg(h, MatchInput()), "match_feat").ids, ElementsAre(71, 54, 54, 54, 54));
  auto h0 = EngineFor({Match({{"hash_bucket_size", 100}, {"default_value", ""}, {"value_type", "string"}, {"needDiscrete", true}, {"value_dim", 1}})});
  out = RunFg(h0, MatchInput());
  EXPECT_THAT(Col(out, "match_feat").ids, ElementsAre(71));
  EXPECT_THAT(Col(out, "match_feat").lengths, ElementsAre(1, 0, 0, 0, 0));
}

TEST(MatchTransformTest, WildcardCategory) {
  auto engine = EngineFor({Match({{"category", "ALL"}, {"matchType", "multihit"}, {"boundaries", {0.5, 2.5}}, {"default_value", ""}})});
  EXPECT_EQ(engine.input_columns(), (std::vector<std::string>{"match_cate_brand", "brand"}));
  auto out = RunFg(engine, {{"match_cate_brand", {"ca^ba:1,bb:2|cb^ba:3,bb:4"}}, {"brand", {"ba"}}});
  EXPECT_THAT(Col(out, "match_feat").ids, ElementsAre(1, 2));
}

}  // namespace
}  // namespace tzrec::fg
