#include "serve/batcher.h"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "common/test_support.h"
#include "serve/request_codec.h"

namespace tzrec::serve {
namespace {

using ::testing::HasSubstr;

// A stand-in model: output "y" = 2 * input "x" row by row; records the rows
// of each call and can be held until released.
struct FakeModel {
  std::mutex mutex;
  std::vector<int64_t> call_rows;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> entered{0};

  ModelOutputs operator()(const models::TensorMap& inputs) {
    ++entered;
    released.wait();
    const at::Tensor x = inputs.at("x");
    {
      std::lock_guard<std::mutex> lock(mutex);
      call_rows.push_back(x.size(0));
    }
    ModelOutputs out;
    out.insert("y", x * 2);
    return out;
  }
};

models::TensorMap Rows(std::vector<float> values) {
  models::TensorMap inputs;
  inputs["x"] = at::tensor(values, at::kFloat);
  return inputs;
}

TEST(Batcher, QueuedRequestsShareOneCallAndGetTheirOwnRows) {
  FakeModel model;
  Batcher batcher([&](const models::TensorMap& in) { return model(in); }, {100, 0, 10});
  // The first request holds the model; three more queue meanwhile.
  auto first = std::async(std::launch::async, [&] { return batcher.Run(Rows({1}), 1, true); });
  while (model.entered == 0) std::this_thread::yield();
  std::vector<std::future<ModelOutputs>> queued;
  for (int i = 0; i < 3; ++i) {
    queued.push_back(std::async(std::launch::async, [&, i] {
      return batcher.Run(Rows({float(10 * i), float(10 * i + 1)}), 2, true);
    }));
  }
  // Let them queue, then release the model.
  while (batcher.queued() < 3) std::this_thread::yield();
  model.release.set_value();
  EXPECT_FLOAT_EQ(first.get().at("y")[0].item<float>(), 2);
  for (int i = 0; i < 3; ++i) {
    const at::Tensor y = queued[i].get().at("y");
    ASSERT_EQ(y.size(0), 2);
    EXPECT_FLOAT_EQ(y[0].item<float>(), 20 * i);
    EXPECT_FLOAT_EQ(y[1].item<float>(), 20 * i + 2);
  }
  EXPECT_EQ(model.call_rows, (std::vector<int64_t>{1, 6}));
}

TEST(Batcher, AFullQueueRefusesAtOnceAndRecovers) {
  FakeModel model;
  Batcher batcher([&](const models::TensorMap& in) { return model(in); }, {100, 0, 2});
  auto running = std::async(std::launch::async, [&] { return batcher.Run(Rows({1}), 1, false); });
  while (model.entered == 0) std::this_thread::yield();
  std::vector<std::future<ModelOutputs>> waiting;
  for (int i = 0; i < 2; ++i) {
    waiting.push_back(std::async(std::launch::async, [&] { return batcher.Run(Rows({2}), 1, false); }));
  }
  while (batcher.queued() < 2) std::this_thread::yield();
  try {
    batcher.Run(Rows({3}), 1, false);
    ADD_FAILURE() << "a third waiting request was taken";
  } catch (const BadRequest& e) {
    EXPECT_EQ(e.status(), 503);
    EXPECT_THAT(e.what(), HasSubstr("overloaded: 2 requests are waiting"));
  }
  model.release.set_value();
  running.get();
  for (auto& w : waiting) EXPECT_FLOAT_EQ(w.get().at("y")[0].item<float>(), 4);
  // Not batchable: each ran alone.
  EXPECT_EQ(model.call_rows, (std::vector<int64_t>{1, 1, 1}));
  EXPECT_FLOAT_EQ(batcher.Run(Rows({5}), 1, false).at("y")[0].item<float>(), 10);
}

TEST(Batcher, WorkersRunCallsSideBySide) {
  // Two workers: a second request gets a call of its own while the first is
  // still running (one worker would make it wait, and this test time out).
  std::atomic<int> running{0};
  std::promise<void> both;
  std::shared_future<void> both_running = both.get_future().share();
  Batcher batcher(
      [&](const models::TensorMap& in) {
        if (++running == 2) both.set_value();
        if (both_running.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
          throw tzrec::Error("the calls did not overlap");
        }
        ModelOutputs out;
        out.insert("y", in.at("x") * 2);
        return out;
      },
      {100, 0, 10, 2});
  // Not batchable, so that neither can join the other's call.
  auto first = std::async(std::launch::async, [&] { return batcher.Run(Rows({1}), 1, false); });
  auto second = std::async(std::launch::async, [&] { return batcher.Run(Rows({2}), 1, false); });
  EXPECT_FLOAT_EQ(first.get().at("y")[0].item<float>(), 2);
  EXPECT_FLOAT_EQ(second.get().at("y")[0].item<float>(), 4);
  EXPECT_EQ(batcher.stats().calls, 2);
}

TEST(Batcher, AModelErrorReachesEveryRequestOfTheCall) {
  Batcher batcher([](const models::TensorMap&) -> ModelOutputs { throw tzrec::Error("model failed"); },
                  {100, 0, 10});
  EXPECT_THAT(tzrec::testing::ErrorOf([&] { batcher.Run(Rows({1}), 1, true); }),
              HasSubstr("model failed"));
}

}  // namespace
}  // namespace tzrec::serve
