#include "features/fg/fg_spec.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace tzrec::fg {
namespace {

using nlohmann::json;

// Feature types that read exactly one input; inside a grouped sequence their
// input is a sequence column unless it refers to another feature.
bool IsSingleInputType(FeatureType type) {
  return type == FeatureType::kId || type == FeatureType::kRaw;
}

FeatureType ParseType(const std::string& type, const std::string& where) {
  if (type == "id_feature") return FeatureType::kId;
  if (type == "raw_feature") return FeatureType::kRaw;
  if (type == "combo_feature") return FeatureType::kCombo;
  if (type == "lookup_feature") return FeatureType::kLookup;
  if (type == "match_feature") return FeatureType::kMatch;
  if (type == "expr_feature") return FeatureType::kExpr;
  FailConfig("{}: feature_type '{}' is not supported by the FG engine (supported: id_feature, "
             "raw_feature, combo_feature, lookup_feature, match_feature, expr_feature and their "
             "sequence_ forms)",
             where, type);
}

std::string GetString(const json& obj, const char* key, const std::string& where,
                      const std::string& fallback = "") {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  if (it->is_number()) {
    std::ostringstream out;
    out << it->get<double>();
    return out.str();
  }
  FailConfig("{}: '{}' must be a string, got {}", where, key, it->dump());
}

// A list of strings `key` of `obj` that `what` needs (combo_feature expression,
// expr_feature variables, sequence_fields): a ConfigError naming the feature
// when it is missing or holds anything else, not nlohmann's exception.
std::vector<std::string> GetStringList(const json& obj, const char* key, const char* what,
                                       const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) {
    FailConfig("{}: {} needs '{}' as a list of strings", where, what, key);
  }
  std::vector<std::string> out;
  for (const json& v : *it) {
    if (!v.is_string()) FailConfig("{}: '{}' must hold strings, got {}", where, key, v.dump());
    out.push_back(v.get<std::string>());
  }
  return out;
}

bool GetBool(const json& obj, const char* key, const std::string& where, bool fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string()) {
    const std::string v = it->get<std::string>();
    if (v == "true" || v == "True" || v == "1") return true;
    if (v == "false" || v == "False" || v == "0") return false;
  }
  FailConfig("{}: '{}' must be a boolean, got {}", where, key, it->dump());
}

int64_t GetInt(const json& obj, const char* key, const std::string& where) {
  const json& v = obj.at(key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_unsigned()) return static_cast<int64_t>(v.get<uint64_t>());
  if (v.is_string()) {
    try {
      size_t used = 0;
      int64_t value = std::stoll(v.get<std::string>(), &used);
      if (used == v.get<std::string>().size()) return value;
    } catch (const std::exception&) {
    }
  }
  FailConfig("{}: '{}' must be an integer, got {}", where, key, v.dump());
}

char GetSeparator(const json& obj, const char* key, const std::string& where, char fallback) {
  std::string sep = GetString(obj, key, where, std::string(1, fallback));
  if (sep.size() != 1) {
    FailConfig("{}: '{}' must be a single character, got '{}'", where, key, sep);
  }
  return sep[0];
}

// "user:age" -> {"user", "age"}.
InputRef ParseInput(const std::string& text, const std::string& where) {
  auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    FailConfig("{}: input '{}' must look like side:name (e.g. user:age)", where, text);
  }
  InputRef ref;
  ref.side = text.substr(0, colon);
  ref.name = text.substr(colon + 1);
  if (ref.side != "user" && ref.side != "item" && ref.side != "context" &&
      ref.side != "feature" && ref.side != "const") {
    FailConfig("{}: input '{}' has side '{}'; expected user, item, context, feature or const",
               where, text, ref.side);
  }
  ref.column = ref.name;
  return ref;
}

// A vocab_file of an fg.json read from a file (an export's) names a file
// beside it: absolute paths, ".." and symlinks leading out of that directory
// are refused, so an fg.json from elsewhere cannot make tzrec read (and serve
// the contents of) any other file.
std::filesystem::path VocabPathInside(const std::string& vocab_file, const std::string& base_dir,
                                      const std::string& where) {
  namespace fs = std::filesystem;
  const fs::path name(vocab_file);
  if (name.empty() || name.is_absolute()) {
    FailConfig("{}: vocab_file '{}' must name a file in {}, relative to it", where, vocab_file, base_dir);
  }
  for (const fs::path& part : name) {
    if (part == "..") FailConfig("{}: vocab_file '{}' leads out of {} ('..')", where, vocab_file, base_dir);
  }
  const fs::path path = fs::path(base_dir) / name;
  std::error_code ec;
  const fs::path real = fs::canonical(path, ec);
  if (ec) FailConfig("{}: cannot open vocab_file {}", where, path.string());
  const fs::path real_base = fs::canonical(base_dir, ec);
  const auto mismatch = std::mismatch(real_base.begin(), real_base.end(), real.begin(), real.end());
  if (ec || mismatch.first != real_base.end()) {
    FailConfig("{}: vocab_file {} is a link to {}, outside {}", where, path.string(), real.string(), base_dir);
  }
  return path;
}

void LoadVocabFile(FeatureSpec& spec, const std::string& base_dir, const std::string& where) {
  std::filesystem::path path(*spec.vocab_file);
  if (!base_dir.empty()) path = VocabPathInside(*spec.vocab_file, base_dir, where);
  std::ifstream in(path);
  if (!in) FailConfig("{}: cannot open vocab_file {}", where, path.string());
  std::vector<std::pair<std::string, int64_t>> vocab;
  std::string line;
  int64_t next_index = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string token;
    if (!(fields >> token)) continue;
    int64_t index = next_index;
    std::string index_text;
    if (fields >> index_text) {
      try {
        index = std::stoll(index_text);
      } catch (const std::exception&) {
        FailConfig("{}: vocab_file {}: bad index '{}' for token '{}'", where, path.string(),
                   index_text, token);
      }
    }
    vocab.emplace_back(token, index);
    ++next_index;
  }
  spec.vocab_dict = std::move(vocab);
}

FeatureSpec ParseFeature(const json& obj, const std::string& origin, const std::string& base_dir) {
  if (!obj.is_object()) FailConfig("{}: every entry of 'features' must be an object", origin);
  std::string fg_name = GetString(obj, "feature_name", origin);
  if (fg_name.empty()) FailConfig("{}: a feature has no feature_name: {}", origin, obj.dump());
  const std::string where = origin + ": feature '" + fg_name + "'";

  FeatureSpec spec;
  spec.fg_name = fg_name;
  spec.name = fg_name;
  std::string type = GetString(obj, "feature_type", where);
  if (type.rfind("sequence_", 0) == 0) {
    spec.is_sequence = true;
    type = type.substr(9);
    spec.sequence_delim = GetString(obj, "sequence_delim", where, ";");
    if (obj.contains("sequence_length")) spec.sequence_length = GetInt(obj, "sequence_length", where);
  }
  spec.type = ParseType(type, where);
  spec.default_value = GetString(obj, "default_value", where);
  spec.separator = GetSeparator(obj, "separator", where, '\x1d');
  if (obj.contains("value_dim")) spec.value_dim = static_cast<int>(GetInt(obj, "value_dim", where));
  spec.value_type = GetString(obj, "value_type", where,
                              spec.type == FeatureType::kId || spec.type == FeatureType::kCombo
                                  ? "string"
                                  : "float");
  spec.weighted = GetBool(obj, "weighted", where, false);
  // Only id_feature reads "id:weight" values (IdFeature.weighted); on any
  // other type, ids would come without their weights.
  if (spec.weighted && spec.type != FeatureType::kId) {
    FailConfig("{}: weighted is only supported for id_feature", where);
  }
  spec.stub = GetBool(obj, "stub_type", where, false);
  spec.normalizer = GetString(obj, "normalizer", where);

  int bucketizers = 0;
  if (obj.contains("hash_bucket_size")) {
    const json& v = obj.at("hash_bucket_size");
    uint64_t size = v.is_number_unsigned() ? v.get<uint64_t>()
                                           : static_cast<uint64_t>(GetInt(obj, "hash_bucket_size", where));
    if (size == 0) FailConfig("{}: hash_bucket_size must be positive", where);
    spec.hash_bucket_size = size;
    ++bucketizers;
  }
  if (obj.contains("num_buckets")) {
    int64_t n = GetInt(obj, "num_buckets", where);
    if (n <= 0) FailConfig("{}: num_buckets must be positive, got {}", where, n);
    spec.num_buckets = n;
    ++bucketizers;
  }
  if (obj.contains("vocab_list")) {
    const json& list = obj.at("vocab_list");
    if (!list.is_array()) FailConfig("{}: vocab_list must be a list", where);
    std::vector<std::string> vocab;
    for (const json& v : list) {
      if (!v.is_string()) FailConfig("{}: vocab_list entries must be strings, got {}", where, v.dump());
      vocab.push_back(v.get<std::string>());
    }
    spec.vocab_list = std::move(vocab);
    ++bucketizers;
  }
  if (obj.contains("vocab_dict")) {
    const json& dict = obj.at("vocab_dict");
    if (!dict.is_object()) FailConfig("{}: vocab_dict must be an object", where);
    std::vector<std::pair<std::string, int64_t>> vocab;
    for (auto it = dict.begin(); it != dict.end(); ++it) {
      if (!it.value().is_number_integer()) {
        FailConfig("{}: vocab_dict value of '{}' must be an integer, got {}", where, it.key(),
                   it.value().dump());
      }
      vocab.emplace_back(it.key(), it.value().get<int64_t>());
    }
    spec.vocab_dict = std::move(vocab);
    ++bucketizers;
  }
  if (obj.contains("vocab_file")) {
    spec.vocab_file = GetString(obj, "vocab_file", where);
    LoadVocabFile(spec, base_dir, where);
    ++bucketizers;
  }
  if (bucketizers > 1) {
    FailConfig("{}: set only one of hash_bucket_size, num_buckets, vocab_list, vocab_dict, "
               "vocab_file",
               where);
  }
  if (obj.contains("default_bucketize_value")) {
    spec.default_bucketize_value = GetInt(obj, "default_bucketize_value", where);
  }
  if (obj.contains("boundaries")) {
    const json& list = obj.at("boundaries");
    if (!list.is_array()) FailConfig("{}: boundaries must be a list", where);
    for (const json& v : list) {
      if (!v.is_number()) FailConfig("{}: boundaries must be numbers, got {}", where, v.dump());
      spec.boundaries.push_back(static_cast<float>(v.get<double>()));
    }
    for (size_t i = 1; i < spec.boundaries.size(); ++i) {
      if (!(spec.boundaries[i - 1] < spec.boundaries[i])) {
        FailConfig("{}: boundaries must be strictly increasing ({} then {})", where,
                   spec.boundaries[i - 1], spec.boundaries[i]);
      }
    }
  }

  switch (spec.type) {
    case FeatureType::kId:
    case FeatureType::kRaw: {
      std::string expr = GetString(obj, "expression", where);
      if (!expr.empty()) spec.inputs.push_back(ParseInput(expr, where));
      break;
    }
    case FeatureType::kCombo: {
      for (const std::string& e : GetStringList(obj, "expression", "combo_feature", where)) {
        spec.inputs.push_back(ParseInput(e, where));
      }
      break;
    }
    case FeatureType::kLookup:
      spec.inputs.push_back(ParseInput(GetString(obj, "map", where), where));
      spec.inputs.push_back(ParseInput(GetString(obj, "key", where), where));
      spec.need_discrete = GetBool(obj, "needDiscrete", where, false);
      spec.need_key = GetBool(obj, "needKey", where, false);
      spec.combiner = GetString(obj, "combiner", where, "sum");
      if (spec.need_discrete) spec.combiner.clear();
      if (!spec.combiner.empty() && spec.combiner != "sum" && spec.combiner != "mean" &&
          spec.combiner != "max" && spec.combiner != "min") {
        FailConfig("{}: combiner '{}' is not one of sum, mean, max, min or empty", where,
                   spec.combiner);
      }
      break;
    case FeatureType::kMatch: {
      spec.inputs.push_back(ParseInput(GetString(obj, "user", where), where));
      for (const char* key : {"category", "item"}) {
        std::string v = GetString(obj, key, where);
        if (v == "ALL") {
          InputRef all;
          all.side = "const";
          all.name = "ALL";
          spec.inputs.push_back(all);
        } else {
          spec.inputs.push_back(ParseInput(v, where));
        }
      }
      spec.need_discrete = GetBool(obj, "needDiscrete", where, false);
      spec.show_category = GetBool(obj, "show_category", where, false);
      spec.show_item = GetBool(obj, "show_item", where, false);
      spec.match_type = GetString(obj, "matchType", where, "hit");
      break;
    }
    case FeatureType::kExpr: {
      spec.expression = GetString(obj, "expression", where);
      if (spec.expression.empty()) FailConfig("{}: expr_feature needs an expression", where);
      for (const std::string& v : GetStringList(obj, "variables", "expr_feature", where)) {
        spec.inputs.push_back(ParseInput(v, where));
      }
      break;
    }
  }
  if (spec.inputs.empty()) {
    // FG_NONE data carries the encoded feature itself; only FG modes need inputs,
    // which FgEngine checks.
  }
  if (obj.contains("sequence_fields")) {
    // Kept for the grouped-sequence naming rule applied by the caller.
  }
  if (spec.value_dim && *spec.value_dim < 0) FailConfig("{}: value_dim must be >= 0", where);
  return spec;
}

// Which inputs of a grouped-sequence sub-feature are per-element sequences: an
// explicit sequence_fields list wins; otherwise single-input types take every
// non-feature input, multi-input types their item-side inputs.
void MarkGroupedSequenceInputs(FeatureSpec& spec, const json& obj) {
  std::vector<std::string> sequence_fields;
  if (obj.contains("sequence_fields")) {
    sequence_fields = GetStringList(obj, "sequence_fields", "a grouped sequence feature",
                                    "feature '" + spec.name + "'");
  }
  for (InputRef& in : spec.inputs) {
    if (in.side == "const") continue;
    bool is_seq;
    if (!sequence_fields.empty()) {
      is_seq = std::find(sequence_fields.begin(), sequence_fields.end(), in.name) !=
               sequence_fields.end();
    } else if (IsSingleInputType(spec.type)) {
      is_seq = in.side != "feature";
    } else {
      is_seq = in.side == "item";
    }
    in.is_sequence = is_seq;
    if (is_seq) in.column = spec.sequence_name + "__" + in.name;
  }
}

}  // namespace

const char* FeatureTypeName(FeatureType type) {
  switch (type) {
    case FeatureType::kId: return "id_feature";
    case FeatureType::kRaw: return "raw_feature";
    case FeatureType::kCombo: return "combo_feature";
    case FeatureType::kLookup: return "lookup_feature";
    case FeatureType::kMatch: return "match_feature";
    case FeatureType::kExpr: return "expr_feature";
  }
  return "?";
}

bool FeatureSpec::IsDiscrete() const {
  switch (type) {
    case FeatureType::kId:
    case FeatureType::kCombo:
      return true;
    case FeatureType::kRaw:
    case FeatureType::kExpr:
      return false;
    case FeatureType::kLookup:
    case FeatureType::kMatch:
      return need_discrete || value_type == "string" || HasTokenBucketizer();
  }
  return false;
}

bool FeatureSpec::IsSparse() const {
  return IsDiscrete() || !boundaries.empty();
}

int FeatureSpec::DenseDim() const {
  if (type == FeatureType::kMatch) return 1;
  if (type == FeatureType::kLookup && !combiner.empty()) return 1;
  return value_dim && *value_dim > 0 ? *value_dim : 1;
}

static std::vector<FeatureSpec> ParseFgJsonWithBase(const nlohmann::json& fg_json, const std::string& origin,
                                             const std::string& base_dir) {
  if (!fg_json.is_object() || !fg_json.contains("features") || !fg_json.at("features").is_array()) {
    FailConfig("{}: expected an object with a 'features' list", origin);
  }
  std::vector<FeatureSpec> specs;
  for (const json& entry : fg_json.at("features")) {
    if (entry.is_object() && entry.contains("sequence_name")) {
      const std::string seq_name = GetString(entry, "sequence_name", origin);
      const std::string where = origin + ": sequence '" + seq_name + "'";
      std::string delim = GetString(entry, "sequence_delim", where, ";");
      if (delim.empty()) FailConfig("{}: sequence_delim must not be empty", where);
      int64_t length = entry.contains("sequence_length") ? GetInt(entry, "sequence_length", where) : 0;
      std::string pk = GetString(entry, "sequence_pk", where, "user:" + seq_name);
      if (!entry.contains("features") || !entry.at("features").is_array()) {
        FailConfig("{}: needs a 'features' list", where);
      }
      for (const json& sub : entry.at("features")) {
        FeatureSpec spec = ParseFeature(sub, origin, base_dir);
        spec.is_sequence = true;
        spec.is_grouped_sequence = true;
        spec.sequence_name = seq_name;
        spec.sequence_delim = delim;
        spec.sequence_length = length;
        spec.sequence_pk = pk;
        spec.name = seq_name + "__" + spec.fg_name;
        MarkGroupedSequenceInputs(spec, sub);
        specs.push_back(std::move(spec));
      }
    } else {
      FeatureSpec spec = ParseFeature(entry, origin, base_dir);
      if (spec.is_sequence) {
        // sequence_<type>: every non-feature input is a sequence column.
        for (InputRef& in : spec.inputs) in.is_sequence = in.side != "feature" && in.side != "const";
      }
      specs.push_back(std::move(spec));
    }
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (specs[i].name == specs[j].name) {
        FailConfig("{}: feature name '{}' appears twice", origin, specs[i].name);
      }
    }
  }
  return specs;
}

std::vector<FeatureSpec> ParseFgJson(const nlohmann::json& fg_json, const std::string& origin) {
  return ParseFgJsonWithBase(fg_json, origin, "");
}

std::vector<FeatureSpec> LoadFgJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) Fail("cannot open fg.json {}", path);
  nlohmann::json fg_json;
  try {
    fg_json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    FailConfig("{}: not valid JSON: {}", path, e.what());
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return ParseFgJsonWithBase(fg_json, path, dir.empty() ? "." : dir);
}

}  // namespace tzrec::fg
