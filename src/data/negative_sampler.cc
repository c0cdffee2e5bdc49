#include "data/negative_sampler.h"

#include <cmath>
#include <fstream>
#include <unordered_set>

#include "common/error.h"
#include "common/strings.h"
#include "features/fg/text_util.h"

namespace tzrec::data {
namespace {

// Upstream's tables start with a header typing each column ("id:int64").
bool IsHeader(const std::vector<std::string_view>& fields) {
  return !fields.empty() && fields[0].find(':') != std::string_view::npos;
}

// Redraws of an item that is one of the batch's own before it is kept.
constexpr int kRedraws = 5;

}  // namespace

NegativeSampler::NegativeSampler(const protos::NegativeSampler& config, bool for_eval)
    : path_(config.input_path()),
      item_id_field_(config.item_id_field()),
      attr_fields_(config.attr_fields().begin(), config.attr_fields().end()),
      num_sample_(for_eval && config.num_eval_sample() > 0 ? config.num_eval_sample()
                                                            : config.num_sample()) {
  const std::string where = "data_config.negative_sampler.input_path";
  if (path_.rfind("odps://", 0) == 0) {
    FailConfig("{} '{}': an ODPS table is a cloud table service tzrec does not reach; point it at "
               "a local item table file", where, path_);
  }
  if (num_sample_ <= 0) FailConfig("data_config.negative_sampler.num_sample must be > 0");
  std::ifstream in(path_, std::ios::binary);
  if (!in) FailConfig("{} '{}': cannot open the item table", where, path_);
  const std::string field_delim = config.has_field_delimiter() ? config.field_delimiter() : "\t";
  const std::string& attr_delim = config.attr_delimiter();
  std::vector<double> weights;
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::vector<std::string_view> fields = SplitExact(line, field_delim);
    if (line_number == 1 && IsHeader(fields)) continue;
    if (fields.size() != 3) {
      FailConfig("{}:{}: {} fields; an item table row is <id>, <weight>, <attrs>", path_, line_number,
                 fields.size());
    }
    double weight = 0;
    if (!fg::ParseDouble(fields[1], &weight) || !(weight >= 0) || !std::isfinite(weight)) {
      FailConfig("{}:{}: weight '{}' is not a number >= 0", path_, line_number, fields[1]);
    }
    const std::vector<std::string_view> attrs = SplitExact(fields[2], attr_delim);
    if (attrs.size() != attr_fields_.size()) {
      FailConfig("{}:{}: {} attrs, but negative_sampler.attr_fields names {}", path_, line_number,
                 attrs.size(), attr_fields_.size());
    }
    offsets_.push_back(text_.size());
    text_.append(fields[0]);
    for (std::string_view attr : attrs) {
      offsets_.push_back(text_.size());
      text_.append(attr);
    }
    weights.push_back(weight);
    lines_.push_back(line_number);
  }
  offsets_.push_back(text_.size());
  if (weights.empty()) FailConfig("{} '{}': the item table has no items", where, path_);
  double total = 0;
  for (double w : weights) total += w;
  if (total <= 0) FailConfig("{} '{}': every item has weight 0", where, path_);
  by_weight_ = std::discrete_distribution<size_t>(weights.begin(), weights.end());
}

std::string_view NegativeSampler::Field(size_t item, size_t field) const {
  const size_t i = item * (attr_fields_.size() + 1) + field;
  return std::string_view(text_).substr(offsets_[i], offsets_[i + 1] - offsets_[i]);
}

void NegativeSampler::Sample(const std::vector<std::string_view>& batch_ids, std::mt19937_64& rng,
                             RowBatch* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::unordered_set<std::string_view> own(batch_ids.begin(), batch_ids.end());
  out->Reset(path_, attr_fields_);
  out->num_rows = num_sample_;
  out->fields.reserve(static_cast<size_t>(num_sample_) * attr_fields_.size());
  for (int64_t r = 0; r < num_sample_; ++r) {
    size_t item = by_weight_(rng);
    for (int redraw = 0; redraw < kRedraws && own.count(Field(item, 0)); ++redraw) {
      item = by_weight_(rng);
    }
    for (size_t a = 0; a < attr_fields_.size(); ++a) out->fields.push_back(Field(item, a + 1));
    // A value FG cannot take is reported at the item's line of the table.
    out->line_numbers.push_back(lines_[item]);
  }
}

}  // namespace tzrec::data
