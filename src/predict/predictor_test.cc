// End to end: train a tiny DeepFM on raw CSV (FG_DAG) for a few steps, save a
// checkpoint, export it in FP32, and predict with both; check rows, order,
// columns, values against the model run directly, checkpoint/export parity
// (upstream's acceptance: within 1e-6), and the error cases.
#include "predict/predictor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/checkpoint_choice.h"
#include "common/error.h"
#include "common/test_support.h"
#include "config/pipeline_config.h"
#include "data/batch_iterator.h"
#include "data/data_options.h"
#include "export/exporter.h"
#include "features/feature_factory.h"
#include "features/fg_json.h"
#include "models/model.h"
#include "train/trainer.h"

namespace tzrec::predict {
namespace {

namespace fs = std::filesystem;
using tzrec::testing::ReadTextFile;
using tzrec::testing::WriteTextFile;

constexpr int kRows = 300;
constexpr int kTrainSteps = 5;

constexpr char kConfig[] = R"(
model_dir: "{root}/model"
train_config {{
  sparse_optimizer {{ adagrad_optimizer {{ lr: 0.05 }} constant_learning_rate {{}} }}
  dense_optimizer {{ adam_optimizer {{ lr: 0.01 }} constant_learning_rate {{}} }}
  num_steps: {steps}
}}
data_config {{
  batch_size: 64
  with_header: true
  fg_mode: FG_DAG
  label_fields: "label"
  num_workers: 2
}}
feature_configs {{ id_feature {{ feature_name: "user_id" expression: "user:user_id" hash_bucket_size: 50 embedding_dim: 8 }} }}
feature_configs {{ raw_feature {{ feature_name: "age" expression: "user:age" }} }}
feature_configs {{ id_feature {{ feature_name: "item_id" expression: "item:item_id" hash_bucket_size: 40 embedding_dim: 8 }} }}
feature_configs {{ id_feature {{ feature_name: "tags" expression: "item:tags" hash_bucket_size: 30 embedding_dim: 8 pooling: "mean" }} }}
feature_configs {{ raw_feature {{ feature_name: "price" expression: "item:price" }} }}
model_config {{
  feature_groups {{ group_name: "wide" feature_names: "user_id" feature_names: "item_id" feature_names: "tags" group_type: WIDE }}
  feature_groups {{ group_name: "fm" feature_names: "user_id" feature_names: "item_id" feature_names: "tags" group_type: DEEP }}
  feature_groups {{ group_name: "deep" feature_names: "user_id" feature_names: "age" feature_names: "item_id" feature_names: "tags" feature_names: "price" group_type: DEEP }}
  deepfm {{ deep {{ hidden_units: [16, 8] }} final {{ hidden_units: [8] }} }}
  metrics {{ auc {{}} }}
  losses {{ binary_cross_entropy {{}} }}
}}
)";

// Raw input rows; request_id is a reserved column, "note" one that needs quoting.
std::string MakeCsv(int rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out = "request_id,user_id,age,item_id,tags,price,note,label\n";
  for (int r = 0; r < rows; ++r) {
    const int user = static_cast<int>(rng() % 30);
    const int item = static_cast<int>(rng() % 25);
    std::string tags;
    const int ntags = static_cast<int>(rng() % 3);
    for (int t = 0; t < ntags; ++t) tags += (t ? "\x1d" : "") + fmt::format("t{}", rng() % 12);
    const double age = (rng() % 600) / 10.0;
    const double price = (rng() % 1000) / 100.0;
    const int label = (user + item) % 3 == 0 ? 1 : 0;
    out += fmt::format("req{:04d},u{},{},i{},{},{},\"n,{}\",{}\n", r, user, age, item, tags, price, r, label);
  }
  return out;
}

// A parsed CSV (our own output): header and rows of fields.
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  size_t Column(const std::string& name) const {
    auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << name;
    return static_cast<size_t>(it - header.begin());
  }
};

std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

Table ReadTable(const std::string& path) {
  Table table;
  std::istringstream in(ReadTextFile(path));
  std::string line;
  std::getline(in, line);
  table.header = SplitCsvLine(line);
  while (std::getline(in, line)) table.rows.push_back(SplitCsvLine(line));
  return table;
}

std::optional<std::string> Fp32Env(const std::string& name) {
  if (name == "QUANT_EMB") return std::string("FP32");
  return std::nullopt;
}

using testing::ErrorOf;

class PredictTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("tzrec_predict_test_" + std::to_string(::getpid())));
    fs::remove_all(*root_);
    config_path_ = new std::string((*root_ / "pipeline.config").string());
    data_path_ = new std::string((*root_ / "data" / "input.csv").string());
    WriteTextFile(*config_path_, fmt::format(kConfig, fmt::arg("root", root_->string()),
                                         fmt::arg("steps", kTrainSteps)));
    WriteTextFile(*data_path_, MakeCsv(kRows, 7));
    Train();
    export_dir_ = new std::string((*root_ / "export").string());
    exporting::ExportRequest request;
    request.pipeline_config_path = *config_path_;
    request.export_dir = *export_dir_;
    exporting::Export(request, Fp32Env);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
    delete config_path_;
    delete data_path_;
    delete export_dir_;
  }

  // A few optimizer steps on the raw CSV, through the same FG path training uses.
  static void Train() {
    protos::EasyRecConfig config = LoadPipelineConfig(*config_path_);
    FeatureList features = CreateFeatures(config);
    auto model = models::BuildModel(config, FeaturePointers(features));
    train::Trainer trainer(*model, config);
    auto engine = std::make_shared<fg::FgEngine>(
        fg::ParseFgJson(nlohmann::json::parse(CreateFgJson(FeaturePointers(features)).dump()), "test"),
        data::FgEngineOptionsFromConfig(config));
    data::BatchIterator batches(data::BatchIteratorOptionsFromConfig(config.data_config(), *data_path_, 0, false),
                                engine, data::DataParserOptionsFromConfig(config.data_config()));
    data::Batch batch;
    for (int step = 0; step < kTrainSteps; ++step) {
      ASSERT_TRUE(batches.Next(&batch));
      trainer.Step(batch.inputs, step, batch.epoch);
    }
    checkpoint::SaveCheckpoint(config.model_dir(), kTrainSteps - 1, model->StateDict(), {});
  }

  // The checkpoint model run directly on the whole file as one batch.
  static std::vector<float> ReferenceProbs() {
    protos::EasyRecConfig config = LoadPipelineConfig(*config_path_);
    FeatureList features = CreateFeatures(config);
    auto model = models::BuildModel(config, FeaturePointers(features));
    checkpoint::RestoreModel(*model, checkpoint::LatestCheckpoint(config.model_dir())->path);
    model->SetTraining(false);
    auto engine = std::make_shared<fg::FgEngine>(
        fg::ParseFgJson(nlohmann::json::parse(CreateFgJson(FeaturePointers(features)).dump()), "test"),
        data::FgEngineOptionsFromConfig(config));
    auto options = data::BatchIteratorOptionsFromConfig(config.data_config(), *data_path_, 1, false);
    options.batch_size = kRows;
    data::BatchIterator batches(options, engine, {});
    data::Batch batch;
    EXPECT_TRUE(batches.Next(&batch));
    at::NoGradGuard no_grad;
    at::Tensor probs = model->Forward(batch.inputs).at("probs").contiguous();
    return std::vector<float>(probs.data_ptr<float>(), probs.data_ptr<float>() + probs.numel());
  }

  std::string OutPath(const std::string& name) const { return (*root_ / "out" / name).string(); }

  PredictRequest CheckpointRequest(const std::string& out) const {
    PredictRequest r;
    r.pipeline_config_path = *config_path_;
    r.predict_input_path = *data_path_;
    r.predict_output_path = OutPath(out);
    return r;
  }
  PredictRequest ExportRequest(const std::string& out) const {
    PredictRequest r;
    r.scripted_model_path = *export_dir_;
    r.predict_input_path = *data_path_;
    r.predict_output_path = OutPath(out);
    return r;
  }
  // Nothing named `name` or `name.tmp-*` in the output directory.
  void ExpectNoOutput(const std::string& name) const {
    EXPECT_FALSE(fs::exists(OutPath(name)));
    if (!fs::exists(*root_ / "out")) return;
    for (const auto& entry : fs::directory_iterator(*root_ / "out")) {
      EXPECT_NE(entry.path().filename().string().rfind(name + ".tmp-", 0), 0u) << entry.path();
    }
  }

  static fs::path* root_;
  static std::string* config_path_;
  static std::string* data_path_;
  static std::string* export_dir_;
};

fs::path* PredictTest::root_ = nullptr;
std::string* PredictTest::config_path_ = nullptr;
std::string* PredictTest::data_path_ = nullptr;
std::string* PredictTest::export_dir_ = nullptr;

TEST_F(PredictTest, CheckpointPredictionsMatchTheModelRowByRow) {
  PredictRequest request = CheckpointRequest("ckpt.csv");
  request.reserved_columns = {"request_id", "note", "label"};
  request.batch_size = 17;  // batches end mid-file, across parser threads
  request.predict_threads = 3;
  PredictSummary summary = Predict(request);
  EXPECT_EQ(summary.rows, kRows);
  EXPECT_EQ(summary.batches, (kRows + 16) / 17);
  EXPECT_NE(summary.model_source.find("model.ckpt-4"), std::string::npos) << summary.model_source;

  Table table = ReadTable(request.predict_output_path);
  EXPECT_EQ(table.header, (std::vector<std::string>{"logits", "probs", "request_id", "note", "label"}));
  ASSERT_EQ(table.rows.size(), static_cast<size_t>(kRows));
  const std::vector<float> expected = ReferenceProbs();
  ASSERT_EQ(expected.size(), static_cast<size_t>(kRows));
  std::set<std::string> distinct;
  for (int r = 0; r < kRows; ++r) {
    const auto& row = table.rows[static_cast<size_t>(r)];
    ASSERT_EQ(row.size(), 5u) << r;
    EXPECT_EQ(row[2], fmt::format("req{:04d}", r));  // input order kept
    EXPECT_EQ(row[3], fmt::format("n,{}", r));       // quoted field survives
    const float logit = std::strtof(row[0].c_str(), nullptr);
    const float prob = std::strtof(row[1].c_str(), nullptr);
    EXPECT_NEAR(prob, expected[static_cast<size_t>(r)], 1e-6) << r;
    EXPECT_NEAR(prob, 1.0 / (1.0 + std::exp(-logit)), 1e-6) << r;
    distinct.insert(row[1]);
  }
  EXPECT_GT(distinct.size(), 20u);  // a trained model, not a constant
}

TEST_F(PredictTest, Fp32ExportPredictsLikeTheCheckpoint) {
  PredictRequest from_ckpt = CheckpointRequest("parity_ckpt.csv");
  from_ckpt.reserved_columns = {"request_id"};
  Predict(from_ckpt);
  PredictRequest from_export = ExportRequest("parity_export.csv");
  from_export.reserved_columns = {"request_id"};
  from_export.batch_size = 50;
  from_export.predict_threads = 2;
  PredictSummary summary = Predict(from_export);
  EXPECT_EQ(summary.model_source, "export dir " + *export_dir_);

  Table a = ReadTable(from_ckpt.predict_output_path);
  Table b = ReadTable(from_export.predict_output_path);
  ASSERT_EQ(a.header, b.header);
  ASSERT_EQ(a.rows.size(), b.rows.size());
  const size_t probs = a.Column("probs"), logits = a.Column("logits"), id = a.Column("request_id");
  double max_diff = 0;
  for (size_t r = 0; r < a.rows.size(); ++r) {
    EXPECT_EQ(a.rows[r][id], b.rows[r][id]);
    max_diff = std::max(max_diff, std::fabs(std::strtod(a.rows[r][probs].c_str(), nullptr) -
                                            std::strtod(b.rows[r][probs].c_str(), nullptr)));
    max_diff = std::max(max_diff, std::fabs(std::strtod(a.rows[r][logits].c_str(), nullptr) -
                                            std::strtod(b.rows[r][logits].c_str(), nullptr)));
  }
  EXPECT_LE(max_diff, 1e-6);
}

TEST_F(PredictTest, InputTileExportPredictsLikeTheUntiledOne) {
  // An INPUT_TILE export expects a "batch_size" input; predict passes 1 (no
  // tiling) since every row carries its own user features.
  const std::string tiled_dir = (*root_ / "export_tile").string();
  exporting::ExportRequest export_request;
  export_request.pipeline_config_path = *config_path_;
  export_request.export_dir = tiled_dir;
  exporting::Export(export_request, [](const std::string& name) -> std::optional<std::string> {
    if (name == "QUANT_EMB") return std::string("FP32");
    if (name == "INPUT_TILE") return std::string("2");
    return std::nullopt;
  });
  PredictRequest plain = ExportRequest("untiled.csv");
  Predict(plain);
  PredictRequest tiled = ExportRequest("tiled.csv");
  tiled.scripted_model_path = tiled_dir;
  Predict(tiled);
  Table a = ReadTable(plain.predict_output_path), b = ReadTable(tiled.predict_output_path);
  ASSERT_EQ(a.rows.size(), b.rows.size());
  for (size_t r = 0; r < a.rows.size(); ++r) {
    EXPECT_NEAR(std::strtod(a.rows[r][1].c_str(), nullptr), std::strtod(b.rows[r][1].c_str(), nullptr), 1e-6);
  }
}

TEST_F(PredictTest, OutputColumnsStepsAndSeveralFiles) {
  // Two files through a glob, read in name order.
  const std::string csv = ReadTextFile(*data_path_);
  const std::string header = csv.substr(0, csv.find('\n') + 1);
  std::istringstream lines(csv.substr(header.size()));
  std::string part1 = header, part2 = header, line;
  for (int r = 0; std::getline(lines, line); ++r) (r < 100 ? part1 : part2) += line + "\n";
  WriteTextFile((*root_ / "split" / "b.csv").string(), part2);
  WriteTextFile((*root_ / "split" / "a.csv").string(), part1);

  PredictRequest request = ExportRequest("steps.csv");
  request.predict_input_path = (*root_ / "split" / "*.csv").string();
  request.output_columns = {"probs"};
  request.reserved_columns = {"request_id"};
  request.batch_size = 30;
  request.predict_steps = 5;  // 4 batches of a.csv (30, 30, 30, 10), then 30 rows of b.csv
  PredictSummary summary = Predict(request);
  EXPECT_EQ(summary.batches, 5);
  EXPECT_EQ(summary.rows, 130);
  Table table = ReadTable(request.predict_output_path);
  EXPECT_EQ(table.header, (std::vector<std::string>{"probs", "request_id"}));
  ASSERT_EQ(table.rows.size(), 130u);
  for (int r = 0; r < 130; ++r) EXPECT_EQ(table.rows[static_cast<size_t>(r)][1], fmt::format("req{:04d}", r));
}

TEST_F(PredictTest, ExistingOutputIsRefusedAndKept) {
  const std::string out = OutPath("exists.csv");
  WriteTextFile(out, "keep me");
  EXPECT_EQ(ErrorOf([&] { Predict(ExportRequest("exists.csv")); }),
            "predict_output_path " + out + " already exists; remove it or choose another path");
  EXPECT_EQ(ReadTextFile(out), "keep me");
}

TEST_F(PredictTest, MissingReservedColumnNamesItAndLeavesNoOutput) {
  PredictRequest request = ExportRequest("no_reserved.csv");
  request.reserved_columns = {"request_id", "session"};
  const std::string error = ErrorOf([&] { Predict(request); });
  EXPECT_EQ(error.rfind("reserved column 'session' is missing from " + *data_path_ + " (columns: request_id,", 0), 0u)
      << error;
  ExpectNoOutput("no_reserved.csv");
}

TEST_F(PredictTest, MissingInputColumnNamesIt) {
  const std::string path = (*root_ / "bad" / "no_price.csv").string();
  WriteTextFile(path, "request_id,user_id,age,item_id,tags\nr1,u1,3,i1,t1\n");
  PredictRequest request = CheckpointRequest("no_price.csv");
  request.predict_input_path = path;
  const std::string error = ErrorOf([&] { Predict(request); });
  EXPECT_EQ(error, "input column 'price' (read by the model's features) is missing from " + path +
                       " (columns: request_id, user_id, age, item_id, tags)");
  ExpectNoOutput("no_price.csv");
}

TEST_F(PredictTest, MalformedRowFailsWithItsLineAndLeavesNoOutput) {
  // Many good rows first, so that batches were already written when it fails.
  std::string csv = MakeCsv(200, 3);
  csv += "req_short,u1\n";  // line 202
  const std::string more = MakeCsv(20, 4);
  csv += more.substr(more.find('\n') + 1);
  const std::string path = (*root_ / "bad" / "malformed.csv").string();
  WriteTextFile(path, csv);
  PredictRequest request = ExportRequest("malformed.csv");
  request.predict_input_path = path;
  request.batch_size = 16;
  const std::string error = ErrorOf([&] { Predict(request); });
  EXPECT_EQ(error.rfind(path + ":202: expected 8 fields", 0), 0u) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  ExpectNoOutput("malformed.csv");
}

TEST_F(PredictTest, HeaderOnlyInputIsAnError) {
  const std::string path = (*root_ / "bad" / "empty.csv").string();
  WriteTextFile(path, "request_id,user_id,age,item_id,tags,price,note,label\n");
  PredictRequest request = ExportRequest("empty.csv");
  request.predict_input_path = path;
  EXPECT_EQ(ErrorOf([&] { Predict(request); }), "no rows to predict in " + path);
  ExpectNoOutput("empty.csv");
}

TEST_F(PredictTest, BadExportDirs) {
  const fs::path empty = *root_ / "not_an_export";
  fs::create_directories(empty);
  PredictRequest request = ExportRequest("bad_export.csv");
  request.scripted_model_path = empty.string();
  EXPECT_EQ(ErrorOf([&] { Predict(request); }),
            "scripted_model_path " + empty.string() + " has no scripted_model.pt (is it an export directory?)");

  const fs::path match = *root_ / "match_export";
  fs::create_directories(match / "user");
  fs::copy_file(fs::path(*export_dir_) / "scripted_model.pt", match / "user" / "scripted_model.pt");
  request.scripted_model_path = match.string();
  EXPECT_NE(ErrorOf([&] { Predict(request); }).find("give " + match.string() + "/user or"), std::string::npos);

  request.scripted_model_path = (*root_ / "nowhere").string();
  EXPECT_EQ(ErrorOf([&] { Predict(request); }),
            "scripted_model_path " + request.scripted_model_path + " is not a directory");
  ExpectNoOutput("bad_export.csv");
}

TEST_F(PredictTest, CheckpointErrors) {
  PredictRequest request = CheckpointRequest("bad_ckpt.csv");
  request.checkpoint_path = (*root_ / "data").string();  // a directory without checkpoints
  EXPECT_EQ(ErrorOf([&] { Predict(request); }),
            "checkpoint_path " + request.checkpoint_path + " has no model.ckpt-<step> checkpoint");
  // An explicit checkpoint directory works as is.
  request.checkpoint_path = (*root_ / "model" / "model.ckpt-4").string();
  request.predict_steps = 1;
  EXPECT_EQ(Predict(request).rows, 64);

  PredictRequest neither;
  neither.predict_input_path = *data_path_;
  neither.predict_output_path = OutPath("neither.csv");
  EXPECT_THROW(Predict(neither), ConfigError);
}

TEST_F(PredictTest, UnknownOutputColumnFailsWithoutOutput) {
  PredictRequest request = ExportRequest("unknown_output.csv");
  request.output_columns = {"probs", "score"};
  EXPECT_EQ(ErrorOf([&] { Predict(request); }),
            "output column 'score' is not an output of the model (outputs: logits, probs)");
  ExpectNoOutput("unknown_output.csv");
}

// The binary: one error line, exit code, and a successful run.
TEST_F(PredictTest, CommandLine) {
  const std::string out = OutPath("cli.csv");
  const std::string log = (*root_ / "cli.log").string();
  const std::string base = fmt::format("{} predict --scripted_model_path {} --predict_input_path {} ",
                                       TZREC_BINARY, *export_dir_, *data_path_);
  int rc = std::system((base + fmt::format("--predict_output_path {} --reserved_columns 'request_id, label' "
                                           "--predict_threads 2 2> {}", out, log)).c_str());
  ASSERT_EQ(WEXITSTATUS(rc), 0) << ReadTextFile(log);
  Table table = ReadTable(out);
  EXPECT_EQ(table.header, (std::vector<std::string>{"logits", "probs", "request_id", "label"}));
  EXPECT_EQ(table.rows.size(), static_cast<size_t>(kRows));

  rc = std::system((base + fmt::format("--predict_output_path {} --reserved_columns nope 2> {}",
                                       OutPath("cli_bad.csv"), log)).c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  const std::string err = ReadTextFile(log);
  // The error is the last line, and one line.
  const std::string last_line = err.substr(err.rfind('\n', err.size() - 2) + 1);
  EXPECT_EQ(last_line.rfind("tzrec: error: reserved column 'nope' is missing from", 0), 0u) << err;
  ExpectNoOutput("cli_bad.csv");

  rc = std::system((base + fmt::format("--predict_output_path {} --writer_type OdpsWriter 2> {}",
                                       OutPath("cli_odps.csv"), log)).c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 2);
}

// The binary on a full disk (its files limited in size; writes past the limit
// fail with EFBIG): a CSV output failing when its buffer is flushed at the
// end, a Parquet one failing inside Parquet's writer. Each is one line naming
// the file being written and the reason, exit code 1, no output and no
// staging file left, and an earlier output untouched.
TEST_F(PredictTest, AFullDiskIsNamedAndLeavesNoOutput) {
  const std::string base = fmt::format("'{}' predict --scripted_model_path {} --predict_input_path {} ",
                                       TZREC_BINARY, *export_dir_, *data_path_);
  const std::string earlier = OutPath("earlier_full.csv");
  ASSERT_EQ(testing::RunCommand(base + "--predict_output_path " + earlier).exit_code, 0);
  const std::string earlier_bytes = ReadTextFile(earlier);
  ASSERT_GT(earlier_bytes.size(), 2000u);
  struct Case {
    std::string name, flags, written;  // written: the file being written, relative to OutPath(name)
  };
  for (const Case& c : {Case{"full.csv", "", ""}, Case{"full_parquet", "--writer_type ParquetWriter", "/part-0.parquet"}}) {
    SCOPED_TRACE(c.name);
    const testing::CommandResult result = testing::RunCommandWithFileSizeLimit(
        earlier_bytes.size() / 2, base + "--predict_output_path " + OutPath(c.name) + " " + c.flags);
    EXPECT_EQ(result.exit_code, 1) << result.output;
    const std::string prefix = "tzrec: error: cannot write " + OutPath(c.name) + c.written + ".tmp-";
    const size_t at = result.output.find(prefix);
    ASSERT_NE(at, std::string::npos) << result.output;
    const std::string line = result.output.substr(at);
    EXPECT_THAT(line, ::testing::EndsWith(": File too large\n")) << result.output;
    EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << "the error is the last line and one line";
    ExpectNoOutput(c.name);
    if (!c.written.empty() && fs::exists(OutPath(c.name))) {
      for (const auto& entry : fs::directory_iterator(OutPath(c.name))) ADD_FAILURE() << "left behind: " << entry.path();
    }
  }
  EXPECT_EQ(ReadTextFile(earlier), earlier_bytes);
}

}  // namespace
}  // namespace tzrec::predict
