#include "common/pipeline_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

namespace tzrec {
namespace {

TEST(BoundedQueueTest, FifoThenEndAfterClose) {
  BoundedQueue<int> q(4);
  ASSERT_TRUE(q.Push(1));
  ASSERT_TRUE(q.Push(2));
  q.Close();
  EXPECT_EQ(q.Pop(), 1);
  EXPECT_EQ(q.Pop(), 2);
  EXPECT_EQ(q.Pop(), std::nullopt);
}

TEST(BoundedQueueTest, CancelWakesABlockedProducer) {
  BoundedQueue<int> q(1);
  ASSERT_TRUE(q.Push(1));
  std::atomic<int> result{-1};
  std::thread producer([&] { result = q.Push(2) ? 1 : 0; });  // blocks: full
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(result.load(), -1);
  q.Cancel();
  producer.join();
  EXPECT_EQ(result.load(), 0);
  EXPECT_EQ(q.Pop(), std::nullopt);
}

TEST(OrderedQueueTest, ManyProducersOutOfOrderComeOutInOrder) {
  constexpr int kItems = 500;
  constexpr int kProducers = 4;
  OrderedQueue<int> q(3);
  std::atomic<int> next{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937 rng(p);
      for (int seq = next++; seq < kItems; seq = next++) {
        if (rng() % 3 == 0) std::this_thread::yield();
        ASSERT_TRUE(q.Push(seq, seq * 10));
      }
    });
  }
  std::thread closer([&] {
    for (auto& t : producers) t.join();
    q.Close(kItems);
  });
  for (int i = 0; i < kItems; ++i) {
    auto item = q.Pop();
    ASSERT_TRUE(item.has_value()) << i;
    ASSERT_EQ(*item, i * 10);
  }
  EXPECT_EQ(q.Pop(), std::nullopt);
  closer.join();
}

TEST(OrderedQueueTest, PushFarAheadWaitsUntilTheGapFills) {
  OrderedQueue<int> q(2);
  std::atomic<bool> pushed{false};
  std::thread ahead([&] {
    q.Push(3, 3);  // 3 >= next(0) + capacity(2): waits
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(pushed.load());
  q.Push(0, 0);
  q.Push(1, 1);
  EXPECT_EQ(q.Pop(), 0);
  EXPECT_EQ(q.Pop(), 1);  // next is 2: seq 3 now fits
  ahead.join();
  EXPECT_TRUE(pushed.load());
  q.Push(2, 2);
  q.Close(4);
  EXPECT_EQ(q.Pop(), 2);
  EXPECT_EQ(q.Pop(), 3);
  EXPECT_EQ(q.Pop(), std::nullopt);
}

TEST(OrderedQueueTest, CancelEndsAWaitingConsumer) {
  OrderedQueue<int> q(2);
  q.Push(1, 1);  // 0 never arrives
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    q.Cancel();
  });
  EXPECT_EQ(q.Pop(), std::nullopt);
  canceller.join();
}

}  // namespace
}  // namespace tzrec
