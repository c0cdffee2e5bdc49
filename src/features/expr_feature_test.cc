#include "features/expr_feature.h"

#include <gtest/gtest.h>

#include "features/feature_test_util.h"

namespace tzrec {
namespace {

using testing::Build;
using testing::FgText;

TEST(ExprFeatureTest, FormulaOverVariables) {
  FeatureOptions dag;
  dag.fg_mode = protos::FG_DAG;
  const auto built = Build(R"pb(
    feature_configs { expr_feature { feature_name: "ctr" expression: "click/(1+pv)"
                                     variables: ["item:click", "item:pv"]
                                     fill_missing: 0.1 boundaries: [0.5] embedding_dim: 4 } })pb",
                           dag);
  const Feature& f = built[0];
  EXPECT_STREQ(f.type_name(), "ExprFeature");
  EXPECT_TRUE(f.is_sparse());
  EXPECT_EQ(f.num_embeddings(), 2u);
  EXPECT_EQ(f.inputs(), (std::vector<std::string>{"click", "pv"}));
  EXPECT_EQ(FgText(f), R"pb([
    {
        "feature_type": "expr_feature",
        "feature_name": "ctr",
        "default_value": "0",
        "expression": "click/(1+pv)",
        "variables": [
            "item:click",
            "item:pv"
        ],
        "value_type": "float",
        "fill_missing": 0.10000000149011612,
        "boundaries": [
            0.5
        ]
    }
])pb");
}

TEST(ExprFeatureTest, DenseWithValueDim) {
  const auto built = Build(R"pb(
    feature_configs { expr_feature { feature_name: "d" expression: "dot(a,b)"
                                     variables: ["user:a", "item:b"] value_dim: 1 } })pb");
  EXPECT_TRUE(built[0].is_dense());
  EXPECT_EQ(built[0].output_dim(), 1u);
  EXPECT_EQ(built[0].FgJson()[0]["value_dim"], 1);
}

}  // namespace
}  // namespace tzrec
