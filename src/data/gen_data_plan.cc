// gen_data's column plan; see gen_data_plan.h.
//
// Feature configs are read through protobuf reflection (field names such as
// hash_bucket_size, boundaries, expression), so one code path covers every
// feature type of the FeatureConfig oneof, including sequence variants.
#include "data/gen_data_plan.h"

#include "data/gen_random.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <set>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "config/proto_fields.h"

namespace tzrec::data {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

constexpr uint64_t kMaxRawIdCardinality = 10'000'000;

uint64_t Gcd(uint64_t a, uint64_t b) {
  while (b != 0) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// A bijection on [0, n) so that frequent ranks land on scattered ids.
void SetScramble(Column& c, uint64_t n) {
  if (n <= 2) return;
  uint64_t mul = (Mix(c.salt, 1) % n) | 1;
  while (Gcd(mul, n) != 1) mul = (mul + 2) % n;
  c.scramble_mul = std::max<uint64_t>(mul, 1);
  c.scramble_add = Mix(c.salt, 2) % n;
}

// Where a feature's ids come from, read from whichever of the fields it has.
struct IdSpace {
  uint64_t size = 0;  // 0: none configured
  enum { kNone, kHash, kNumBuckets, kVocabList, kVocabDict, kVocabFile, kBoundaries, kZch } kind = kNone;
  std::vector<std::string> vocab;
};

IdSpace IdSpaceOf(const Message& fc, const std::string& feature_name) {
  IdSpace space;
  if (HasValue(fc, "zch")) {
    const Message& zch = fc.GetReflection()->GetMessage(fc, FieldOf(fc, "zch"));
    space.size = GetUIntOr(zch, "zch_size", 0);
    space.kind = IdSpace::kZch;
  } else if (HasValue(fc, "hash_bucket_size")) {
    space.size = GetUIntOr(fc, "hash_bucket_size", 0);
    space.kind = IdSpace::kHash;
  } else if (HasValue(fc, "num_buckets")) {
    space.size = GetUIntOr(fc, "num_buckets", 0);
    space.kind = IdSpace::kNumBuckets;
  } else if (HasValue(fc, "vocab_list")) {
    space.vocab = GetStrings(fc, "vocab_list");
    space.size = space.vocab.size() + (HasValue(fc, "default_bucketize_value") ? 0 : 2);
    space.kind = IdSpace::kVocabList;
  } else if (HasValue(fc, "vocab_dict")) {
    uint64_t max_id = 0;
    for (auto& [key, id] : GetStringUIntMap(fc, "vocab_dict")) {
      space.vocab.push_back(key);
      max_id = std::max(max_id, id);
    }
    space.size = max_id + 1;
    space.kind = IdSpace::kVocabDict;
  } else if (HasValue(fc, "vocab_file")) {
    std::string path = GetString(fc, "vocab_file");
    space.vocab = ReadLines(path);
    if (space.vocab.empty()) {
      FailConfig("feature {}: vocab_file {} is missing or empty; gen_data needs it to draw values",
                 feature_name, path);
    }
    space.size = space.vocab.size() + (HasValue(fc, "default_bucketize_value") ? 0 : 2);
    space.kind = IdSpace::kVocabFile;
  } else if (HasValue(fc, "boundaries")) {
    space.size = GetFloats(fc, "boundaries").size() + 1;
    space.kind = IdSpace::kBoundaries;
  }
  if (space.kind != IdSpace::kNone && space.size == 0) {
    FailConfig("feature {}: its id space is empty (bucket size 0)", feature_name);
  }
  return space;
}

// Feature types whose FG output is always ids.
bool AlwaysSparse(const std::string& type) {
  return type == "id_feature" || type == "combo_feature" || type == "tokenize_feature" ||
         type == "bool_mask_feature";
}

// Feature types that read a single input (upstream's SINGLE_INPUT_FEATURE_CLASSES).
bool SingleInput(const std::string& type) {
  return type == "id_feature" || type == "raw_feature" || type == "tokenize_feature" ||
         type == "combine_feature";
}

// "side:name" input strings of a feature, by type.
std::vector<std::string> InputExpressions(const std::string& type, const Message& fc) {
  if (type == "lookup_feature") {
    std::vector<std::string> v = GetStrings(fc, "map");
    for (auto& k : GetStrings(fc, "key")) v.push_back(k);
    return v;
  }
  if (type == "match_feature") {
    std::vector<std::string> v;
    for (const char* field : {"nested_map", "pkey", "skey"}) {
      for (auto& x : GetStrings(fc, field)) {
        if (x != "ALL") v.push_back(x);
      }
    }
    return v;
  }
  if (type == "expr_feature") return GetStrings(fc, "variables");
  if (type == "overlap_feature") {
    std::vector<std::string> v = GetStrings(fc, "query");
    for (auto& t : GetStrings(fc, "title")) v.push_back(t);
    return v;
  }
  if (type == "kv_dot_product") {
    std::vector<std::string> v = GetStrings(fc, "query");
    for (auto& t : GetStrings(fc, "document")) v.push_back(t);
    return v;
  }
  return GetStrings(fc, "expression");
}

// One feature as gen_data sees it.
struct FeatureView {
  std::string type;  // oneof name without the "sequence_" prefix
  const Message* config = nullptr;
  std::string name;  // with the grouped sequence prefix
  bool is_sequence = false;
  bool grouped = false;
  std::string sequence_name, sequence_delim;
  int sequence_length = 0;
  int seq_group = -1;
};

class PlanBuilder {
 public:
  PlanBuilder(const protos::EasyRecConfig& config) : config_(config) {
    const auto& dc = config.data_config();
    fg_mode_ = dc.fg_mode();
    encoded_ = fg_mode_ == protos::FG_NONE || fg_mode_ == protos::FG_BUCKETIZE;
    multival_sep_ = dc.fg_encoded_multival_sep();
  }

  Plan Build(uint64_t seed);

 private:
  std::vector<FeatureView> CollectFeatures();
  void AddEncodedColumn(const FeatureView& f);
  void AddRawColumns(const FeatureView& f);
  Column IdColumnFor(const FeatureView& f, const std::string& column, bool encoded);
  Column FloatColumnFor(const FeatureView& f, const std::string& column, bool encoded);
  void Add(Column column);
  void AddLabels();
  void ChooseLabelRules(uint64_t seed);
  std::vector<std::string> InputFieldNames() const;

  const protos::EasyRecConfig& config_;
  protos::FgMode fg_mode_;
  bool encoded_ = false;
  std::string multival_sep_;
  Plan plan_;
  std::map<std::string, int> by_name_;
};

std::vector<FeatureView> PlanBuilder::CollectFeatures() {
  std::vector<FeatureView> out;
  for (int i = 0; i < config_.feature_configs_size(); ++i) {
    const Message& wrapper = config_.feature_configs(i);
    const FieldDescriptor* which = OneofCase(wrapper, "feature");
    if (which == nullptr) FailConfig("feature_configs[{}]: no feature type set", i);
    const Message& fc = wrapper.GetReflection()->GetMessage(wrapper, which);
    if (which->name() == "sequence_feature") {
      SequenceGroup group;
      group.name = GetString(fc, "sequence_name");
      int length = static_cast<int>(GetUIntOr(fc, "sequence_length", kMaxGeneratedSequenceLength));
      group.max_length = std::clamp(length, 1, kMaxGeneratedSequenceLength);
      plan_.seq_groups.push_back(group);
      const FieldDescriptor* subs = FieldOf(fc, "features");
      const Reflection* r = fc.GetReflection();
      for (int j = 0; j < r->FieldSize(fc, subs); ++j) {
        const Message& sub_wrapper = r->GetRepeatedMessage(fc, subs, j);
        const FieldDescriptor* sub_which = OneofCase(sub_wrapper, "feature");
        if (sub_which == nullptr) {
          FailConfig("sequence_feature {}: features[{}] has no feature type set", group.name, j);
        }
        FeatureView v;
        v.type = sub_which->name();
        v.config = &sub_wrapper.GetReflection()->GetMessage(sub_wrapper, sub_which);
        v.is_sequence = v.grouped = true;
        v.sequence_name = group.name;
        v.sequence_delim = GetString(fc, "sequence_delim");
        v.sequence_length = length;
        v.seq_group = static_cast<int>(plan_.seq_groups.size()) - 1;
        v.name = group.name + "__" + GetString(*v.config, "feature_name");
        out.push_back(v);
      }
      continue;
    }
    FeatureView v;
    v.type = which->name();
    v.config = &fc;
    v.name = GetString(fc, "feature_name");
    if (v.type.rfind("sequence_", 0) == 0) {
      v.type = v.type.substr(9);
      v.is_sequence = true;
      v.sequence_delim = GetString(fc, "sequence_delim");
      int length = static_cast<int>(GetUIntOr(fc, "sequence_length", kMaxGeneratedSequenceLength));
      v.sequence_length = length;
      plan_.seq_groups.push_back({v.name, std::clamp(length, 1, kMaxGeneratedSequenceLength)});
      v.seq_group = static_cast<int>(plan_.seq_groups.size()) - 1;
    }
    out.push_back(v);
  }
  return out;
}

void PlanBuilder::Add(Column column) {
  if (by_name_.count(column.name)) return;  // an input read by several features
  column.salt = Mix(HashString(column.name), 0x5eed);
  column.log_cardinality = std::log(static_cast<double>(column.cardinality) + 1.0);
  if (column.shape == Shape::kId && column.id_text == IdText::kInt && !column.monotone_signal) {
    SetScramble(column, column.cardinality);
  }
  by_name_[column.name] = static_cast<int>(plan_.columns.size());
  plan_.columns.push_back(std::move(column));
}

// Multi-value count of an id feature: value_dim unset or 1 -> one value (what
// most id columns hold), 0 -> 1..3 values, N > 1 -> N values.
void SetIdValueCount(Column& c, const FeatureView& f) {
  if (!HasValue(*f.config, "value_dim") || f.is_sequence) return;
  uint64_t dim = GetUIntOr(*f.config, "value_dim", 0);
  if (dim == 0) {
    c.min_values = 1;
    c.max_values = 3;
  } else {
    c.min_values = c.max_values = static_cast<int>(std::min<uint64_t>(dim, 16));
  }
}

Column PlanBuilder::IdColumnFor(const FeatureView& f, const std::string& column, bool encoded) {
  Column c;
  c.name = column;
  c.origin = f.name;
  c.shape = Shape::kId;
  IdSpace space = IdSpaceOf(*f.config, f.name);
  if (space.kind == IdSpace::kNone) {
    if (f.type == "tokenize_feature") {
      space.size = 1000;  // the tokenizer's vocabulary is not known here
      space.kind = IdSpace::kHash;
    } else {
      FailConfig("feature {}: must set hash_bucket_size, num_buckets, vocab_list, vocab_dict or "
                 "vocab_file to generate ids", f.name);
    }
  }
  if (encoded) {
    c.id_text = IdText::kInt;
    c.cardinality = space.size;
    if (space.kind == IdSpace::kBoundaries) {
      c.skewed = false;
      c.monotone_signal = true;
    }
  } else if (space.kind == IdSpace::kNumBuckets) {
    c.id_text = IdText::kInt;
    c.cardinality = space.size;
  } else if (space.kind == IdSpace::kVocabList || space.kind == IdSpace::kVocabDict ||
             space.kind == IdSpace::kVocabFile) {
    c.id_text = IdText::kVocab;
    c.vocab = space.vocab;
    c.cardinality = space.vocab.size();
  } else {
    c.id_text = IdText::kHex;
    c.cardinality = std::clamp<uint64_t>(space.size, 2, kMaxRawIdCardinality);
  }
  if (f.type == "id_feature" || f.type == "combo_feature" || f.type == "bool_mask_feature") {
    SetIdValueCount(c, f);
  }
  c.weighted = GetBool(*f.config, "weighted");
  c.value_sep = encoded ? multival_sep_ : GetString(*f.config, "separator");
  if (c.value_sep.empty()) c.value_sep = "\x1d";
  c.signal_ok = !f.is_sequence;
  c.tier = c.cardinality <= 1000 ? 0 : (c.cardinality <= 100000 ? 1 : 2);
  return c;
}

Column PlanBuilder::FloatColumnFor(const FeatureView& f, const std::string& column, bool encoded) {
  Column c;
  c.name = column;
  c.origin = f.name;
  c.shape = Shape::kFloat;
  c.value_dim = static_cast<int>(std::clamp<uint64_t>(GetUIntOr(*f.config, "value_dim", 1), 1, 64));
  if (!encoded) c.boundaries = GetFloats(*f.config, "boundaries");
  c.value_sep = encoded ? multival_sep_ : GetString(*f.config, "separator");
  if (c.value_sep.empty()) c.value_sep = "\x1d";
  c.signal_ok = !f.is_sequence;
  c.tier = 0;
  return c;
}

void PlanBuilder::AddEncodedColumn(const FeatureView& f) {
  if (GetBool(*f.config, "stub_type")) return;  // FG intermediate, never read
  bool sparse = AlwaysSparse(f.type) || IdSpaceOf(*f.config, f.name).kind != IdSpace::kNone;
  Column c = sparse ? IdColumnFor(f, f.name, /*encoded=*/true)
                    : FloatColumnFor(f, f.name, /*encoded=*/true);
  if (fg_mode_ == protos::FG_BUCKETIZE) {
    // Values before bucketizing: what the feature's FG computes, not yet ids.
    c = sparse && f.type != "raw_feature" && !HasValue(*f.config, "boundaries")
            ? IdColumnFor(f, f.name, /*encoded=*/false)
            : FloatColumnFor(f, f.name, /*encoded=*/false);
  }
  c.seq_group = f.seq_group;
  c.seq_delim = f.sequence_delim;
  Add(std::move(c));
}

void PlanBuilder::AddRawColumns(const FeatureView& f) {
  std::vector<std::string> exprs = InputExpressions(f.type, *f.config);
  if (exprs.empty()) {
    FailConfig("feature {}: has no input expression (e.g. expression: \"user:age\"), which "
               "fg_mode {} needs", f.name, protos::FgMode_Name(fg_mode_));
  }
  std::set<std::string> sequence_fields;
  for (auto& s : GetStrings(*f.config, "sequence_fields")) sequence_fields.insert(s);
  for (size_t i = 0; i < exprs.size(); ++i) {
    const std::string& expr = exprs[i];
    size_t colon = expr.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == expr.size()) {
      FailConfig("feature {}: input \"{}\" is not of the form side:name (e.g. user:age)", f.name,
                 expr);
    }
    std::string side = expr.substr(0, colon), input = expr.substr(colon + 1);
    if (side != "user" && side != "item" && side != "context" && side != "feature" &&
        side != "const") {
      FailConfig("feature {}: input \"{}\" has side \"{}\"; expected user, item, context, "
                 "feature or const", f.name, expr, side);
    }
    if (side == "feature" || side == "const") continue;  // not a column of the data
    // Which inputs carry the sequence (upstream's rule): explicit sequence_fields,
    // else every input of single-input types, else item-side inputs.
    bool sequence_input = false;
    if (f.is_sequence) {
      if (!sequence_fields.empty()) {
        sequence_input = sequence_fields.count(input) > 0;
      } else if (SingleInput(f.type)) {
        sequence_input = true;
      } else {
        sequence_input = side == "item";
      }
    }
    std::string column = (f.grouped && sequence_input) ? f.sequence_name + "__" + input : input;

    Column c;
    const std::string& t = f.type;
    if (t == "raw_feature" || t == "expr_feature" || t == "combine_feature") {
      c = FloatColumnFor(f, column, /*encoded=*/false);
      if (t != "raw_feature") {
        c.boundaries.clear();  // they bucketize the output, not the inputs
        c.value_dim = 1;
      }
    } else if (t == "lookup_feature") {
      c.shape = i == 0 ? Shape::kKvMap : Shape::kKey;
    } else if (t == "match_feature") {
      // nested_map, then pkey ("c" keys), then skey ("s" keys)
      bool has_map = GetString(*f.config, "nested_map") != "ALL";
      size_t role = has_map ? i : i + 1;
      if (role == 0) {
        c.shape = Shape::kNestedMap;
      } else {
        c.shape = Shape::kKey;
        bool pkey = role == 1 && GetString(*f.config, "pkey") != "ALL";
        c.key_prefix = pkey ? "c" : "s";
        c.key_count = pkey ? 5 : 10;
      }
    } else if (t == "kv_dot_product") {
      c.shape = Shape::kKvMap;
    } else if (t == "overlap_feature" || t == "tokenize_feature") {
      c.shape = Shape::kTokens;
      c.key_prefix = "w";
      c.key_count = 50;
    } else if (t == "combo_feature" || t == "custom_feature" || t == "bool_mask_feature") {
      // each input is an id of its own; the feature combines them
      c.shape = Shape::kId;
      c.id_text = IdText::kHex;
      c.cardinality = 100;
      c.signal_ok = !f.is_sequence;
      c.tier = 0;
    } else {  // id_feature
      c = IdColumnFor(f, column, /*encoded=*/false);
    }
    if (c.shape == Shape::kKvMap || c.shape == Shape::kKey || c.shape == Shape::kNestedMap ||
        c.shape == Shape::kTokens || c.shape == Shape::kId) {
      if (c.value_sep.empty() || c.shape != Shape::kId) {
        std::string sep = GetString(*f.config, "separator");
        c.value_sep = t == "tokenize_feature" ? " " : (sep.empty() ? "\x1d" : sep);
      }
    }
    c.name = column;
    c.origin = f.name;
    if (sequence_input) {
      c.seq_group = f.seq_group;
      c.seq_delim = f.sequence_delim;
      c.signal_ok = false;
    }
    Add(std::move(c));
  }
}

std::vector<std::string> PlanBuilder::InputFieldNames() const {
  const auto& dc = config_.data_config();
  std::vector<std::string> names;
  if (dc.has_input_fields_str() && !dc.input_fields_str().empty()) {
    std::string s = dc.input_fields_str();
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find(';', start);
      if (end == std::string::npos) end = s.size();
      std::string part = s.substr(start, end - start);
      auto trim = [](std::string x) {
        size_t a = x.find_first_not_of(" \t"), b = x.find_last_not_of(" \t");
        return a == std::string::npos ? std::string() : x.substr(a, b - a + 1);
      };
      part = trim(part);
      if (!part.empty()) {
        size_t colon = part.find(':');
        if (colon == std::string::npos) {
          FailConfig("data_config.input_fields_str: \"{}\" is not name:type", part);
        }
        names.push_back(trim(part.substr(0, colon)));
      }
      start = end + 1;
    }
    return names;
  }
  for (const auto& field : dc.input_fields()) names.push_back(field.input_name());
  return names;
}

// Label kinds from the model's losses: walk model_config for messages that have
// a label_name (multi-task towers) or the model's own losses (first label).
void CollectLabelKinds(const Message& m, const std::string& default_label,
                       std::map<std::string, LabelRule::Kind>& kinds, int depth = 0) {
  if (depth > 8) return;
  const Reflection* r = m.GetReflection();
  std::string label = default_label;
  if (const FieldDescriptor* lf = FieldOf(m, "label_name");
      lf != nullptr && lf->cpp_type() == FieldDescriptor::CPPTYPE_STRING && !lf->is_repeated()) {
    label = r->GetString(m, lf);
  }
  if (const FieldDescriptor* losses = FieldOf(m, "losses");
      losses != nullptr && losses->is_repeated() &&
      losses->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !label.empty()) {
    for (int i = 0; i < r->FieldSize(m, losses); ++i) {
      const FieldDescriptor* loss = OneofCase(r->GetRepeatedMessage(m, losses, i), "loss");
      if (loss != nullptr && loss->name() == "l2_loss") kinds[label] = LabelRule::Kind::kRegression;
    }
  }
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || f->name() == "losses") continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        CollectLabelKinds(r->GetRepeatedMessage(m, f, i), "", kinds, depth + 1);
      }
    } else {
      CollectLabelKinds(r->GetMessage(m, f), "", kinds, depth + 1);
    }
  }
}

void PlanBuilder::AddLabels() {
  const auto& dc = config_.data_config();
  std::string first_label = dc.label_fields_size() > 0 ? dc.label_fields(0) : "";
  std::map<std::string, LabelRule::Kind> kinds;
  int num_class = 1;
  if (config_.has_model_config()) {
    CollectLabelKinds(config_.model_config(), first_label, kinds);
    num_class = static_cast<int>(GetUIntOr(config_.model_config(), "num_class", 1));
  }
  for (int i = 0; i < dc.label_fields_size(); ++i) {
    const std::string& name = dc.label_fields(i);
    if (by_name_.count(name)) {
      // A feature input doubling as a label (e.g. a domain id): one column, the
      // feature's values.
      spdlog::info("gen_data: label {} is the feature input column of the same name", name);
      continue;
    }
    LabelRule rule;
    rule.label = name;
    if (kinds.count(name)) rule.kind = kinds[name];
    if (i == 0 && num_class > 1 && rule.kind == LabelRule::Kind::kBinary) {
      rule.kind = LabelRule::Kind::kMultiClass;
      rule.num_class = num_class;
    }
    Column c;
    c.name = name;
    c.origin = "data_config.label_fields";
    c.shape = Shape::kLabel;
    c.label_index = static_cast<int>(plan_.label_rules.size());
    plan_.label_rules.push_back(rule);
    Add(std::move(c));
  }
  for (const auto& name : dc.sample_weight_fields()) {
    if (by_name_.count(name)) continue;  // already a feature or label column
    Column c;
    c.name = name;
    c.origin = "data_config.sample_weight_fields";
    c.shape = Shape::kSampleWeight;
    Add(std::move(c));
  }
}

void PlanBuilder::ChooseLabelRules(uint64_t seed) {
  std::vector<std::vector<int>> tiers(3);
  for (int i = 0; i < static_cast<int>(plan_.columns.size()); ++i) {
    const Column& c = plan_.columns[i];
    if (c.signal_ok && (c.shape == Shape::kId || c.shape == Shape::kFloat)) {
      tiers[std::clamp(c.tier, 0, 2)].push_back(i);
    }
  }
  plan_.rule_columns.assign(plan_.label_rules.size(), {});
  for (size_t l = 0; l < plan_.label_rules.size(); ++l) {
    Rng rng(Mix(seed, 0x1abe1 + l));
    std::vector<int> order;
    for (auto tier : tiers) {  // copy: shuffled per label
      for (size_t k = tier.size(); k > 1; --k) std::swap(tier[k - 1], tier[rng.Below(k)]);
      order.insert(order.end(), tier.begin(), tier.end());
    }
    size_t count = std::min<size_t>(order.size(), 2 + rng.Below(3));
    LabelRule& rule = plan_.label_rules[l];
    for (size_t k = 0; k < count; ++k) {
      plan_.rule_columns[l].push_back(order[k]);
      rule.columns.push_back(plan_.columns[order[k]].name);
      double weight = 1.5 + rng.Uniform();
      rule.weights.push_back(rng.Below(2) ? weight : -weight);
    }
  }
}

Plan PlanBuilder::Build(uint64_t seed) {
  const auto& dc = config_.data_config();
  plan_.delimiter = dc.delimiter();
  if (plan_.delimiter.empty()) FailConfig("data_config.delimiter: must not be empty");
  for (const FeatureView& f : CollectFeatures()) {
    if (encoded_) {
      AddEncodedColumn(f);
    } else {
      AddRawColumns(f);
    }
  }
  AddLabels();
  ChooseLabelRules(seed);

  std::vector<std::string> fields = InputFieldNames();
  if (fields.empty()) {
    plan_.file_order.resize(plan_.columns.size());
    std::iota(plan_.file_order.begin(), plan_.file_order.end(), 0);
    plan_.header = true;
  } else {
    std::set<std::string> listed(fields.begin(), fields.end());
    for (const Column& c : plan_.columns) {
      if (!listed.count(c.name)) {
        FailConfig("data_config.input_fields: column \"{}\" (read by {}) is not listed",
                   c.name, c.origin);
      }
    }
    for (const std::string& name : fields) {
      if (!by_name_.count(name)) {
        // A column no feature reads (e.g. a sampler attribute): small ids.
        Column c;
        c.name = name;
        c.origin = "data_config.input_fields";
        c.shape = Shape::kId;
        c.cardinality = 1000;
        Add(std::move(c));
      }
      plan_.file_order.push_back(by_name_.at(name));
    }
    plan_.header = dc.with_header();
  }
  return std::move(plan_);
}

}  // namespace

Plan BuildGenDataPlan(const protos::EasyRecConfig& config, uint64_t seed) {
  return PlanBuilder(config).Build(seed);
}

}  // namespace tzrec::data
