#include "export/remote/s3_transport.h"

#include <curl/curl.h>
#include <strings.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/file_digest.h"
#include "export/remote/retry_policy.h"
#include "export/remote/s3_xml.h"

namespace tzrec::exporting::remote {

namespace {

// State the curl callbacks share during one attempt.
struct Transfer {
  CURL* curl = nullptr;
  FILE* source = nullptr;
  uint64_t source_left = 0;
  FILE* sink = nullptr;
  bool sink_failed = false;
  Response response;
};

constexpr size_t kMaxErrorBody = 64 << 10;

size_t ReadBody(char* buffer, size_t size, size_t count, void* data) {
  auto* t = static_cast<Transfer*>(data);
  const size_t want = static_cast<size_t>(std::min<uint64_t>(size * count, t->source_left));
  const size_t got = std::fread(buffer, 1, want, t->source);
  if (got < want) return CURL_READFUNC_ABORT;  // the file shrank under us
  t->source_left -= got;
  return got;
}

size_t WriteBody(char* buffer, size_t size, size_t count, void* data) {
  auto* t = static_cast<Transfer*>(data);
  const size_t bytes = size * count;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (t->sink != nullptr && status >= 200 && status < 300) {
    if (std::fwrite(buffer, 1, bytes, t->sink) != bytes) {
      t->sink_failed = true;
      return 0;
    }
    return bytes;
  }
  if (t->response.body.size() < kMaxErrorBody) t->response.body.append(buffer, bytes);
  return bytes;
}

size_t ReadHeader(char* buffer, size_t size, size_t count, void* data) {
  auto* t = static_cast<Transfer*>(data);
  const std::string line(buffer, size * count);
  constexpr const char kEtag[] = "etag:";
  if (line.size() > sizeof(kEtag) - 1 && strncasecmp(line.c_str(), kEtag, sizeof(kEtag) - 1) == 0) {
    std::string value = line.substr(sizeof(kEtag) - 1);
    const size_t first = value.find_first_not_of(" \t");
    const size_t last = value.find_last_not_of(" \t\r\n");
    t->response.etag = first == std::string::npos ? "" : value.substr(first, last - first + 1);
  }
  return size * count;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

double Jitter() {
  thread_local std::mt19937 engine(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct HeaderListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// One attempt. Returns the curl result; the response fills `t.response`.
CURLcode Perform(const S3Settings& settings, const Request& request, const std::string& payload_hash,
                 Transfer& t, char* error_buffer) {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) Fail("{}: libcurl could not start a request", request.what);
  t.curl = curl.get();
  CURL* c = curl.get();

  const std::string url = RequestUrl(settings, request.bucket, request.key, request.query);
  const std::string sigv4 = "aws:amz:" + settings.region + ":s3";
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(c, CURLOPT_USERNAME, settings.access_key_id.c_str());
  curl_easy_setopt(c, CURLOPT_PASSWORD, settings.secret_access_key.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, settings.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, settings.low_speed_time_s);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, ReadHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  if (settings.max_send_speed > 0) {
    curl_easy_setopt(c, CURLOPT_MAX_SEND_SPEED_LARGE,
                     static_cast<curl_off_t>(settings.max_send_speed));
  }

  // libcurl 7.88 signs every header given here and takes the payload hash
  // from x-amz-content-sha256, which it does not add itself.
  curl_slist* raw_headers = nullptr;
  const std::string hash_header = "x-amz-content-sha256: " + payload_hash;
  raw_headers = curl_slist_append(raw_headers, hash_header.c_str());
  std::string token_header;
  if (!settings.session_token.empty()) {
    token_header = "x-amz-security-token: " + settings.session_token;
    raw_headers = curl_slist_append(raw_headers, token_header.c_str());
  }
  std::string type_header;
  if (!request.content_type.empty()) {
    type_header = "Content-Type: " + request.content_type;
    raw_headers = curl_slist_append(raw_headers, type_header.c_str());
  }
  std::unique_ptr<curl_slist, HeaderListDeleter> headers(raw_headers);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

  FilePtr source;
  switch (request.method) {
    case Method::kGet:
      break;
    case Method::kPut: {
      curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
      if (!request.body_path.empty()) {
        source.reset(std::fopen(request.body_path.c_str(), "rb"));
        if (!source) Fail("cannot read {}: {}", request.body_path, std::strerror(errno));
        if (fseeko(source.get(), static_cast<off_t>(request.body_offset), SEEK_SET) != 0) {
          Fail("cannot seek in {}: {}", request.body_path, std::strerror(errno));
        }
        t.source = source.get();
        t.source_left = request.body_size;
      }
      curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadBody);
      curl_easy_setopt(c, CURLOPT_READDATA, &t);
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(t.source_left));
      break;
    }
    case Method::kPost:
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      break;
    case Method::kDelete:
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
      break;
  }

  if (request.sink != nullptr) {
    std::rewind(request.sink);
    if (ftruncate(fileno(request.sink), 0) != 0) {
      Fail("{}: cannot truncate the download file: {}", request.what, std::strerror(errno));
    }
    t.sink = request.sink;
  }
  const CURLcode code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &t.response.status);
  return code;
}

// Why an attempt failed, in one line.
std::string Describe(CURLcode code, const char* error_buffer, const Response& response) {
  if (code != CURLE_OK) {
    const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    return code == CURLE_OPERATION_TIMEDOUT ? "no progress (" + detail + ")" : detail;
  }
  std::string text = fmt::format("HTTP {}", response.status);
  if (auto error = ParseS3Error(response.body)) {
    text += " " + error->code;
    if (!error->message.empty()) text += ": " + error->message;
  }
  return text;
}

}  // namespace

Response Execute(const S3Settings& settings, const Request& request) {
  GlobalInit();
  std::string payload_hash;
  if (!request.body_path.empty()) {
    payload_hash = FileDigestHex(request.body_path, DigestKind::kSha256, request.body_offset, request.body_size);
  } else {
    payload_hash = DigestHex(request.body, DigestKind::kSha256);
  }
  for (int attempt = 1;; ++attempt) {
    Transfer transfer;
    char error_buffer[CURL_ERROR_SIZE] = {0};
    const CURLcode code = Perform(settings, request, payload_hash, transfer, error_buffer);
    if (transfer.sink_failed) {
      Fail("{}: cannot write the downloaded data: {}", request.what, std::strerror(errno));
    }
    const long status = transfer.response.status;
    if (code == CURLE_OK && status >= 200 && status < 300) {
      // CompleteMultipartUpload may fail after its 200 header: the error is in the body.
      if (request.sink == nullptr) {
        if (auto error = ParseS3Error(transfer.response.body)) {
          const bool transient = error->code == "InternalError" || error->code == "SlowDown";
          if (!transient || attempt >= settings.max_attempts) {
            Fail("{}: {} {}", request.what, error->code, error->message);
          }
          std::this_thread::sleep_for(std::chrono::duration<double>(
              BackoffSeconds(attempt + 1, settings.retry_delay_s, Jitter())));
          continue;
        }
      }
      return std::move(transfer.response);
    }
    const std::string why = Describe(code, error_buffer, transfer.response);
    if (!IsTransientFailure(code, status)) Fail("{}: {}", request.what, why);
    if (attempt >= settings.max_attempts) {
      Fail("{}: {} (gave up after {} attempts)", request.what, why, attempt);
    }
    const double delay = BackoffSeconds(attempt + 1, settings.retry_delay_s, Jitter());
    spdlog::warn("{}: {}; trying again in {:.1f} s ({} of {})", request.what, why, delay,
                 attempt + 1, settings.max_attempts);
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
  }
}

}  // namespace tzrec::exporting::remote
