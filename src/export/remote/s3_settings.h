// How tzrec reaches an object store, read once from the environment.
//
// Standard AWS SDK names:
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY  credentials (required);
//   AWS_SESSION_TOKEN                         temporary credentials' token;
//   AWS_REGION (or AWS_DEFAULT_REGION)        signing region, default us-east-1
//                                             (oss:// without an endpoint needs it);
//   AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL     a non-AWS store ("http://127.0.0.1:7480"),
//                                             addressed path-style (host/bucket/key);
//   AWS_MAX_ATTEMPTS                          tries per request, default 5.
// Without an endpoint, s3:// goes to https://<bucket>.s3.<region>.amazonaws.com
// and oss:// to https://<bucket>.oss-<region>.aliyuncs.com (virtual-hosted).
//
// tzrec's own knobs:
//   TZREC_S3_ADDRESSING_STYLE     "path" or "virtual", overriding the default above;
//   TZREC_S3_LOW_SPEED_TIME       seconds a request may move no data before it is
//                                 abandoned (and retried), default 30;
//   TZREC_S3_CONNECT_TIMEOUT      seconds to connect, default 10;
//   TZREC_S3_RETRY_DELAY          first backoff in seconds (doubling, up to 16x), default 1;
//   TZREC_S3_MULTIPART_THRESHOLD  files of at least this many bytes go up in parts,
//                                 default 64 MiB;
//   TZREC_S3_PART_SIZE            bytes per part, default 16 MiB (S3's minimum is 5 MiB);
//   TZREC_S3_PARALLEL             concurrent transfers, default 4;
//   TZREC_S3_MAX_SEND_SPEED       bytes per second per transfer, 0 (default) = unlimited.
// A bad value is a ConfigError naming the variable and the value. Credentials
// are never part of any message.
#pragma once

#include <cstdint>
#include <string>

#include "export/export_env.h"
#include "export/remote/aws_uri.h"

namespace tzrec::exporting::remote {

enum class AddressingStyle { kPath, kVirtual };

struct S3Settings {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string region = "us-east-1";
  std::string endpoint;  // "scheme://host[:port]", no trailing '/'
  AddressingStyle addressing = AddressingStyle::kVirtual;

  int max_attempts = 5;
  double retry_delay_s = 1.0;
  long low_speed_time_s = 30;
  long connect_timeout_s = 10;
  uint64_t multipart_threshold = 64ull << 20;
  uint64_t part_size = 16ull << 20;
  int parallel = 4;
  uint64_t max_send_speed = 0;
};

// Settings for URLs of `scheme` ("s3" or "oss").
S3Settings ReadS3Settings(const exporting::EnvLookup& env, const std::string& scheme);

// The request URL of an object (or of the bucket, for an empty key): endpoint,
// bucket placed per the addressing style, key percent-encoded, query in
// canonical form.
std::string RequestUrl(const S3Settings& settings, const std::string& bucket,
                       const std::string& key, const QueryParams& query = {});

}  // namespace tzrec::exporting::remote
