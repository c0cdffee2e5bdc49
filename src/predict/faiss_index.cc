#include "predict/faiss_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/index_io.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "data/batch_iterator.h"
#include "data/csv_reader.h"

namespace fs = std::filesystem;

namespace tzrec::predict {
namespace {

struct Embeddings {
  std::vector<std::string> ids;
  std::vector<float> values;  // row-major [ids.size(), dim]
  int64_t dim = 0;
};

void ParseVector(std::string_view text, const std::string& where, Embeddings& out) {
  int64_t count = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view part = text.substr(pos, comma - pos);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    float value = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size()) {
      Fail("{}: embedding value '{}' is not a number", where, part);
    }
    out.values.push_back(value);
    ++count;
    pos = comma + 1;
  }
  if (out.dim == 0) out.dim = count;
  if (count != out.dim) Fail("{}: embedding has {} values, earlier rows have {}", where, count, out.dim);
}

Embeddings ReadEmbeddings(const FaissIndexOptions& options) {
  Embeddings out;
  data::CsvOptions csv;
  csv.with_header = true;
  for (const std::string& path : data::ExpandInputPath(options.embedding_input_path)) {
    data::CsvReader reader(path, csv);
    data::RowBatch batch;
    int id_col = -1, emb_col = -1;
    while (reader.ReadRows(8192, &batch) > 0) {
      if (id_col < 0) {
        id_col = batch.ColumnIndex(options.id_field);
        emb_col = batch.ColumnIndex(options.embedding_field);
        if (id_col < 0) FailConfig("{}: no id column '{}' (--id_field)", path, options.id_field);
        if (emb_col < 0) {
          FailConfig("{}: no embedding column '{}' (--embedding_field)", path, options.embedding_field);
        }
      }
      for (int64_t row = 0; row < batch.num_rows; ++row) {
        out.ids.emplace_back(batch.Field(row, id_col));
        ParseVector(batch.Field(row, emb_col), fmt::format("{}:{}", path, batch.line_numbers[row]), out);
      }
    }
  }
  if (out.ids.empty()) Fail("{}: no embeddings to index", options.embedding_input_path);
  return out;
}

std::unique_ptr<faiss::Index> NewIndex(const FaissIndexOptions& options, int64_t dim,
                                       std::unique_ptr<faiss::Index>& quantizer) {
  const std::string& type = options.index_type;
  auto ends_with = [&](const char* suffix) {
    return type.size() >= 2 && type.compare(type.size() - 2, 2, suffix) == 0;
  };
  if (!ends_with("IP") && !ends_with("L2")) {
    FailConfig("--index_type {} is unknown (IVFFlatIP, HNSWFlatIP, FlatIP, IVFFlatL2, HNSWFlatL2, FlatL2)", type);
  }
  const faiss::MetricType metric = ends_with("IP") ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
  const std::string kind = type.substr(0, type.size() - 2);
  if (kind == "Flat") {
    if (metric == faiss::METRIC_INNER_PRODUCT) return std::make_unique<faiss::IndexFlatIP>(dim);
    return std::make_unique<faiss::IndexFlatL2>(dim);
  }
  if (kind == "IVFFlat") {
    if (metric == faiss::METRIC_INNER_PRODUCT) {
      quantizer = std::make_unique<faiss::IndexFlatIP>(dim);
    } else {
      quantizer = std::make_unique<faiss::IndexFlatL2>(dim);
    }
    return std::make_unique<faiss::IndexIVFFlat>(quantizer.get(), dim, options.ivf_nlist, metric);
  }
  if (kind == "HNSWFlat") {
    auto index = std::make_unique<faiss::IndexHNSWFlat>(dim, options.hnsw_m, metric);
    index->hnsw.efConstruction = options.hnsw_ef_construction;
    return index;
  }
  FailConfig("--index_type {} is unknown (IVFFlatIP, HNSWFlatIP, FlatIP, IVFFlatL2, HNSWFlatL2, FlatL2)", type);
}

}  // namespace

FaissIndexSummary CreateFaissIndex(const FaissIndexOptions& options) {
  if (options.index_output_dir.empty()) FailConfig("--index_output_dir is required");
  Embeddings embeddings = ReadEmbeddings(options);
  const auto n = static_cast<int64_t>(embeddings.ids.size());

  std::unique_ptr<faiss::Index> quantizer;
  std::unique_ptr<faiss::Index> index = NewIndex(options, embeddings.dim, quantizer);
  spdlog::info("building {} index over {} embeddings of dim {}", options.index_type, n, embeddings.dim);
  if (!index->is_trained) {
    if (n < options.ivf_nlist) {
      FailConfig("--index_type {} needs at least --ivf_nlist={} embeddings to train, got {}; lower --ivf_nlist",
                 options.index_type, options.ivf_nlist, n);
    }
    index->train(n, embeddings.values.data());
  }
  index->add(n, embeddings.values.data());

  // Both files appear under their final names only once both are complete.
  fs::create_directories(options.index_output_dir);
  const fs::path dir(options.index_output_dir);
  const std::string suffix = ".tmp-" + std::to_string(::getpid());
  const fs::path index_tmp = dir / ("faiss_index" + suffix), ids_tmp = dir / ("id_mapping" + suffix);
  try {
    faiss::write_index(index.get(), index_tmp.c_str());
    std::ofstream ids(ids_tmp);
    for (const std::string& id : embeddings.ids) ids << id << '\n';
    ids.close();
    if (!ids) Fail("cannot write {}", ids_tmp.string());
    fs::rename(index_tmp, dir / "faiss_index");
    fs::rename(ids_tmp, dir / "id_mapping");
  } catch (...) {
    std::error_code ec;
    fs::remove(index_tmp, ec);
    fs::remove(ids_tmp, ec);
    throw;
  }
  return {n, embeddings.dim};
}

}  // namespace tzrec::predict
