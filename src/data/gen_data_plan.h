// The column plan of gen_data (gen_data.h): which columns a pipeline.config's
// features and labels need, in which order, and how each one's values are shaped
// (id space, floats across boundaries, key maps, sequences, label rules).
//
// Why it is separate from row generation (gen_data.cc): the plan is config ->
// columns, read once per run through protobuf reflection and failing with
// ConfigError on a config gen_data cannot serve; rows are values, drawn from the
// plan millions of times, and never look at the config. GenDataColumns needs only
// the plan.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/protos/pipeline.pb.h"
#include "data/gen_data.h"

namespace tzrec::data {

inline constexpr int kMaxGeneratedSequenceLength = 10;

enum class Shape {
  kId,         // ids (ints, hex strings or vocab entries)
  kFloat,      // value_dim floats, optionally spread across boundaries
  kKvMap,      // "k3:0.5<sep>k7:1.2" (lookup map, kv_dot_product)
  kKey,        // one key of a small key space (lookup key, match pkey/skey)
  kNestedMap,  // "c1^s2:0.5,s4:1.5|c3^s0:2" (match nested_map)
  kTokens,     // words joined by a separator (overlap, tokenize)
  kLabel,
  kSampleWeight,
};

enum class IdText { kInt, kHex, kVocab };

struct Column {
  std::string name;
  std::string origin;  // the feature or field it comes from, for messages
  Shape shape = Shape::kId;
  uint64_t salt = 0;

  // kId
  IdText id_text = IdText::kInt;
  uint64_t cardinality = 1;  // distinct ids, sampled by rank
  double log_cardinality = 0;  // log(cardinality + 1), for log-uniform ranks
  uint64_t scramble_mul = 1, scramble_add = 0;  // rank -> id in [0, cardinality)
  bool skewed = true;          // log-uniform ranks (else uniform)
  bool monotone_signal = false;  // signal grows with the rank (bucket ids)
  std::vector<std::string> vocab;
  int min_values = 1, max_values = 1;
  bool weighted = false;

  // kFloat
  std::vector<float> boundaries;
  int value_dim = 1;

  // kKey / kKvMap / kNestedMap / kTokens
  std::string key_prefix = "k";
  uint64_t key_count = 10;

  std::string value_sep = "\x1d";  // between values of one cell (or sequence element)

  // sequences: the group shares one length per row
  int seq_group = -1;
  std::string seq_delim;

  // labels
  int label_index = -1;
  bool signal_ok = false;  // may be picked by label rules
  int tier = 2;            // preference for label rules, 0 = best
};

struct SequenceGroup {
  std::string name;
  int max_length = kMaxGeneratedSequenceLength;
};

struct Plan {
  std::vector<Column> columns;          // generation order: features, then labels
  std::vector<int> file_order;          // indices into columns, in CSV order
  std::vector<SequenceGroup> seq_groups;
  std::vector<LabelRule> label_rules;
  std::vector<std::vector<int>> rule_columns;  // per label: indices into columns
  std::string delimiter = ",";
  bool header = true;
};

// The plan for `config`; `seed` picks the columns and weights of label rules
// (the column list does not depend on it). Throws ConfigError (naming the
// feature or field) for configs gen_data cannot generate data for.
Plan BuildGenDataPlan(const protos::EasyRecConfig& config, uint64_t seed);

}  // namespace tzrec::data
