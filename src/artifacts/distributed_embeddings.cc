#include "artifacts/distributed_embeddings.h"

#include <filesystem>
#include <fstream>
#include <regex>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "artifacts/npz_reader.h"
#include "artifacts/row_quant.h"

namespace tzrec::artifacts {

namespace fs = std::filesystem;


namespace {

constexpr char kDenseMeta[] = "dense_meta.json";
constexpr char kSparseDir[] = "sparse";
constexpr char kEmbeddingMeta[] = "sparse_embedding.json";
constexpr char kFeatureMeta[] = "sparse_features.json";

nlohmann::json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  if (!in) Fail("{} is missing", path.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    Fail("{}: not valid JSON: {}", path.string(), std::string(e.what()).substr(0, 200));
  }
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The shard files of a table: "shards" as tzrec writes it; else (upstream's
// one-shard exports) every sparse_embeddings-*.npz in name order.
std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> ShardsOf(
    const nlohmann::json& meta, const std::vector<std::string>& all_shards) {
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> shards;
  if (meta.contains("shards")) {
    for (const auto& s : meta["shards"]) {
      shards.push_back({s.at("file").get<std::string>(),
                        {s.at("row_range")[0].get<int64_t>(), s.at("row_range")[1].get<int64_t>()}});
    }
  } else {
    for (const std::string& file : all_shards) shards.push_back({file, {-1, -1}});
  }
  return shards;
}

}  // namespace

bool DistributedEmbeddings::IsDistributedExport(const std::string& export_dir) {
  return fs::is_regular_file(fs::path(export_dir) / kDenseMeta) &&
         fs::is_regular_file(fs::path(export_dir) / kSparseDir / kEmbeddingMeta);
}

DistributedEmbeddings::DistributedEmbeddings(const std::string& export_dir,
                                             const protos::EasyRecConfig& config)
    : export_dir_(export_dir), features_(CreateFeatures(config)) {
  const fs::path sparse = fs::path(export_dir) / kSparseDir;
  const nlohmann::json tables = ReadJson(sparse / kEmbeddingMeta);
  const nlohmann::json features = ReadJson(sparse / kFeatureMeta);

  std::vector<std::string> all_shards;
  static const std::regex shard_re(R"(sparse_embeddings-\d+-of-\d+\.npz)");
  for (const auto& entry : fs::directory_iterator(sparse)) {
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, shard_re)) all_shards.push_back(name);
  }
  std::sort(all_shards.begin(), all_shards.end());

  // Each shard file is read once; its arrays are then placed by row range.
  std::map<std::string, std::map<std::string, NpyArray>> loaded;
  auto shard_arrays = [&](const std::string& file) -> std::map<std::string, NpyArray>& {
    auto it = loaded.find(file);
    if (it == loaded.end()) {
      it = loaded.emplace(file, ReadNpz((sparse / file).string())).first;
    }
    return it->second;
  };

  for (const auto& [name, meta] : tables.items()) {
    if (meta.value("is_dynamic", false)) {
      Fail("{}: table {} is a dynamic embedding table, which tzrec cannot look up",
           (sparse / kEmbeddingMeta).string(), name);
    }
    Table table;
    table.dim = meta.at("dimension").get<int64_t>();
    table.quantized = meta.contains("quant") && meta["quant"].value("enabled", false);
    const int64_t rows = meta.at("shape")[0].get<int64_t>();
    std::vector<at::Tensor> parts;
    int64_t next_row = 0;
    for (const auto& [file, range] : ShardsOf(meta, all_shards)) {
      std::map<std::string, NpyArray>& arrays = shard_arrays(file);
      auto it = arrays.find(name);
      if (it == arrays.end()) Fail("{}: has no array {}", (sparse / file).string(), name);
      at::Tensor data = it->second.data;
      if (range.first >= 0 && (range.first != next_row || range.second - range.first != data.size(0))) {
        Fail("{}: array {} holds {} rows, but {} says rows [{}, {})", (sparse / file).string(), name,
             data.size(0), kEmbeddingMeta, range.first, range.second);
      }
      next_row += data.size(0);
      parts.push_back(data);
      arrays.erase(it);  // the table takes it over
    }
    table.data = parts.size() == 1 ? parts[0] : at::cat(parts, 0);
    const int64_t width = table.quantized ? QuantRowBytes(table.dim) : table.dim;
    if (table.data.dim() != 2 || table.data.size(0) != rows || table.data.size(1) != width) {
      Fail("{}: table {} has shape {} in its shards, expected [{}, {}]", (sparse / kEmbeddingMeta).string(),
           name, c10::str(table.data.sizes()), rows, width);
    }
    if (!table.quantized) table.data = table.data.to(at::kFloat);
    tables_.emplace(name, std::move(table));
  }

  for (const auto& [key, meta] : features.items()) {
    Input input;
    input.key = key;
    input.table = meta.at("embedding_name").get<std::string>();
    FindTable(input.table);
    input.jagged = EndsWith(key, "__ec");
    if (!input.jagged && !EndsWith(key, "__ebc")) {
      Fail("{}: input {} is neither <feature>__ebc nor <feature>__ec", (sparse / kFeatureMeta).string(), key);
    }
    std::string feature_name = key.substr(0, key.size() - (input.jagged ? 4 : 5));
    feature_name = feature_name.substr(0, feature_name.find('@'));
    for (const auto& f : features_) {
      if (f->name() == feature_name) input.feature = f.get();
    }
    if (input.feature == nullptr) {
      Fail("{}: input {} names feature {}, which pipeline.config does not have",
           (sparse / kFeatureMeta).string(), key, feature_name);
    }
    input.mean = meta.value("pooling", std::string("SUM")) == "MEAN";
    inputs_.push_back(std::move(input));
  }
  spdlog::info("distributed-embedding export: {} tables, {} embedding inputs", tables_.size(),
               inputs_.size());
}

DistributedEmbeddings::~DistributedEmbeddings() = default;

const DistributedEmbeddings::Table& DistributedEmbeddings::FindTable(const std::string& name) const {
  auto it = tables_.find(name);
  if (it == tables_.end()) {
    Fail("{}/sparse: table {} is not in {}", export_dir_, name, kEmbeddingMeta);
  }
  return it->second;
}

const at::Tensor& DistributedEmbeddings::table(const std::string& name) const { return FindTable(name).data; }

at::Tensor DistributedEmbeddings::Rows(const std::string& name, const at::Tensor& ids) const {
  const Table& table = FindTable(name);
  const at::Tensor rows = table.data.index_select(0, ids.to(at::kLong));
  if (!table.quantized) return rows;
  at::Tensor out = at::empty({rows.size(0), table.dim});
  const at::Tensor stored = rows.contiguous();
  DequantizeRows(stored.data_ptr<uint8_t>(), rows.size(0), table.dim,
                                         out.data_ptr<float>());
  return out;
}

at::Tensor DistributedEmbeddings::Pooled(const Input& input, const models::TensorMap& inputs) const {
  const Feature& feature = *input.feature;
  auto get = [&](const std::string& key) -> const at::Tensor& {
    auto it = inputs.find(key);
    if (it == inputs.end()) Fail("input {} is missing from the batch (needed for {})", key, input.key);
    return it->second;
  };
  const at::Tensor ids = get(feature.values_key()).to(at::kLong);
  const Table& table = FindTable(input.table);
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= table.data.size(0)) {
      Fail("feature {}: id {} is outside table {} ({} rows)", feature.name(), lo < 0 ? lo : hi,
           input.table, table.data.size(0));
    }
  }
  // Unique ids keep INT8 dequantization to the rows actually used.
  at::Tensor rows, index;
  if (table.quantized) {
    auto [unique, inverse] = at::_unique(ids, /*sorted=*/true, /*return_inverse=*/true);
    rows = Rows(input.table, unique);
    index = inverse;
  } else {
    rows = table.data;
    index = ids;
  }
  auto pool = [&](const at::Tensor& bag_sizes, const c10::optional<at::Tensor>& weights, bool mean) {
    const at::Tensor offsets = at::cumsum(bag_sizes, 0) - bag_sizes;
    at::Tensor pooled = std::get<0>(at::embedding_bag(rows, index, offsets, false, 0, false, weights, false));
    if (mean) pooled = pooled / at::clamp(bag_sizes, 1).unsqueeze(1).to(pooled.scalar_type());
    return pooled;
  };
  const at::Tensor lengths = get(feature.lengths_key()).to(at::kLong);
  if (!input.jagged) {
    c10::optional<at::Tensor> weights;
    if (feature.is_weighted()) weights = get(feature.weights_key()).to(at::kFloat);
    return pool(lengths, weights, input.mean);
  }
  if (feature.is_sequence() && feature.value_dim() != 1) {
    // A multi-value sequence element: its ids pooled into one row.
    const at::Tensor key_lengths = get(feature.name() + ".key_lengths").to(at::kLong);
    return pool(key_lengths, c10::nullopt, feature.pooling() == Pooling::kMean);
  }
  return rows.index_select(0, index);
}

void DistributedEmbeddings::AddEmbeddings(const models::TensorMap& inputs,
                                          c10::Dict<std::string, at::Tensor>& out) const {
  for (const Input& input : inputs_) {
    out.insert_or_assign(input.key, Pooled(input, inputs));
    if (input.jagged) {
      const std::string key = input.key.substr(0, input.key.size() - 4) + "__lengths";
      auto it = inputs.find(input.feature->lengths_key());
      if (it == inputs.end()) Fail("input {} is missing from the batch", input.feature->lengths_key());
      out.insert_or_assign(key, it->second.to(at::kLong));
    }
  }
}

}  // namespace tzrec::artifacts
