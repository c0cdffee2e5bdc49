#include "features/fg_json.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "common/error.h"
#include "common/file_digest.h"
#include "features/feature_factory.h"
#include "features/python_json.h"

namespace tzrec {

namespace fs = std::filesystem;

std::string Md5HexOfFile(const std::string& path) { return FileDigestHex(path, DigestKind::kMd5); }

FeatureAssets CopyFeatureAssets(const Feature& feature, const std::string& asset_dir) {
  FeatureAssets renamed;
  for (const auto& [field, path] : feature.Assets()) {
    const fs::path source(path);
    // Python's os.path.splitext: a leading dot does not start an extension.
    const std::string stem = source.stem().string();
    const std::string ext = source.extension().string();
    const std::string name = fmt::format("{}_{}{}", stem, Md5HexOfFile(path), ext);
    const fs::path target = fs::path(asset_dir) / name;
    std::error_code ec;
    if (!fs::exists(target)) {
      fs::create_directories(asset_dir, ec);
      fs::copy_file(source, target, ec);
      if (ec) Fail("cannot copy asset {} to {}: {}", path, target.string(), ec.message());
    }
    renamed[field] = name;
  }
  return renamed;
}

namespace {

void RemoveBucketizer(nlohmann::ordered_json& entry) {
  for (const char* key : {"hash_bucket_size", "vocab_dict", "vocab_list", "boundaries",
                          "num_buckets"}) {
    entry.erase(key);
  }
  if (entry.value("feature_type", "") != "tokenize_feature") entry.erase("vocab_file");
}

}  // namespace

nlohmann::ordered_json CreateFgJson(const std::vector<const Feature*>& features,
                                    const FgJsonOptions& options) {
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  std::map<std::string, size_t> sequence_index;
  for (const Feature* feature : features) {
    const FeatureAssets renamed = options.asset_dir.empty()
                                      ? FeatureAssets{}
                                      : CopyFeatureAssets(*feature, options.asset_dir);
    nlohmann::ordered_json entries = feature->FgJson(renamed);
    if (options.remove_bucketizer) {
      for (auto& entry : entries) RemoveBucketizer(entry);
    }
    if (const SequenceGroup* group = feature->sequence_group()) {
      auto it = sequence_index.find(group->name);
      if (it == sequence_index.end()) {
        nlohmann::ordered_json block;
        block["sequence_name"] = group->name;
        block["sequence_length"] = group->length;
        block["sequence_delim"] = group->delim;
        block["sequence_pk"] = group->pk;
        block["features"] = nlohmann::ordered_json::array();
        results.push_back(std::move(block));
        it = sequence_index.emplace(group->name, results.size() - 1).first;
      }
      for (auto& entry : entries) results[it->second]["features"].push_back(std::move(entry));
    } else {
      for (auto& entry : entries) results.push_back(std::move(entry));
    }
  }
  nlohmann::ordered_json fg_json;
  fg_json["features"] = std::move(results);
  return fg_json;
}

void WriteFgJson(const nlohmann::ordered_json& fg_json, const std::string& path) {
  const std::string text = DumpPythonJson(fg_json);
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) Fail("cannot write {}", path);
  out << text;
  out.close();
  if (!out) Fail("cannot write {}", path);
}

std::string WriteConfigFgJson(const protos::EasyRecConfig& config,
                              const ConfigFgJsonOptions& options) {
  if (options.output_dir.empty()) FailConfig("--fg_output_dir must be given");
  if (options.file_name.empty() || options.file_name.find('/') != std::string::npos) {
    FailConfig("invalid fg.json file name '{}'", options.file_name);
  }
  const FeatureList features = CreateFeatures(config);
  FgJsonOptions fg_options;
  fg_options.asset_dir = options.output_dir;
  fg_options.remove_bucketizer = options.remove_bucketizer;
  nlohmann::ordered_json fg_json = CreateFgJson(FeaturePointers(features), fg_options);
  if (options.has_reserves) fg_json["reserves"] = options.reserves;
  const std::string path = (fs::path(options.output_dir) / options.file_name).string();
  WriteFgJson(fg_json, path);
  return path;
}

}  // namespace tzrec
