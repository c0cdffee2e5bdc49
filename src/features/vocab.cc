#include "features/vocab.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include <google/protobuf/descriptor.h>

#include "common/error.h"

namespace tzrec {

namespace gp = google::protobuf;

std::string PathJoin(const std::string& a, const std::string& b) {
  if (!b.empty() && b[0] == '/') return b;
  if (a.empty() || a.back() == '/') return a + b;
  return a + "/" + b;
}

namespace {

const gp::FieldDescriptor* Field(const gp::Message& m, const char* name) {
  return m.GetDescriptor()->FindFieldByName(name);
}

std::optional<uint64_t> OptionalUInt64(const gp::Message& m, const char* name) {
  const gp::FieldDescriptor* field = Field(m, name);
  if (field == nullptr || !m.GetReflection()->HasField(m, field)) return std::nullopt;
  return m.GetReflection()->GetUInt64(m, field);
}

const gp::Message* OptionalMessage(const gp::Message& m, const char* name) {
  const gp::FieldDescriptor* field = Field(m, name);
  if (field == nullptr || !m.GetReflection()->HasField(m, field)) return nullptr;
  return &m.GetReflection()->GetMessage(m, field);
}

}  // namespace

std::optional<uint64_t> Vocab::Rows(uint64_t extra_list_rows) const {
  if (zch_size) return *zch_size;
  if (dynamic_capacity) return *dynamic_capacity;
  if (hash_bucket_size) return *hash_bucket_size;
  if (num_buckets) return *num_buckets;
  if (!list_.empty()) return list_.size() + extra_list_rows;
  if (!dict_.empty()) return DictSize();
  if (!file_.empty()) return FileSize();
  return std::nullopt;
}

std::map<std::string, std::string> Vocab::Assets() const {
  if (file_.empty()) return {};
  return {{"vocab_file", file_}};
}

Vocab Vocab::Read(const gp::Message& config, const std::string& effective_default,
                  const std::string& owner) {
  const gp::Reflection* r = config.GetReflection();
  Vocab v;
  v.hash_bucket_size = OptionalUInt64(config, "hash_bucket_size");
  v.num_buckets = OptionalUInt64(config, "num_buckets");
  v.default_bucketize_value_ = OptionalUInt64(config, "default_bucketize_value");
  if (const gp::Message* zch = OptionalMessage(config, "zch")) {
    v.zch_size = zch->GetReflection()->GetUInt64(*zch, Field(*zch, "zch_size"));
  }
  if (const gp::Message* dyn = OptionalMessage(config, "dynamicemb")) {
    v.dynamic_capacity = dyn->GetReflection()->GetUInt64(*dyn, Field(*dyn, "max_capacity"));
  }

  if (const gp::FieldDescriptor* f = Field(config, "vocab_list")) {
    const int n = r->FieldSize(config, f);
    if (n > 0) {
      if (v.default_bucketize_value_) {
        if (*v.default_bucketize_value_ >= static_cast<uint64_t>(n)) {
          FailConfig("default_bucketize_value ({}) of {} should be less than len(vocab_list) ({})",
                     *v.default_bucketize_value_, owner, n);
        }
      } else {
        v.list_ = {effective_default, "<OOV>"};
      }
      for (int i = 0; i < n; ++i) v.list_.push_back(r->GetRepeatedString(config, f, i));
    }
  }

  if (const gp::FieldDescriptor* f = Field(config, "vocab_dict")) {
    // A map field read as its repeated entries keeps the order of the config
    // text; a repeated key keeps its first position and its last value.
    const int n = r->FieldSize(config, f);
    for (int i = 0; i < n; ++i) {
      const gp::Message& entry = r->GetRepeatedMessage(config, f, i);
      const gp::Reflection* er = entry.GetReflection();
      const gp::Descriptor* ed = entry.GetDescriptor();
      std::string key = er->GetString(entry, ed->FindFieldByNumber(1));
      const uint64_t value = er->GetUInt64(entry, ed->FindFieldByNumber(2));
      auto it = std::find_if(v.dict_.begin(), v.dict_.end(),
                             [&](const auto& kv) { return kv.first == key; });
      if (it != v.dict_.end()) {
        it->second = value;
      } else {
        v.dict_.emplace_back(std::move(key), value);
      }
    }
    if (!v.dict_.empty() && !v.default_bucketize_value_ && !effective_default.empty()) {
      auto it = std::find_if(v.dict_.begin(), v.dict_.end(),
                             [&](const auto& kv) { return kv.first == effective_default; });
      if (it != v.dict_.end()) {
        it->second = 0;
      } else {
        v.dict_.emplace_back(effective_default, 0);
      }
    }
  }

  if (const gp::FieldDescriptor* f = Field(config, "vocab_file")) {
    if (r->HasField(config, f)) {
      if (!v.default_bucketize_value_) {
        FailConfig("default_bucketize_value of {} must be set when using vocab_file", owner);
      }
      v.file_ = r->GetString(config, f);
      const gp::FieldDescriptor* dir = Field(config, "asset_dir");
      if (dir != nullptr && r->HasField(config, dir)) {
        v.file_ = PathJoin(r->GetString(config, dir), v.file_);
      }
    }
  }
  return v;
}

uint64_t Vocab::DictSize() const {
  uint64_t max_value = 0;
  for (const auto& [key, value] : dict_) max_value = std::max(max_value, value);
  return dict_.empty() ? 0 : max_value + 1;
}

uint64_t Vocab::FileSize() const {
  std::ifstream in(file_);
  if (!in) Fail("cannot open vocab_file {}", file_);
  std::map<std::string, uint64_t> ids;
  bool has_ids = false;
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    std::istringstream tokens(line);
    std::string token;
    if (!(tokens >> token)) {
      Fail("{}:{}: empty line in vocab_file", file_, line_number);
    }
    std::string id_text;
    if (tokens >> id_text) {
      try {
        size_t used = 0;
        const unsigned long long id = std::stoull(id_text, &used);
        std::string rest;
        if (used != id_text.size() || (tokens >> rest)) throw std::invalid_argument(id_text);
        ids[token] = id;
      } catch (const std::exception&) {
        Fail("{}:{}: expected '<token> <id>' in vocab_file, got '{}'", file_, line_number, line);
      }
      has_ids = true;
    } else {
      ids[token] = 0;
    }
  }
  if (!has_ids) return ids.size();
  uint64_t max_id = 0;
  for (const auto& [token, id] : ids) max_id = std::max(max_id, id);
  return max_id + 1;
}

}  // namespace tzrec
