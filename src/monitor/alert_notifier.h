// AlertNotifier: delivers the store's notification outbox.
//
// A background thread ("vigil-notify") takes the notifications that are due,
// POSTs each to its URL (webhook: the alert's JSON with an Idempotency-Key
// header that stays the same on every attempt; Alertmanager: its v2 alert
// list), and removes it from the outbox once the receiver answers 2xx, with
// an event on the alert. Delivery is at least once: a notification leaves
// the outbox only after a 2xx, so a crash or a failed attempt means it is
// sent again (receivers deduplicate by the key). A failed attempt (no
// answer, 5xx, 429) is retried with exponential backoff and jitter, up to
// `give_up_after_ms` after it was queued; a 4xx other than 408 and 429 says
// the request itself is wrong, so it is not retried. Both outcomes are
// events on the alert.
//
// Thread-safety: thread-safe.
#ifndef VIGIL_MONITOR_ALERT_NOTIFIER_H_
#define VIGIL_MONITOR_ALERT_NOTIFIER_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "monitor/alert_engine.h"
#include "monitor/metrics.h"
#include "store/store.h"

namespace vigil {

struct AlertNotifierOptions {
  int64_t initial_backoff_ms = 1000;
  int64_t max_backoff_ms = 5 * 60 * 1000;
  int64_t give_up_after_ms = 24 * 3600 * 1000;
  int64_t timeout_ms = 5000;  // Per request.
  int64_t poll_interval_ms = 1000;
};

class AlertNotifier {
 public:
  AlertNotifier(AlertNotifierOptions options, Store& store, MetricsRegistry& registry, Clock clock);
  ~AlertNotifier();  // Stops.
  AlertNotifier(const AlertNotifier&) = delete;
  AlertNotifier& operator=(const AlertNotifier&) = delete;

  void Start();
  void Stop();
  // Something was queued: look now rather than at the next poll.
  void Wake();
  // Delivers what is due now, on the calling thread; returns how many were
  // attempted. (The thread calls it; tests may too, without Start.)
  int64_t DeliverDue();

 private:
  void Run();

  const AlertNotifierOptions options_;
  Store& store_;
  Clock clock_;
  Family<Counter>& sent_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool woken_ = false;
  std::mutex deliver_mu_;  // One delivery pass at a time.
  std::thread thread_;
};

}  // namespace vigil

#endif  // VIGIL_MONITOR_ALERT_NOTIFIER_H_
