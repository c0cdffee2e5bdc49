#include "predict/hitrate.h"

#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/strings.h"
#include "data/batch_iterator.h"
#include "data/csv_reader.h"
#include "predict/faiss_index.h"
#include "predict/output_file.h"
#include "predict/prediction_format.h"

namespace fs = std::filesystem;

namespace tzrec::predict {
namespace {

// "a,b,c" -> parts; an empty text has no parts.
std::vector<std::string_view> Split(std::string_view text, char sep) {
  if (text.empty()) return {};
  return SplitExact(text, std::string_view(&sep, 1));
}

float ParseFloat(std::string_view text, const std::string& where) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  float value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    Fail("{}: embedding value '{}' is not a number", where, text);
  }
  return value;
}

// Appends the num_interests vectors of one request (interests joined by ';').
void ParseUserEmbedding(std::string_view text, int num_interests, int64_t dim, const std::string& where,
                        std::vector<float>& out) {
  std::vector<std::string_view> interests =
      num_interests > 1 ? Split(text, ';') : std::vector<std::string_view>{text};
  if (static_cast<int>(interests.size()) != num_interests) {
    Fail("{}: user embedding has {} interests (';'-separated), --num_interests is {}", where, interests.size(),
         num_interests);
  }
  for (std::string_view interest : interests) {
    std::vector<std::string_view> values = Split(interest, ',');
    if (static_cast<int64_t>(values.size()) != dim) {
      Fail("{}: user embedding has {} values, the item index has dimension {}", where, values.size(), dim);
    }
    for (std::string_view v : values) out.push_back(ParseFloat(v, where));
  }
}

std::string JoinIds(const std::vector<std::string>& ids, const faiss::Index::idx_t* labels, int64_t k) {
  std::string out;
  for (int64_t j = 0; j < k; ++j) {
    if (labels[j] < 0) continue;  // fewer than k results
    if (!out.empty()) out += ',';
    out += ids[labels[j]];
  }
  return out;
}

class DetailsWriter {
 public:
  explicit DetailsWriter(const std::string& path) : file_(path) {
    file_.Write("id,topk_ids,topk_dists,hitrate,hit_ids\n");
  }
  void Row(std::string_view id, const std::string& topk_ids, const std::string& topk_dists, double hitrate,
           const std::string& hit_ids) {
    line_.clear();
    AppendCsvField(line_, id);
    line_ += ',';
    AppendCsvField(line_, topk_ids);
    line_ += ',';
    AppendCsvField(line_, topk_dists);
    line_ += fmt::format(",{},", hitrate);
    AppendCsvField(line_, hit_ids);
    line_ += '\n';
    file_.Write(line_);
  }
  void Commit() { file_.Commit(); }

 private:
  AtomicOutputFile file_;
  std::string line_;
};

void CheckOptions(const HitrateOptions& o) {
  if (o.user_gt_input.empty()) FailConfig("--user_gt_input is required");
  if (o.index_input_dir.empty() == o.item_embedding_input.empty()) {
    FailConfig("give exactly one of --index_input_dir (create_faiss_index's output) and --item_embedding_input");
  }
  if (o.top_k <= 0) FailConfig("--top_k must be positive, got {}", o.top_k);
  if (o.num_interests <= 0) FailConfig("--num_interests must be positive, got {}", o.num_interests);
  if (o.batch_size <= 0) FailConfig("--batch_size must be positive, got {}", o.batch_size);
}

}  // namespace

HitrateSummary ComputeHitrate(const HitrateOptions& options) {
  CheckOptions(options);
  // Fail on existing output paths before the (possibly long) search.
  std::optional<DetailsWriter> details;
  if (!options.hitrate_details_output.empty()) details.emplace(options.hitrate_details_output);
  std::optional<AtomicOutputFile> total_file;
  if (!options.total_hitrate_output.empty()) total_file.emplace(options.total_hitrate_output);

  // Upstream's tool builds the index from the item embeddings itself: in memory.
  ItemIndex items;
  if (options.index_input_dir.empty()) {
    FaissIndexOptions build;
    build.embedding_input_path = options.item_embedding_input;
    build.id_field = options.item_id_field;
    build.embedding_field = options.item_embedding_field;
    build.index_type = options.index_type;
    build.ivf_nlist = options.ivf_nlist;
    items = BuildItemIndex(build);
  } else {
    items = ReadItemIndex(options.index_input_dir);
  }
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(items.index.get())) {
    ivf->nprobe = static_cast<size_t>(std::min<int64_t>(options.ivf_nprobe, ivf->nlist));
  }
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(items.index.get()); hnsw && options.hnsw_ef_search > 0) {
    hnsw->hnsw.efSearch = options.hnsw_ef_search;
  }
  HitrateSummary summary;
  summary.num_items = items.index->ntotal;
  summary.dim = items.index->d;
  const int64_t dim = items.index->d;
  const int64_t k = std::min<int64_t>(options.top_k, items.index->ntotal);
  const int interests = options.num_interests;
  spdlog::info("hitrate: searching top {} of {} items (dim {})", k, summary.num_items, dim);

  data::CsvOptions csv;
  csv.with_header = true;
  std::vector<float> queries;
  std::vector<float> distances;
  std::vector<faiss::Index::idx_t> labels;
  std::unordered_set<std::string_view> gt, hit;
  for (const std::string& path : data::ExpandInputPath(options.user_gt_input)) {
    data::CsvReader reader(path, csv);
    data::RowBatch batch;
    int id_col = -1, gt_col = -1, emb_col = -1, num_col = -1;
    while (reader.ReadRows(options.batch_size, &batch) > 0) {
      if (id_col < 0) {
        auto column = [&](const std::string& name, const char* flag) {
          int c = batch.ColumnIndex(name);
          if (c < 0) FailConfig("{}: no column '{}' ({})", path, name, flag);
          return c;
        };
        id_col = column(options.request_id_field, "--request_id_field");
        gt_col = column(options.gt_items_field, "--gt_items_field");
        emb_col = column(options.user_embedding_field, "--user_embedding_field");
        if (!options.num_interests_field.empty()) num_col = column(options.num_interests_field, "--num_interests_field");
      }
      const int64_t rows = batch.num_rows;
      queries.clear();
      for (int64_t r = 0; r < rows; ++r) {
        ParseUserEmbedding(batch.Field(r, emb_col), interests, dim,
                           fmt::format("{}:{}", path, batch.line_numbers[r]), queries);
      }
      const int64_t nq = rows * interests;
      distances.resize(nq * k);
      labels.resize(nq * k);
      items.index->search(nq, queries.data(), k, distances.data(), labels.data());

      for (int64_t r = 0; r < rows; ++r) {
        ++summary.requests;
        gt.clear();
        for (std::string_view id : Split(batch.Field(r, gt_col), ',')) gt.insert(id);
        if (gt.empty()) {
          ++summary.skipped;
          continue;
        }
        int valid = interests;
        if (num_col >= 0) {
          std::string_view text = batch.Field(r, num_col);
          auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), valid);
          if (ec != std::errc() || end != text.data() + text.size()) {
            Fail("{}:{}: {} '{}' is not an integer", path, batch.line_numbers[r], options.num_interests_field, text);
          }
          valid = std::clamp(valid, 0, interests);
        }
        hit.clear();
        for (int i = 0; i < valid; ++i) {
          const faiss::Index::idx_t* row_labels = &labels[(r * interests + i) * k];
          for (int64_t j = 0; j < k; ++j) {
            if (row_labels[j] < 0) continue;
            std::string_view id = items.ids[row_labels[j]];
            if (gt.count(id)) hit.insert(id);
          }
        }
        const double rate = static_cast<double>(hit.size()) / static_cast<double>(gt.size());
        summary.hits += static_cast<double>(hit.size());
        summary.gt_count += static_cast<double>(gt.size());
        if (details) {
          std::string topk_ids, topk_dists, hit_ids;
          for (int i = 0; i < interests; ++i) {
            if (i > 0) {
              topk_ids += ';';
              topk_dists += ';';
            }
            const int64_t base = (r * interests + i) * k;
            topk_ids += JoinIds(items.ids, &labels[base], k);
            bool first = true;
            for (int64_t j = 0; j < k; ++j) {
              if (labels[base + j] < 0) continue;
              if (!first) topk_dists += ',';
              topk_dists += fmt::format("{}", distances[base + j]);
              first = false;
            }
          }
          std::vector<std::string_view> sorted_hits(hit.begin(), hit.end());
          std::sort(sorted_hits.begin(), sorted_hits.end());
          for (std::string_view id : sorted_hits) {
            if (!hit_ids.empty()) hit_ids += ',';
            hit_ids += id;
          }
          details->Row(batch.Field(r, id_col), topk_ids, topk_dists, rate, hit_ids);
        }
      }
    }
  }
  if (summary.requests == 0) Fail("{}: no requests to evaluate", options.user_gt_input);
  if (summary.gt_count == 0) Fail("{}: no request has ground-truth items", options.user_gt_input);
  if (summary.skipped > 0) spdlog::warn("hitrate: {} requests without gt items were skipped", summary.skipped);
  summary.hitrate = summary.hits / summary.gt_count;
  if (details) details->Commit();
  if (total_file) {
    total_file->Write(fmt::format("hitrate\n{}\n", summary.hitrate));
    total_file->Commit();
  }
  return summary;
}

}  // namespace tzrec::predict
