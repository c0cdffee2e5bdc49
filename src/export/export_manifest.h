// Writes export_manifest.json (artifacts/manifest.h: its format, and the
// reader that says whether an export directory is complete), the last file of
// every export.
#pragma once

#include "artifacts/manifest.h"
#include "checkpoint/checkpoint_choice.h"
#include "export/export_staging.h"

namespace tzrec::exporting {

// Writes export_manifest.json into `staging` for everything staged so far and
// the checkpoint it came from: the last file of an export, before Publish().
void WriteExportManifest(const ExportStaging& staging, const checkpoint::CheckpointChoice& checkpoint);

}  // namespace tzrec::exporting
