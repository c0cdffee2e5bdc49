// fg.json: the feature-generation spec upstream's FG engine (and ours, in
// features/fg/) reads, written byte-identical to upstream's export:
// {"features": [...]} with each feature's entries in feature order and a
// grouped sequence as one {sequence_name, sequence_length, sequence_delim,
// sequence_pk, features: [...]} block at its first sub-feature's position.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/protos/pipeline.pb.h"
#include "features/feature.h"

namespace tzrec {

struct FgJsonOptions {
  // Where asset files (vocab_file, ...) are copied, as "<stem>_<md5><ext>";
  // fg.json then names the copy. Empty: assets are referenced where they are.
  std::string asset_dir;
  // Drop the bucketizer keys (hash_bucket_size, vocab_dict, vocab_list,
  // boundaries, num_buckets, vocab_file), as create_fg_json --remove_bucketizer.
  bool remove_bucketizer = false;
};

nlohmann::ordered_json CreateFgJson(const std::vector<const Feature*>& features,
                                    const FgJsonOptions& options = {});

// Writes `fg_json` to `path` in Python's json.dump(indent=4) form.
void WriteFgJson(const nlohmann::ordered_json& fg_json, const std::string& path);

// What `tzrec create_fg_json` writes: fg.json for every feature of `config`
// (its assets copied beside it) into `output_dir`, plus "reserves" (columns
// passed through FG untouched) when given. Returns the path of the json file.
struct ConfigFgJsonOptions {
  std::string output_dir;
  std::string file_name = "fg.json";
  std::vector<std::string> reserves;
  bool has_reserves = false;  // upstream writes "reserves" only when the flag is given
  bool remove_bucketizer = false;
};
std::string WriteConfigFgJson(const protos::EasyRecConfig& config,
                              const ConfigFgJsonOptions& options);

// Copies each of the feature's assets into `asset_dir` as "<stem>_<md5><ext>"
// (md5 of the content; an existing copy is kept) and returns field -> new
// file name, for Feature::FgJson and for rewriting the exported config.
FeatureAssets CopyFeatureAssets(const Feature& feature, const std::string& asset_dir);

// Lowercase hex MD5 of a file's content.
std::string Md5HexOfFile(const std::string& path);

}  // namespace tzrec
