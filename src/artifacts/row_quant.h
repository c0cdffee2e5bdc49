// DIST_QUANT=INT8: embedding rows stored as upstream's "QUint8RowwiseF16"
// (affine uint8 per row, as FBGEMM's fused row-wise INT8):
//
//   [uint8 q x dim][float16 scale][float16 offset]     (dim + 4 bytes)
//
//   offset = row minimum rounded to float16
//   scale  = (row maximum - offset) / 255 rounded to float16, or 1.0 when
//            the row is constant (or the rounded scale is 0)
//   q      = clip(rint((x - offset) / scale), 0, 255)
//   x'     = q * scale + offset
//
// All arithmetic is float32 in the order numpy does it, so the bytes equal
// upstream's for the same rows.
#pragma once

#include <cstdint>
#include <string>

namespace tzrec::artifacts {

inline constexpr char kQuantFormat[] = "QUint8RowwiseF16";
// Bytes of scale + offset after the codes.
inline constexpr int64_t kQuantScaleOffsetBytes = 4;

// Bytes of one stored row: dim + 4.
inline int64_t QuantRowBytes(int64_t dim) { return dim + kQuantScaleOffsetBytes; }

// Checks that `dim` can be stored: the stored row must have an even number of
// bytes (upstream's GPU lookup reads it in 16-bit units). ConfigError naming
// `table` otherwise.
void CheckQuantDim(int64_t dim, const std::string& table);

// Quantizes `rows` float rows of `dim` values from `in` into `out`
// (rows * (dim + 4) bytes). `first_row` is the global index of the first row,
// for errors: a row with a NaN or infinity, or whose offset or scale does not
// fit float16, is an Error naming `table` and the row.
void QuantizeRows(const float* in, int64_t rows, int64_t dim, uint8_t* out,
                  const std::string& table, int64_t first_row);

// The inverse: `rows` stored rows of `dim` values to floats.
void DequantizeRows(const uint8_t* in, int64_t rows, int64_t dim, float* out);

// Error naming `table` and the row of the first value of `in` (rows x dim)
// that is NaN or infinite; nothing when all are finite.
void CheckFiniteRows(const float* in, int64_t rows, int64_t dim, const std::string& table,
                     int64_t first_row);

}  // namespace tzrec::artifacts
