#include "serve/batcher.h"

#include <chrono>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "serve/request_codec.h"

namespace tzrec::serve {
namespace {

std::set<std::string> KeysOf(const models::TensorMap& inputs) {
  std::set<std::string> keys;
  for (const auto& [key, tensor] : inputs) keys.insert(key);
  return keys;
}

}  // namespace

Batcher::Batcher(RunFn run, Options options) : run_(std::move(run)), options_(options) {
  if (options_.workers < 1) Fail("the model needs at least one worker, got {}", options_.workers);
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { Loop(); });
}

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

ModelOutputs Batcher::Run(models::TensorMap inputs, int64_t rows, bool batchable) {
  auto pending = std::make_shared<Pending>();
  pending->inputs = std::move(inputs);
  pending->rows = rows;
  pending->batchable = batchable;
  if (batchable) pending->keys = KeysOf(pending->inputs);  // outside the lock
  std::future<ModelOutputs> done = pending->done.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (static_cast<int>(queue_.size()) >= options_.max_queued) {
      throw BadRequest(fmt::format("overloaded: {} requests are waiting for the model "
                                   "(--max_queued_requests); retry later",
                                   queue_.size()),
                       503);
    }
    queue_.push_back(std::move(pending));
  }
  queued_.notify_one();
  return done.get();
}

size_t Batcher::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

Batcher::Stats Batcher::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

std::deque<std::shared_ptr<Batcher::Pending>> Batcher::NextBatch(
    std::unique_lock<std::mutex>& lock) {
  std::deque<std::shared_ptr<Pending>> batch;
  batch.push_back(std::move(queue_.front()));
  queue_.pop_front();
  if (!batch.front()->batchable) return batch;
  int64_t rows = batch.front()->rows;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::microseconds(options_.batch_timeout_us);
  while (rows < options_.max_batch_rows) {
    if (queue_.empty()) {
      if (options_.batch_timeout_us <= 0 || stopping_) break;
      if (!queued_.wait_until(lock, deadline, [&] { return !queue_.empty() || stopping_; })) break;
      if (queue_.empty()) break;
    }
    const std::shared_ptr<Pending>& next = queue_.front();
    if (!next->batchable || rows + next->rows > options_.max_batch_rows ||
        next->keys != batch.front()->keys) {
      break;
    }
    rows += next->rows;
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
}

void Batcher::RunBatch(std::deque<std::shared_ptr<Pending>>& batch) {
  try {
    if (batch.size() == 1) {
      batch.front()->done.set_value(run_(batch.front()->inputs));
      return;
    }
    models::TensorMap inputs;
    int64_t total = 0;
    for (const auto& pending : batch) total += pending->rows;
    for (const auto& [key, tensor] : batch.front()->inputs) {
      std::vector<at::Tensor> parts;
      parts.reserve(batch.size());
      for (const auto& pending : batch) parts.push_back(pending->inputs.at(key));
      inputs[key] = at::cat(parts, 0);
    }
    const ModelOutputs outputs = run_(inputs);
    std::vector<ModelOutputs> split(batch.size());
    for (const auto& entry : outputs) {
      if (entry.value().dim() == 0 || entry.value().size(0) != total) {
        Fail("output {} has shape [{}] for {} input rows: it cannot be split by request", entry.key(),
             fmt::join(entry.value().sizes(), ", "), total);
      }
      int64_t offset = 0;
      for (size_t i = 0; i < batch.size(); ++i) {
        split[i].insert(entry.key(), entry.value().narrow(0, offset, batch[i]->rows));
        offset += batch[i]->rows;
      }
    }
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->done.set_value(std::move(split[i]));
  } catch (...) {
    for (auto& pending : batch) {
      try {
        pending->done.set_exception(std::current_exception());
      } catch (const std::future_error&) {
        // Already answered before the failure.
      }
    }
  }
}

void Batcher::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    queued_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping, nothing left
    std::deque<std::shared_ptr<Pending>> batch = NextBatch(lock);
    ++stats_.calls;
    stats_.requests += static_cast<int64_t>(batch.size());
    for (const auto& pending : batch) stats_.rows += pending->rows;
    lock.unlock();
    RunBatch(batch);
    lock.lock();
  }
}

}  // namespace tzrec::serve
