// Example data generator; see gen_data.h for what is written and why.
//
// This file turns the column plan (gen_data_plan.h) into rows and files: the
// values of each cell, labels from their rules, chunked multi-threaded writing
// and the CSV -> Parquet / item table steps.
#include "data/gen_data.h"

#include "data/csv_reader.h"
#include "data/data_options.h"
#include "data/gen_data_plan.h"
#include "data/gen_item_table.h"
#include "data/gen_random.h"
#include "data/parquet_writer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include <fmt/compile.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/progress.h"

namespace tzrec::data {
namespace {

// ---- row generation

class RowWriter {
 public:
  RowWriter(const Plan& plan) : plan_(plan) {
    cells_.resize(plan.columns.size());
    signals_.resize(plan.columns.size());
    seq_lengths_.resize(plan.seq_groups.size());
  }

  // Appends `rows` CSV lines generated from `rng` to `out`.
  void Generate(Rng& rng, int64_t rows, std::string& out) {
    for (int64_t r = 0; r < rows; ++r) {
      for (size_t g = 0; g < plan_.seq_groups.size(); ++g) {
        seq_lengths_[g] = 1 + static_cast<int>(rng.Below(plan_.seq_groups[g].max_length));
      }
      for (size_t i = 0; i < plan_.columns.size(); ++i) {
        cells_[i].clear();
        signals_[i] = 0.0;
        Cell(plan_.columns[i], static_cast<int>(i), rng);
      }
      bool first = true;
      for (int i : plan_.file_order) {
        if (!first) out += plan_.delimiter;
        first = false;
        AppendQuoted(cells_[i], out);
      }
      out += '\n';
    }
  }

 private:
  void AppendQuoted(const std::string& cell, std::string& out) const {
    bool quote = cell.find(plan_.delimiter) != std::string::npos ||
                 cell.find_first_of("\"\n\r") != std::string::npos;
    if (!quote) {
      out += cell;
      return;
    }
    out += '"';
    for (char ch : cell) {
      if (ch == '"') out += '"';
      out += ch;
    }
    out += '"';
  }

  // Formatting into a stack buffer, then one append: fmt's back_inserter on a
  // std::string pushes char by char, which dominated the run time.
  static void AppendFloat(double v, std::string& out) {
    char buf[32];
    auto result = fmt::format_to_n(buf, sizeof buf, FMT_COMPILE("{:.6g}"), v);
    out.append(buf, result.out);
  }
  static void AppendUInt(uint64_t v, std::string& out) {
    fmt::format_int formatted(v);
    out.append(formatted.data(), formatted.size());
  }

  uint64_t Rank(const Column& c, Rng& rng) const {
    if (!c.skewed || c.cardinality <= 2) return rng.Below(c.cardinality);
    // log-uniform: P(rank) ~ 1/(rank+1), a long tail like real ids
    double x = std::exp(rng.Uniform() * c.log_cardinality) - 1.0;
    uint64_t rank = static_cast<uint64_t>(x);
    return std::min(rank, c.cardinality - 1);
  }

  // Effect of an id on labels, in [-1, 1].
  double IdSignal(const Column& c, uint64_t rank) const {
    if (c.monotone_signal) {
      return c.cardinality <= 1 ? 0.0 : 2.0 * rank / static_cast<double>(c.cardinality - 1) - 1.0;
    }
    return 2.0 * ToUnit(Mix(c.salt, rank)) - 1.0;
  }

  void AppendId(const Column& c, uint64_t rank, std::string& out) const {
    switch (c.id_text) {
      case IdText::kInt: {
        uint64_t id = static_cast<uint64_t>(
            (static_cast<unsigned __int128>(rank) * c.scramble_mul + c.scramble_add) % c.cardinality);
        AppendUInt(id, out);
        break;
      }
      case IdText::kHex: {
        static constexpr char kDigits[] = "0123456789abcdef";
        uint32_t bits = static_cast<uint32_t>(Mix(c.salt ^ 0x4e78, rank));
        char buf[8];
        for (int k = 7; k >= 0; --k, bits >>= 4) buf[k] = kDigits[bits & 15];
        out.append(buf, 8);
        break;
      }
      case IdText::kVocab:
        out += c.vocab[rank];
        break;
    }
  }

  // One element: a cell, or one item of a sequence cell. Returns its signal.
  double Element(const Column& c, Rng& rng, std::string& out) {
    double signal = 0.0;
    switch (c.shape) {
      case Shape::kId: {
        int n = c.min_values == c.max_values
                    ? c.min_values
                    : c.min_values + static_cast<int>(rng.Below(c.max_values - c.min_values + 1));
        for (int k = 0; k < n; ++k) {
          if (k > 0) out += c.value_sep;
          uint64_t rank = Rank(c, rng);
          if (k == 0) signal = IdSignal(c, rank);
          AppendId(c, rank, out);
          if (c.weighted) {
            out += ':';
            AppendFloat(std::round((0.1 + 1.9 * rng.Uniform()) * 1000.0) / 1000.0, out);
          }
        }
        break;
      }
      case Shape::kFloat: {
        for (int d = 0; d < c.value_dim; ++d) {
          if (d > 0) out += c.value_sep;
          double u = rng.Uniform(), value;
          if (!c.boundaries.empty()) {
            // A bucket uniformly, then a point well inside it.
            size_t n = c.boundaries.size();
            size_t bucket = rng.Below(n + 1);
            double lo, hi;
            if (bucket == 0) {
              double width = n > 1 ? c.boundaries[1] - c.boundaries[0] : 1.0;
              hi = c.boundaries[0];
              lo = hi - std::max(width, 1e-3);
            } else if (bucket == n) {
              double width = n > 1 ? c.boundaries[n - 1] - c.boundaries[n - 2] : 1.0;
              lo = c.boundaries[n - 1];
              hi = lo + std::max(width, 1e-3);
            } else {
              lo = c.boundaries[bucket - 1];
              hi = c.boundaries[bucket];
            }
            value = lo + (0.1 + 0.8 * u) * (hi - lo);
            if (d == 0) signal = n == 0 ? 0.0 : 2.0 * bucket / static_cast<double>(n) - 1.0;
          } else {
            value = 4.0 * u * u;  // non-negative, skewed to small values
            if (d == 0) signal = 2.0 * u - 1.0;
          }
          AppendFloat(value, out);
        }
        break;
      }
      case Shape::kKvMap: {
        int n = 1 + static_cast<int>(rng.Below(4));
        for (int k = 0; k < n; ++k) {
          if (k > 0) out += c.value_sep;
          out += c.key_prefix;
          AppendUInt(rng.Below(c.key_count), out);
          out += ':';
          AppendFloat(std::round(rng.Uniform() * 4000.0) / 1000.0, out);
        }
        break;
      }
      case Shape::kKey:
        out += c.key_prefix;
        AppendUInt(rng.Below(c.key_count), out);
        break;
      case Shape::kNestedMap: {
        int categories = 1 + static_cast<int>(rng.Below(2));
        for (int k = 0; k < categories; ++k) {
          if (k > 0) out += '|';
          out += 'c';
          AppendUInt(rng.Below(5), out);
          out += '^';
          int items = 1 + static_cast<int>(rng.Below(3));
          for (int j = 0; j < items; ++j) {
            if (j > 0) out += ',';
            out += 's';
            AppendUInt(rng.Below(10), out);
            out += ':';
            AppendFloat(std::round(rng.Uniform() * 4000.0) / 1000.0, out);
          }
        }
        break;
      }
      case Shape::kTokens: {
        int n = 1 + static_cast<int>(rng.Below(5));
        for (int k = 0; k < n; ++k) {
          if (k > 0) out += c.value_sep;
          out += c.key_prefix;
          AppendUInt(rng.Below(c.key_count), out);
        }
        break;
      }
      case Shape::kLabel:
      case Shape::kSampleWeight:
        break;
    }
    return signal;
  }

  void Cell(const Column& c, int index, Rng& rng) {
    std::string& out = cells_[index];
    if (c.shape == Shape::kLabel) {
      Label(c, rng, out);
      return;
    }
    if (c.shape == Shape::kSampleWeight) {
      AppendFloat(std::round((0.5 + rng.Uniform()) * 1000.0) / 1000.0, out);
      return;
    }
    if (c.seq_group < 0) {
      signals_[index] = Element(c, rng, out);
      return;
    }
    int length = seq_lengths_[c.seq_group];
    for (int k = 0; k < length; ++k) {
      if (k > 0) out += c.seq_delim;
      Element(c, rng, out);
    }
  }

  void Label(const Column& c, Rng& rng, std::string& out) {
    const LabelRule& rule = plan_.label_rules[c.label_index];
    const std::vector<int>& inputs = plan_.rule_columns[c.label_index];
    double logit = -0.3 + 0.5 * rng.Gaussian();
    for (size_t k = 0; k < inputs.size(); ++k) logit += rule.weights[k] * signals_[inputs[k]];
    switch (rule.kind) {
      case LabelRule::Kind::kBinary:
        out += rng.Uniform() < 1.0 / (1.0 + std::exp(-logit)) ? '1' : '0';
        break;
      case LabelRule::Kind::kRegression:
        AppendFloat(std::round(logit * 10000.0) / 10000.0, out);
        break;
      case LabelRule::Kind::kMultiClass: {
        double p = 1.0 / (1.0 + std::exp(-logit));
        int cls = std::min(rule.num_class - 1, static_cast<int>(p * rule.num_class));
        AppendUInt(static_cast<uint64_t>(cls), out);
        break;
      }
    }
  }

  const Plan& plan_;
  std::vector<std::string> cells_;
  std::vector<double> signals_;
  std::vector<int> seq_lengths_;
};

constexpr int64_t kChunkRows = 4096;

void WriteFile(const Plan& plan, const std::string& path, int64_t rows, uint64_t seed,
               uint64_t file_id, int num_threads, Progress& progress, int64_t& done) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) Fail("cannot open {} for writing", path);
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(file, &std::fclose);
  auto write = [&](const std::string& data) {
    if (!data.empty() && std::fwrite(data.data(), 1, data.size(), file) != data.size()) {
      Fail("cannot write {}", path);
    }
  };
  if (plan.header) {
    std::string header;
    for (size_t k = 0; k < plan.file_order.size(); ++k) {
      if (k > 0) header += plan.delimiter;
      header += plan.columns[plan.file_order[k]].name;
    }
    header += '\n';
    write(header);
  }
  const int64_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  const int threads = std::max(1, num_threads);
  const int64_t round = threads * 4;
  std::vector<std::string> buffers(round);
  for (int64_t begin = 0; begin < chunks; begin += round) {
    int64_t end = std::min(chunks, begin + round);
    auto work = [&](int t) {
      RowWriter writer(plan);
      for (int64_t chunk = begin + t; chunk < end; chunk += threads) {
        std::string& buffer = buffers[chunk - begin];
        buffer.clear();
        int64_t n = std::min(kChunkRows, rows - chunk * kChunkRows);
        Rng rng(Mix(Mix(seed, file_id), static_cast<uint64_t>(chunk)));
        writer.Generate(rng, n, buffer);
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
    work(0);
    for (auto& th : pool) th.join();
    for (int64_t chunk = begin; chunk < end; ++chunk) write(buffers[chunk - begin]);
    done += std::min(rows, end * kChunkRows) - std::min(rows, begin * kChunkRows);
    progress.Update(static_cast<uint64_t>(done));
  }
  if (std::fflush(file) != 0) Fail("cannot write {}", path);
}

}  // namespace

std::vector<std::string> GenDataColumns(const protos::EasyRecConfig& config) {
  Plan plan = BuildGenDataPlan(config, 0);
  std::vector<std::string> names;
  for (int i : plan.file_order) names.push_back(plan.columns[i].name);
  return names;
}

GenDataSummary GenerateData(const protos::EasyRecConfig& config, const GenDataOptions& options) {
  if (options.num_rows <= 0) FailConfig("--num_rows must be > 0, got {}", options.num_rows);
  if (options.output_dir.empty()) FailConfig("--output_dir must be set");
  int64_t eval_rows = options.eval_rows;
  if (eval_rows < 0) {
    eval_rows = options.num_rows / 10;
    if (eval_rows == 0 && options.num_rows >= 2) eval_rows = 1;
  }
  if (eval_rows > options.num_rows) {
    FailConfig("--eval_rows ({}) must not exceed --num_rows ({})", eval_rows, options.num_rows);
  }

  Plan plan = BuildGenDataPlan(config, options.seed);
  GenDataSummary summary;
  for (int i : plan.file_order) summary.columns.push_back(plan.columns[i].name);
  summary.header = plan.header;
  summary.label_rules = plan.label_rules;
  summary.train_rows = options.num_rows - eval_rows;
  summary.eval_rows = eval_rows;

  std::error_code ec;
  std::filesystem::create_directories(options.output_dir, ec);
  if (ec) Fail("cannot create --output_dir {}: {}", options.output_dir, ec.message());
  if (options.format != "csv" && options.format != "parquet") {
    FailConfig("--format {} is not supported (csv or parquet)", options.format);
  }
  const bool parquet = options.format == "parquet";
  const std::filesystem::path out_dir(options.output_dir);
  // Parquet is converted from the CSV text, which is then removed.
  summary.train_path = (out_dir / (parquet ? ".train.csv.tmp" : "train.csv")).string();
  summary.eval_path = (out_dir / (parquet ? ".eval.csv.tmp" : "eval.csv")).string();

  for (const LabelRule& rule : summary.label_rules) {
    std::vector<std::string> terms;
    for (size_t k = 0; k < rule.columns.size(); ++k) {
      terms.push_back(fmt::format("{:+.2f}*{}", rule.weights[k], rule.columns[k]));
    }
    spdlog::info("gen_data: label {} depends on {}", rule.label, fmt::join(terms, " "));
  }
  Progress progress("gen_data", static_cast<uint64_t>(options.num_rows), "rows");
  int64_t done = 0;
  WriteFile(plan, summary.train_path, summary.train_rows, options.seed, 1, options.num_threads,
            progress, done);
  WriteFile(plan, summary.eval_path, summary.eval_rows, options.seed, 2, options.num_threads,
            progress, done);
  progress.Finish();
  CsvOptions csv;
  csv.delimiter = plan.delimiter[0];
  csv.with_header = plan.header;
  csv.column_names = summary.columns;
  if (config.data_config().has_negative_sampler()) {
    summary.item_table_path = (out_dir / "item_gl").string();
    summary.item_table_items = WriteItemTable(config, summary.train_path, csv, summary.item_table_path);
  }
  if (parquet) {
    for (std::string* path : {&summary.train_path, &summary.eval_path}) {
      const std::string final_path =
          (out_dir / (path == &summary.train_path ? "train.parquet" : "eval.parquet")).string();
      CsvToParquet(*path, csv, MultiValueSeparator(config.data_config()), final_path);
      std::filesystem::remove(*path);
      *path = final_path;
    }
  }
  return summary;
}

}  // namespace tzrec::data
