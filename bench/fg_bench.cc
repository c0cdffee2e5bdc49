// Throughput of the data path on one core: CSV text (or Parquet) -> split
// rows -> FG -> FeatureBatch (and, for the *Tensors variants, model input
// tensors).
//   criteo-shaped FG_NONE: label + 13 dense + 26 categorical encoded columns,
//     examples' deepfm_criteo/fg.json;
//   taobao-shaped FG_DAG: raw columns of the multi_tower_din_taobao example
//     (14 ids, a price with 98 boundaries, a hashed pid, a 3-feature sequence
//     group of 1..2*L-1 elements, L = the benchmark argument).
// Rows are generated once into a temp file (page cache), read per iteration.
// rows/s is per CPU second of the benchmark thread (the build machine is shared).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "data/batch_iterator.h"
#include "data/csv_reader.h"
#include "data/parquet_writer.h"
#include "features/fg/fg_engine.h"

namespace {

using namespace tzrec;

constexpr int64_t kRows = 200000;
constexpr int64_t kBatch = 8192;

std::string Upstream(const std::string& rel) { return std::string(TZREC_SHARED_DIR) + "/upstream/" + rel; }

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("tzrec_fg_bench_" + name)).string();
}

const std::string& CriteoFile() {
  static const std::string path = [] {
    std::string p = TempPath("criteo.csv");
    std::ofstream out(p);
    std::mt19937 rng(1);
    std::vector<uint32_t> buckets;
    for (const auto& spec : fg::LoadFgJson(Upstream("deepfm_criteo/fg.json"))) {
      if (spec.num_buckets) buckets.push_back(static_cast<uint32_t>(*spec.num_buckets));
    }
    out << "label";
    for (int i = 0; i < 13; ++i) out << ",int_" << i;
    for (int i = 0; i < 26; ++i) out << ",cat_" << i;
    out << "\n";
    for (int64_t r = 0; r < kRows; ++r) {
      out << (rng() % 4 == 0 ? 1 : 0);
      for (int i = 0; i < 13; ++i) {
        out << ',';
        uint32_t v = rng();
        if (v % 5 == 0) out << "0";
        else out << (v % 1000) / 7.0;  // mixes integers and decimals
      }
      for (int i = 0; i < 26; ++i) out << ',' << rng() % buckets[i];
      out << '\n';
    }
    return p;
  }();
  return path;
}

std::string TaobaoFile(int avg_seq) {
  std::string p = TempPath("taobao_" + std::to_string(avg_seq) + ".csv");
  if (std::filesystem::exists(p)) return p;
  auto specs = fg::LoadFgJson(Upstream("multi_tower_din_taobao/fg.json"));
  std::ofstream out(p);
  std::mt19937 rng(2);
  out << "clk";
  for (const auto& s : specs) out << ',' << s.inputs[0].column;
  out << '\n';
  for (int64_t r = 0; r < kRows; ++r) {
    out << rng() % 2;
    int seq_len = 1 + static_cast<int>(rng() % (2 * avg_seq - 1));
    for (const auto& s : specs) {
      out << ',';
      auto id = [&] { return rng() % static_cast<uint32_t>(s.num_buckets.value_or(1000)); };
      if (s.is_sequence) {
        for (int k = 0; k < seq_len; ++k) out << (k ? "|" : "") << id();
      } else if (s.type == fg::FeatureType::kRaw) {
        out << (rng() % 100000) / 10.0;
      } else if (s.hash_bucket_size) {
        out << "430548_" << rng() % 10;
      } else {
        out << id();
      }
    }
    out << '\n';
  }
  return p;
}

void RunFg(benchmark::State& state, const std::string& csv, const fg::FgEngine& engine) {
  data::CsvOptions options;
  options.with_header = true;
  int64_t rows = 0;
  for (auto _ : state) {
    data::CsvReader reader(csv, options);
    data::RowBatch batch;
    fg::FeatureBatch out;
    while (reader.ReadRows(kBatch, &batch) > 0) {
      engine.Process(batch.ToInputBatch(), &out);
      benchmark::DoNotOptimize(out.features.data());
      rows += out.num_rows;
    }
  }
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
}

void RunTensors(benchmark::State& state, const std::string& csv, std::shared_ptr<const fg::FgEngine> engine,
                const std::string& label) {
  int64_t rows = 0;
  for (auto _ : state) {
    data::BatchIteratorOptions options;
    options.input_path = csv;
    options.batch_size = kBatch;
    options.csv.with_header = true;
    data::BatchIterator it(options, engine, {{label}, {}});
    data::Batch batch;
    while (it.Next(&batch)) rows += batch.batch_size;
  }
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
}

fg::FgEngine CriteoEngine() {
  fg::FgEngineOptions options;
  options.mode = fg::FgMode::kEncoded;
  return fg::FgEngine::FromFile(Upstream("deepfm_criteo/fg.json"), options);
}

void BM_CriteoFgNone(benchmark::State& state) {
  static const fg::FgEngine engine = CriteoEngine();
  RunFg(state, CriteoFile(), engine);
}
BENCHMARK(BM_CriteoFgNone)->Unit(benchmark::kMillisecond);

void BM_CriteoFgNoneTensors(benchmark::State& state) {
  static const auto engine = std::make_shared<const fg::FgEngine>(CriteoEngine());
  RunTensors(state, CriteoFile(), engine, "label");
}
BENCHMARK(BM_CriteoFgNoneTensors)->Unit(benchmark::kMillisecond);

// The same criteo rows as Parquet (snappy; label and the 26 ids int64, the 13
// dense values double), read through ParquetReader into the same tensors.
const std::string& CriteoParquetFile() {
  static const std::string path = [] {
    std::string p = TempPath("criteo.parquet");
    data::CsvOptions csv;
    csv.with_header = true;
    data::CsvToParquet(CriteoFile(), csv, '\x03', p);
    return p;
  }();
  return path;
}

void BM_CriteoFgNoneTensorsParquet(benchmark::State& state) {
  static const auto engine = std::make_shared<const fg::FgEngine>(CriteoEngine());
  RunTensors(state, CriteoParquetFile(), engine, "label");
}
BENCHMARK(BM_CriteoFgNoneTensorsParquet)->Unit(benchmark::kMillisecond);

void BM_TaobaoFgDag(benchmark::State& state) {
  static const fg::FgEngine engine = fg::FgEngine::FromFile(Upstream("multi_tower_din_taobao/fg.json"), {});
  RunFg(state, TaobaoFile(static_cast<int>(state.range(0))), engine);
}
BENCHMARK(BM_TaobaoFgDag)->Arg(5)->Arg(25)->Unit(benchmark::kMillisecond);

void BM_TaobaoFgDagTensors(benchmark::State& state) {
  static const auto engine = std::make_shared<const fg::FgEngine>(
      fg::FgEngine::FromFile(Upstream("multi_tower_din_taobao/fg.json"), {}));
  RunTensors(state, TaobaoFile(static_cast<int>(state.range(0))), engine, "clk");
}
BENCHMARK(BM_TaobaoFgDagTensors)->Arg(5)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
