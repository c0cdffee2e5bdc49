// Retrieval index for match models: a FAISS index over item-tower embeddings
// (as `tzrec predict` writes them from an export's item/ tower), written the way
// upstream's create_faiss_index does: <dir>/faiss_index (faiss::write_index) and
// <dir>/id_mapping (one item id per line, row i of the index = line i).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <faiss/Index.h>

namespace tzrec::predict {

struct FaissIndexOptions {
  std::string embedding_input_path;  // CSV with a header; comma-separated paths or globs
  std::string index_output_dir;
  std::string id_field;
  std::string embedding_field;       // vector values joined by ',' (predict's format)
  // IVFFlatIP, HNSWFlatIP, IVFFlatL2, HNSWFlatL2 (upstream's names), or FlatIP / FlatL2
  // (exact search).
  std::string index_type = "IVFFlatIP";
  int ivf_nlist = 1000;
  int hnsw_m = 32;
  int hnsw_ef_construction = 200;
};

struct FaissIndexSummary {
  int64_t num_embeddings = 0;
  int64_t dim = 0;
};

// An index over item embeddings in memory: row i of `index` is item ids[i].
struct ItemIndex {
  std::unique_ptr<faiss::Index> index;
  std::vector<std::string> ids;
};

// faiss::index_factory's description of an index type (upstream's names:
// IVFFlatIP -> "IVF<nlist>,Flat", HNSWFlatIP -> "HNSW<m>,Flat", FlatIP ->
// "Flat"; the suffix, IP or L2, is the metric). ConfigError for other names.
std::string IndexFactoryString(const FaissIndexOptions& options, faiss::MetricType* metric);

// Reads the embeddings and builds (trains, fills) the index. Errors name the
// file and line of a malformed embedding, a missing column, an unknown index
// type, or too few embeddings to train an IVF index.
ItemIndex BuildItemIndex(const FaissIndexOptions& options);

// What CreateFaissIndex wrote to `dir`, read back (errors name the file).
ItemIndex ReadItemIndex(const std::string& dir);

// BuildItemIndex, then writes it to index_output_dir.
FaissIndexSummary CreateFaissIndex(const FaissIndexOptions& options);

}  // namespace tzrec::predict
