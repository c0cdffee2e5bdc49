#include "predict/faiss_index.h"

#include <faiss/Index.h>
#include <faiss/index_io.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>

#include "common/error.h"

namespace fs = std::filesystem;

namespace tzrec::predict {
namespace {

class FaissIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("tzrec_faiss_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Rows "item_<i>" with random 8-dim embeddings, in predict's output format.
  std::string WriteEmbeddings(int rows) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal;
    vectors_.assign(rows, std::vector<float>(8));
    const fs::path path = root_ / "item_emb.csv";
    std::ofstream out(path);
    out << "item_id,item_tower_emb\n";
    for (int i = 0; i < rows; ++i) {
      out << "item_" << i << ",\"";
      for (int d = 0; d < 8; ++d) {
        vectors_[i][d] = normal(rng);
        out << (d ? "," : "") << vectors_[i][d];
      }
      out << "\"\n";
    }
    return path.string();
  }

  FaissIndexOptions Options(const std::string& input, const std::string& type) {
    FaissIndexOptions options;
    options.embedding_input_path = input;
    options.index_output_dir = (root_ / "index").string();
    options.id_field = "item_id";
    options.embedding_field = "item_tower_emb";
    options.index_type = type;
    return options;
  }

  fs::path root_;
  std::vector<std::vector<float>> vectors_;
};

TEST_F(FaissIndexTest, ExactIndexFindsEachItemAndMapsIds) {
  const std::string input = WriteEmbeddings(50);
  FaissIndexSummary summary = CreateFaissIndex(Options(input, "FlatL2"));
  EXPECT_EQ(summary.num_embeddings, 50);
  EXPECT_EQ(summary.dim, 8);

  std::unique_ptr<faiss::Index> index(faiss::read_index((root_ / "index" / "faiss_index").c_str()));
  ASSERT_EQ(index->ntotal, 50);
  std::ifstream ids(root_ / "index" / "id_mapping");
  std::vector<std::string> mapping;
  for (std::string line; std::getline(ids, line);) mapping.push_back(line);
  ASSERT_EQ(mapping.size(), 50u);
  for (int i : {0, 17, 49}) {
    float distance = -1;
    faiss::Index::idx_t label = -1;
    index->search(1, vectors_[i].data(), 1, &distance, &label);
    EXPECT_EQ(mapping[label], "item_" + std::to_string(i));
    EXPECT_NEAR(distance, 0.0f, 1e-4);
  }
  for (const auto& entry : fs::directory_iterator(root_ / "index")) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

TEST_F(FaissIndexTest, IvfAndHnswIndexesBuild) {
  const std::string input = WriteEmbeddings(200);
  FaissIndexOptions ivf = Options(input, "IVFFlatIP");
  ivf.ivf_nlist = 4;
  EXPECT_EQ(CreateFaissIndex(ivf).num_embeddings, 200);
  std::unique_ptr<faiss::Index> index(faiss::read_index((root_ / "index" / "faiss_index").c_str()));
  EXPECT_EQ(index->metric_type, faiss::METRIC_INNER_PRODUCT);
  EXPECT_EQ(index->ntotal, 200);
  EXPECT_EQ(CreateFaissIndex(Options(input, "HNSWFlatIP")).num_embeddings, 200);
}

TEST_F(FaissIndexTest, BadInputsAreNamed) {
  const std::string input = WriteEmbeddings(10);
  auto message = [&](const FaissIndexOptions& options) {
    try {
      CreateFaissIndex(options);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(Options(input, "IVFFlatIP")).find("needs at least --ivf_nlist=1000 embeddings"),
            std::string::npos);
  EXPECT_NE(message(Options(input, "PQ8")).find("--index_type PQ8 is unknown"), std::string::npos);
  FaissIndexOptions wrong_column = Options(input, "FlatIP");
  wrong_column.embedding_field = "emb";
  EXPECT_NE(message(wrong_column).find("no embedding column 'emb'"), std::string::npos);

  std::ofstream(root_ / "bad.csv") << "item_id,item_tower_emb\na,\"1,2\"\nb,\"1,x\"\n";
  EXPECT_NE(message(Options((root_ / "bad.csv").string(), "FlatIP")).find("bad.csv:3: embedding value 'x'"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(root_ / "index" / "faiss_index"));
}

}  // namespace
}  // namespace tzrec::predict
