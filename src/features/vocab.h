// The id bucketizer settings shared by id, combo, lookup and match features:
// hash_bucket_size, num_buckets, vocab_list, vocab_dict, vocab_file and
// default_bucketize_value, with upstream's vocabulary numbering:
//  - vocab_list without default_bucketize_value gets two leading rows, the
//    default value (row 0) and "<OOV>" (row 1, the bucket of unknown values);
//  - vocab_dict without default_bucketize_value maps the default value to 0;
//  - vocab_file requires default_bucketize_value.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/message.h>

namespace tzrec {

class Vocab {
 public:
  // `config` is the feature message (IdFeature, ComboFeature, ...) as parsed:
  // vocab_dict entries are read in config order through reflection, which a
  // protobuf Map would lose. `effective_default` is the feature's FG default
  // value; `owner` ("IdFeature[name]") names the feature in errors.
  static Vocab Read(const google::protobuf::Message& config, const std::string& effective_default,
                    const std::string& owner);

  // The rows of the vocabulary list, numbering included; empty without one.
  const std::vector<std::string>& list() const { return list_; }
  // value -> row, in config order; empty without a vocab_dict.
  const std::vector<std::pair<std::string, uint64_t>>& dict() const { return dict_; }
  // Largest row of dict() plus one.
  uint64_t DictSize() const;
  // vocab_file, joined to asset_dir when that is set; "" without one.
  const std::string& file() const { return file_; }
  // Rows a vocab_file needs: largest id + 1 when lines carry "<token> <id>",
  // else the number of distinct tokens.
  uint64_t FileSize() const;
  // Bucket of out-of-vocabulary values: the configured one, else 1 (<OOV>).
  uint64_t default_bucketize_value() const { return default_bucketize_value_.value_or(1); }

  // Rows of the feature's table from whichever size the config gives, in
  // upstream's order (zch, dynamicemb, hash_bucket_size, num_buckets, vocab
  // list, dict, file); nullopt when it gives none. `extra_list_rows`: rows a
  // type adds to a vocab_list (match features size theirs one larger).
  std::optional<uint64_t> Rows(uint64_t extra_list_rows = 0) const;
  // {"vocab_file": path} when a vocab_file is set: the asset fg.json refers to.
  std::map<std::string, std::string> Assets() const;

  std::optional<uint64_t> hash_bucket_size;
  std::optional<uint64_t> num_buckets;
  std::optional<uint64_t> zch_size;           // zch.zch_size when zch is set
  std::optional<uint64_t> dynamic_capacity;   // dynamicemb.max_capacity when set

 private:
  std::vector<std::string> list_;
  std::vector<std::pair<std::string, uint64_t>> dict_;
  std::string file_;
  std::optional<uint64_t> default_bucketize_value_;
};

// Python's os.path.join(a, b) for two parts.
std::string PathJoin(const std::string& a, const std::string& b);

}  // namespace tzrec
