#include "artifacts/row_quant.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include <c10/util/Half.h>

#include "common/error.h"
#include "common/test_support.h"

namespace tzrec::artifacts {
namespace {

using ::testing::HasSubstr;
using testing::ErrorOf;

float HalfAt(const uint8_t* p) {
  return static_cast<float>(c10::Half(static_cast<uint16_t>(p[0] | (p[1] << 8)), c10::Half::from_bits()));
}

TEST(RowQuantTest, RowLayoutScaleAndOffset) {
  // min -0.5 (exact in fp16), max 1.0: scale = 1.5 / 255 rounded to fp16.
  const std::vector<float> row = {-0.5f, 0.0f, 0.25f, 1.0f};
  std::vector<uint8_t> stored(QuantRowBytes(4));
  QuantizeRows(row.data(), 1, 4, stored.data(), "t", 0);
  const float scale = HalfAt(&stored[4]);
  const float offset = HalfAt(&stored[6]);
  EXPECT_EQ(offset, -0.5f);
  EXPECT_EQ(scale, static_cast<float>(c10::Half(1.5f / 255.0f)));
  EXPECT_EQ(stored[0], 0);
  EXPECT_EQ(stored[3], 255);
  EXPECT_EQ(stored[1], static_cast<uint8_t>(std::nearbyint(0.5f / scale)));
  std::vector<float> back(4);
  DequantizeRows(stored.data(), 1, 4, back.data());
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(back[i], row[i], scale / 2 + 1e-6) << i;
}

TEST(RowQuantTest, ConstantRowsGetScaleOne) {
  // Constant rows whose value float16 holds exactly: range 0, scale 1.
  const std::vector<float> rows = {0.5f, 0.5f, 0.5f, 0.5f, 0.0f, 0.0f, 0.0f, 0.0f};
  std::vector<uint8_t> stored(2 * QuantRowBytes(4));
  QuantizeRows(rows.data(), 2, 4, stored.data(), "t", 0);
  for (int r = 0; r < 2; ++r) {
    const uint8_t* row = stored.data() + r * QuantRowBytes(4);
    EXPECT_EQ(HalfAt(row + 4), 1.0f);
    EXPECT_EQ(HalfAt(row + 6), rows[r * 4]);
    EXPECT_EQ(row[0], 0);
    std::vector<float> back(4);
    DequantizeRows(row, 1, 4, back.data());
    EXPECT_EQ(back[3], rows[r * 4]);
  }
  // 0.3 rounds up to 0.30005 in float16: the range is tiny and negative, as
  // upstream computes it, and the row still comes back within 1e-5.
  const std::vector<float> point3(4, 0.3f);
  std::vector<uint8_t> q(QuantRowBytes(4));
  QuantizeRows(point3.data(), 1, 4, q.data(), "t", 0);
  std::vector<float> back(4);
  DequantizeRows(q.data(), 1, 4, back.data());
  EXPECT_NEAR(back[0], 0.3f, 1e-5f);
}

TEST(RowQuantTest, RandomRowsDequantizeWithinHalfAStep) {
  std::vector<float> rows(64 * 8);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = std::sin(0.37f * static_cast<float>(i)) * 0.2f;
  std::vector<uint8_t> stored(64 * QuantRowBytes(8));
  QuantizeRows(rows.data(), 64, 8, stored.data(), "t", 0);
  std::vector<float> back(rows.size());
  DequantizeRows(stored.data(), 64, 8, back.data());
  for (int r = 0; r < 64; ++r) {
    const float scale = HalfAt(stored.data() + r * QuantRowBytes(8) + 8);
    for (int c = 0; c < 8; ++c) {
      // Half a step, plus the fp16 rounding of the offset.
      EXPECT_NEAR(back[r * 8 + c], rows[r * 8 + c], scale * 0.5f + 2e-4f);
    }
  }
}

TEST(RowQuantTest, NonFiniteAndOutOfRangeRowsAreNamed) {
  std::vector<float> rows = {0, 1, 2, 3, 4, 5, std::numeric_limits<float>::quiet_NaN(), 7};
  std::vector<uint8_t> stored(2 * QuantRowBytes(4));
  EXPECT_THAT(ErrorOf([&] { QuantizeRows(rows.data(), 2, 4, stored.data(), "model.t", 100); }),
              HasSubstr("embedding table model.t: row 101 has a non-finite weight"));
  EXPECT_THAT(ErrorOf([&] { CheckFiniteRows(rows.data(), 2, 4, "model.t", 0); }), HasSubstr("row 1"));
  rows[6] = 6;
  EXPECT_EQ(ErrorOf([&] { CheckFiniteRows(rows.data(), 2, 4, "model.t", 0); }), "");
  rows[4] = -70000.0f;
  EXPECT_THAT(ErrorOf([&] { QuantizeRows(rows.data(), 2, 4, stored.data(), "model.t", 0); }),
              HasSubstr("row 1 offset -70000 is outside the float16 range"));
}

TEST(RowQuantTest, OddDimsAreRefused) {
  EXPECT_EQ(ErrorOf([] { CheckQuantDim(4, "t"); }), "");
  EXPECT_THAT(ErrorOf([] { CheckQuantDim(5, "model.t"); }),
              HasSubstr("table model.t has embedding_dim 5"));
}

}  // namespace
}  // namespace tzrec::artifacts
