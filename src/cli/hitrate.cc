// `tzrec hitrate`: recall@k of a match model's user embeddings against an
// item FAISS index (upstream's tzrec/tools/hitrate.py and its flags).
#include <spdlog/spdlog.h>

#include "cli/subcommand.h"
#include "common/error.h"
#include "predict/hitrate.h"

namespace tzrec::cli {
namespace {

std::function<int()> Setup(CLI::App& app) {
  auto o = std::make_shared<predict::HitrateOptions>();
  app.add_option("--user_gt_input", o->user_gt_input,
                 "CSV with request ids, gt item ids and user embeddings, e.g. `tzrec predict` on the user/ "
                 "export with --reserved_columns request_id,gt_items")
      ->required();
  app.add_option("--index_input_dir", o->index_input_dir,
                 "directory with faiss_index and id_mapping from create_faiss_index");
  app.add_option("--item_embedding_input", o->item_embedding_input,
                 "or: CSV of item ids and embeddings; the index is built in memory");
  app.add_option("--total_hitrate_output", o->total_hitrate_output, "CSV file receiving the total hitrate");
  app.add_option("--hitrate_details_output", o->hitrate_details_output,
                 "CSV file receiving id, topk_ids, topk_dists, hitrate, hit_ids per request");
  app.add_option("--batch_size", o->batch_size, "requests per search");
  app.add_option("--index_type", o->index_type, "index built from --item_embedding_input");
  app.add_option("--top_k", o->top_k, "items retrieved per user embedding");
  app.add_option("--ivf_nlist", o->ivf_nlist, "nlist of an IVFFlat index built here");
  app.add_option("--ivf_nprobe", o->ivf_nprobe, "lists an IVF index searches");
  app.add_option("--hnsw_efSearch", o->hnsw_ef_search, "efSearch of an HNSW index (0: as stored)");
  app.add_option("--item_id_field", o->item_id_field, "item id column of the item embeddings");
  app.add_option("--item_embedding_field", o->item_embedding_field,
                 "embedding column of the item embeddings (values joined by ',')");
  app.add_option("--request_id_field", o->request_id_field, "request id column of --user_gt_input");
  app.add_option("--gt_items_field", o->gt_items_field, "gt item ids joined by ','");
  app.add_option("--user_embedding_field", o->user_embedding_field,
                 "values joined by ','; interests joined by ';'");
  app.add_option("--num_interests", o->num_interests, "user embeddings per request");
  app.add_option("--num_interests_field", o->num_interests_field, "column with the valid interests per request");
  auto across = std::make_shared<bool>(false);
  app.add_flag("--topk_across_interests", *across, "not supported");
  auto reader_type = std::make_shared<std::string>(), writer_type = std::make_shared<std::string>();
  app.add_option("--reader_type", *reader_type, "only CsvReader");
  app.add_option("--writer_type", *writer_type, "only CsvWriter");
  return [o, across, reader_type, writer_type]() {
    if (*across) FailConfig("--topk_across_interests is not supported");
    if (!reader_type->empty() && *reader_type != "CsvReader") FailConfig("--reader_type {}: only CsvReader", *reader_type);
    if (!writer_type->empty() && *writer_type != "CsvWriter") FailConfig("--writer_type {}: only CsvWriter", *writer_type);
    auto s = predict::ComputeHitrate(*o);
    spdlog::info("Total hitrate: {} ({} hits of {} gt items, {} requests, top {} of {} items)", s.hitrate, s.hits,
                 s.gt_count, s.requests - s.skipped, o->top_k, s.num_items);
    return 0;
  };
}

const bool kRegistered = Register({"hitrate", "recall@k of user embeddings against an item FAISS index", Setup});

}  // namespace
}  // namespace tzrec::cli
