// Inference of an exported DeepFM (tzrec's or the baseline's scripted_model.pt)
// loaded by libtorch in a C++ process, as a serving process built on tzrec
// would load it: the counterpart of `bench/baseline.py infer`, which loads the
// same artifacts in stock PyTorch. Prints the same JSON line:
//   {"<batch>": {"rows_per_cpu_s", "cpu_ms_per_batch", "p50_ms", "p99_ms", "rows_per_s"}}
//
//   infer_bench --model M --buckets 2000000,1953,... [--dense 13] [--threads 1]
//               [--batch_sizes 1 64 512 4096] [--rows 40000] [--latency_iters 300]
//               [--memory_policy tzrec|default] [--input_csv F --export_dir E]
//
// --input_csv: instead of random rows, the first <batch> rows of F (CSV with a
// header) through E's fg.json, as `tzrec predict` and `tzrec serve` feed the
// model (FG runs once, outside the timing): the model's cost on real ids,
// whose skew decides how often embedding rows are in cache.
// --memory_policy tzrec installs data::InstallTensorMemoryPolicy() first (what
// the tzrec binary does); default leaves libtorch's allocator and glibc's
// malloc settings as they are.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <ATen/Parallel.h>
#include <torch/script.h>

#include "artifacts/exported_model.h"
#include "common/blas_kernels.h"
#include "data/csv_reader.h"
#include "data/data_parser.h"
#include "data/row_reader.h"
#include "data/tensor_memory.h"
#include "models/modules/embedding_table.h"

namespace {

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The harness's inputs: dense values in [0, 1), one id per row per sparse
// feature, uniform below its bucket count (bench/baseline.py's random_inputs).
c10::Dict<std::string, at::Tensor> RandomInputs(int64_t batch, const std::vector<int64_t>& buckets,
                                                int dense, uint64_t seed) {
  at::manual_seed(seed);
  c10::Dict<std::string, at::Tensor> data;
  for (int i = 0; i < dense; ++i) data.insert("int_" + std::to_string(i) + ".values", at::rand({batch, 1}));
  for (size_t i = 0; i < buckets.size(); ++i) {
    const std::string name = "cat_" + std::to_string(i);
    data.insert(name + ".values", at::randint(buckets[i], {batch}, at::kLong));
    data.insert(name + ".lengths", at::ones({batch}, at::kLong));
  }
  return data;
}

// The first `batch` rows of `csv` through the export's FG (fewer when the
// file is shorter: then its rows repeat).
c10::Dict<std::string, at::Tensor> CsvInputs(int64_t batch, const std::string& csv,
                                             const tzrec::fg::FgEngine& engine) {
  tzrec::data::CsvOptions options;
  options.with_header = true;
  tzrec::data::CsvReader reader(csv, options);
  tzrec::data::RowBatch rows;
  reader.ReadRows(batch, &rows);
  tzrec::models::TensorMap tensors;
  tzrec::data::AddFeatureTensors(engine.Process(rows.ToInputBatch()), tensors);
  c10::Dict<std::string, at::Tensor> data;
  for (const auto& [name, tensor] : tensors) data.insert(name, tensor);
  return data;
}

}  // namespace

int main(int argc, char** argv) {
  // The OpenBLAS kernels tzrec runs with (src/cli/main.cc does the same).
  if (const std::string core = tzrec::OpenBlasCoreTypeToForce(false); !core.empty()) {
    ::setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    ::execv("/proc/self/exe", argv);
  }
  CLI::App app{"libtorch inference of an exported criteo-shaped DeepFM"};
  std::string model_path, memory_policy = "tzrec";
  std::vector<int64_t> buckets, batch_sizes = {1, 64, 512, 4096};
  int dense = 13, threads = 1, latency_iters = 300, warmup = 5;
  int64_t rows = 40000;
  app.add_option("--model", model_path, "scripted_model.pt")->required();
  app.add_option("--buckets", buckets, "comma-separated id counts of cat_0, cat_1, ...")
      ->required()
      ->delimiter(',');
  app.add_option("--dense", dense, "dense features int_0..");
  app.add_option("--threads", threads, "intra-op threads");
  app.add_option("--batch_sizes", batch_sizes);
  app.add_option("--rows", rows, "rows timed per batch size > 1");
  app.add_option("--latency_iters", latency_iters);
  app.add_option("--warmup", warmup);
  app.add_option("--memory_policy", memory_policy)->check(CLI::IsMember({"tzrec", "default"}));
  std::string input_csv, export_dir;
  app.add_option("--input_csv", input_csv, "real rows instead of random ones (needs --export_dir)");
  app.add_option("--export_dir", export_dir, "the export whose fg.json turns --input_csv into inputs");
  CLI11_PARSE(app, argc, argv);
  std::unique_ptr<tzrec::artifacts::ExportedModel> exported;
  if (!input_csv.empty()) exported = tzrec::artifacts::ExportedModel::Load(export_dir, {});

  if (memory_policy == "tzrec") tzrec::data::InstallTensorMemoryPolicy();
  at::set_num_threads(threads);

  torch::jit::Module model = torch::jit::load(model_path);
  model.eval();
  tzrec::models::TuneQuantizedLookups(model);  // as tzrec's predict and serve load it
  c10::InferenceMode inference;
  std::string json = "{";
  for (int64_t batch : batch_sizes) {
    std::vector<c10::Dict<std::string, at::Tensor>> inputs;
    for (uint64_t seed = 0; seed < 4; ++seed) {
      inputs.push_back(exported ? CsvInputs(batch, input_csv, exported->NewFgEngine())
                                : RandomInputs(batch, buckets, dense, seed));
    }
    for (int i = 0; i < warmup; ++i) model.forward({inputs[i % 4]});
    const int64_t iters = batch > 1 ? std::max<int64_t>(3, rows / batch) : latency_iters;
    std::vector<double> times;
    const double cpu_start = CpuSeconds();
    for (int64_t i = 0; i < iters; ++i) {
      const double start = WallSeconds();
      model.forward({inputs[i % 4]});
      times.push_back(WallSeconds() - start);
    }
    const double cpu = CpuSeconds() - cpu_start;
    double total = 0;
    for (double t : times) total += t;
    std::sort(times.begin(), times.end());
    const double n = static_cast<double>(times.size());
    char entry[512];
    std::snprintf(entry, sizeof(entry),
                  "%s\"%lld\": {\"rows_per_cpu_s\": %.3f, \"cpu_ms_per_batch\": %.4f, \"p50_ms\": %.4f, "
                  "\"p99_ms\": %.4f, \"rows_per_s\": %.3f}",
                  json.size() > 1 ? ", " : "", static_cast<long long>(batch), batch * n / cpu, 1e3 * cpu / n,
                  1e3 * times[times.size() / 2],
                  1e3 * times[std::min(times.size() - 1, static_cast<size_t>(n * 0.99))], batch * n / total);
    json += entry;
  }
  std::printf("%s}\n", json.c_str());
  return 0;
}
