// Hand-off queues between threads of a pipeline (predict's reader -> parser
// workers -> model -> writer; the data path's file readers -> training).
//
// Both queues are bounded, so a fast stage cannot run ahead of a slow one and
// fill memory, and both can be cancelled: when any stage fails, Cancel() wakes
// every waiting thread, which then sees `false` and stops, so the failure is
// reported instead of the pipeline hanging.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

namespace tzrec {

// First in, first out, for any number of producers and consumers.
template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Blocks while full; false when cancelled (the item is dropped).
  bool Push(T item) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return cancelled_ || items_.size() < capacity_; });
    if (cancelled_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  // Blocks while empty; nullopt once closed and drained, or when cancelled.
  std::optional<T> Pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return cancelled_ || closed_ || !items_.empty(); });
    if (cancelled_ || items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }

  // No more items will be pushed; consumers drain what is left, then stop.
  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
  }

  void Cancel() {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<T> items_;
  bool closed_ = false, cancelled_ = false;
};

// Items arrive out of order, tagged with a sequence number 0, 1, 2, ...; Pop
// returns them in sequence order. Push blocks while its item is `capacity` or
// more ahead of the next one due, which bounds the reorder buffer; the item
// that is due is always accepted, so producers cannot deadlock as long as
// every sequence number is pushed once. Close(total) says how many will come.
template <typename T>
class OrderedQueue {
 public:
  explicit OrderedQueue(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  bool Push(int64_t sequence, T item) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] {
      return cancelled_ || sequence < next_ + static_cast<int64_t>(capacity_);
    });
    if (cancelled_) return false;
    items_.emplace(sequence, std::move(item));
    if (sequence == next_) ready_.notify_all();
    return true;
  }

  // The item with the next sequence number; nullopt once `total` items were
  // returned after Close(total), or when cancelled.
  std::optional<T> Pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] {
      return cancelled_ || (total_ >= 0 && next_ >= total_) ||
             (!items_.empty() && items_.begin()->first == next_);
    });
    if (cancelled_ || items_.empty() || items_.begin()->first != next_) return std::nullopt;
    T item = std::move(items_.begin()->second);
    items_.erase(items_.begin());
    ++next_;
    not_full_.notify_all();
    return item;
  }

  // Exactly `total` items (sequence numbers 0 .. total-1) are pushed in all.
  void Close(int64_t total) {
    std::lock_guard<std::mutex> lock(mutex_);
    total_ = total;
    ready_.notify_all();
  }

  void Cancel() {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
    ready_.notify_all();
    not_full_.notify_all();
  }

 private:
  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable ready_, not_full_;
  std::map<int64_t, T> items_;
  int64_t next_ = 0;
  int64_t total_ = -1;
  bool cancelled_ = false;
};

}  // namespace tzrec
