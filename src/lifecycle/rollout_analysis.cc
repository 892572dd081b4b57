#include "lifecycle/rollout_analysis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "monitor/drift.h"
#include "monitor/metrics.h"

namespace vigil {
namespace {

using nlohmann::json;

std::string Fixed(double v, int digits = 4) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

// JSON has no NaN; an undefined number is null.
json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

double Quantile(std::vector<double> sorted, double q) {
  if (sorted.empty()) return NAN;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

std::vector<float> Finite(const std::vector<float>& v) {
  std::vector<float> out;
  out.reserve(v.size());
  for (float x : v) {
    if (std::isfinite(x)) out.push_back(x);
  }
  return out;
}

}  // namespace

double SamplePsi(const std::vector<float>& reference, const std::vector<float>& window) {
  std::vector<float> ref = Finite(reference), win = Finite(window);
  if (ref.empty() || win.empty()) return NAN;
  std::sort(ref.begin(), ref.end());
  // Bin upper edges at the reference deciles, without repeats; the last bin is open.
  std::vector<float> edges;
  for (int d = 1; d < 10; ++d) {
    const float e = ref[std::min(ref.size() - 1, ref.size() * d / 10)];
    if (edges.empty() || e > edges.back()) edges.push_back(e);
  }
  if (!edges.empty() && edges.back() >= ref.back()) edges.pop_back();
  auto counts = [&](const std::vector<float>& sample) {
    std::vector<double> c(edges.size() + 1, 0);
    for (float x : sample) {
      // Bin i holds (edges[i-1], edges[i]]: the first edge at or above x.
      c[std::lower_bound(edges.begin(), edges.end(), x) - edges.begin()] += 1;
    }
    return c;
  };
  return PopulationStabilityIndex(counts(ref), counts(win));
}

bool RolloutAnalysis::failed() const {
  return std::any_of(checks.begin(), checks.end(), [](const RolloutCheck& c) { return c.outcome == "fail"; });
}

bool RolloutAnalysis::waiting() const {
  return std::any_of(checks.begin(), checks.end(), [](const RolloutCheck& c) { return c.outcome == "wait"; });
}

json RolloutAnalysis::ToJson() const {
  json out = json::object();
  json list = json::array();
  for (const RolloutCheck& c : checks) {
    list.push_back({{"name", c.name},
                    {"outcome", c.outcome},
                    {"candidate", Number(c.candidate)},
                    {"champion", Number(c.champion)},
                    {"limit", Number(c.limit)},
                    {"detail", c.detail}});
  }
  out["checks"] = std::move(list);
  out["verdict"] = failed() ? "fail" : waiting() ? "wait" : "pass";
  if (pairs > 0) {
    out["shadow"] = {{"pairs", pairs},
                     {"agreement", Number(agreement)},
                     {"score_difference",
                      {{"mean", Number(diff_mean)},
                       {"p50", Number(diff_p50)},
                       {"p90", Number(diff_p90)},
                       {"p99", Number(diff_p99)},
                       {"max", Number(diff_max)}}}};
  }
  return out;
}

RolloutAnalysis AnalyzeStep(const AnalysisInput& in) {
  RolloutAnalysis a;
  const RolloutChecks& k = in.checks;
  const double min_requests = static_cast<double>(in.min_requests);
  const double served = in.candidate.requests + in.candidate.errors;
  const bool enough = served >= min_requests;

  {
    RolloutCheck c{"traffic", enough ? "pass" : "wait", served, in.champion.requests + in.champion.errors,
                   min_requests, ""};
    c.detail = "the candidate " + std::string(in.shadow ? "ran copies of " : "answered ") +
               Fixed(served, 0) + " requests; " + Fixed(min_requests, 0) + " needed";
    a.checks.push_back(std::move(c));
  }

  {
    const double champion_total = in.champion.requests + in.champion.errors;
    const double cand_rate = served > 0 ? in.candidate.errors / served : 0;
    const double champ_rate = champion_total > 0 ? in.champion.errors / champion_total : 0;
    RolloutCheck c{"error_rate", "", cand_rate, champ_rate, champ_rate + k.max_error_rate_increase, ""};
    if (!enough) {
      c.outcome = "wait";
      c.detail = "too few candidate requests to judge";
    } else {
      c.outcome = cand_rate <= c.limit ? "pass" : "fail";
      c.detail = "candidate " + Fixed(cand_rate) + " against champion " + Fixed(champ_rate) + " (at most " +
                 Fixed(c.limit) + ")";
    }
    a.checks.push_back(std::move(c));
  }

  {
    const double cand = HistogramQuantile(LatencyBucketsSeconds(), in.candidate.latency_buckets, 0.99);
    const double champ = HistogramQuantile(LatencyBucketsSeconds(), in.champion.latency_buckets, 0.99);
    RolloutCheck c{"latency_p99", "", cand, champ, NAN, ""};
    if (!enough) {
      c.outcome = "wait";
      c.detail = "too few candidate requests to judge";
    } else if (!std::isfinite(champ) || !std::isfinite(cand)) {
      c.outcome = "skip";
      c.detail = "the champion has no latency to compare with in this step";
    } else {
      c.limit = champ * k.max_latency_ratio + k.latency_slack_ms / 1000;
      c.outcome = cand <= c.limit ? "pass" : "fail";
      c.detail = "candidate " + Fixed(cand * 1000, 2) + " ms against champion " + Fixed(champ * 1000, 2) +
                 " ms (at most " + Fixed(c.limit * 1000, 2) + " ms)";
    }
    a.checks.push_back(std::move(c));
  }

  const std::string unlogged = "this server does not log predictions (--prediction-log false)";
  {
    RolloutCheck c{"prediction_psi", "", NAN, 0, k.max_prediction_psi, ""};
    const double needed = static_cast<double>(PsiRowsNeeded(in.min_requests));
    const double n_cand = static_cast<double>(in.candidate_scores.size());
    const double n_champ = static_cast<double>(in.champion_scores.size());
    if (!in.logged) {
      c.outcome = "skip";
      c.detail = unlogged;
    } else if (n_cand < needed) {
      c.outcome = "wait";
      c.detail = Fixed(n_cand, 0) + " logged candidate predictions; " + Fixed(needed, 0) + " needed";
    } else if (n_champ < needed) {
      c.outcome = "skip";
      c.detail = "too few logged champion predictions to compare with (" + Fixed(n_champ, 0) + ")";
    } else {
      c.candidate = SamplePsi(in.champion_scores, in.candidate_scores);
      c.outcome = c.candidate <= k.max_prediction_psi ? "pass" : "fail";
      c.detail = "PSI of the candidate's scores against the champion's: " + Fixed(c.candidate) + " (at most " +
                 Fixed(k.max_prediction_psi) + ")";
    }
    a.checks.push_back(std::move(c));
  }

  if (in.shadow) {
    // Rows either side scored (a model without a score logs NaN).
    std::vector<std::pair<float, float>> pairs;
    for (const auto& p : in.pairs) {
      if (std::isfinite(p.first) && std::isfinite(p.second)) pairs.push_back(p);
    }
    a.pairs = static_cast<int64_t>(pairs.size());
    std::vector<double> diffs;
    diffs.reserve(pairs.size());
    double low = INFINITY, high = -INFINITY, largest = 0;
    for (const auto& [h, c] : pairs) {
      diffs.push_back(std::fabs(static_cast<double>(c) - h));
      low = std::min(low, static_cast<double>(h));
      high = std::max(high, static_cast<double>(h));
      largest = std::max(largest, std::fabs(static_cast<double>(h)));
    }
    // Regressors agree within 1% of the champion's score range (and within
    // rounding when the range is nil).
    const double tolerance = pairs.empty() ? 0 : std::max(0.01 * (high - low), 1e-6 * largest);
    int64_t agree = 0, compared = 0;
    if (in.multiclass) {
      for (const auto& [h, c] : in.class_pairs) agree += h == c ? 1 : 0;
      compared = static_cast<int64_t>(in.class_pairs.size());
    } else {
      for (const auto& [h, c] : pairs) {
        const bool same = in.classifier ? ((h >= in.label_threshold) == (c >= in.label_threshold))
                                        : std::fabs(static_cast<double>(c) - h) <= tolerance;
        agree += same ? 1 : 0;
      }
      compared = a.pairs;
    }
    a.agreement = compared > 0 ? static_cast<double>(agree) / static_cast<double>(compared) : NAN;
    std::sort(diffs.begin(), diffs.end());
    if (!diffs.empty()) {
      double sum = 0;
      for (double d : diffs) sum += d;
      a.diff_mean = sum / static_cast<double>(diffs.size());
      a.diff_p50 = Quantile(diffs, 0.5);
      a.diff_p90 = Quantile(diffs, 0.9);
      a.diff_p99 = Quantile(diffs, 0.99);
      a.diff_max = diffs.back();
    }
    if (k.min_agreement) {
      RolloutCheck c{"agreement", "", a.agreement, 1, *k.min_agreement, ""};
      if (!in.logged) {
        c.outcome = "skip";
        c.detail = unlogged;
      } else if (in.multiclass && in.class_pairs.empty() && a.pairs > 0) {
        c.outcome = "skip";
        c.detail = "the logged answers hold no class probabilities to compare (request the probability output)";
      } else if (static_cast<double>(compared) < min_requests) {
        c.outcome = "wait";
        c.detail = "too few paired predictions (" + std::to_string(compared) + ")";
      } else {
        c.outcome = a.agreement >= *k.min_agreement ? "pass" : "fail";
        c.detail = "the same prediction on " + Fixed(100 * a.agreement, 2) + "% of " + std::to_string(compared) +
                   " rows (at least " + Fixed(100 * *k.min_agreement, 2) + "%)";
      }
      a.checks.push_back(std::move(c));
    }
  }

  {
    RolloutCheck c{"quality_" + in.metric, "", NAN, NAN, k.max_quality_drop, ""};
    if (!in.logged) {
      c.outcome = "skip";
      c.detail = unlogged;
    } else if (!in.champion_quality || !in.candidate_quality || in.champion_labels < k.min_feedback ||
               in.candidate_labels < k.min_feedback) {
      c.outcome = "skip";
      c.detail = "feedback on " + std::to_string(in.candidate_labels) + " candidate and " +
                 std::to_string(in.champion_labels) + " champion rows; " + std::to_string(k.min_feedback) +
                 " each needed to judge";
    } else {
      c.candidate = in.candidate_quality->value;
      c.champion = in.champion_quality->value;
      const double drop = in.higher_is_better ? c.champion - c.candidate : c.candidate - c.champion;
      const double se = std::hypot(in.candidate_quality->standard_error, in.champion_quality->standard_error);
      c.outcome = drop - 3 * se > k.max_quality_drop ? "fail" : "pass";
      c.detail = in.metric + " " + Fixed(c.candidate) + " on " + std::to_string(in.candidate_labels) +
                 " labelled rows against the champion's " + Fixed(c.champion) + " on " +
                 std::to_string(in.champion_labels) + ": a drop of " + Fixed(drop) + " (standard error " +
                 Fixed(se) + "; at most " + Fixed(k.max_quality_drop) + " beyond three of them)";
    }
    a.checks.push_back(std::move(c));
  }
  return a;
}

}  // namespace vigil
