// Reading an export from an object store (`tzrec predict --scripted_model_path
// s3://...`): only a published export is read, i.e. one whose
// export_manifest.json is there (remote exports upload it last). Exactly the
// files the manifest lists are downloaded, each checked against its size and
// sha256, into a temporary directory that lives as long as the object.
//
// A match model's tower (s3://b/export/user) is covered by the manifest of the
// export above it; the local copy keeps that layout (<tmp>/export_manifest.json,
// <tmp>/user/...), so local checks of completeness see what they expect.
#pragma once

#include <memory>
#include <string>

#include "export/export_env.h"

namespace tzrec::exporting::remote {

class PublishedExport {
 public:
  // Error naming the URL when there is no manifest (an incomplete or failed
  // upload, or no export at all) or a file differs from its manifest entry.
  static std::unique_ptr<PublishedExport> Fetch(
      const std::string& url, const exporting::EnvLookup& env = exporting::ProcessEnv());
  ~PublishedExport();
  PublishedExport(const PublishedExport&) = delete;
  PublishedExport& operator=(const PublishedExport&) = delete;

  // The downloaded export directory (or tower directory) to read.
  const std::string& local_dir() const { return local_dir_; }

 private:
  PublishedExport(std::string root, std::string local_dir)
      : root_(std::move(root)), local_dir_(std::move(local_dir)) {}
  std::string root_;
  std::string local_dir_;
};

}  // namespace tzrec::exporting::remote
