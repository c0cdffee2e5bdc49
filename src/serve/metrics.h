// What the server has done, for GET /metrics in Prometheus' text format:
// requests by status code, their latency (histogram), items scored, model
// calls (how well requests are batched), and the export being served.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "serve/batcher.h"

namespace tzrec::serve {

class ServeMetrics {
 public:
  void Record(int status, double seconds, int64_t items);
  // The text, with the export being served and its model calls' counts.
  std::string Text(const std::string& model_dir, const Batcher::Stats& model_calls) const;

 private:
  // Latency bucket upper bounds, seconds.
  static constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1.0,  2.5,   10.0};
  mutable std::mutex mutex_;
  std::map<int, int64_t> requests_by_status_;
  std::array<int64_t, kBuckets.size()> bucket_counts_{};
  int64_t latency_count_ = 0;
  double latency_sum_ = 0;
  int64_t items_ = 0;
};

}  // namespace tzrec::serve
