// TokenBucket: a rate limit of `rate` events per second with bursts of up to
// `burst`, the classic token bucket. Time is passed in, so tests drive it.
//
// Thread-safety: none; the owner serialises calls.
#ifndef VIGIL_COMMON_TOKEN_BUCKET_H_
#define VIGIL_COMMON_TOKEN_BUCKET_H_

#include <algorithm>
#include <chrono>
#include <cmath>

namespace vigil {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // `rate` <= 0: unlimited. `burst` < 1 is taken as 1.
  TokenBucket(double rate, double burst, Clock::time_point now)
      : rate_(rate), burst_(std::max(1.0, burst)), tokens_(burst_), last_(now) {}

  // Takes one token if there is one. Otherwise returns false and sets
  // `*retry_after_s` to the whole seconds until one is there (at least 1).
  bool Take(Clock::time_point now, int* retry_after_s) {
    if (rate_ <= 0) return true;
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    if (elapsed > 0) {
      tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
      last_ = now;
    }
    if (tokens_ >= 1) {
      tokens_ -= 1;
      return true;
    }
    if (retry_after_s) {
      // At most a day, so that a tiny rate cannot overflow the int.
      *retry_after_s = static_cast<int>(std::clamp(std::ceil((1 - tokens_) / rate_), 1.0, 86400.0));
    }
    return false;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace vigil

#endif  // VIGIL_COMMON_TOKEN_BUCKET_H_
