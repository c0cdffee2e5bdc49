// `tzrec export` with object-store paths, as upstream does through fsspec but
// with its gaps closed. Any of --export_dir, --pipeline_config_path,
// --checkpoint_path and the config's model_dir may be s3:// or oss:// (see
// s3_settings.h for endpoint and credentials):
//
//   1. a remote export_dir that already holds any object is refused before any
//      work ("directory <url> already exist.", as for local directories);
//   2. what export reads is downloaded into a work directory under
//      LOCAL_CACHE_DIR (or a temporary directory): the config, and of the
//      checkpoints only the chosen one's model/ files (latest or best, chosen
//      from the remote listing and eval log), streamed to disk;
//   3. the ordinary local export runs into that work directory;
//   4. its files are uploaded, export_manifest.json last, so a reader that
//      finds the manifest finds everything it lists. A failed upload leaves no
//      manifest, and the error names the prefix to delete.
// The work directory is removed afterwards, whether the export succeeded or not.
// With nothing remote this is exactly exporting::Export.
#pragma once

#include "export/export_env.h"
#include "export/exporter.h"

namespace tzrec::exporting::remote {

void ExportWithRemotePaths(const exporting::ExportRequest& request,
                           const exporting::EnvLookup& env = exporting::ProcessEnv());

}  // namespace tzrec::exporting::remote
