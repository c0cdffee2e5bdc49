// Sampled negatives for match models (data_config.negative_sampler), as
// upstream's NegativeSampler: each training or eval batch gets num_sample
// items drawn by weight from an item table, other than the batch's own items
// where the table allows; their attr_fields feed the item features (the
// "__NEG__" data group) after the batch's own rows.
//
// The item table (negative_sampler.input_path) is upstream's local format: a
// text file of rows "<id>\t<weight>\t<attrs>" under a header naming them
// ("id:int64\tweight:float\tattrs:string"), attrs being the values of
// attr_fields joined by attr_delimiter (default ":"); field_delimiter
// replaces the tab when set.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "config/protos/sampler.pb.h"
#include "data/row_reader.h"

namespace tzrec::data {

class NegativeSampler {
 public:
  // Reads the item table. `for_eval` uses num_eval_sample when it is set.
  // Throws ConfigError naming the file, line and value for a bad table.
  NegativeSampler(const protos::NegativeSampler& config, bool for_eval);

  // Column of the batch holding each row's item id.
  const std::string& item_id_field() const { return item_id_field_; }
  const std::vector<std::string>& attr_fields() const { return attr_fields_; }
  int64_t num_sample() const { return num_sample_; }
  int64_t num_items() const { return static_cast<int64_t>(lines_.size()); }

  // Fills `out` with num_sample rows (columns: attr_fields) drawn by weight;
  // an item whose id is in `batch_ids` is redrawn a few times before it is
  // kept (a table of only batch items still gives negatives).
  void Sample(const std::vector<std::string_view>& batch_ids, std::mt19937_64& rng, RowBatch* out);

 private:
  std::string path_;
  std::string item_id_field_;
  std::vector<std::string> attr_fields_;
  int64_t num_sample_ = 0;
  // Every item's id and attrs, back to back in one buffer (millions of short
  // strings): item i's fields are text_[offsets_[i * stride + f] ..
  // offsets_[i * stride + f + 1]), f = 0 the id, then each attr.
  std::string text_;
  std::vector<uint64_t> offsets_;
  std::vector<int64_t> lines_;  // each item's line in the table, for errors
  // Parsers of several reader threads share the sampler: draws take turns.
  std::mutex mutex_;
  std::discrete_distribution<size_t> by_weight_;

  std::string_view Field(size_t item, size_t field) const;
};

}  // namespace tzrec::data
