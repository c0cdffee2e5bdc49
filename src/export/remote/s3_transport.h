// One signed S3 request over libcurl, retried: the transport under
// s3_client.h. SigV4 by libcurl (CURLOPT_AWS_SIGV4) with the payload's
// SHA-256; connection failures, stalls (a low-speed limit), 5xx answers and
// S3's transient error bodies are tried again with backoff (retry_policy.h);
// anything else fails at once with one line naming the operation.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "export/remote/aws_uri.h"
#include "export/remote/s3_settings.h"

namespace tzrec::exporting::remote {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<FILE, FileCloser>;

enum class Method { kGet, kPut, kPost, kDelete };

struct Request {
  std::string what;  // for messages: "upload s3://bucket/key"
  Method method = Method::kGet;
  std::string bucket;
  std::string key;
  QueryParams query;
  std::string content_type;
  // Body: a string, or a range of a local file (when body_path is set).
  std::string body;
  std::string body_path;
  uint64_t body_offset = 0;
  uint64_t body_size = 0;
  // Response body goes here on success instead of into Response::body.
  FILE* sink = nullptr;
};

struct Response {
  long status = 0;
  std::string body;  // the body (capped) unless streamed to the sink
  std::string etag;
};

// Sends `request` (trying again on transient failures); returns its 2xx
// response. Safe from several threads (one curl handle per request).
Response Execute(const S3Settings& settings, const Request& request);

}  // namespace tzrec::exporting::remote
