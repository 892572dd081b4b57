#include "monitor/alert_notifier.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

#include "http/http_client.h"

namespace vigil {

AlertNotifier::AlertNotifier(AlertNotifierOptions options, Store& store, MetricsRegistry& registry, Clock clock)
    : options_(options),
      store_(store),
      clock_(std::move(clock)),
      sent_(registry.AddCounter("vigil_alert_notifications_total",
                                "Alert notification attempts by target kind (webhook, alertmanager) and result "
                                "(delivered, retry, failed)",
                                {"kind", "result"})) {}

AlertNotifier::~AlertNotifier() { Stop(); }

void AlertNotifier::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "vigil-notify");
    Run();
  });
}

void AlertNotifier::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AlertNotifier::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void AlertNotifier::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    try {
      DeliverDue();
    } catch (const std::exception& e) {  // A bug here must not take the server down.
      spdlog::error("notifications: {}", e.what());
    }
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_interval_ms), [&] { return stop_ || woken_; });
    woken_ = false;
  }
}

int64_t AlertNotifier::DeliverDue() {
  std::lock_guard deliver(deliver_mu_);
  auto due = store_.DueNotifications(clock_(), 100);
  if (!due.ok()) {
    spdlog::error("notifications: {}", due.status().ToString());
    return 0;
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  for (Notification& n : *due) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;  // The rest stay in the outbox for the next start.
    }
    const auto reply = SendHttpRequest("POST", n.url, n.payload, "application/json",
                                       {{"Idempotency-Key", n.idempotency_key}},
                                       std::chrono::milliseconds(options_.timeout_ms));
    const int64_t now = clock_();
    ++n.attempts;
    std::string error;
    bool retryable = true;
    if (!reply.ok()) {
      error = reply.status().message();
      retryable = reply.status().code() != StatusCode::kInvalidArgument;
    } else if (reply->status < 200 || reply->status >= 300) {
      error = "HTTP " + std::to_string(reply->status) + ": " + reply->body.substr(0, 200);
      retryable = reply->status >= 500 || reply->status == 408 || reply->status == 429;
    }
    const nlohmann::json detail = {{"kind", n.kind}, {"url", n.url}, {"attempts", n.attempts}};
    if (error.empty()) {
      sent_.WithLabels({n.kind, "delivered"}).Increment();
      // Re-sends to Alertmanager repeat what it was told: not an event.
      if (Status s = store_.FinishNotification(n, {0, n.alert_id, now, n.resend ? "" : "notified", 0, SafeDump(detail)});
          !s.ok()) {
        spdlog::error("notifications: {}", s.ToString());
      }
      continue;
    }
    if (!retryable || now - n.created_ms >= options_.give_up_after_ms) {
      sent_.WithLabels({n.kind, "failed"}).Increment();
      spdlog::warn("alert {}: giving up on {} after {} attempts: {}", n.alert_id, n.url, n.attempts, error);
      nlohmann::json failed = detail;
      failed["error"] = error;
      if (Status s = store_.FinishNotification(n, {0, n.alert_id, now, "notification_failed", 0, SafeDump(failed)});
          !s.ok()) {
        spdlog::error("notifications: {}", s.ToString());
      }
      continue;
    }
    sent_.WithLabels({n.kind, "retry"}).Increment();
    // Exponential backoff with full jitter in its upper half.
    const int64_t shift = std::min<int64_t>(n.attempts - 1, 30);
    const int64_t backoff = std::min(options_.max_backoff_ms, options_.initial_backoff_ms << shift);
    n.next_attempt_ms = now + backoff / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(backoff / 2 + 1));
    n.last_error = error;
    if (Status s = store_.RetryNotification(n); !s.ok()) spdlog::error("notifications: {}", s.ToString());
  }
  return static_cast<int64_t>(due->size());
}

}  // namespace vigil
