#include "export/remote/remote_export.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include <spdlog/spdlog.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/checkpoint_choice.h"
#include "common/error.h"
#include "common/file_writer.h"
#include "common/staging.h"
#include "config/pipeline_config.h"
#include "export/export_manifest.h"
#include "export/export_staging.h"
#include "export/remote/remote_transfer.h"
#include "export/remote/remote_url.h"
#include "export/remote/s3_client.h"

namespace tzrec::exporting::remote {

namespace fs = std::filesystem;

namespace {

constexpr const char* kManifestFile = artifacts::kExportManifestFile;

// The local directory an export with remote paths works in,
// "<base>/tzrec-export-<stamp>.tmp-<pid>"; removed with it, or by a later
// remote export when this one is killed.
constexpr char kWorkDirPrefix[] = "tzrec-export-";

class WorkDir {
 public:
  explicit WorkDir(const exporting::EnvLookup& env) {
    const std::optional<std::string> cache = env("LOCAL_CACHE_DIR");
    std::error_code ec;
    const fs::path base = cache && !cache->empty() ? fs::path(*cache) : fs::temp_directory_path(ec);
    fs::create_directories(base, ec);
    if (ec) Fail("LOCAL_CACHE_DIR {}: cannot create it: {}", base.string(), ec.message());
    // Work directories of remote exports that were killed (their process gone).
    RemoveStaleStaging(base.string(), [](const std::string& target) { return target.rfind(kWorkDirPrefix, 0) == 0; });
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = StagingPath((base / (kWorkDirPrefix + std::to_string(stamp))).string());
    if (!fs::create_directory(path_, ec) || ec) {
      Fail("cannot create work directory {}: {}", path_, ec.message());
    }
  }
  ~WorkDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
    if (ec) spdlog::warn("could not remove work directory {}: {}", path_, ec.message());
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;

  std::string Sub(const std::string& relative) const { return (fs::path(path_) / relative).string(); }

 private:
  std::string path_;
};

// One client per scheme (oss:// and s3:// may differ in endpoint).
class Clients {
 public:
  explicit Clients(const exporting::EnvLookup& env) : env_(env) {}
  const S3Client& For(const RemoteUrl& url) {
    auto it = clients_.find(url.scheme);
    if (it == clients_.end()) {
      it = clients_.emplace(url.scheme, std::make_unique<S3Client>(ReadS3Settings(env_, url.scheme)))
               .first;
    }
    return *it->second;
  }

 private:
  const exporting::EnvLookup& env_;
  std::map<std::string, std::unique_ptr<S3Client>> clients_;
};

std::string LastSegment(const std::string& key) {
  const size_t slash = key.rfind('/');
  return slash == std::string::npos ? key : key.substr(slash + 1);
}

// Downloads a checkpoint's model/ files (all export reads) into `local`.
void DownloadCheckpointModel(const S3Client& client, const RemoteUrl& checkpoint,
                             const std::string& local) {
  const RemoteUrl model = checkpoint.Child(checkpoint::kModelSubdir);
  spdlog::info("downloading checkpoint {}", model.ToString());
  const size_t count =
      DownloadDirectory(client, model, (fs::path(local) / checkpoint::kModelSubdir).string());
  spdlog::info("downloaded {} file(s) of {}", count, checkpoint.ToString());
}

// The remote model_dir's checkpoint that export_config picks (latest or best),
// downloaded: the choice reads a listing made of the remote directory names
// and eval log, so it decides exactly as for a local model_dir; then only the
// chosen checkpoint is fetched, into `mirror`.
std::string FetchChosenCheckpoint(const S3Client& client, const RemoteUrl& model_dir,
                                  const protos::ExportConfig& export_config,
                                  const std::string& mirror) {
  if (model_dir.key.find(checkpoint::kCheckpointPrefix) != std::string::npos) {
    const std::string local = (fs::path(mirror) / LastSegment(model_dir.key)).string();
    DownloadCheckpointModel(client, model_dir, local);
    return local;
  }
  const std::string prefix = model_dir.DirectoryPrefix();
  const ListPage page = client.List(model_dir.scheme, model_dir.bucket, prefix, "/");
  checkpoint::ModelDirListing listing;
  listing.model_dir = mirror;
  for (const std::string& sub : page.common_prefixes) {
    std::string name = sub.substr(prefix.size());
    if (!name.empty() && name.back() == '/') name.pop_back();
    if (!name.empty()) listing.subdirectories.push_back(name);
  }
  fs::create_directories(mirror);
  for (const ObjectEntry& object : page.objects) {
    if (object.key != prefix + checkpoint::kEvalResultFile) continue;
    const std::string log = (fs::path(mirror) / checkpoint::kEvalResultFile).string();
    client.Download(model_dir.Child(checkpoint::kEvalResultFile), log);
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    listing.eval_log = text.str();
  }
  const std::optional<checkpoint::CheckpointChoice> choice = checkpoint::ChooseFromListing(listing, export_config);
  if (!choice) {
    Fail("{}: no checkpoint (no {}<step>/ under it); train first or pass --checkpoint_path",
         model_dir.ToString(), checkpoint::kCheckpointPrefix);
  }
  const std::string relative = fs::relative(choice->path, mirror).generic_string();
  const RemoteUrl chosen = relative == "." ? model_dir : model_dir.Child(relative);
  spdlog::info("remote checkpoint {} (step {}) chosen: {}", chosen.ToString(), choice->step, choice->reason);
  DownloadCheckpointModel(client, chosen, choice->path);
  return choice->path;
}

// The local export's manifest names the checkpoint it read, a downloaded copy
// in the work directory; the uploaded one names the remote checkpoint.
void NameRemoteCheckpoint(const std::string& staged, const std::string& remote_checkpoint) {
  if (remote_checkpoint.empty()) return;
  const std::string path = (fs::path(staged) / artifacts::kExportManifestFile).string();
  artifacts::ExportManifest manifest = artifacts::ReadExportManifest(path);
  manifest.checkpoint_path = remote_checkpoint;
  WriteWholeFile(path, artifacts::ManifestToJson(manifest));
}

}  // namespace

void ExportWithRemotePaths(const exporting::ExportRequest& request,
                           const exporting::EnvLookup& env) {
  const bool remote_export_dir = IsRemoteUrl(request.export_dir);
  const bool remote_config = IsRemoteUrl(request.pipeline_config_path);
  const bool remote_checkpoint = IsRemoteUrl(request.checkpoint_path);
  std::string model_dir;
  if (!remote_config && request.checkpoint_path.empty()) {
    model_dir = LoadPipelineConfig(request.pipeline_config_path).model_dir();
  }
  if (!remote_export_dir && !remote_config && !remote_checkpoint && !IsRemoteUrl(model_dir)) {
    exporting::Export(request, env);
    return;
  }

  // Everything that can be refused without transfers comes first (the local
  // export checks these again; here they save a download).
  exporting::ReadExportEnv(env);
  exporting::ParseAdditionalExportConfig(request.additional_export_config);
  Clients clients(env);
  std::optional<RemoteUrl> destination;
  if (!remote_export_dir) {
    if (request.export_dir.empty()) FailConfig("--export_dir is required");
    exporting::RefuseExistingExportDir(request.export_dir);
  } else {
    destination = ParseRemoteUrl(request.export_dir, "--export_dir");
    if (destination->key.empty()) {
      FailConfig("--export_dir {}: name a directory inside the bucket", request.export_dir);
    }
    if (clients.For(*destination).AnyObjectUnder(destination->scheme, destination->bucket,
                                                  destination->DirectoryPrefix())) {
      Fail("directory {} already exist.", destination->ToString());
    }
  }

  WorkDir work(env);
  exporting::ExportRequest local = request;
  if (remote_config) {
    const RemoteUrl url = ParseRemoteUrl(request.pipeline_config_path, "--pipeline_config_path");
    local.pipeline_config_path = work.Sub("config/" + LastSegment(url.key));
    clients.For(url).Download(url, local.pipeline_config_path);
    if (request.checkpoint_path.empty()) {
      model_dir = LoadPipelineConfig(local.pipeline_config_path).model_dir();
    }
  }
  std::string remote_checkpoint_url;
  if (remote_checkpoint) {
    const RemoteUrl url = ParseRemoteUrl(request.checkpoint_path, "--checkpoint_path");
    local.checkpoint_path = work.Sub("checkpoint/" + LastSegment(url.key));
    DownloadCheckpointModel(clients.For(url), url, local.checkpoint_path);
    remote_checkpoint_url = url.ToString();
  } else if (request.checkpoint_path.empty() && IsRemoteUrl(model_dir)) {
    const RemoteUrl url = ParseRemoteUrl(model_dir, "model_dir");
    const protos::EasyRecConfig config = LoadPipelineConfig(local.pipeline_config_path);
    local.checkpoint_path =
        FetchChosenCheckpoint(clients.For(url), url, config.export_config(), work.Sub("model_dir"));
    const std::string relative = fs::relative(local.checkpoint_path, work.Sub("model_dir")).generic_string();
    remote_checkpoint_url = relative == "." ? url.ToString() : url.Child(relative).ToString();
  }
  if (destination) {
    local.export_dir = work.Sub("export");
    local.published_export_dir = request.export_dir;
  }

  exporting::Export(local, env);
  if (!destination) return;

  NameRemoteCheckpoint(local.export_dir, remote_checkpoint_url);
  const S3Client& client = clients.For(*destination);
  // Checked again: another export may have started there meanwhile.
  if (client.AnyObjectUnder(destination->scheme, destination->bucket,
                            destination->DirectoryPrefix())) {
    Fail("directory {} already exist.", destination->ToString());
  }
  try {
    UploadDirectory(client, local.export_dir, *destination, kManifestFile);
  } catch (const Error& e) {
    Fail("{}; the export at {} is incomplete (it has no {}): delete everything under {}/ "
         "before exporting there again",
         e.what(), destination->ToString(), kManifestFile, destination->ToString());
  }
  spdlog::info("uploaded export to {}", destination->ToString());
}

}  // namespace tzrec::exporting::remote
