// Object-store locations given on the command line: s3://bucket/key/prefix and
// oss://bucket/key/prefix (Alibaba OSS, reached through its S3-compatible API).
#pragma once

#include <string>

namespace tzrec::exporting::remote {

struct RemoteUrl {
  std::string scheme;  // "s3" or "oss"
  std::string bucket;
  std::string key;  // without leading or trailing '/'; "" is the bucket's root

  // scheme://bucket/key
  std::string ToString() const;
  // The key prefix that holds what lies "inside" this URL: "key/" ("" at the root).
  std::string DirectoryPrefix() const;
  // This URL with `relative` ("a/b.txt") appended to the key.
  RemoteUrl Child(const std::string& relative) const;
};

// True for anything written as "<scheme>://...": the caller then parses it,
// so that an unsupported scheme is an error naming it rather than a local
// directory called "hdfs:".
bool IsRemoteUrl(const std::string& path);

// Parses s3:// and oss:// URLs. ConfigError naming `what` (the flag or field)
// and the URL for another scheme, a missing or invalid bucket name, or a key
// with empty, "." or ".." segments.
RemoteUrl ParseRemoteUrl(const std::string& url, const std::string& what);

}  // namespace tzrec::exporting::remote
