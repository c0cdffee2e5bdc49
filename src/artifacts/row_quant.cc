#include "artifacts/row_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <c10/util/Half.h>

#include "common/error.h"

namespace tzrec::artifacts {

namespace {

constexpr float kHalfMax = 65504.0f;

uint16_t HalfBits(float value) { return c10::Half(value).x; }

float HalfValue(uint16_t bits) { return static_cast<float>(c10::Half(bits, c10::Half::from_bits())); }

void StoreBits(uint16_t bits, uint8_t* out) {
  // Little-endian, as numpy's float16 is on every platform we run on.
  out[0] = static_cast<uint8_t>(bits & 0xFF);
  out[1] = static_cast<uint8_t>(bits >> 8);
}

uint16_t LoadBits(const uint8_t* in) { return static_cast<uint16_t>(in[0] | (in[1] << 8)); }

}  // namespace

void CheckQuantDim(int64_t dim, const std::string& table) {
  if (QuantRowBytes(dim) % 2 != 0) {
    FailConfig("DIST_QUANT=INT8: table {} has embedding_dim {}, so its stored row ({} codes + 4 "
               "bytes of float16 scale and offset) would be {} bytes; {} rows must be an even "
               "number of bytes: use an even embedding_dim or unset DIST_QUANT",
               table, dim, dim, QuantRowBytes(dim), kQuantFormat);
  }
}

void CheckFiniteRows(const float* in, int64_t rows, int64_t dim, const std::string& table,
                     int64_t first_row) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = in + r * dim;
    for (int64_t c = 0; c < dim; ++c) {
      if (!std::isfinite(row[c])) {
        Fail("embedding table {}: row {} has a non-finite weight ({} at column {}); "
             "an export must not serve it",
             table, first_row + r, row[c], c);
      }
    }
  }
}

void QuantizeRows(const float* in, int64_t rows, int64_t dim, uint8_t* out, const std::string& table,
                  int64_t first_row) {
  CheckFiniteRows(in, rows, dim, table, first_row);
  const int64_t row_bytes = QuantRowBytes(dim);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = in + r * dim;
    uint8_t* stored = out + r * row_bytes;
    float lo = row[0], hi = row[0];
    for (int64_t c = 1; c < dim; ++c) {
      lo = std::min(lo, row[c]);
      hi = std::max(hi, row[c]);
    }
    if (dim == 0) lo = hi = 0.0f;
    if (std::fabs(lo) > kHalfMax) {
      Fail("DIST_QUANT=INT8: embedding table {}: row {} offset {} is outside the float16 range",
           table, first_row + r, lo);
    }
    const uint16_t offset_bits = HalfBits(lo);
    const float offset = HalfValue(offset_bits);
    const double range64 = static_cast<double>(hi) - static_cast<double>(offset);
    if (range64 != 0.0 && (!std::isfinite(range64) ||
                           std::fabs(range64) > static_cast<double>(kHalfMax) * 255.0)) {
      Fail("DIST_QUANT=INT8: embedding table {}: row {} scale {} is outside the float16 range",
           table, first_row + r, range64 / 255.0);
    }
    const float range = hi - offset;
    float scale = range != 0.0f ? range / 255.0f : 1.0f;
    scale = HalfValue(HalfBits(scale));
    if (scale == 0.0f) scale = 1.0f;
    const uint16_t scale_bits = HalfBits(scale);
    for (int64_t c = 0; c < dim; ++c) {
      float q = std::nearbyint((row[c] - offset) / scale);
      q = std::min(255.0f, std::max(0.0f, q));
      stored[c] = static_cast<uint8_t>(q);
    }
    StoreBits(scale_bits, stored + dim);
    StoreBits(offset_bits, stored + dim + 2);
  }
}

void DequantizeRows(const uint8_t* in, int64_t rows, int64_t dim, float* out) {
  const int64_t row_bytes = QuantRowBytes(dim);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* stored = in + r * row_bytes;
    const float scale = HalfValue(LoadBits(stored + dim));
    const float offset = HalfValue(LoadBits(stored + dim + 2));
    for (int64_t c = 0; c < dim; ++c) out[r * dim + c] = static_cast<float>(stored[c]) * scale + offset;
  }
}

}  // namespace tzrec::artifacts
