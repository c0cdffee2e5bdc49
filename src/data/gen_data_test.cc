#include "data/gen_data.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "common/test_support.h"
#include "config/pipeline_config.h"
#include "features/feature_factory.h"

namespace tzrec::data {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

std::string Upstream(const std::string& name) {
  return std::string(TZREC_SHARED_DIR) + "/upstream/" + name + "/pipeline.config";
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "gen_data_test_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Sub(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + sep.size();
  }
}

// A CSV file as a header and rows of cells (no quoted cells in these tests).
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  int Col(const std::string& name) const {
    auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << name;
    return static_cast<int>(it - header.begin());
  }
};

Table ReadTable(const std::string& path, const std::string& delim = ",", bool header = true) {
  Table t;
  std::string content = ReadAll(path);
  EXPECT_FALSE(content.empty());
  EXPECT_EQ(content.back(), '\n');
  std::vector<std::string> lines = Split(content.substr(0, content.size() - 1), "\n");
  size_t first = 0;
  if (header) {
    t.header = Split(lines[0], delim);
    first = 1;
  }
  for (size_t i = first; i < lines.size(); ++i) {
    t.rows.push_back(Split(lines[i], delim));
    EXPECT_EQ(t.rows.back().size(), header ? t.header.size() : t.rows[0].size())
        << path << " line " << i + 1;
  }
  return t;
}

bool IsInt(const std::string& s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

double ToDouble(const std::string& s) {
  size_t used = 0;
  double v = std::stod(s, &used);
  EXPECT_EQ(used, s.size()) << s;
  return v;
}

// AUC of `scores` against 0/1 `labels` (the pair-count reference).
double Auc(const std::vector<double>& scores, const std::vector<int>& labels) {
  return testing::PairCountAuc(scores, std::vector<double>(labels.begin(), labels.end()));
}

// Holdout AUC of a naive additive score over `columns`: each value's (or float
// decile's) mean label is learned on the first half and scores the second half.
double HoldoutAuc(const Table& t, const std::string& label, const std::vector<std::string>& columns,
                  const std::map<std::string, bool>& is_float) {
  int label_col = t.Col(label);
  size_t half = t.rows.size() / 2;
  std::vector<std::map<std::string, std::pair<double, double>>> stats(columns.size());
  auto key = [&](size_t c, const std::vector<std::string>& row) {
    const std::string& v = row[t.Col(columns[c])];
    if (is_float.at(columns[c])) {
      return std::to_string(static_cast<int>(ToDouble(Split(v, "\x03")[0]) * 4));
    }
    return v;
  };
  double base = 0;
  for (size_t r = 0; r < half; ++r) base += t.rows[r][label_col] == "1";
  base /= half;
  for (size_t r = 0; r < half; ++r) {
    for (size_t c = 0; c < columns.size(); ++c) {
      auto& s = stats[c][key(c, t.rows[r])];
      s.first += t.rows[r][label_col] == "1";
      s.second += 1;
    }
  }
  std::vector<double> scores;
  std::vector<int> labels;
  for (size_t r = half; r < t.rows.size(); ++r) {
    double score = 0;
    for (size_t c = 0; c < columns.size(); ++c) {
      auto it = stats[c].find(key(c, t.rows[r]));
      double mean = base;
      if (it != stats[c].end()) mean = (it->second.first + 5 * base) / (it->second.second + 5);
      score += std::log(mean / (1 - mean));
    }
    scores.push_back(score);
    labels.push_back(t.rows[r][label_col] == "1");
  }
  return Auc(scores, labels);
}

TEST(GenDataTest, CriteoFgNoneColumnsRangesAndLabels) {
  TempDir tmp;
  auto config = LoadPipelineConfig(Upstream("deepfm_criteo"));
  GenDataOptions options;
  options.output_dir = tmp.Sub("out");
  options.num_rows = 20000;
  options.seed = 7;
  GenDataSummary summary = GenerateData(config, options);

  std::vector<std::string> expected;
  for (int i = 0; i < 13; ++i) expected.push_back("int_" + std::to_string(i));
  for (int i = 0; i < 26; ++i) expected.push_back("cat_" + std::to_string(i));
  expected.push_back("label");
  EXPECT_THAT(summary.columns, ElementsAreArray(expected));
  EXPECT_THAT(GenDataColumns(config), ElementsAreArray(expected));
  EXPECT_EQ(summary.train_rows, 18000);
  EXPECT_EQ(summary.eval_rows, 2000);

  Table train = ReadTable(summary.train_path);
  Table eval = ReadTable(summary.eval_path);
  EXPECT_THAT(train.header, ElementsAreArray(expected));
  EXPECT_THAT(eval.header, ElementsAreArray(expected));
  ASSERT_EQ(train.rows.size(), 18000u);
  ASSERT_EQ(eval.rows.size(), 2000u);

  std::map<std::string, uint64_t> buckets;
  for (const auto& fc : config.feature_configs()) {
    if (fc.has_id_feature()) buckets[fc.id_feature().feature_name()] = fc.id_feature().num_buckets();
  }
  std::map<std::string, std::set<std::string>> distinct;
  int positives = 0;
  for (const auto& row : train.rows) {
    for (int i = 0; i < 13; ++i) {
      double v = ToDouble(row[i]);
      EXPECT_GE(v, 0.0);
      EXPECT_LT(v, 4.0);
    }
    for (int i = 0; i < 26; ++i) {
      const std::string& cell = row[13 + i];
      ASSERT_TRUE(IsInt(cell)) << cell;
      EXPECT_LT(std::stoull(cell), buckets["cat_" + std::to_string(i)]) << "cat_" << i;
      if (distinct[expected[13 + i]].size() < 5000) distinct[expected[13 + i]].insert(cell);
    }
    ASSERT_TRUE(row[39] == "0" || row[39] == "1");
    positives += row[39] == "1";
  }
  // cat_5 has 3 buckets: all of them show up; big tables give many distinct ids.
  EXPECT_EQ(distinct["cat_5"].size(), 3u);
  EXPECT_GT(distinct["cat_0"].size(), 1000u);
  // Skewed: the most frequent id of a big table is far above uniform.
  std::map<std::string, int> counts;
  int top = 0;
  for (const auto& row : train.rows) top = std::max(top, ++counts[row[13]]);
  EXPECT_GT(top, 50);
  // Labels are not constant.
  EXPECT_GT(positives, 18000 * 0.1);
  EXPECT_LT(positives, 18000 * 0.9);

  // The label depends on the chosen columns and not on the others.
  ASSERT_EQ(summary.label_rules.size(), 1u);
  const LabelRule& rule = summary.label_rules[0];
  EXPECT_EQ(rule.label, "label");
  EXPECT_GE(rule.columns.size(), 2u);
  EXPECT_LE(rule.columns.size(), 4u);
  std::map<std::string, bool> is_float;
  for (const auto& name : expected) is_float[name] = name.rfind("int_", 0) == 0;
  double chosen_auc = HoldoutAuc(train, "label", rule.columns, is_float);
  EXPECT_GT(chosen_auc, 0.65) << "label should follow its chosen columns";
  std::string unused;
  for (const auto& name : {"int_3", "cat_5", "int_9", "cat_2"}) {
    if (std::find(rule.columns.begin(), rule.columns.end(), name) == rule.columns.end()) {
      unused = name;
      break;
    }
  }
  ASSERT_FALSE(unused.empty());
  EXPECT_LT(std::abs(HoldoutAuc(train, "label", {unused}, is_float) - 0.5), 0.04) << unused;
}

TEST(GenDataTest, MmoeFgDagRawColumnsAndTwoLabels) {
  TempDir tmp;
  auto config = LoadPipelineConfig(Upstream("mmoe_taobao"));
  GenDataOptions options;
  options.output_dir = tmp.Sub("out");
  options.num_rows = 4000;
  options.eval_rows = 500;
  GenDataSummary summary = GenerateData(config, options);
  std::vector<std::string> expected = {
      "user_id", "cms_segid", "cms_group_id", "final_gender_code", "age_level", "pvalue_level",
      "shopping_level", "occupation", "new_user_class_level", "adgroup_id", "cate_id",
      "campaign_id", "customer", "brand", "price", "pid", "clk", "buy"};
  EXPECT_THAT(summary.columns, ElementsAreArray(expected));
  Table train = ReadTable(summary.train_path);
  EXPECT_THAT(train.header, ElementsAreArray(expected));
  EXPECT_EQ(train.rows.size(), 3500u);
  EXPECT_EQ(ReadTable(summary.eval_path).rows.size(), 500u);

  // Raw ids for num_buckets features are integers in range; pid (hash_bucket_size)
  // is a string id; price spreads over its boundaries.
  std::map<std::string, uint64_t> buckets;
  std::vector<float> boundaries;
  for (const auto& fc : config.feature_configs()) {
    if (fc.has_id_feature() && fc.id_feature().has_num_buckets()) {
      buckets[fc.id_feature().feature_name()] = fc.id_feature().num_buckets();
    }
    if (fc.has_raw_feature()) {
      boundaries.assign(fc.raw_feature().boundaries().begin(), fc.raw_feature().boundaries().end());
    }
  }
  ASSERT_EQ(buckets.size(), 14u);
  std::set<size_t> price_buckets;
  std::set<std::string> pids;
  for (const auto& row : train.rows) {
    for (const auto& [name, size] : buckets) {
      const std::string& cell = row[train.Col(name)];
      ASSERT_TRUE(IsInt(cell)) << name << "=" << cell;
      EXPECT_LT(std::stoull(cell), size) << name;
    }
    double price = ToDouble(row[train.Col("price")]);
    price_buckets.insert(std::upper_bound(boundaries.begin(), boundaries.end(), price) -
                         boundaries.begin());
    pids.insert(row[train.Col("pid")]);
  }
  EXPECT_EQ(price_buckets.size(), boundaries.size() + 1) << "every price bucket is used";
  EXPECT_GT(pids.size(), 5u);
  EXPECT_LE(pids.size(), 20u);
  for (const auto& pid : pids) EXPECT_EQ(pid.size(), 8u) << pid;

  // Each label has its own rule and is not constant.
  ASSERT_EQ(summary.label_rules.size(), 2u);
  EXPECT_EQ(summary.label_rules[0].label, "clk");
  EXPECT_EQ(summary.label_rules[1].label, "buy");
  EXPECT_NE(summary.label_rules[0].columns, summary.label_rules[1].columns);
  for (const char* label : {"clk", "buy"}) {
    std::set<std::string> values;
    for (const auto& row : train.rows) values.insert(row[train.Col(label)]);
    EXPECT_EQ(values, (std::set<std::string>{"0", "1"})) << label;
  }
}

TEST(GenDataTest, DssmGroupedSequenceColumns) {
  TempDir tmp;
  auto config = LoadPipelineConfig(Upstream("dssm_taobao"));
  GenDataOptions options;
  options.output_dir = tmp.Sub("out");
  options.num_rows = 1000;
  GenDataSummary summary = GenerateData(config, options);
  std::vector<std::string> expected = {
      "user_id", "cms_segid", "cms_group_id", "final_gender_code", "age_level", "pvalue_level",
      "shopping_level", "occupation", "new_user_class_level", "adgroup_id", "cate_id",
      "campaign_id", "customer", "brand", "price", "pid", "click_50_seq__adgroup_id",
      "click_50_seq__cate_id", "click_50_seq__brand", "clk"};
  EXPECT_THAT(summary.columns, ElementsAreArray(expected));
  Table train = ReadTable(summary.train_path);
  EXPECT_EQ(train.rows.size(), 900u);
  const std::map<std::string, uint64_t> seq_buckets = {
      {"click_50_seq__adgroup_id", 846812}, {"click_50_seq__cate_id", 12961},
      {"click_50_seq__brand", 461498}};
  std::set<size_t> lengths;
  for (const auto& row : train.rows) {
    size_t length = 0;
    for (const auto& [name, size] : seq_buckets) {
      std::vector<std::string> items = Split(row[train.Col(name)], "|");
      if (length == 0) length = items.size();
      EXPECT_EQ(items.size(), length) << "a sequence group shares its length";
      for (const auto& item : items) {
        ASSERT_TRUE(IsInt(item)) << name << ": " << item;
        EXPECT_LT(std::stoull(item), size);
      }
    }
    EXPECT_GE(length, 1u);
    EXPECT_LE(length, 100u);
    lengths.insert(length);
  }
  EXPECT_GT(lengths.size(), 3u) << "sequence lengths vary";
}

constexpr char kSmallConfig[] = R"pb(
train_input_path: "x"
eval_input_path: "y"
model_dir: "z"
data_config {
  fg_mode: FG_NONE
  fg_encoded_multival_sep: "|"
  label_fields: "score"
  sample_weight_fields: "w"
}
feature_configs { raw_feature { feature_name: "emb" value_dim: 3 } }
feature_configs { raw_feature { feature_name: "age" boundaries: [10, 20, 30] } }
feature_configs { id_feature { feature_name: "tags" hash_bucket_size: 50 value_dim: 0 } }
feature_configs { id_feature { feature_name: "city" vocab_list: ["a", "b", "c"] } }
feature_configs {
  sequence_feature {
    sequence_name: "hist"
    sequence_length: 5
    sequence_delim: ";"
    features { id_feature { feature_name: "item" num_buckets: 7 } }
    features { raw_feature { feature_name: "ts" value_dim: 2 } }
  }
}
model_config {
  losses { l2_loss {} }
}
)pb";

TEST(GenDataTest, FgNoneMultiValuesSequencesRegressionAndWeights) {
  TempDir tmp;
  auto config = ParsePipelineConfigText(kSmallConfig, "small.config");
  GenDataOptions options;
  options.output_dir = tmp.Sub("out");
  options.num_rows = 2000;
  GenDataSummary summary = GenerateData(config, options);
  EXPECT_THAT(summary.columns, ElementsAreArray({"emb", "age", "tags", "city", "hist__item",
                                                 "hist__ts", "score", "w"}));
  ASSERT_EQ(summary.label_rules.size(), 1u);
  EXPECT_EQ(summary.label_rules[0].kind, LabelRule::Kind::kRegression);
  Table t = ReadTable(summary.train_path);
  std::set<size_t> tag_counts;
  std::set<std::string> scores;
  for (const auto& row : t.rows) {
    EXPECT_EQ(Split(row[0], "|").size(), 3u) << "value_dim 3 joined by fg_encoded_multival_sep";
    ASSERT_TRUE(IsInt(row[1]));
    EXPECT_LT(std::stoi(row[1]), 4) << "boundaries encode to bucket ids";
    std::vector<std::string> tags = Split(row[2], "|");
    tag_counts.insert(tags.size());
    for (const auto& tag : tags) EXPECT_LT(std::stoi(tag), 50);
    EXPECT_LT(std::stoi(row[3]), 5) << "vocab_list ids: [default, <OOV>, a, b, c]";
    std::vector<std::string> items = Split(row[4], ";"), ts = Split(row[5], ";");
    EXPECT_EQ(items.size(), ts.size());
    EXPECT_LE(items.size(), 5u);
    for (const auto& item : items) EXPECT_LT(std::stoi(item), 7);
    for (const auto& element : ts) EXPECT_EQ(Split(element, "|").size(), 2u);
    scores.insert(row[6]);
    ToDouble(row[6]);
    double w = ToDouble(row[7]);
    EXPECT_GT(w, 0.0);
  }
  EXPECT_GT(tag_counts.size(), 1u) << "value_dim 0 gives multi-value ids";
  EXPECT_GT(scores.size(), 100u) << "regression labels are floats";
}

TEST(GenDataTest, FgDagSeparatorsVocabAndInputFieldsLayout) {
  TempDir tmp;
  auto config = ParsePipelineConfigText(R"pb(
    train_input_path: "x" eval_input_path: "y" model_dir: "z"
    data_config {
      fg_mode: FG_DAG
      label_fields: "clk"
      delimiter: "\t"
      input_fields { input_name: "clk" }
      input_fields { input_name: "extra" }
      input_fields { input_name: "tags" }
      input_fields { input_name: "city" }
      input_fields { input_name: "vec" }
      input_fields { input_name: "q" }
      input_fields { input_name: "title" }
    }
    feature_configs { id_feature { feature_name: "tags" expression: "item:tags" hash_bucket_size: 10 value_dim: 0 } }
    feature_configs { id_feature { feature_name: "city_id" expression: "user:city" vocab_list: ["bj", "sh", "hz"] } }
    feature_configs { raw_feature { feature_name: "vec" expression: "item:vec" value_dim: 4 } }
    feature_configs { combo_feature { feature_name: "c" expression: ["user:city", "item:tags"] hash_bucket_size: 10 } }
    feature_configs { overlap_feature { feature_name: "o" query: "user:q" title: "item:title" method: "is_contain" } }
  )pb");
  GenDataOptions options;
  options.output_dir = tmp.Sub("out");
  options.num_rows = 500;
  GenDataSummary summary = GenerateData(config, options);
  std::vector<std::string> expected = {"clk", "extra", "tags", "city", "vec", "q", "title"};
  EXPECT_THAT(summary.columns, ElementsAreArray(expected));
  EXPECT_FALSE(summary.header) << "input_fields without with_header: no header row";
  Table t = ReadTable(summary.train_path, "\t", /*header=*/false);
  ASSERT_EQ(t.rows.size(), 450u);
  std::set<size_t> tag_counts;
  for (const auto& row : t.rows) {
    ASSERT_EQ(row.size(), expected.size());
    EXPECT_TRUE(row[0] == "0" || row[0] == "1");
    tag_counts.insert(Split(row[2], "\x1d").size());
    EXPECT_THAT((std::vector<std::string>{"bj", "sh", "hz"}), ::testing::Contains(row[3]));
    EXPECT_EQ(Split(row[4], "\x1d").size(), 4u) << "raw value_dim joined by \\x1d";
    EXPECT_FALSE(row[5].empty());
    EXPECT_FALSE(row[6].empty());
  }
  EXPECT_GT(tag_counts.size(), 1u);

  // with_header: true writes the header even with input_fields.
  config.mutable_data_config()->set_with_header(true);
  options.output_dir = tmp.Sub("out2");
  summary = GenerateData(config, options);
  EXPECT_TRUE(summary.header);
  EXPECT_THAT(ReadTable(summary.train_path, "\t").header, ElementsAreArray(expected));

  // A feature input missing from input_fields is a config error naming it.
  config.mutable_data_config()->mutable_input_fields()->RemoveLast();
  try {
    GenDataColumns(config);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("\"title\""));
  }
}

TEST(GenDataTest, LabelThatIsAFeatureInputIsOneColumn) {
  // pepnet_taobao's third label, occupation, is also a feature input.
  auto config = LoadPipelineConfig(Upstream("pepnet_taobao"));
  std::vector<std::string> columns = GenDataColumns(config);
  EXPECT_EQ(std::count(columns.begin(), columns.end(), "occupation"), 1);
  EXPECT_EQ(std::count(columns.begin(), columns.end(), "clk"), 1);
  EXPECT_EQ(std::count(columns.begin(), columns.end(), "buy"), 1);
}

// gen_data reads feature configs on its own (reflection); the feature library's
// inputs() is the other account of the same rule. Both must name the same columns
// for every upstream example.
TEST(GenDataTest, ColumnsMatchFeatureInputsForAllUpstreamConfigs) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(std::string(TZREC_SHARED_DIR) + "/upstream")) {
    if (!fs::exists(entry.path() / "pipeline.config")) continue;
    SCOPED_TRACE(entry.path().filename().string());
    auto config = LoadPipelineConfig((entry.path() / "pipeline.config").string());
    FeatureList features = CreateFeatures(config);
    bool encoded = config.data_config().fg_mode() == protos::FG_NONE ||
                   config.data_config().fg_mode() == protos::FG_BUCKETIZE;
    std::vector<std::string> expected;
    auto add = [&](const std::string& name) {
      if (std::find(expected.begin(), expected.end(), name) == expected.end()) {
        expected.push_back(name);
      }
    };
    for (const auto& f : features) {
      if (encoded) {
        if (!f->stub_type()) add(f->name());
        continue;
      }
      for (const auto& input : f->side_inputs()) {
        if (input.side != "feature" && input.side != "const") add(input.name);
      }
    }
    for (const auto& label : config.data_config().label_fields()) add(label);
    for (const auto& weight : config.data_config().sample_weight_fields()) add(weight);
    EXPECT_THAT(GenDataColumns(config), ElementsAreArray(expected));
    ++checked;
  }
  EXPECT_EQ(checked, 17);
}

TEST(GenDataTest, DeterministicPerSeedAndThreadCount) {
  TempDir tmp;
  auto config = LoadPipelineConfig(Upstream("dssm_taobao"));
  auto run = [&](const std::string& dir, uint64_t seed, int threads) {
    GenDataOptions options;
    options.output_dir = tmp.Sub(dir);
    options.num_rows = 10000;  // several chunks
    options.seed = seed;
    options.num_threads = threads;
    GenDataSummary s = GenerateData(config, options);
    return ReadAll(s.train_path) + ReadAll(s.eval_path);
  };
  std::string a = run("a", 11, 2), b = run("b", 11, 2), c = run("c", 11, 1), d = run("d", 11, 3);
  std::string e = run("e", 12, 2);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c) << "thread count must not change the bytes";
  EXPECT_EQ(a, d);
  EXPECT_NE(a, e);
}

TEST(GenDataTest, BadOptionsAndConfigs) {
  TempDir tmp;
  auto config = LoadPipelineConfig(Upstream("mmoe_taobao"));
  GenDataOptions options;
  options.output_dir = tmp.Sub("out");
  options.num_rows = 0;
  EXPECT_THROW(GenerateData(config, options), ConfigError);
  options.num_rows = 10;
  options.eval_rows = 11;
  EXPECT_THROW(GenerateData(config, options), ConfigError);

  // FG_DAG needs expressions: deepfm_criteo leaves them out.
  auto criteo = LoadPipelineConfig(Upstream("deepfm_criteo"));
  criteo.mutable_data_config()->set_fg_mode(protos::FG_DAG);
  try {
    GenDataColumns(criteo);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("int_0"));
    EXPECT_THAT(e.what(), HasSubstr("expression"));
  }
}

int RunBinary(const std::string& args, std::string* output) {
  const testing::CommandResult result = testing::RunTzrec(args);
  output->append(result.output);
  return result.exit_code;
}

TEST(GenDataCliTest, HelpRunAndErrors) {
  std::string help;
  ASSERT_EQ(RunBinary("gen_data --help", &help), 0) << help;
  for (const char* flag : {"--pipeline_config_path", "--output_dir", "--num_rows", "--eval_rows",
                           "--seed"}) {
    EXPECT_THAT(help, HasSubstr(flag));
  }
  TempDir tmp;
  std::string out;
  ASSERT_EQ(RunBinary("gen_data --pipeline_config_path " + Upstream("mmoe_taobao") +
                          " --output_dir " + tmp.Sub("d") + " --num_rows 100 --seed 3",
                      &out),
            0)
      << out;
  EXPECT_EQ(ReadTable(tmp.Sub("d/train.csv")).rows.size(), 90u);
  EXPECT_EQ(ReadTable(tmp.Sub("d/eval.csv")).rows.size(), 10u);

  std::string err;
  EXPECT_EQ(RunBinary("gen_data --pipeline_config_path " + Upstream("mmoe_taobao") +
                          " --output_dir " + tmp.Sub("e") + " --num_rows 0",
                      &err),
            2);
  EXPECT_THAT(err, HasSubstr("--num_rows"));
}

}  // namespace
}  // namespace tzrec::data
