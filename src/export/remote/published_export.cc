#include "export/remote/published_export.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/file_digest.h"
#include "export/export_manifest.h"
#include "export/remote/parallel_tasks.h"
#include "export/remote/remote_url.h"
#include "export/remote/s3_client.h"

namespace tzrec::exporting::remote {

namespace fs = std::filesystem;

namespace {

constexpr const char* kManifestFile = artifacts::kExportManifestFile;

bool ObjectExists(const S3Client& client, const RemoteUrl& url) {
  const ListPage page = client.List(url.scheme, url.bucket, url.key);
  for (const ObjectEntry& object : page.objects) {
    if (object.key == url.key) return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<PublishedExport> PublishedExport::Fetch(const std::string& url_text,
                                                        const exporting::EnvLookup& env) {
  const RemoteUrl url = ParseRemoteUrl(url_text, "--scripted_model_path");
  const S3Client client(ReadS3Settings(env, url.scheme));

  // The manifest beside the files, or (a match model's tower) one level up.
  RemoteUrl export_root = url;
  std::string tower;
  if (!ObjectExists(client, url.Child(kManifestFile))) {
    const size_t slash = url.key.rfind('/');
    RemoteUrl parent = url;
    parent.key = slash == std::string::npos ? "" : url.key.substr(0, slash);
    if (url.key.empty() || !ObjectExists(client, parent.Child(kManifestFile))) {
      Fail("{}: no {}: the export is incomplete (still uploading, or its upload failed) or "
           "not there; tzrec reads only complete exports",
           url.ToString(), kManifestFile);
    }
    export_root = parent;
    tower = url.key.substr(slash + 1);
  }

  std::string pattern = (fs::temp_directory_path() / "tzrec-remote-export-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) Fail("cannot create a temporary directory in {}",
                                               fs::temp_directory_path().string());
  std::unique_ptr<PublishedExport> result(new PublishedExport(
      pattern, tower.empty() ? pattern : (fs::path(pattern) / tower).string()));

  const std::string manifest_path = (fs::path(pattern) / kManifestFile).string();
  client.Download(export_root.Child(kManifestFile), manifest_path);
  std::vector<artifacts::ManifestEntry> wanted;
  for (artifacts::ManifestEntry& file : artifacts::ReadExportManifest(manifest_path).files) {
    if (tower.empty() || file.path.rfind(tower + "/", 0) == 0) wanted.push_back(std::move(file));
  }
  if (wanted.empty()) Fail("{}: {} lists no file here", url.ToString(), kManifestFile);

  std::vector<std::function<void()>> tasks;
  for (const artifacts::ManifestEntry& file : wanted) {
    for (const auto& part : fs::path(file.path)) {
      if (part == ".." || part == "." || fs::path(file.path).is_absolute()) {
        Fail("{}: manifest path {} leaves the export", export_root.ToString(), file.path);
      }
    }
    tasks.push_back([&client, &export_root, &pattern, file] {
      const RemoteUrl source = export_root.Child(file.path);
      const std::string local = (fs::path(pattern) / file.path).string();
      client.Download(source, local);
      const uint64_t size = fs::file_size(local);
      if (size != file.size || FileDigestHex(local, DigestKind::kSha256) != file.sha256) {
        Fail("{}: differs from its entry in {} (size {} vs {}, or sha256); the export was "
             "changed after it was published",
             source.ToString(), kManifestFile, size, file.size);
      }
    });
  }
  RunParallel(client.settings().parallel, tasks);
  spdlog::info("downloaded {} file(s) of {}, checked against {}", wanted.size(), url.ToString(),
               kManifestFile);
  return result;
}

PublishedExport::~PublishedExport() {
  std::error_code ec;
  fs::remove_all(root_, ec);
}

}  // namespace tzrec::exporting::remote
