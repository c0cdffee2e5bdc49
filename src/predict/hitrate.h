// Retrieval evaluation for match models (`tzrec hitrate`, upstream's
// tzrec/tools/hitrate.py): search each request's user embedding(s) in a FAISS
// index of item embeddings and measure how many of the request's ground-truth
// items come back in the top k.
//
//   hitrate of a request = |top-k ids (union over its interests) ∩ gt items| / |gt items|
//   total hitrate        = sum of hits / sum of gt item counts (requests without
//                          gt items are skipped)
//
// Inputs, as upstream's workflow produces them:
//  - user_gt_input: CSV with a header holding request_id, gt_items (item ids
//    joined by ',') and user_tower_emb (values joined by ','; with
//    num_interests > 1 the interests' vectors are joined by ';'), e.g. the
//    output of `tzrec predict` on the user/ export with
//    --reserved_columns request_id,gt_items;
//  - the items: either index_input_dir (faiss_index + id_mapping written by
//    `tzrec create_faiss_index`) or item_embedding_input (item ids and
//    embeddings, e.g. `tzrec predict` on the item/ export; the index is built
//    in memory, as upstream's tool does).
//
// Outputs (CSV with a header, each appearing complete or not at all):
//  - total_hitrate_output: one column "hitrate", one row;
//  - hitrate_details_output: id, topk_ids, topk_dists, hitrate, hit_ids; list
//    columns are joined by ',' (interests by ';'), hence quoted.
#pragma once

#include <cstdint>
#include <string>

namespace tzrec::predict {

struct HitrateOptions {
  std::string user_gt_input;
  std::string index_input_dir;
  std::string item_embedding_input;
  std::string total_hitrate_output;
  std::string hitrate_details_output;

  std::string index_type = "IVFFlatIP";  // for item_embedding_input
  int ivf_nlist = 1000;                  // for item_embedding_input
  int ivf_nprobe = 800;                  // IVF indexes: lists searched (capped at nlist)
  int hnsw_ef_search = 0;                // HNSW indexes: efSearch; 0 keeps the index's
  int top_k = 200;
  int64_t batch_size = 1024;             // requests searched per FAISS call

  std::string item_id_field = "item_id";
  std::string item_embedding_field = "item_tower_emb";
  std::string request_id_field = "request_id";
  std::string gt_items_field = "gt_items";
  std::string user_embedding_field = "user_tower_emb";
  int num_interests = 1;
  std::string num_interests_field;  // optional: valid interests per request
};

struct HitrateSummary {
  double hitrate = 0;    // total: hits / gt_count
  double hits = 0;
  double gt_count = 0;
  int64_t requests = 0;  // rows read
  int64_t skipped = 0;   // rows without gt items
  int64_t num_items = 0; // items in the index
  int64_t dim = 0;
};

// Throws tzrec::ConfigError for bad options or missing columns, tzrec::Error
// for unreadable files and malformed rows (naming file and line).
HitrateSummary ComputeHitrate(const HitrateOptions& options);

}  // namespace tzrec::predict
