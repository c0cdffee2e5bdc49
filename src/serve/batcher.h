// One model call for many requests: requests queue their model inputs here;
// a worker thread takes what is queued (up to max_batch_rows rows, waiting at
// most batch_timeout_us after the first for more), concatenates the inputs
// along the row dimension, runs the model once and hands each request its
// rows of the outputs. Under load this trades nothing for throughput: with an
// empty queue a request runs at once. `workers` calls run at once (each on
// its own thread, with the process's intra-op threads): at the batch sizes of
// serving, calls side by side use the cores better than one call spread over
// them. The queue is bounded: when max_queued requests wait, the next is
// refused at once (503), so an overload costs neither memory nor the other
// requests' latency.
//
// Only FG-mode inputs are batched (tzrec's FG made them, so they fit
// together); bypass-mode tensors come from callers, and one malformed request
// must not fail others: those run alone.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "models/model.h"

namespace tzrec::serve {

using ModelOutputs = c10::Dict<std::string, at::Tensor>;

class Batcher {
 public:
  using RunFn = std::function<ModelOutputs(const models::TensorMap&)>;
  struct Options {
    int64_t max_batch_rows = 1024;
    int64_t batch_timeout_us = 0;  // 0: take what is queued, never wait
    int max_queued = 64;
    int workers = 1;  // model calls that may run at once
  };

  Batcher(RunFn run, Options options);
  // Answers what is queued, then stops the workers.
  ~Batcher();

  // The model's outputs for `inputs` (`rows` rows; `batchable`: may share a
  // call with other batchable requests). Blocks until they are computed;
  // BadRequest 503 when the queue is full; rethrows the model's error.
  ModelOutputs Run(models::TensorMap inputs, int64_t rows, bool batchable);

  // Requests waiting for a model call (not those running).
  size_t queued() const;

  // Model calls made and the requests and rows they answered.
  struct Stats {
    int64_t calls = 0;
    int64_t requests = 0;
    int64_t rows = 0;
  };
  Stats stats() const;

 private:
  struct Pending {
    models::TensorMap inputs;
    int64_t rows = 0;
    bool batchable = false;
    // Input names (batchable only): requests share a call when they match.
    std::set<std::string> keys;
    std::promise<ModelOutputs> done;
  };
  void Loop();
  // The requests of the next model call, taken from the queue.
  std::deque<std::shared_ptr<Pending>> NextBatch(std::unique_lock<std::mutex>& lock);
  void RunBatch(std::deque<std::shared_ptr<Pending>>& batch);

  RunFn run_;
  Options options_;
  mutable std::mutex mutex_;
  std::condition_variable queued_;
  std::deque<std::shared_ptr<Pending>> queue_;
  bool stopping_ = false;
  Stats stats_;
  std::vector<std::thread> workers_;
};

}  // namespace tzrec::serve
