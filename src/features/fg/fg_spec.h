// The FG engine's view of fg.json: one FeatureSpec per output feature, with the
// grouped `sequence_name` blocks flattened into `<sequence_name>__<feature>`
// sub-features. Only fg.json is read, because a serving export dir has nothing
// else (no pipeline.config).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace tzrec::fg {

enum class FeatureType { kId, kRaw, kCombo, kLookup, kMatch, kExpr };

const char* FeatureTypeName(FeatureType type);

// One input of a feature: `side:name` from fg.json (side is user, item, context,
// feature or const) and the column it is read from. Sub-features of a grouped
// sequence read their per-element inputs from `<sequence_name>__<name>`.
struct InputRef {
  std::string side;
  std::string name;
  std::string column;       // column (or, for side "feature", feature) name
  bool is_sequence = false; // split by sequence_delim, one part per element
};

struct FeatureSpec {
  FeatureType type = FeatureType::kId;
  std::string name;          // output name, prefixed for grouped sequences
  std::string fg_name;       // feature_name as written in fg.json
  std::vector<InputRef> inputs;
  std::string default_value;
  char separator = '\x1d';
  std::optional<int> value_dim;  // as written; absent when fg.json has none
  std::string value_type;
  bool weighted = false;
  bool stub = false;  // intermediate DAG result, not a model input

  // Discretisation (at most one of these, checked by ParseFgJson).
  std::optional<uint64_t> hash_bucket_size;
  std::optional<int64_t> num_buckets;
  std::optional<std::vector<std::string>> vocab_list;
  std::optional<std::vector<std::pair<std::string, int64_t>>> vocab_dict;
  std::optional<std::string> vocab_file;
  int64_t default_bucketize_value = 1;  // fg.json always carries it with a vocab
  std::vector<float> boundaries;        // float32, as the trainer had them
  std::string normalizer;

  // lookup_feature / match_feature
  bool need_discrete = false;
  bool need_key = false;
  std::string combiner;  // lookup: sum | mean | max | min | "" (keep every hit)
  bool show_category = false;
  bool show_item = false;
  std::string match_type = "hit";

  // expr_feature
  std::string expression;

  // Sequences: a grouped block member or a sequence_<type> feature.
  bool is_sequence = false;
  bool is_grouped_sequence = false;
  std::string sequence_name;
  std::string sequence_delim = ";";
  int64_t sequence_length = 0;  // 0: no truncation
  std::string sequence_pk;

  // Does the feature's FG output consist of ids (embedding lookups) rather than
  // dense floats?
  bool IsSparse() const;
  // Does FG see the values as strings to discretise (id/combo, discrete lookup
  // and match) rather than numbers?
  bool IsDiscrete() const;
  bool HasTokenBucketizer() const {
    return hash_bucket_size || num_buckets || vocab_list || vocab_dict || vocab_file;
  }
  // Width of one dense value (raw/expr/lookup/match without ids).
  int DenseDim() const;
};

// Parses {"features": [...]}; `origin` names the file in errors.
std::vector<FeatureSpec> ParseFgJson(const nlohmann::json& fg_json, const std::string& origin);
std::vector<FeatureSpec> LoadFgJson(const std::string& path);

}  // namespace tzrec::fg
