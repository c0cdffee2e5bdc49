#include "export/distributed/sparse_tables.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/file_writer.h"
#include "common/progress.h"
#include "export/distributed/npz_writer.h"
#include "artifacts/row_quant.h"
#include "features/python_json.h"

namespace tzrec::exporting::distributed {
using artifacts::QuantRowBytes;
using artifacts::QuantizeRows;
using artifacts::CheckFiniteRows;
using artifacts::CheckQuantDim;
using artifacts::kQuantFormat;

namespace fs = std::filesystem;

namespace {

constexpr char kWeightSuffix[] = ".weight";

std::string TableName(const std::string& state_name) {
  const std::string suffix = kWeightSuffix;
  if (state_name.size() > suffix.size() &&
      state_name.compare(state_name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return state_name.substr(0, state_name.size() - suffix.size());
  }
  return state_name;
}

// numpy's name and array-protocol string of the floating dtypes a checkpoint
// table may have.
struct FloatDtype {
  at::ScalarType type;
  const char* numpy_name;
  const char* descr;
};
constexpr FloatDtype kFloatDtypes[] = {
    {at::kFloat, "float32", "<f4"},
    {at::kHalf, "float16", "<f2"},
    {at::kDouble, "float64", "<f8"},
};

const FloatDtype* FindFloatDtype(at::ScalarType type) {
  for (const FloatDtype& d : kFloatDtypes) {
    if (d.type == type) return &d;
  }
  return nullptr;
}

// Rows [begin, end) of `rows` split into `n` nearly equal ranges.
std::pair<int64_t, int64_t> ShardRows(int64_t rows, int index, int n) {
  return {rows * index / n, rows * (index + 1) / n};
}

void WriteText(const fs::path& path, const std::string& text) {
  WriteWholeFile(path.string(), text);
}

nlohmann::ordered_json RowRange(int64_t begin, int64_t end) {
  return nlohmann::ordered_json::array({begin, end});
}

// One table's entry of a shard's json (upstream's keys and order, then
// row_range).
nlohmann::ordered_json TableMeta(const SparseTable& table, const FloatDtype& dtype, int64_t begin,
                                 int64_t end, bool quant) {
  const int64_t rows = end - begin;
  nlohmann::ordered_json meta;
  meta["feat_name_impl"] = table.feat_name_impl;
  meta["dense"] = false;
  meta["is_dynamic"] = false;
  meta["dimension"] = table.dim;
  if (!quant) {
    meta["dtype"] = dtype.numpy_name;
    meta["memory"] = rows * table.dim * static_cast<int64_t>(c10::elementSize(dtype.type));
    meta["shape"] = {rows, table.dim};
  } else {
    const int64_t row_bytes = QuantRowBytes(table.dim);
    meta["dtype"] = kQuantFormat;
    meta["storage_dtype"] = "uint8";
    meta["storage_shape"] = {rows, row_bytes};
    meta["row_bytes"] = row_bytes;
    meta["memory"] = rows * row_bytes;
    meta["shape"] = {rows, table.dim};
    meta["quant"] = {{"enabled", true},
                     {"format", kQuantFormat},
                     {"scale_offset_dtype", "float16"},
                     {"output_dtype", "float16"}};
  }
  meta["row_range"] = RowRange(begin, end);
  return meta;
}

// Streams rows [begin, end) of one table: read a block, check it, convert it.
class TableRowProducer {
 public:
  TableRowProducer(const checkpoint::StateReader& checkpoint, const SparseTable& table,
                   int64_t begin, int64_t end, const SparseExportOptions& options, Progress* progress,
                   uint64_t* rows_done)
      : checkpoint_(checkpoint), table_(table), next_(begin), end_(end), quant_(options.quant_int8),
        progress_(progress), rows_done_(rows_done) {
    const int64_t row_bytes = std::max<int64_t>(1, checkpoint.RowBytes(table.state_name));
    block_rows_ = std::max<int64_t>(1, options.block_bytes / row_bytes);
  }

  size_t operator()(std::vector<char>& out) {
    if (next_ >= end_) return 0;
    const int64_t n = std::min(block_rows_, end_ - next_);
    const at::ScalarType type = checkpoint_.Entry(table_.state_name).dtype;
    const int64_t source_bytes = n * checkpoint_.RowBytes(table_.state_name);
    size_t produced = 0;
    if (type == at::kFloat && !quant_) {
      // Straight from the file into the output block.
      out.resize(static_cast<size_t>(source_bytes));
      checkpoint_.ReadRowsInto(table_.state_name, next_, next_ + n, out.data());
      CheckFiniteRows(reinterpret_cast<const float*>(out.data()), n, table_.dim, table_.name, next_);
      produced = out.size();
    } else {
      source_.resize(static_cast<size_t>(source_bytes));
      checkpoint_.ReadRowsInto(table_.state_name, next_, next_ + n, source_.data());
      at::Tensor rows = at::from_blob(source_.data(), {n, table_.dim}, at::TensorOptions().dtype(type));
      at::Tensor values = rows.to(at::kFloat).contiguous();
      const float* data = values.data_ptr<float>();
      if (quant_) {
        out.resize(static_cast<size_t>(n * QuantRowBytes(table_.dim)));
        QuantizeRows(data, n, table_.dim, reinterpret_cast<uint8_t*>(out.data()), table_.name, next_);
      } else {
        CheckFiniteRows(data, n, table_.dim, table_.name, next_);
        out.assign(source_.begin(), source_.end());
      }
      produced = out.size();
    }
    next_ += n;
    *rows_done_ += static_cast<uint64_t>(n);
    if (progress_ != nullptr) progress_->Update(*rows_done_);
    return produced;
  }

 private:
  const checkpoint::StateReader& checkpoint_;
  const SparseTable& table_;
  int64_t next_, end_;
  bool quant_;
  int64_t block_rows_ = 1;
  std::vector<char> source_;
  Progress* progress_;
  uint64_t* rows_done_;
};

}  // namespace

SparsePlan PlanSparseTables(const std::vector<SparseInput>& inputs) {
  SparsePlan plan;
  std::map<std::string, size_t> index;  // state_name -> table
  nlohmann::ordered_json ec_features = nlohmann::ordered_json::object();
  nlohmann::ordered_json ebc_features = nlohmann::ordered_json::object();
  std::vector<SparseTable> ec_tables, ebc_tables;
  std::map<std::string, std::pair<bool, size_t>> where;  // state_name -> (jagged, position)
  for (const SparseInput& input : inputs) {
    std::vector<SparseTable>& tables = input.jagged ? ec_tables : ebc_tables;
    auto it = where.find(input.state_name);
    if (it == where.end()) {
      SparseTable table;
      table.name = TableName(input.state_name);
      table.state_name = input.state_name;
      table.dim = input.dim;
      table.jagged = input.jagged;
      it = where.emplace(input.state_name, std::make_pair(input.jagged, tables.size())).first;
      tables.push_back(std::move(table));
    }
    if (it->second.first != input.jagged) {
      Fail("embedding table {} is read both pooled and as sequence rows; tzrec's distributed "
           "export cannot describe that",
           input.state_name);
    }
    SparseTable& table = tables[it->second.second];
    if (table.dim != input.dim) {
      Fail("embedding table {} is read with dims {} and {}", input.state_name, table.dim, input.dim);
    }
    if (std::find(table.feat_name_impl.begin(), table.feat_name_impl.end(), input.key) ==
        table.feat_name_impl.end()) {
      table.feat_name_impl.push_back(input.key);
    }
    nlohmann::ordered_json& features = input.jagged ? ec_features : ebc_features;
    features[input.key] = {
        {"embedding_name", table.name},
        {"pooling", input.jagged ? "NONE" : (input.pooling == Pooling::kMean ? "MEAN" : "SUM")}};
  }
  for (auto& t : ec_tables) plan.tables.push_back(std::move(t));
  for (auto& t : ebc_tables) plan.tables.push_back(std::move(t));
  for (auto& [key, value] : ec_features.items()) plan.features[key] = value;
  for (auto& [key, value] : ebc_features.items()) plan.features[key] = value;
  return plan;
}

void CheckSparseTables(const SparsePlan& plan, const checkpoint::StateReader& checkpoint,
                       const SparseExportOptions& options) {
  if (options.num_shards < 1) FailConfig("--num_shards must be at least 1, got {}", options.num_shards);
  for (const SparseTable& table : plan.tables) {
    const checkpoint::TensorEntry* entry = checkpoint.Find(table.state_name);
    if (entry == nullptr) {
      Fail("checkpoint {}: embedding table {} is missing", checkpoint.path(), table.state_name);
    }
    if (entry->shape.size() != 2 || entry->shape[1] != table.dim) {
      Fail("checkpoint {}: embedding table {} has shape {}, expected [rows, {}]", checkpoint.path(),
           table.state_name, c10::str(c10::IntArrayRef(entry->shape)), table.dim);
    }
    if (FindFloatDtype(entry->dtype) == nullptr) {
      Fail("checkpoint {}: embedding table {} has dtype {}, expected a float type", checkpoint.path(),
           table.state_name, c10::toString(entry->dtype));
    }
    if (options.quant_int8) CheckQuantDim(table.dim, table.name);
  }
}

std::string ShardName(int index, int num_shards) {
  return fmt::format("sparse_embeddings-{:02d}-of-{:02d}", index, num_shards);
}

void WriteSparseTables(const SparsePlan& plan, const checkpoint::StateReader& checkpoint,
                       const std::string& sparse_dir, const SparseExportOptions& options) {
  CheckSparseTables(plan, checkpoint, options);
  std::error_code ec;
  fs::create_directories(sparse_dir, ec);
  if (ec) Fail("cannot create {}: {}", sparse_dir, ec.message());

  uint64_t total_rows = 0;
  for (const SparseTable& table : plan.tables) {
    total_rows += static_cast<uint64_t>(checkpoint.Entry(table.state_name).rows());
  }
  Progress progress("sparse tables", total_rows, "rows");
  uint64_t rows_done = 0;

  const int n = options.num_shards;
  nlohmann::ordered_json merged = nlohmann::ordered_json::object();
  for (int shard = 0; shard < n; ++shard) {
    const std::string name = ShardName(shard, n);
    const fs::path npz_path = fs::path(sparse_dir) / (name + ".npz");
    nlohmann::ordered_json shard_meta = nlohmann::ordered_json::object();
    NpzWriter npz(npz_path.string());
    for (const SparseTable& table : plan.tables) {
      const checkpoint::TensorEntry& entry = checkpoint.Entry(table.state_name);
      const FloatDtype& dtype = *FindFloatDtype(entry.dtype);
      const auto [begin, end] = ShardRows(entry.rows(), shard, n);
      const int64_t rows = end - begin;
      nlohmann::ordered_json meta = TableMeta(table, dtype, begin, end, options.quant_int8);
      if (options.quant_int8) {
        npz.AddArray(table.name, "|u1", {rows, QuantRowBytes(table.dim)},
                     static_cast<uint64_t>(rows * QuantRowBytes(table.dim)), [&, begin = begin, end = end] {
                       return BlockProducer(TableRowProducer(checkpoint, table, begin, end, options,
                                                             &progress, &rows_done));
                     });
      } else {
        npz.AddArray(table.name, dtype.descr, {rows, table.dim},
                     static_cast<uint64_t>(rows * checkpoint.RowBytes(table.state_name)),
                     [&, begin = begin, end = end] {
                       return BlockProducer(TableRowProducer(checkpoint, table, begin, end, options,
                                                             &progress, &rows_done));
                     });
      }
      spdlog::info("{}.npz: {} rows [{}, {}) of {}{}", name, rows, begin, end, table.name,
                   options.quant_int8 ? " (INT8)" : "");

      // The merged entry: shapes and memory summed across shards.
      if (!merged.contains(table.name)) {
        merged[table.name] = meta;
        merged[table.name]["row_range"] = RowRange(0, entry.rows());
        merged[table.name]["shards"] = nlohmann::ordered_json::array();
        merged[table.name]["shape"][0] = 0;
        merged[table.name]["memory"] = 0;
        if (options.quant_int8) merged[table.name]["storage_shape"][0] = 0;
      }
      nlohmann::ordered_json& all = merged[table.name];
      all["shape"][0] = all["shape"][0].get<int64_t>() + rows;
      all["memory"] = all["memory"].get<int64_t>() + meta["memory"].get<int64_t>();
      if (options.quant_int8) all["storage_shape"][0] = all["storage_shape"][0].get<int64_t>() + rows;
      all["shards"].push_back({{"file", name + ".npz"}, {"row_range", RowRange(begin, end)}});
      shard_meta[table.name] = std::move(meta);
    }
    // libzip reads every entry (so every table, block by block) here.
    npz.Close();
    WriteText(fs::path(sparse_dir) / (name + ".json"), DumpPythonJson(shard_meta));
  }
  progress.Finish();
  WriteText(fs::path(sparse_dir) / "sparse_embedding.json", DumpPythonJson(merged));
  WriteText(fs::path(sparse_dir) / "sparse_features.json", DumpPythonJson(plan.features));
}

}  // namespace tzrec::exporting::distributed
