#include "export/remote/remote_transfer.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "export/remote/parallel_tasks.h"

namespace tzrec::exporting::remote {

namespace fs = std::filesystem;

namespace {

// A multipart upload in flight: its id and the parts' ETags as they arrive.
struct MultipartFile {
  RemoteUrl url;
  std::string local_path;
  std::string upload_id;
  std::vector<std::pair<uint64_t, uint64_t>> parts;
  std::vector<std::string> etags;
};

}  // namespace

std::vector<std::string> ListLocalFiles(const std::string& local_dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(local_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file()) {
      files.push_back(fs::relative(it->path(), local_dir).generic_string());
    }
  }
  if (ec) Fail("cannot list {}: {}", local_dir, ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::pair<uint64_t, uint64_t>> SplitIntoParts(uint64_t size, uint64_t part_size) {
  std::vector<std::pair<uint64_t, uint64_t>> parts;
  if (part_size == 0) part_size = size;
  for (uint64_t offset = 0; offset < size; offset += part_size) {
    parts.emplace_back(offset, std::min(part_size, size - offset));
  }
  if (parts.empty()) parts.emplace_back(0, 0);
  return parts;
}

void UploadDirectory(const S3Client& client, const std::string& local_dir,
                     const RemoteUrl& destination, const std::string& publish_last) {
  const S3Settings& settings = client.settings();
  std::vector<std::string> files = ListLocalFiles(local_dir);
  const bool has_last =
      !publish_last.empty() && std::find(files.begin(), files.end(), publish_last) != files.end();
  if (has_last) files.erase(std::find(files.begin(), files.end(), publish_last));

  std::vector<std::unique_ptr<MultipartFile>> multipart;
  std::vector<std::function<void()>> tasks;
  uint64_t total_bytes = 0;
  for (const std::string& relative : files) {
    const std::string path = (fs::path(local_dir) / relative).string();
    const uint64_t size = fs::file_size(path);
    total_bytes += size;
    const RemoteUrl url = destination.Child(relative);
    if (size >= settings.multipart_threshold) {
      auto file = std::make_unique<MultipartFile>();
      file->url = url;
      file->local_path = path;
      file->parts = SplitIntoParts(size, settings.part_size);
      file->etags.resize(file->parts.size());
      multipart.push_back(std::move(file));
    } else {
      tasks.push_back([&client, url, path] { client.PutFile(url, path); });
    }
  }
  spdlog::info("uploading {} file(s), {} bytes, to {}", files.size() + (has_last ? 1 : 0),
               total_bytes, destination.ToString());

  try {
    for (auto& file : multipart) file->upload_id = client.CreateMultipartUpload(file->url);
    for (auto& file : multipart) {
      MultipartFile* f = file.get();
      for (size_t i = 0; i < f->parts.size(); ++i) {
        tasks.push_back([&client, f, i] {
          f->etags[i] = client.UploadPart(f->url, f->upload_id, static_cast<int>(i + 1),
                                          f->local_path, f->parts[i].first, f->parts[i].second);
        });
      }
    }
    RunParallel(settings.parallel, tasks);
    for (auto& file : multipart) {
      client.CompleteMultipartUpload(file->url, file->upload_id, file->etags);
      file->upload_id.clear();
    }
  } catch (...) {
    for (auto& file : multipart) {
      if (!file->upload_id.empty()) client.AbortMultipartUpload(file->url, file->upload_id);
    }
    throw;
  }
  if (has_last) client.PutFile(destination.Child(publish_last),
                               (fs::path(local_dir) / publish_last).string());
}

size_t DownloadDirectory(const S3Client& client, const RemoteUrl& source,
                         const std::string& local_dir) {
  const std::string prefix = source.DirectoryPrefix();
  const ListPage listing = client.List(source.scheme, source.bucket, prefix);
  std::vector<std::function<void()>> tasks;
  for (const ObjectEntry& object : listing.objects) {
    const std::string relative = object.key.substr(prefix.size());
    if (relative.empty() || relative.back() == '/') continue;  // "directory" marker objects
    for (const auto& part : fs::path(relative)) {
      if (part == ".." || part == ".") {
        Fail("{}: object key {} leaves the directory", source.ToString(), object.key);
      }
    }
    RemoteUrl url = source;
    url.key = object.key;
    const std::string path = (fs::path(local_dir) / relative).string();
    tasks.push_back([&client, url, path] { client.Download(url, path); });
  }
  if (tasks.empty()) Fail("{}: no such directory (no object under {}/)", source.ToString(),
                          source.ToString());
  RunParallel(client.settings().parallel, tasks);
  return tasks.size();
}

}  // namespace tzrec::exporting::remote
