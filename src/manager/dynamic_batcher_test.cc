#include "manager/dynamic_batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "testing/test_repository.h"

namespace vigil {
namespace {

// The trained credit model's real backend, with every call's row count
// recorded. It refuses (as bad input) any call holding a row whose first
// feature is -1, as a backend that can tell a bad row does.
class Recording : public Backend {
 public:
  explicit Recording(std::unique_ptr<Backend> real) : real_(std::move(real)) {}
  Status Infer(const std::vector<Tensor>& inputs, const std::vector<const OutputSpec*>& requested,
               std::vector<Tensor>* outputs) const override {
    const Tensor& m = inputs[0];
    {
      std::lock_guard lock(mu_);
      calls.push_back(m.shape()[0]);
    }
    for (int64_t r = 0; r < m.shape()[0]; ++r) {
      if (m.values<float>()[r * m.shape()[1]] == -1) return Status::InvalidArgument("row " + std::to_string(r) + " is bad");
    }
    return real_->Infer(inputs, requested, outputs);
  }
  std::string Describe() const override { return "recording"; }
  mutable std::vector<int64_t> calls;  // Guarded by mu_.
  mutable std::mutex mu_;

 private:
  std::unique_ptr<Backend> real_;
};

class DynamicBatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::TrainCreditModel(repo_.path(), "credit", 1);
    auto config = LoadModelConfig(repo_.path() / "credit/model.yaml", "credit");
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    config_ = *config;
    auto real = BackendRegistry::WithBuiltins().Create(config_, repo_.path() / "credit/1");
    ASSERT_TRUE(real.ok()) << real.status().ToString();
    real_ = std::move(*real);
    auto copy = BackendRegistry::WithBuiltins().Create(config_, repo_.path() / "credit/1");
    auto recording = std::make_unique<Recording>(std::move(*copy));
    recording_ = recording.get();
    config_.engine.batching.max_batch_size = 8;
    config_.engine.batching.max_queue_delay_us = 200'000;  // Long: the batch fills first.
    batcher_ = std::make_unique<DynamicBatcher>(std::move(recording), config_, &queue_);
    for (const OutputSpec& o : config_.outputs) requested_.push_back(&o);
  }

  // Row `i` of a made-up request stream: 13 features.
  static Tensor Rows(int64_t first, int64_t n) {
    Tensor t("input", DataType::kFp32, {n, 13});
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t j = 0; j < 13; ++j) t.values<float>()[r * 13 + j] = static_cast<float>((first + r) * 7 % 50 + j);
    }
    return t;
  }

  testing::TempDir repo_;
  ModelConfig config_;
  std::unique_ptr<Backend> real_;
  Recording* recording_ = nullptr;
  Histogram queue_{LatencyBucketsSeconds()};
  std::unique_ptr<DynamicBatcher> batcher_;
  std::vector<const OutputSpec*> requested_;
};

TEST_F(DynamicBatcherTest, ConcurrentRequestsShareOneCallAndGetTheirOwnRowsBack) {
  // Four requests of 2 rows each: one call of 8 rows.
  std::vector<std::future<std::pair<Status, std::vector<Tensor>>>> answers;
  for (int k = 0; k < 4; ++k) {
    answers.push_back(std::async(std::launch::async, [&, k] {
      std::vector<Tensor> in{Rows(2 * k, 2)}, out;
      // Only the probability, to check the split picks by output.
      std::vector<const OutputSpec*> want{requested_[0]};
      Status s = batcher_->Infer(in, want, &out);
      return std::make_pair(s, std::move(out));
    }));
  }
  for (int k = 0; k < 4; ++k) {
    auto [status, out] = answers[k].get();
    ASSERT_TRUE(status.ok()) << status.ToString();
    ASSERT_EQ(out.size(), 1u);
    std::vector<Tensor> direct;
    ASSERT_TRUE(real_->Infer({Rows(2 * k, 2)}, {requested_[0]}, &direct).ok());
    ASSERT_EQ(out[0].shape(), direct[0].shape());
    for (int64_t r = 0; r < 2; ++r) EXPECT_EQ(out[0].values<float>()[r], direct[0].values<float>()[r]) << k << " " << r;
  }
  EXPECT_EQ(recording_->calls, (std::vector<int64_t>{8}));
  EXPECT_EQ(queue_.count(), 4u);
}

TEST_F(DynamicBatcherTest, TheDelayBoundsTheWaitAndABadRowFailsOnlyItsRequest) {
  config_.engine.batching.max_queue_delay_us = 20'000;
  auto copy = BackendRegistry::WithBuiltins().Create(config_, repo_.path() / "credit/1");
  auto recording = std::make_unique<Recording>(std::move(*copy));
  Recording* rec = recording.get();
  DynamicBatcher batcher(std::move(recording), config_, nullptr);
  // Alone: it runs once the 20 ms delay is over, not later.
  const auto start = std::chrono::steady_clock::now();
  std::vector<Tensor> out;
  ASSERT_TRUE(batcher.Infer({Rows(0, 1)}, requested_, &out).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(rec->calls, (std::vector<int64_t>{1}));
  // Two requests in one batch, one with a bad row: the batch is refused,
  // then each runs alone and only the bad one fails.
  Tensor bad = Rows(5, 1);
  bad.values<float>()[0] = -1;
  auto good = std::async(std::launch::async, [&] {
    std::vector<Tensor> o;
    return batcher.Infer({Rows(3, 3)}, requested_, &o);
  });
  std::vector<Tensor> o;
  const Status refused = batcher.Infer({bad}, requested_, &o);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(good.get().ok());
  // Whether the two met in one batch depends on timing; either way the good
  // one succeeded and the bad one alone failed.
}

TEST_F(DynamicBatcherTest, LargeRequestsRunAlone) {
  std::vector<Tensor> out;
  ASSERT_TRUE(batcher_->Infer({Rows(0, 20)}, requested_, &out).ok());
  EXPECT_EQ(recording_->calls, (std::vector<int64_t>{20}));
  EXPECT_EQ(out[0].shape()[0], 20);
}

TEST_F(DynamicBatcherTest, AFullQueueRefusesAtOnceAndTheWaitingStillRun) {
  // Room for two waiting requests; the batch (8 rows) never fills, so the
  // two wait out the 3 s delay while a third is refused.
  config_.engine.max_queue = 2;
  config_.engine.batching.max_queue_delay_us = 3'000'000;
  auto copy = BackendRegistry::WithBuiltins().Create(config_, repo_.path() / "credit/1");
  auto recording = std::make_unique<Recording>(std::move(*copy));
  Recording* rec = recording.get();
  DynamicBatcher batcher(std::move(recording), config_, nullptr);
  auto waiting = [&](int64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (batcher.waiting() != n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return batcher.waiting() == n;
  };
  std::vector<std::future<Status>> queued;
  for (int k = 0; k < 2; ++k) {
    queued.push_back(std::async(std::launch::async, [&, k] {
      std::vector<Tensor> o;
      return batcher.Infer({Rows(k, 1)}, requested_, &o);
    }));
    ASSERT_TRUE(waiting(k + 1)) << batcher.waiting();
  }
  std::vector<Tensor> o;
  const auto start = std::chrono::steady_clock::now();
  const Status refused = batcher.Infer({Rows(9, 1)}, requested_, &o);
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused.ToString();
  EXPECT_NE(refused.message().find("max_queue"), std::string::npos) << refused.ToString();
  // At once: not after the batch's delay.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  for (auto& f : queued) EXPECT_TRUE(f.get().ok());
  EXPECT_EQ(rec->calls, (std::vector<int64_t>{2}));
  EXPECT_EQ(batcher.waiting(), 0);
}

}  // namespace
}  // namespace vigil
