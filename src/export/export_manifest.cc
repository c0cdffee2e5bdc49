#include "export/export_manifest.h"

namespace tzrec::exporting {

void WriteExportManifest(const ExportStaging& staging, const checkpoint::CheckpointChoice& checkpoint) {
  artifacts::ExportManifest manifest;
  manifest.checkpoint_path = checkpoint.path;
  manifest.global_step = checkpoint.step;
  manifest.files = artifacts::ListArtifacts(staging.staging_dir());
  staging.WriteFile(artifacts::kExportManifestFile, artifacts::ManifestToJson(manifest));
}

}  // namespace tzrec::exporting
