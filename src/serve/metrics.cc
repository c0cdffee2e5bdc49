#include "serve/metrics.h"

#include <fmt/format.h>

namespace tzrec::serve {

void ServeMetrics::Record(int status, double seconds, int64_t items) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_by_status_[status];
  for (size_t b = 0; b < kBuckets.size(); ++b) {
    if (seconds <= kBuckets[b]) ++bucket_counts_[b];
  }
  ++latency_count_;
  latency_sum_ += seconds;
  items_ += items;
}

std::string ServeMetrics::Text(const std::string& model_dir,
                               const Batcher::Stats& model_calls) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  out += "# HELP tzrec_serve_requests_total Prediction requests answered, by HTTP status.\n";
  out += "# TYPE tzrec_serve_requests_total counter\n";
  for (const auto& [status, count] : requests_by_status_) {
    out += fmt::format("tzrec_serve_requests_total{{code=\"{}\"}} {}\n", status, count);
  }
  out += "# HELP tzrec_serve_request_duration_seconds Time to answer a prediction request.\n";
  out += "# TYPE tzrec_serve_request_duration_seconds histogram\n";
  for (size_t b = 0; b < kBuckets.size(); ++b) {
    out += fmt::format("tzrec_serve_request_duration_seconds_bucket{{le=\"{}\"}} {}\n", kBuckets[b],
                       bucket_counts_[b]);
  }
  out += fmt::format("tzrec_serve_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n",
                     latency_count_);
  out += fmt::format("tzrec_serve_request_duration_seconds_sum {}\n", latency_sum_);
  out += fmt::format("tzrec_serve_request_duration_seconds_count {}\n", latency_count_);
  out += "# HELP tzrec_serve_items_total Items scored.\n";
  out += "# TYPE tzrec_serve_items_total counter\n";
  out += fmt::format("tzrec_serve_items_total {}\n", items_);
  out += "# HELP tzrec_serve_model_calls_total Model calls (concurrent requests share them).\n";
  out += "# TYPE tzrec_serve_model_calls_total counter\n";
  out += fmt::format("tzrec_serve_model_calls_total {}\n", model_calls.calls);
  out += "# HELP tzrec_serve_model_call_requests_total Requests answered by model calls.\n";
  out += "# TYPE tzrec_serve_model_call_requests_total counter\n";
  out += fmt::format("tzrec_serve_model_call_requests_total {}\n", model_calls.requests);
  out += "# HELP tzrec_serve_model_call_rows_total Rows run through the model.\n";
  out += "# TYPE tzrec_serve_model_call_rows_total counter\n";
  out += fmt::format("tzrec_serve_model_call_rows_total {}\n", model_calls.rows);
  out += "# HELP tzrec_serve_model_info The export being served.\n";
  out += "# TYPE tzrec_serve_model_info gauge\n";
  std::string dir;  // a label value: backslash, quote and newline escaped
  for (char c : model_dir) {
    if (c == '\\' || c == '"') dir += '\\';
    dir += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  out += fmt::format("tzrec_serve_model_info{{dir=\"{}\"}} 1\n", dir);
  return out;
}

}  // namespace tzrec::serve
