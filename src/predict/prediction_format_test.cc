#include "predict/prediction_format.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "common/error.h"

namespace tzrec::predict {
namespace {

std::string Field(std::string_view text) {
  std::string out;
  AppendCsvField(out, text);
  return out;
}

TEST(AppendCsvFieldTest, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(Field("abc"), "abc");
  EXPECT_EQ(Field(""), "");
  EXPECT_EQ(Field("a,b"), "\"a,b\"");
  EXPECT_EQ(Field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(Field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(Field("x\x1dy"), "x\x1dy");
}

TEST(FormatOutputColumnTest, ScalarsRoundTripExactly) {
  at::Tensor probs = at::tensor({0.1f, 0.5f, 1.0f / 3.0f, 1e-7f});
  auto cells = FormatOutputColumn("probs", probs, 4);
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_EQ(cells[0], "0.1");
  EXPECT_EQ(cells[1], "0.5");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(std::strtof(cells[i].c_str(), nullptr), probs[i].item<float>()) << cells[i];
  }
}

TEST(FormatOutputColumnTest, VectorsAreJoinedAndIntegersStayIntegers) {
  at::Tensor emb = at::tensor({1.5f, -2.0f, 0.25f, 3.0f, 4.0f, 5.0f}).reshape({2, 3});
  auto cells = FormatOutputColumn("user_tower_emb", emb, 2);
  EXPECT_EQ(cells[0], "1.5,-2,0.25");
  EXPECT_EQ(cells[1], "3,4,5");
  std::string quoted;
  AppendCsvField(quoted, cells[0]);
  EXPECT_EQ(quoted, "\"1.5,-2,0.25\"");
  auto ids = FormatOutputColumn("ids", at::tensor({7, -1}, at::kLong), 2);
  EXPECT_EQ(ids[0], "7");
  EXPECT_EQ(ids[1], "-1");
  auto flags = FormatOutputColumn("flag", at::tensor({1, 0}) > 0, 2);
  EXPECT_EQ(flags[0], "true");
  EXPECT_EQ(flags[1], "false");
  // Half precision is widened to float32 first.
  auto half = FormatOutputColumn("h", at::tensor({0.5f}).to(at::kHalf), 1);
  EXPECT_EQ(half[0], "0.5");
}

TEST(FormatOutputColumnTest, WrongRowCountNamesTheOutput) {
  try {
    FormatOutputColumn("probs", at::zeros({3}), 4);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "model output 'probs' has shape [3]; expected one row per input row (4 rows)");
  }
  EXPECT_THROW(FormatOutputColumn("loss", at::scalar_tensor(1.0), 1), Error);
}

}  // namespace
}  // namespace tzrec::predict
