#include "export/remote/parallel_tasks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

namespace tzrec::exporting::remote {
namespace {

TEST(ParallelTasksTest, RunsEveryTask) {
  std::atomic<int> sum{0};
  std::vector<std::function<void()>> tasks;
  for (int i = 1; i <= 100; ++i) tasks.push_back([&sum, i] { sum += i; });
  RunParallel(4, tasks);
  EXPECT_EQ(sum.load(), 5050);
  RunParallel(3, {});  // nothing to do
}

TEST(ParallelTasksTest, FirstFailureStopsNewTasksAndIsRethrown) {
  std::atomic<int> ran{0};
  std::vector<std::function<void()>> tasks;
  tasks.push_back([] { throw std::runtime_error("part 1 failed"); });
  for (int i = 0; i < 1000; ++i) tasks.push_back([&ran] { ++ran; });
  try {
    RunParallel(1, tasks);  // one thread: nothing after the failure starts
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "part 1 failed");
  }
  EXPECT_EQ(ran.load(), 0);
}

}  // namespace
}  // namespace tzrec::exporting::remote
