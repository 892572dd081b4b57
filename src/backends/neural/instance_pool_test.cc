#include "backends/neural/instance_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace vigil {
namespace {

struct Engine {
  std::atomic<int> users{0};
};

TEST(InstancePoolTest, OneCallPerInstanceAndRefusalOnceTheQueueIsFull) {
  std::vector<std::unique_ptr<Engine>> engines;
  engines.push_back(std::make_unique<Engine>());
  engines.push_back(std::make_unique<Engine>());
  InstancePool<Engine> pool(std::move(engines), /*max_queue=*/1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> busy{0}, overlapping{0};
  auto hold = [&] {
    return pool.Run([&](Engine& e) {
      if (++e.users > 1) ++overlapping;
      ++busy;
      released.wait();
      --e.users;
      return Status::Ok();
    });
  };
  // Two calls hold both instances; a third waits; a fourth is refused.
  auto a = std::async(std::launch::async, hold), b = std::async(std::launch::async, hold);
  while (busy < 2) std::this_thread::yield();
  auto c = std::async(std::launch::async, hold);
  while (pool.waiting() < 1) std::this_thread::yield();
  const Status refused = pool.Run([](Engine&) { return Status::Ok(); });
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable);
  EXPECT_EQ(refused.message(), "all 2 instances are busy and 1 requests wait for one (max_queue)");
  release.set_value();
  EXPECT_TRUE(a.get().ok());
  EXPECT_TRUE(b.get().ok());
  EXPECT_TRUE(c.get().ok());
  EXPECT_EQ(overlapping, 0);
  EXPECT_TRUE(pool.Run([](Engine& e) { return e.users == 0 ? Status::Ok() : Status::Internal("in use"); }).ok());
}

}  // namespace
}  // namespace vigil
