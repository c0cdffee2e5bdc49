#include "artifacts/manifest.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file_digest.h"

namespace tzrec::artifacts {

namespace fs = std::filesystem;

std::vector<ManifestEntry> ListArtifacts(const std::string& dir) {
  std::vector<ManifestEntry> entries;
  for (const auto& item : fs::recursive_directory_iterator(dir)) {
    if (!item.is_regular_file()) continue;
    const std::string relative = fs::relative(item.path(), dir).generic_string();
    if (relative == kExportManifestFile) continue;
    entries.push_back({relative, static_cast<uint64_t>(item.file_size()),
                       FileDigestHex(item.path().string(), DigestKind::kSha256)});
  }
  std::sort(entries.begin(), entries.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) { return a.path < b.path; });
  return entries;
}

std::string ManifestToJson(const ExportManifest& manifest) {
  nlohmann::ordered_json json;
  json["checkpoint_path"] = manifest.checkpoint_path;
  json["global_step"] = manifest.global_step;
  json["files"] = nlohmann::ordered_json::array();
  for (const ManifestEntry& entry : manifest.files) {
    nlohmann::ordered_json file;
    file["path"] = entry.path;
    file["size"] = entry.size;
    file["sha256"] = entry.sha256;
    json["files"].push_back(std::move(file));
  }
  return json.dump(2) + "\n";
}

ExportManifest ManifestFromJson(const std::string& text, const std::string& origin) {
  ExportManifest manifest;
  try {
    const nlohmann::json json = nlohmann::json::parse(text);
    manifest.checkpoint_path = json.at("checkpoint_path").get<std::string>();
    manifest.global_step = json.at("global_step").get<int64_t>();
    for (const auto& file : json.at("files")) {
      manifest.files.push_back({file.at("path").get<std::string>(), file.at("size").get<uint64_t>(),
                                file.at("sha256").get<std::string>()});
    }
  } catch (const nlohmann::json::exception& e) {
    Fail("{} is not a valid export manifest: {}", origin, e.what());
  }
  return manifest;
}

ExportManifest ReadExportManifest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot read {}", path);
  std::stringstream text;
  text << in.rdbuf();
  return ManifestFromJson(text.str(), path);
}

void RequireCompleteExport(const std::string& dir) {
  const fs::path path = fs::absolute(dir).lexically_normal();
  fs::path root = path;
  if (!fs::is_regular_file(root / kExportManifestFile) &&
      (path.filename() == "user" || path.filename() == "item")) {
    root = path.parent_path();
  }
  const fs::path manifest_path = root / kExportManifestFile;
  if (!fs::is_regular_file(manifest_path)) {
    Fail("{} has no {}: the export is incomplete (still being written or uploaded, or it failed)", dir,
         kExportManifestFile);
  }
  const ExportManifest manifest = ReadExportManifest(manifest_path.string());
  for (const ManifestEntry& entry : manifest.files) {
    const fs::path file = root / entry.path;
    // Only the files of the directory being used: a tower needs its own.
    const std::string under = fs::relative(file, path).generic_string();
    if (under.rfind("..", 0) == 0) continue;
    std::error_code ec;
    const uintmax_t size = fs::file_size(file, ec);
    if (ec) Fail("{} lists {}, which is missing: the export is incomplete", manifest_path.string(), entry.path);
    if (size != entry.size) {
      Fail("{} lists {} with {} bytes, but it has {}: the export was modified or is incomplete",
           manifest_path.string(), entry.path, entry.size, size);
    }
  }
}

}  // namespace tzrec::artifacts
