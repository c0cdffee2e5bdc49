#include "features/embedding_tables.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/error.h"
#include "config/pipeline_config.h"
#include "features/feature_test_util.h"

namespace tzrec {
namespace {

using testing::Build;

constexpr char kFeatures[] = R"(
  feature_configs { id_feature { feature_name: "a" expression: "user:a" num_buckets: 10
                                 embedding_dim: 8 embedding_name: "shared" } }
  feature_configs { id_feature { feature_name: "b" expression: "item:b" num_buckets: 10
                                 embedding_dim: 8 embedding_name: "shared" } }
  feature_configs { id_feature { feature_name: "c" expression: "item:c" num_buckets: 11
                                 embedding_dim: 8 embedding_name: "shared" } })";

TEST(EmbeddingTablesTest, WideGroupAndSuffixRenameTables) {
  const auto built = Build(kFeatures);
  protos::FeatureGroupConfig deep;
  deep.set_group_name("deep");
  EXPECT_EQ(GroupEmbeddingTable(built[0], deep, 4).name, "shared");
  EXPECT_EQ(GroupEmbeddingTable(built[0], deep, 4).embedding_dim, 8u);

  protos::FeatureGroupConfig wide;
  wide.set_group_name("wide");
  wide.set_group_type(protos::WIDE);
  const EmbeddingTable wide_table = GroupEmbeddingTable(built[0], wide, 4);
  EXPECT_EQ(wide_table.name, "shared_wide");
  EXPECT_EQ(wide_table.embedding_dim, 4u);
  EXPECT_EQ(wide_table.num_embeddings, 10u);

  deep.set_embedding_name_suffix("v2");
  EXPECT_EQ(GroupEmbeddingTable(built[0], deep, 4).name, "shared_v2");
}

TEST(EmbeddingTablesTest, SharedTablesMustAgree) {
  const auto built = Build(kFeatures);
  std::vector<SharedEmbeddingTable> tables;
  AddSharedTable(tables, built[0].embedding_table(), "a");
  AddSharedTable(tables, built[1].embedding_table(), "b");
  AddSharedTable(tables, built[1].embedding_table(), "b");
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_EQ(tables[0].feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_THROW(AddSharedTable(tables, built[2].embedding_table(), "c"), ConfigError);
}

// vocab_dict order survives the pipeline.config loader (fg.json keeps it).
TEST(EmbeddingTablesTest, VocabDictOrderThroughLoader) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("tzrec_vocab_order_" + std::to_string(::getpid()) + ".config");
  std::ofstream(path) << R"(
    feature_configs { id_feature { feature_name: "c" expression: "item:c" embedding_dim: 4
                                   vocab_dict { key: "z" value: 4 }
                                   vocab_dict { key: "a" value: 2 }
                                   vocab_dict { key: "m" value: 3 }
                                   vocab_dict { key: "q" value: 5 }
                                   vocab_dict { key: "b" value: 6 }
                                   vocab_dict { key: "y" value: 7 }
                                   vocab_dict { key: "c" value: 8 }
                                   vocab_dict { key: "k" value: 9 } } })";
  const protos::EasyRecConfig config = LoadPipelineConfig(path.string());
  std::filesystem::remove(path);
  const FeatureList features = CreateFeatures(config);
  const auto dict = features[0]->FgJson()[0]["vocab_dict"];
  std::vector<std::string> keys;
  for (auto it = dict.begin(); it != dict.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"z", "a", "m", "q", "b", "y", "c", "k"}));
}

}  // namespace
}  // namespace tzrec
