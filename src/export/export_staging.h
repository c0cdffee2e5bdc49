// Where an export's files go, behind one small interface, so that an export
// either appears complete or not at all.
//
// Every artifact is written into a local staging directory
// "<export_dir>.tmp-<pid>" beside export_dir; Publish() then moves the whole
// directory into place with a rename(2) that refuses to replace an existing
// path. An ExportStaging destroyed without Publish() (an error on the way)
// removes what it wrote; one left by a killed export (its process gone) is
// removed by the next export to the same export_dir (common/staging.h). Remote export dirs (s3://, oss://) are exported into a
// local work directory first and uploaded by export/remote/; artifacts that
// name their own final location (pipeline.config's asset paths) are then told
// the remote URL through `published_dir`.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace tzrec::exporting {

class ExportStaging {
 public:
  // Refuses an export_dir that exists ("directory <export_dir> already exist.",
  // as upstream) or a remote URL (export/remote/ stages those locally); creates
  // the staging directory and any missing parents of export_dir.
  // `published_dir`: where the export will finally be read from when that is
  // not export_dir (an upload target); empty: export_dir.
  static std::unique_ptr<ExportStaging> Begin(const std::string& export_dir,
                                              const std::string& published_dir = "");

  ~ExportStaging();
  ExportStaging(const ExportStaging&) = delete;
  ExportStaging& operator=(const ExportStaging&) = delete;

  // export_dir as given; what artifacts should name as their final location.
  const std::string& export_dir() const { return export_dir_; }
  // The local directory being filled.
  const std::string& staging_dir() const { return staging_dir_; }

  // `relative` inside the staging directory, its parent directories created,
  // for code that writes files itself (torch save, asset copies).
  std::string LocalPath(const std::string& relative) const;
  // The directory `relative` inside the staging directory, created ("" = the
  // staging directory itself).
  std::string LocalDir(const std::string& relative) const;
  // The final location of `relative` (published_dir/relative).
  std::string FinalPath(const std::string& relative) const;

  void WriteFile(const std::string& relative, const std::string& content) const;
  // Copies `source` to `relative`; an Error naming `source` when it is missing.
  void CopyFile(const std::string& source, const std::string& relative) const;

  // Moves the staging directory to export_dir. Error (and the staging dir
  // removed) when export_dir appeared in the meantime.
  void Publish();

 private:
  ExportStaging(std::string export_dir, std::string published_dir, std::string staging_dir,
                std::vector<std::string> created_parents);
  void RemoveStaging() noexcept;

  std::string export_dir_;
  std::string published_dir_;
  std::string staging_dir_;
  std::vector<std::string> created_parents_;  // deepest first; removed on failure if empty
  bool finished_ = false;  // published, or failed and cleaned up
};

// Fails with upstream's message when `export_dir` exists.
void RefuseExistingExportDir(const std::string& export_dir);

}  // namespace tzrec::exporting
