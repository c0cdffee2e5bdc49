// A small S3 client on libcurl: the requests tzrec's remote export and its
// downloads need, signed with libcurl's built-in SigV4 (CURLOPT_AWS_SIGV4),
// each retried with backoff on connection failures, stalls and 5xx answers
// (retry_policy.h). Stalls are cut by a low-speed limit: a request that moves
// no byte for TZREC_S3_LOW_SPEED_TIME seconds is abandoned, so a frozen server
// cannot hang tzrec.
//
// Every method is safe to call from several threads at once (each request has
// its own curl handle). Errors are tzrec::Error with one line naming the
// operation, the s3:// / oss:// URL and the server's error code; credentials
// never appear.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "export/remote/remote_url.h"
#include "export/remote/s3_settings.h"
#include "export/remote/s3_xml.h"

namespace tzrec::exporting::remote {

class S3Client {
 public:
  explicit S3Client(S3Settings settings);

  const S3Settings& settings() const { return settings_; }

  // Every object whose key starts with `prefix` (all pages). With a
  // `delimiter` ("/"), keys below the next delimiter are folded into
  // common_prefixes, as a directory listing.
  ListPage List(const std::string& scheme, const std::string& bucket, const std::string& prefix,
                const std::string& delimiter = "") const;
  // Whether any object's key starts with `prefix` (one short listing). Also
  // the cheapest check that the bucket exists and the credentials work.
  bool AnyObjectUnder(const std::string& scheme, const std::string& bucket,
                      const std::string& prefix) const;

  // One PUT of a whole local file.
  void PutFile(const RemoteUrl& url, const std::string& local_path) const;

  // Multipart upload steps.
  std::string CreateMultipartUpload(const RemoteUrl& url) const;
  // Uploads `size` bytes of `local_path` from `offset` as part `part_number`
  // (1-based); returns the part's ETag.
  std::string UploadPart(const RemoteUrl& url, const std::string& upload_id, int part_number,
                         const std::string& local_path, uint64_t offset, uint64_t size) const;
  void CompleteMultipartUpload(const RemoteUrl& url, const std::string& upload_id,
                               const std::vector<std::string>& part_etags) const;
  // Best effort (the upload has already failed): logs instead of throwing.
  void AbortMultipartUpload(const RemoteUrl& url, const std::string& upload_id) const noexcept;

  // Streams an object into `local_path` (through "<local_path>.part", renamed
  // when complete); parent directories are created.
  void Download(const RemoteUrl& url, const std::string& local_path) const;

 private:
  S3Settings settings_;
};

// The XML body of CompleteMultipartUpload for these ETags (parts 1..n).
std::string CompleteMultipartBody(const std::vector<std::string>& part_etags);

}  // namespace tzrec::exporting::remote
