// Group widths are computed twice: by validation and the config summary
// (features/feature_groups.h, no libtorch) and by the embedding group the model
// is built on (models/modules/embedding_group.h). On every upstream example
// config whose groups the model builder takes, both give every group the same
// member widths.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "common/error.h"
#include "features/feature_groups.h"
#include "config/model_type.h"
#include "features/feature_factory.h"
#include "models/model_test_util.h"
#include "models/modules/embedding_group.h"

namespace tzrec::models {
namespace {

std::vector<int64_t> Widths(const std::vector<GroupMember>& members) {
  std::vector<int64_t> out;
  for (const GroupMember& m : members) out.push_back(m.dim);
  return out;
}

// The upstream example directories (../shared/upstream/<name>/pipeline.config).
std::vector<std::string> UpstreamNames() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(TZREC_SHARED_DIR) + "/upstream")) {
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(GroupWidthsTest, ValidationAndTheModelAgreeOnUpstreamConfigs) {
  int compared = 0;
  const std::vector<std::string> names = UpstreamNames();
  ASSERT_EQ(names.size(), 17u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const protos::EasyRecConfig config = testing::UpstreamConfigWithSmallTables(name);
    const std::vector<FeatureGroupLayout> expected = LayoutFeatureGroups(config);
    FeatureList features = CreateFeatures(config);
    EmbeddingGroupOptions options;
    options.wide_embedding_dim = WideEmbeddingDim(config.model_config());
    EmbeddingGroup built;
    try {
      built = BuildEmbeddingGroup(FeaturePointers(features), config.model_config().feature_groups(), options);
    } catch (const ConfigError& e) {
      // Group kinds the builder refuses by name (e.g. JAGGED_SEQUENCE): nothing to compare.
      continue;
    }
    for (const FeatureGroupLayout& group : expected) {
      SCOPED_TRACE(group.name);
      if (!group.is_sequence_group()) {
        std::vector<int64_t> dims;
        for (uint32_t d : group.dims()) dims.push_back(d);
        EXPECT_EQ(built.layout.group_dims.at(group.name), dims);
        EXPECT_EQ(built.layout.group_total_dim.at(group.name), group.total_dim);
      }
      for (const SequenceGroupLayout& seq : group.sequence_groups) {
        EXPECT_EQ(built.layout.group_dims.at(seq.name + ".query"), Widths(seq.query));
        EXPECT_EQ(built.layout.group_dims.at(seq.name + ".sequence"), Widths(seq.sequence));
      }
    }
    ++compared;
  }
  // Most of the 17 configs are built (the refused ones use group kinds tzrec lacks).
  EXPECT_GE(compared, 12);
}

}  // namespace
}  // namespace tzrec::models
