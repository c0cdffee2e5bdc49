#include "features/fg/hash_bucket.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace tzrec::fg {
namespace {

// Every vector upstream's FG must reproduce: input, bucket size, bucket.
TEST(HashBucketTest, MatchesAllSharedVectors) {
  std::ifstream in(std::string(TZREC_SHARED_DIR) + "/upstream/hash_vectors.tsv");
  ASSERT_TRUE(in) << "hash_vectors.tsv not found";
  std::string line;
  std::getline(in, line);  // header
  int rows = 0;
  while (std::getline(in, line)) {
    size_t t1 = line.find('\t');
    size_t t2 = line.find('\t', t1 + 1);
    ASSERT_NE(t2, std::string::npos) << line;
    std::string input = line.substr(0, t1);
    uint64_t size = std::stoull(line.substr(t1 + 1, t2 - t1 - 1));
    uint64_t bucket = std::stoull(line.substr(t2 + 1));
    EXPECT_EQ(HashToBucket(input, size, HashKind::kStdHash), bucket) << "input '" << input << "' size " << size;
    ++rows;
  }
  EXPECT_EQ(rows, 164);
}

TEST(HashBucketTest, UpstreamStdHashExamples) {
  EXPECT_EQ(HashToBucket("abc", 100, HashKind::kStdHash), 33u);
  EXPECT_EQ(HashToBucket("efg", 100, HashKind::kStdHash), 44u);
  EXPECT_EQ(HashToBucket("1", 100, HashKind::kStdHash), 95u);
  EXPECT_EQ(HashToBucket("4", 100, HashKind::kStdHash), 56u);
}

// upstream id_feature_test: with USE_FARM_HASH_TO_BUCKETIZE=true, 1 2 3 -> 49 59 21.
TEST(HashBucketTest, FarmHashExamples) {
  EXPECT_EQ(HashToBucket("1", 100, HashKind::kFarmHash), 49u);
  EXPECT_EQ(HashToBucket("2", 100, HashKind::kFarmHash), 59u);
  EXPECT_EQ(HashToBucket("3", 100, HashKind::kFarmHash), 21u);
}

TEST(HashBucketTest, EnvSelectsFarmHash) {
  unsetenv("USE_FARM_HASH_TO_BUCKETIZE");
  EXPECT_EQ(HashKindFromEnv(), HashKind::kStdHash);
  setenv("USE_FARM_HASH_TO_BUCKETIZE", "TRUE", 1);
  EXPECT_EQ(HashKindFromEnv(), HashKind::kFarmHash);
  setenv("USE_FARM_HASH_TO_BUCKETIZE", "false", 1);
  EXPECT_EQ(HashKindFromEnv(), HashKind::kStdHash);
  unsetenv("USE_FARM_HASH_TO_BUCKETIZE");
}

}  // namespace
}  // namespace tzrec::fg
