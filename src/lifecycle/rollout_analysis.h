// The analysis of one rollout step: the candidate against the champion on
// live traffic, check by check (lifecycle/rollout.h gathers the numbers).
//
// Each check ends "pass", "fail", "wait" (not enough data yet: the step
// cannot pass) or "skip" (cannot be judged in this step, and does not hold
// it: no feedback has arrived, or the champion has no traffic to compare
// with at a 100% step):
//   traffic       the candidate served at least min_requests requests;
//   error_rate    its server-side error rate is at most the champion's plus
//                 max_error_rate_increase;
//   latency_p99   its p99 latency is at most the champion's times
//                 max_latency_ratio plus latency_slack_ms (request latency
//                 for a canary; time in the backend for a shadow, whose
//                 copies are not requests);
//   prediction_psi  the PSI of its scores against the champion's (bins at
//                 the champion's score deciles) is at most max_prediction_psi,
//                 judged once both sides have kMinPsiRows logged rows (an
//                 empty decile of a small sample would look like drift);
//   agreement     shadow: the share of rows where both predict the same
//                 class (or, for regressors, whose scores differ by at most
//                 1% of the champion's score range) is at least min_agreement;
//                 without min_agreement it is reported, not judged;
//   quality       the gate's metric on the rows that have feedback, once
//                 both sides have min_feedback of them: the candidate may be
//                 worse by at most max_quality_drop beyond three standard
//                 errors of the difference (so that a few labels do not roll
//                 a good version back).
// A step fails as soon as one check fails; it passes when its window has
// passed and no check fails or waits.
//
// Thread-safety: pure functions.
#ifndef VIGIL_LIFECYCLE_ROLLOUT_ANALYSIS_H_
#define VIGIL_LIFECYCLE_ROLLOUT_ANALYSIS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "monitor/quality_metrics.h"
#include "repository/rollout_config.h"

namespace vigil {

// One side's serving numbers over the period analysed.
struct SideTraffic {
  double requests = 0;  // Answered.
  double errors = 0;    // Failed on the server's side.
  std::vector<uint64_t> latency_buckets;  // Over LatencyBucketsSeconds(), +Inf last.
};

struct AnalysisInput {
  bool shadow = false;
  RolloutChecks checks;
  int64_t min_requests = 100;
  SideTraffic champion, candidate;
  // Scores per logged row (the first probability or the prediction).
  std::vector<float> champion_scores, candidate_scores;
  // Shadow: the two scores of each row both answered, paired by request id;
  // for multi-class models also the two predicted classes.
  std::vector<std::pair<float, float>> pairs;
  std::vector<std::pair<int, int>> class_pairs;
  bool logged = true;  // The server logs predictions (else scores and quality are skipped).
  bool classifier = true;
  bool multiclass = false;
  double label_threshold = 0.5;  // Binary classifiers: positive at or above.
  // Quality on feedback, in the gate's metric (nullopt: no usable labels).
  std::string metric;
  bool higher_is_better = true;
  std::optional<Estimate> champion_quality, candidate_quality;
  int64_t champion_labels = 0, candidate_labels = 0;
};

// Logged rows each side needs before PSI is judged: 20 per decile bin, and
// at least the plan's min_requests.
inline constexpr int64_t kMinPsiRows = 200;
inline int64_t PsiRowsNeeded(int64_t min_requests) { return min_requests > kMinPsiRows ? min_requests : kMinPsiRows; }

struct RolloutCheck {
  std::string name;
  std::string outcome;  // "pass", "fail", "wait" or "skip".
  double candidate = 0, champion = 0, limit = 0;
  std::string detail;   // In words, with the numbers.
};

struct RolloutAnalysis {
  std::vector<RolloutCheck> checks;
  // Shadow: agreement rate and the distribution of |candidate - champion|.
  int64_t pairs = 0;
  double agreement = 0;  // NaN when nothing could be compared.
  double diff_mean = 0, diff_p50 = 0, diff_p90 = 0, diff_p99 = 0, diff_max = 0;

  bool failed() const;
  bool waiting() const;  // Some check waits for data.
  nlohmann::json ToJson() const;
};

RolloutAnalysis AnalyzeStep(const AnalysisInput& input);

// The PSI of `window` against `reference`, both raw samples, over bins at
// the reference's deciles (ties merged); NaN if either is empty.
double SamplePsi(const std::vector<float>& reference, const std::vector<float>& window);

}  // namespace vigil

#endif  // VIGIL_LIFECYCLE_ROLLOUT_ANALYSIS_H_
