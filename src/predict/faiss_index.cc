#include "predict/faiss_index.h"

#include <faiss/IndexHNSW.h>
#include <faiss/index_factory.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/file_writer.h"
#include "common/staging.h"
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
    // A NaN or inf vector matches nothing sensibly and poisons IVF training.
    if (!std::isfinite(value)) Fail("{}: embedding value '{}' is not finite", where, part);
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

}  // namespace

std::string IndexFactoryString(const FaissIndexOptions& options, faiss::MetricType* metric) {
  const std::string& type = options.index_type;
  const std::string suffix = type.size() >= 2 ? type.substr(type.size() - 2) : "";
  const std::string kind = type.substr(0, type.size() - suffix.size());
  if ((suffix == "IP" || suffix == "L2") && (kind == "Flat" || kind == "IVFFlat" || kind == "HNSWFlat")) {
    *metric = suffix == "IP" ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
    if (kind == "IVFFlat") return fmt::format("IVF{},Flat", options.ivf_nlist);
    if (kind == "HNSWFlat") return fmt::format("HNSW{},Flat", options.hnsw_m);
    return "Flat";
  }
  FailConfig("--index_type {} is unknown (IVFFlatIP, HNSWFlatIP, FlatIP, IVFFlatL2, HNSWFlatL2, FlatL2)", type);
}

ItemIndex BuildItemIndex(const FaissIndexOptions& options) {
  faiss::MetricType metric = faiss::METRIC_L2;
  const std::string factory = IndexFactoryString(options, &metric);
  Embeddings embeddings = ReadEmbeddings(options);
  const auto n = static_cast<int64_t>(embeddings.ids.size());
  ItemIndex out;
  out.index.reset(faiss::index_factory(static_cast<int>(embeddings.dim), factory.c_str(), metric));
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(out.index.get())) {
    hnsw->hnsw.efConstruction = options.hnsw_ef_construction;
  }
  spdlog::info("building {} index ({}) over {} embeddings of dim {}", options.index_type, factory, n,
               embeddings.dim);
  if (!out.index->is_trained) {
    if (n < options.ivf_nlist) {
      FailConfig("--index_type {} needs at least --ivf_nlist={} embeddings to train, got {}; lower --ivf_nlist",
                 options.index_type, options.ivf_nlist, n);
    }
    out.index->train(n, embeddings.values.data());
  }
  out.index->add(n, embeddings.values.data());
  out.ids = std::move(embeddings.ids);
  return out;
}

ItemIndex ReadItemIndex(const std::string& dir) {
  const fs::path index_path = fs::path(dir) / "faiss_index";
  const fs::path ids_path = fs::path(dir) / "id_mapping";
  for (const fs::path& p : {index_path, ids_path}) {
    if (!fs::is_regular_file(p)) {
      Fail("{} does not exist (--index_input_dir must hold what create_faiss_index writes)", p.string());
    }
  }
  ItemIndex out;
  try {
    out.index.reset(faiss::read_index(index_path.c_str()));
  } catch (const std::exception& e) {
    Fail("{}: not a FAISS index ({})", index_path.string(), e.what());
  }
  std::ifstream in(ids_path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.ids.push_back(std::move(line));
  }
  if (static_cast<int64_t>(out.ids.size()) != out.index->ntotal) {
    Fail("{} has {} ids but {} holds {} vectors", ids_path.string(), out.ids.size(), index_path.string(),
         out.index->ntotal);
  }
  return out;
}

namespace {

// faiss's writer interface over a FileWriter: a failed write is an Error
// naming the file and the system's reason (thrown through faiss's writer).
struct FaissFileWriter : faiss::IOWriter {
  explicit FaissFileWriter(FileWriter& file) : file(file) { name = file.path(); }
  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    file.Write(ptr, size * nitems);
    return nitems;
  }
  FileWriter& file;
};

}  // namespace

FaissIndexSummary CreateFaissIndex(const FaissIndexOptions& options) {
  if (options.index_output_dir.empty()) FailConfig("--index_output_dir is required");
  const ItemIndex built = BuildItemIndex(options);
  faiss::Index* index = built.index.get();

  // Both files appear under their final names only once both are complete.
  fs::create_directories(options.index_output_dir);
  const fs::path dir(options.index_output_dir);
  RemoveStaleStaging(dir.string(), [](const std::string& t) { return t == "faiss_index" || t == "id_mapping"; });
  const fs::path index_tmp = StagingPath((dir / "faiss_index").string()), ids_tmp = StagingPath((dir / "id_mapping").string());
  try {
    // faiss's own file writer does not check its close; this one checks
    // every write and the close (common/file_writer.h).
    FileWriter index_file(index_tmp.string());
    FaissFileWriter index_writer(index_file);
    faiss::write_index(index, &index_writer);
    index_file.Close();
    std::string ids;
    for (const std::string& id : built.ids) ids += id + '\n';
    WriteWholeFile(ids_tmp.string(), ids);
    fs::rename(index_tmp, dir / "faiss_index");
    fs::rename(ids_tmp, dir / "id_mapping");
  } catch (...) {
    std::error_code ec;
    fs::remove(index_tmp, ec);
    fs::remove(ids_tmp, ec);
    throw;
  }
  return {index->ntotal, index->d};
}

}  // namespace tzrec::predict
