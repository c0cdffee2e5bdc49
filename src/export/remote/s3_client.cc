#include "export/remote/s3_client.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/file_digest.h"
#include "export/remote/s3_transport.h"

namespace tzrec::exporting::remote {

namespace fs = std::filesystem;

namespace {

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) Fail("cannot read {}: {}", path, ec.message());
  return size;
}

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// A request on one object (`url`'s bucket and key); `what` names it in errors.
Request ObjectRequest(std::string what, Method method, const RemoteUrl& url) {
  Request request;
  request.what = std::move(what);
  request.method = method;
  request.bucket = url.bucket;
  request.key = url.key;
  return request;
}

}  // namespace

std::string CompleteMultipartBody(const std::vector<std::string>& part_etags) {
  std::string body = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < part_etags.size(); ++i) {
    body += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1,
                        XmlEscape(part_etags[i]));
  }
  return body + "</CompleteMultipartUpload>";
}

S3Client::S3Client(S3Settings settings) : settings_(std::move(settings)) {}

ListPage S3Client::List(const std::string& scheme, const std::string& bucket,
                        const std::string& prefix, const std::string& delimiter) const {
  ListPage all;
  std::string token;
  do {
    Request request;
    request.what = fmt::format("list {}://{}/{}", scheme, bucket, prefix);
    request.bucket = bucket;
    request.query = {{"list-type", "2"}, {"prefix", prefix}};
    if (!delimiter.empty()) request.query.emplace_back("delimiter", delimiter);
    if (!token.empty()) request.query.emplace_back("continuation-token", token);
    ListPage page = ParseListPage(Execute(settings_, request).body);
    for (auto& object : page.objects) all.objects.push_back(std::move(object));
    for (auto& p : page.common_prefixes) all.common_prefixes.push_back(std::move(p));
    token = page.next_continuation_token;
  } while (!token.empty());
  return all;
}

bool S3Client::AnyObjectUnder(const std::string& scheme, const std::string& bucket,
                              const std::string& prefix) const {
  Request request;
  request.what = fmt::format("list {}://{}/{}", scheme, bucket, prefix);
  request.bucket = bucket;
  request.query = {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", prefix}};
  return !ParseListPage(Execute(settings_, request).body).objects.empty();
}

void S3Client::PutFile(const RemoteUrl& url, const std::string& local_path) const {
  Request request = ObjectRequest("upload " + url.ToString(), Method::kPut, url);
  request.body_path = local_path;
  request.body_size = FileSize(local_path);
  Execute(settings_, request);
}

std::string S3Client::CreateMultipartUpload(const RemoteUrl& url) const {
  Request request = ObjectRequest("start multipart upload " + url.ToString(), Method::kPost, url);
  request.query = {{"uploads", ""}};
  request.content_type = "application/octet-stream";
  return ParseUploadId(Execute(settings_, request).body);
}

std::string S3Client::UploadPart(const RemoteUrl& url, const std::string& upload_id,
                                 int part_number, const std::string& local_path, uint64_t offset,
                                 uint64_t size) const {
  Request request = ObjectRequest(fmt::format("upload part {} of {}", part_number, url.ToString()), Method::kPut, url);
  request.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
  request.body_path = local_path;
  request.body_offset = offset;
  request.body_size = size;
  Response response = Execute(settings_, request);
  if (response.etag.empty()) Fail("{}: the answer has no ETag", request.what);
  return response.etag;
}

void S3Client::CompleteMultipartUpload(const RemoteUrl& url, const std::string& upload_id,
                                       const std::vector<std::string>& part_etags) const {
  Request request = ObjectRequest("complete multipart upload " + url.ToString(), Method::kPost, url);
  request.query = {{"uploadId", upload_id}};
  request.content_type = "application/xml";
  request.body = CompleteMultipartBody(part_etags);
  Execute(settings_, request);
}

void S3Client::AbortMultipartUpload(const RemoteUrl& url,
                                    const std::string& upload_id) const noexcept {
  try {
    S3Settings once = settings_;
    once.max_attempts = 1;
    Request request = ObjectRequest("abort multipart upload " + url.ToString(), Method::kDelete, url);
    request.query = {{"uploadId", upload_id}};
    Execute(once, request);
  } catch (const std::exception& e) {
    spdlog::warn("{}", e.what());
  }
}

void S3Client::Download(const RemoteUrl& url, const std::string& local_path) const {
  const fs::path target(local_path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) Fail("cannot create {}: {}", target.parent_path().string(), ec.message());
  }
  const std::string partial = local_path + ".part";
  FilePtr file(std::fopen(partial.c_str(), "wb+"));
  if (!file) Fail("cannot write {}: {}", partial, std::strerror(errno));
  Request request = ObjectRequest("download " + url.ToString(), Method::kGet, url);
  request.sink = file.get();
  try {
    Execute(settings_, request);
  } catch (...) {
    file.reset();
    fs::remove(partial, ec);
    throw;
  }
  if (std::fflush(file.get()) != 0) Fail("cannot write {}: {}", partial, std::strerror(errno));
  file.reset();
  fs::rename(partial, local_path, ec);
  if (ec) Fail("cannot move {} to {}: {}", partial, local_path, ec.message());
}

}  // namespace tzrec::exporting::remote
