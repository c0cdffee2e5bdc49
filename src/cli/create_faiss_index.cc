// `tzrec create_faiss_index`: a FAISS retrieval index over item embeddings,
// upstream's tool and flags.
#include <spdlog/spdlog.h>

#include "cli/subcommand.h"
#include "predict/faiss_index.h"

namespace tzrec::cli {
namespace {

std::function<int()> Setup(CLI::App& app) {
  auto options = std::make_shared<predict::FaissIndexOptions>();
  app.add_option("--embedding_input_path", options->embedding_input_path,
                 "CSV (with header) of item ids and embeddings, e.g. `tzrec predict` on the item/ export")
      ->required();
  app.add_option("--index_output_dir", options->index_output_dir,
                 "directory receiving faiss_index and id_mapping")
      ->required();
  app.add_option("--id_field", options->id_field, "id column")->required();
  app.add_option("--embedding_field", options->embedding_field,
                 "embedding column: values joined by ','")
      ->required();
  app.add_option("--index_type", options->index_type,
                 "IVFFlatIP, HNSWFlatIP, IVFFlatL2, HNSWFlatL2, or FlatIP / FlatL2 (exact)");
  app.add_option("--ivf_nlist", options->ivf_nlist, "nlist of IVFFlat indexes");
  app.add_option("--hnsw_M", options->hnsw_m, "M of HNSWFlat indexes");
  app.add_option("--hnsw_efConstruction", options->hnsw_ef_construction,
                 "efConstruction of HNSWFlat indexes");
  auto batch_size = std::make_shared<int>(1024);
  app.add_option("--batch_size", *batch_size, "accepted for upstream compatibility; reading is streamed");
  return [options, batch_size]() {
    auto summary = predict::CreateFaissIndex(*options);
    spdlog::info("wrote {}/faiss_index and id_mapping: {} embeddings of dim {}", options->index_output_dir,
                 summary.num_embeddings, summary.dim);
    return 0;
  };
}

const bool kRegistered = Register(
    {"create_faiss_index", "build a FAISS retrieval index over item embeddings", Setup});

}  // namespace
}  // namespace tzrec::cli
