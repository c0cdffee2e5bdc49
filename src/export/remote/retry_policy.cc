#include "export/remote/retry_policy.h"

#include <algorithm>
#include <cmath>

#include <curl/curl.h>

namespace tzrec::exporting::remote {

bool IsTransientFailure(int curl_code, long http_status) {
  switch (static_cast<CURLcode>(curl_code)) {
    case CURLE_OK:
      return http_status >= 500 || http_status == 429;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:  // includes the low-speed limit
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

double BackoffSeconds(int next_attempt, double base, double jitter) {
  const int doublings = std::clamp(next_attempt - 2, 0, 4);
  const double full = base * std::pow(2.0, doublings);
  return full * (0.5 + 0.5 * std::clamp(jitter, 0.0, 1.0));
}

}  // namespace tzrec::exporting::remote
