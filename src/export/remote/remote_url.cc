#include "export/remote/remote_url.h"

#include <cctype>

#include "common/error.h"

namespace tzrec::exporting::remote {

namespace {

// S3's bucket naming rules (OSS's are a subset): 3 to 63 characters, lowercase
// letters, digits, '.' and '-', starting and ending with a letter or digit.
bool ValidBucketName(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
          c == '.' || c == '-')) {
      return false;
    }
  }
  return std::isalnum(static_cast<unsigned char>(bucket.front())) &&
         std::isalnum(static_cast<unsigned char>(bucket.back()));
}

}  // namespace

std::string RemoteUrl::ToString() const {
  return key.empty() ? scheme + "://" + bucket : scheme + "://" + bucket + "/" + key;
}

std::string RemoteUrl::DirectoryPrefix() const { return key.empty() ? "" : key + "/"; }

RemoteUrl RemoteUrl::Child(const std::string& relative) const {
  RemoteUrl child = *this;
  child.key = key.empty() ? relative : key + "/" + relative;
  return child;
}

bool IsRemoteUrl(const std::string& path) {
  const size_t colon = path.find("://");
  if (colon == std::string::npos || colon == 0) return false;
  for (size_t i = 0; i < colon; ++i) {
    if (!std::isalnum(static_cast<unsigned char>(path[i]))) return false;
  }
  return true;
}

RemoteUrl ParseRemoteUrl(const std::string& url, const std::string& what) {
  const size_t sep = url.find("://");
  if (sep == std::string::npos) FailConfig("{} {}: not a URL (expected s3://bucket/path)", what, url);
  RemoteUrl result;
  result.scheme = url.substr(0, sep);
  if (result.scheme != "s3" && result.scheme != "oss") {
    FailConfig("{} {}: unsupported scheme \"{}\" (tzrec reads and writes s3:// and oss://)", what,
               url, result.scheme);
  }
  const std::string rest = url.substr(sep + 3);
  const size_t slash = rest.find('/');
  result.bucket = rest.substr(0, slash);
  if (!ValidBucketName(result.bucket)) {
    FailConfig("{} {}: \"{}\" is not a valid bucket name (3-63 characters: a-z 0-9 . -)", what, url,
               result.bucket);
  }
  std::string key = slash == std::string::npos ? "" : rest.substr(slash + 1);
  while (!key.empty() && key.back() == '/') key.pop_back();
  // Segments are checked so that keys map one to one onto local relative paths.
  size_t start = 0;
  while (!key.empty() && start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string::npos) end = key.size();
    const std::string segment = key.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") {
      FailConfig("{} {}: the path has an empty, \".\" or \"..\" segment", what, url);
    }
    start = end + 1;
  }
  result.key = key;
  return result;
}

}  // namespace tzrec::exporting::remote
