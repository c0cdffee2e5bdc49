#include "features/fg/feature_batch.h"

#include <gtest/gtest.h>

namespace tzrec::fg {
namespace {

TEST(RowTexts, EachRowsValuesOfEveryLayout) {
  FeatureColumn sparse;
  sparse.ids = {4, 5, 6};
  sparse.lengths = {2, 0, 1};
  EXPECT_EQ(RowTexts(sparse, 3), (std::vector<std::string>{"4,5", "", "6"}));

  FeatureColumn dense;
  dense.sparse = false;
  dense.dense_dim = 2;
  dense.dense = {0.5f, 1, 2, 3};
  EXPECT_EQ(RowTexts(dense, 2), (std::vector<std::string>{"0.5,1", "2,3"}));

  FeatureColumn sequence;  // row 0: [7], [8, 9]; row 1: none
  sequence.sequence = true;
  sequence.ids = {7, 8, 9};
  sequence.lengths = {1, 2};
  sequence.seq_lengths = {2, 0};
  EXPECT_EQ(RowTexts(sequence, 2), (std::vector<std::string>{"7;8,9", ""}));

  FeatureColumn dense_sequence;  // dim 1: row 0 has one element, row 1 two
  dense_sequence.sequence = true;
  dense_sequence.sparse = false;
  dense_sequence.dense = {1.5f, 2, 3};
  dense_sequence.seq_lengths = {1, 2};
  EXPECT_EQ(RowTexts(dense_sequence, 2), (std::vector<std::string>{"1.5", "2;3"}));
}

}  // namespace
}  // namespace tzrec::fg
