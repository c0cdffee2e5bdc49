// The engine against upstream's golden fg.json files: every one loads in both
// modes, names its inputs as upstream's datasets do, and FG_DAG output encoded
// as FG_NONE columns parses back to the same batch.
#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "features/fg/fg_test_util.h"

namespace tzrec::fg {
namespace {

using namespace tzrec::fg::testing;
namespace fs = std::filesystem;

std::string Upstream(const std::string& rel) { return std::string(TZREC_SHARED_DIR) + "/upstream/" + rel; }

TEST(FgGoldenTest, EveryGoldenFgJsonBuildsInBothModes) {
  int files = 0;
  for (const auto& dir : fs::directory_iterator(Upstream(""))) {
    if (!dir.is_directory()) continue;
    for (const auto& file : fs::directory_iterator(dir.path())) {
      if (file.path().extension() != ".json") continue;
      ++files;
      SCOPED_TRACE(file.path().string());
      auto specs = LoadFgJson(file.path().string());
      EXPECT_FALSE(specs.empty());
      FgEngineOptions encoded;
      encoded.mode = FgMode::kEncoded;
      FgEngine none(specs, encoded);
      EXPECT_EQ(none.input_columns().size(), none.output_names().size());
      // FG_NONE example configs have no expressions: only FG builds when they do.
      bool has_inputs = true;
      for (const auto& s : specs) has_inputs = has_inputs && !s.inputs.empty();
      if (has_inputs) {
        FgEngine dag(specs, {});
        EXPECT_FALSE(dag.input_columns().empty());
      }
    }
  }
  EXPECT_EQ(files, 21);
}

TEST(FgGoldenTest, GroupedSequenceNamesFollowUpstream) {
  auto specs = LoadFgJson(Upstream("multi_tower_din_taobao/fg.json"));
  ASSERT_EQ(specs.size(), 19u);
  const FeatureSpec& seq = specs[16];
  EXPECT_EQ(seq.name, "click_50_seq__adgroup_id");
  EXPECT_TRUE(seq.is_grouped_sequence);
  EXPECT_EQ(seq.sequence_delim, "|");
  EXPECT_EQ(seq.sequence_length, 100);
  EXPECT_EQ(seq.inputs[0].column, "click_50_seq__adgroup_id");
  EXPECT_EQ(specs[0].inputs[0].column, "user_id");
  EXPECT_EQ(specs[14].boundaries.size(), 98u);
  EXPECT_EQ(specs[14].boundaries[0], 1.1f);
}

// Random raw taobao rows (the multi_tower_din example's fg.json).
Columns TaobaoRows(const FgEngine& engine, int rows, uint32_t seed) {
  std::mt19937 rng(seed);
  Columns cols;
  for (const auto& spec : engine.specs()) {
    auto& col = cols[spec.inputs[0].column];
    col.clear();
    for (int r = 0; r < rows; ++r) {
      auto id = [&]() { return std::to_string(rng() % static_cast<uint32_t>(spec.num_buckets.value_or(1000))); };
      if (rng() % 10 == 0) {
        col.push_back("");  // missing
      } else if (spec.is_sequence) {
        std::string s;
        int n = static_cast<int>(rng() % 5) + 1;
        for (int i = 0; i < n; ++i) s += (i ? "|" : "") + id();
        col.push_back(s);
      } else if (spec.type == FeatureType::kRaw) {
        col.push_back(fmt::format("{:.2f}", (rng() % 100000) / 10.0));
      } else {
        col.push_back(spec.hash_bucket_size ? "pid_" + id() : id());
      }
    }
  }
  return cols;
}

// FG output -> FG_NONE text, the way an offline FG job writes encoded tables.
Columns Encode(const FgEngine& engine, const FeatureBatch& batch) {
  Columns cols;
  for (const auto& col : batch.features) {
    const FeatureSpec* spec = nullptr;
    for (const auto& s : engine.specs()) {
      if (s.name == col.name) spec = &s;
    }
    auto& texts = cols[col.name];
    size_t v = 0, e = 0;
    for (int64_t r = 0; r < batch.num_rows; ++r) {
      std::string text;
      int64_t elements = col.sequence ? col.seq_lengths[r] : 1;
      for (int64_t k = 0; k < elements; ++k) {
        if (k) text += spec->sequence_delim;
        int64_t n = col.lengths[e++];
        for (int64_t i = 0; i < n; ++i) text += (i ? "\x03" : "") + std::to_string(col.ids[v++]);
      }
      texts.push_back(text);
    }
  }
  return cols;
}

TEST(FgGoldenTest, FgDagAndFgNoneAgreeOnTaobao) {
  auto specs = LoadFgJson(Upstream("multi_tower_din_taobao/fg.json"));
  FgEngine dag(specs, {});
  auto raw = TaobaoRows(dag, 200, 7);
  FeatureBatch fg = RunFg(dag, raw);
  ASSERT_EQ(fg.num_rows, 200);
  ASSERT_EQ(fg.features.size(), 19u);

  FgEngineOptions encoded;
  encoded.mode = FgMode::kEncoded;
  FgEngine none(specs, encoded);
  FeatureBatch parsed = RunFg(none, Encode(dag, fg));
  ASSERT_EQ(parsed.features.size(), fg.features.size());
  for (size_t i = 0; i < fg.features.size(); ++i) {
    const auto& a = fg.features[i];
    const auto& b = parsed.features[i];
    SCOPED_TRACE(a.name);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.ids, b.ids);
    EXPECT_EQ(a.lengths, b.lengths);
    EXPECT_EQ(a.seq_lengths, b.seq_lengths);
    EXPECT_EQ(a.has_key_lengths, b.has_key_lengths);
  }
  // Sequences were filled: missing rows take default "0" as one element.
  const FeatureColumn& seq = Col(fg, "click_50_seq__cate_id");
  for (int64_t len : seq.seq_lengths) EXPECT_GE(len, 1);
}

TEST(FgGoldenTest, CriteoDagNormalizesDenseAndHashesSparse) {
  FgEngine dag = FgEngine::FromFile(Upstream("dlrm_criteo/fg.json"), {});
  ASSERT_EQ(dag.input_columns().size(), 39u);
  Columns cols;
  for (int i = 0; i < 13; ++i) cols["int_" + std::to_string(i)] = {"1", ""};
  for (int i = 0; i < 26; ++i) cols["cat_" + std::to_string(i)] = {"0", ""};
  auto out = RunFg(dag, cols);
  const auto& dense = Col(out, "int_0");
  ASSERT_EQ(dense.dense.size(), 2u);
  EXPECT_FLOAT_EQ(dense.dense[0], std::log(4.0f));  // log(x+3)
  EXPECT_FLOAT_EQ(dense.dense[1], 0.0f);            // default "0", not normalized
  const auto& cat = Col(out, "cat_0");
  EXPECT_EQ(cat.lengths, (std::vector<int64_t>{1, 0}));
}

}  // namespace
}  // namespace tzrec::fg
