#include "export/remote/s3_settings.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include "common/error.h"

namespace tzrec::exporting::remote {

namespace {

std::string Get(const exporting::EnvLookup& env, const std::string& name) {
  std::optional<std::string> value = env(name);
  return value ? *value : "";
}

uint64_t ReadCount(const exporting::EnvLookup& env, const std::string& name, uint64_t fallback,
                   uint64_t minimum) {
  const std::string text = Get(env, name);
  if (text.empty()) return fallback;
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0' || text[0] == '-' || value < minimum) {
    FailConfig("{}={}: expected a whole number of at least {}", name, text, minimum);
  }
  return value;
}

double ReadSeconds(const exporting::EnvLookup& env, const std::string& name, double fallback) {
  const std::string text = Get(env, name);
  if (text.empty()) return fallback;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(value >= 0)) {
    FailConfig("{}={}: expected a number of seconds >= 0", name, text);
  }
  return value;
}

std::string NormalizeEndpoint(const std::string& name, std::string endpoint) {
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  const size_t sep = endpoint.find("://");
  if (sep == std::string::npos || (endpoint.compare(0, sep, "http") != 0 &&
                                   endpoint.compare(0, sep, "https") != 0)) {
    FailConfig("{}={}: expected http://host[:port] or https://host[:port]", name, endpoint);
  }
  if (endpoint.find('/', sep + 3) != std::string::npos) {
    FailConfig("{}={}: an endpoint has no path", name, endpoint);
  }
  return endpoint;
}

}  // namespace

S3Settings ReadS3Settings(const exporting::EnvLookup& env, const std::string& scheme) {
  S3Settings s;
  s.access_key_id = Get(env, "AWS_ACCESS_KEY_ID");
  s.secret_access_key = Get(env, "AWS_SECRET_ACCESS_KEY");
  if (s.access_key_id.empty() || s.secret_access_key.empty()) {
    FailConfig("{}:// paths need credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
               scheme);
  }
  s.session_token = Get(env, "AWS_SESSION_TOKEN");
  std::string region = Get(env, "AWS_REGION");
  if (region.empty()) region = Get(env, "AWS_DEFAULT_REGION");
  for (char c : region) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) {
      FailConfig("AWS_REGION={}: not a region name", region);
    }
  }

  std::string endpoint_var = "AWS_ENDPOINT_URL_S3";
  std::string endpoint = Get(env, endpoint_var);
  if (endpoint.empty()) endpoint = Get(env, endpoint_var = "AWS_ENDPOINT_URL");
  if (!endpoint.empty()) {
    s.endpoint = NormalizeEndpoint(endpoint_var, endpoint);
    s.addressing = AddressingStyle::kPath;
    if (!region.empty()) s.region = region;
  } else if (scheme == "oss") {
    if (region.empty()) {
      FailConfig("oss:// paths need AWS_REGION (e.g. cn-hangzhou) or AWS_ENDPOINT_URL");
    }
    s.region = region;
    s.endpoint = "https://oss-" + region + ".aliyuncs.com";
  } else {
    if (!region.empty()) s.region = region;
    s.endpoint = "https://s3." + s.region + ".amazonaws.com";
  }

  const std::string style = Get(env, "TZREC_S3_ADDRESSING_STYLE");
  if (style == "path") {
    s.addressing = AddressingStyle::kPath;
  } else if (style == "virtual") {
    s.addressing = AddressingStyle::kVirtual;
  } else if (!style.empty()) {
    FailConfig("TZREC_S3_ADDRESSING_STYLE={}: expected path or virtual", style);
  }

  s.max_attempts = static_cast<int>(ReadCount(env, "AWS_MAX_ATTEMPTS", 5, 1));
  s.retry_delay_s = ReadSeconds(env, "TZREC_S3_RETRY_DELAY", 1.0);
  s.low_speed_time_s = static_cast<long>(ReadCount(env, "TZREC_S3_LOW_SPEED_TIME", 30, 1));
  s.connect_timeout_s = static_cast<long>(ReadCount(env, "TZREC_S3_CONNECT_TIMEOUT", 10, 1));
  s.multipart_threshold = ReadCount(env, "TZREC_S3_MULTIPART_THRESHOLD", 64ull << 20, 1);
  s.part_size = ReadCount(env, "TZREC_S3_PART_SIZE", 16ull << 20, 5ull << 20);
  s.parallel = static_cast<int>(ReadCount(env, "TZREC_S3_PARALLEL", 4, 1));
  s.max_send_speed = ReadCount(env, "TZREC_S3_MAX_SEND_SPEED", 0, 0);
  return s;
}

std::string RequestUrl(const S3Settings& settings, const std::string& bucket,
                       const std::string& key, const QueryParams& query) {
  std::string url;
  const size_t sep = settings.endpoint.find("://");
  if (settings.addressing == AddressingStyle::kVirtual) {
    url = settings.endpoint.substr(0, sep + 3) + bucket + "." + settings.endpoint.substr(sep + 3) + "/";
  } else {
    url = settings.endpoint + "/" + bucket + "/";
  }
  url += AwsUriEncode(key, true);
  if (!query.empty()) url += "?" + CanonicalQueryString(query);
  return url;
}

}  // namespace tzrec::exporting::remote
