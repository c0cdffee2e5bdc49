// export_manifest.json: the last file of every export (written by
// export/export_manifest.h), listing each artifact
// with its size and SHA-256 and the checkpoint it came from. Its presence says
// an export directory is complete (remote exports upload it last); its hashes
// let anyone verify what they serve.
//
//   {
//     "checkpoint_path": "experiments/x/model.ckpt-99",
//     "global_step": 99,
//     "files": [{"path": "fg.json", "size": 1234, "sha256": "..."}, ...]
//   }
//
// Paths are relative to the export directory ("user/scripted_model.pt" for
// match towers), sorted, '/'-separated. Nothing time- or host-dependent goes
// in, so the same inputs give the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>


namespace tzrec::artifacts {

inline constexpr char kExportManifestFile[] = "export_manifest.json";

struct ManifestEntry {
  std::string path;  // relative to the export directory
  uint64_t size = 0;
  std::string sha256;
};

struct ExportManifest {
  std::string checkpoint_path;
  int64_t global_step = -1;
  std::vector<ManifestEntry> files;
};

// Every regular file under `dir` (recursively, the manifest itself excluded),
// hashed, sorted by path.
std::vector<ManifestEntry> ListArtifacts(const std::string& dir);

std::string ManifestToJson(const ExportManifest& manifest);
// Error naming `origin` on malformed content.
ExportManifest ManifestFromJson(const std::string& text, const std::string& origin);
// The manifest file at `path`; Error naming it when unreadable or malformed.
ExportManifest ReadExportManifest(const std::string& path);

// The export directory whose manifest covers `dir`: `dir` itself, or its parent
// for a match model's user/ or item/ tower. Error when there is none (an export
// still being written or uploaded, or one whose upload failed), or when a listed
// file under `dir` is missing or has another size.
void RequireCompleteExport(const std::string& dir);

}  // namespace tzrec::artifacts
