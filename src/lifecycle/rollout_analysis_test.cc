// The step analysis against numbers worked out by hand.
#include "lifecycle/rollout_analysis.h"

#include <gtest/gtest.h>

#include <cmath>

#include "monitor/metrics.h"

namespace vigil {
namespace {

const RolloutCheck& Find(const RolloutAnalysis& a, const std::string& name) {
  for (const RolloutCheck& c : a.checks) {
    if (c.name == name) return c;
  }
  ADD_FAILURE() << "no check " << name;
  static RolloutCheck none;
  return none;
}

// `n` requests all in the latency bucket that ends at `bound_s`.
SideTraffic Traffic(double requests, double errors, double bound_s) {
  SideTraffic t;
  t.requests = requests;
  t.errors = errors;
  const std::vector<double>& bounds = LatencyBucketsSeconds();
  t.latency_buckets.assign(bounds.size() + 1, 0);
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (bounds[i] >= bound_s) {
      t.latency_buckets[i] = static_cast<uint64_t>(requests);
      break;
    }
  }
  return t;
}

AnalysisInput Healthy() {
  AnalysisInput in;
  in.min_requests = 100;
  in.champion = Traffic(1000, 1, 0.01);
  in.candidate = Traffic(200, 0, 0.01);
  in.metric = "roc_auc";
  for (int i = 0; i < 200; ++i) {
    in.champion_scores.push_back(static_cast<float>(i % 100) / 100);
    in.candidate_scores.push_back(static_cast<float>(i % 100) / 100);
  }
  return in;
}

TEST(SamplePsiTest, HalvesAgainstEightyTwenty) {
  // Reference: 50 zeros, 50 ones -> one edge at 0: bins (-inf, 0] and (0, inf)
  // with shares 0.5 and 0.5. Window: 80 zeros and 20 ones.
  // PSI = 0.3 ln(0.8/0.5) - 0.3 ln(0.2/0.5) = 0.3 ln 4.
  std::vector<float> reference(50, 0.0f), window(80, 0.0f);
  reference.insert(reference.end(), 50, 1.0f);
  window.insert(window.end(), 20, 1.0f);
  EXPECT_NEAR(SamplePsi(reference, window), 0.3 * std::log(4.0), 1e-9);
  EXPECT_NEAR(SamplePsi(reference, reference), 0, 1e-12);
  EXPECT_TRUE(std::isnan(SamplePsi({}, window)));
}

TEST(AnalyzeStepTest, AHealthyCandidatePassesEveryCheck) {
  AnalysisInput in = Healthy();
  in.champion_quality = Estimate{0.80, 0.02};
  in.candidate_quality = Estimate{0.79, 0.02};
  in.champion_labels = in.candidate_labels = 150;
  const RolloutAnalysis a = AnalyzeStep(in);
  for (const RolloutCheck& c : a.checks) EXPECT_EQ(c.outcome, "pass") << c.name << ": " << c.detail;
  EXPECT_FALSE(a.failed());
  EXPECT_FALSE(a.waiting());
  EXPECT_EQ(a.ToJson()["verdict"], "pass");
  EXPECT_EQ(Find(a, "error_rate").champion, 1.0 / 1001);
  EXPECT_EQ(Find(a, "prediction_psi").candidate, 0);
}

TEST(AnalyzeStepTest, TooFewRequestsWaitAndNoFeedbackIsSkipped) {
  AnalysisInput in = Healthy();
  in.candidate = Traffic(99, 0, 0.01);
  in.candidate_scores.resize(99);
  const RolloutAnalysis a = AnalyzeStep(in);
  EXPECT_EQ(Find(a, "traffic").outcome, "wait");
  EXPECT_EQ(Find(a, "error_rate").outcome, "wait");
  EXPECT_EQ(Find(a, "latency_p99").outcome, "wait");
  EXPECT_EQ(Find(a, "prediction_psi").outcome, "wait");
  EXPECT_EQ(Find(a, "quality_roc_auc").outcome, "skip");
  EXPECT_TRUE(a.waiting());
  EXPECT_FALSE(a.failed());
}

TEST(AnalyzeStepTest, ErrorRateAboveTheChampionsPlusTheMarginFails) {
  AnalysisInput in = Healthy();
  // Champion 1/1001 = 0.000999; candidate 3/200 = 0.015 > 0.000999 + 0.01.
  in.candidate = Traffic(197, 3, 0.01);
  const RolloutAnalysis a = AnalyzeStep(in);
  const RolloutCheck& c = Find(a, "error_rate");
  EXPECT_EQ(c.outcome, "fail") << c.detail;
  EXPECT_DOUBLE_EQ(c.candidate, 0.015);
  EXPECT_DOUBLE_EQ(c.limit, 1.0 / 1001 + 0.01);
  // 2/200 = 0.01 is within it.
  in.candidate = Traffic(198, 2, 0.01);
  EXPECT_EQ(Find(AnalyzeStep(in), "error_rate").outcome, "pass");
}

TEST(AnalyzeStepTest, LatencyIsJudgedAgainstTheChampionsP99TimesTheRatioPlusSlack) {
  AnalysisInput in = Healthy();
  const std::vector<double>& bounds = LatencyBucketsSeconds();
  // Everything in one bucket: p99 is 99% of the way through it (linear
  // interpolation, Prometheus's way).
  auto p99 = [&](double bound) {
    size_t i = 0;
    while (bounds[i] < bound) ++i;
    const double lo = i == 0 ? 0 : bounds[i - 1];
    return lo + (bounds[i] - lo) * 0.99;
  };
  in.candidate = Traffic(200, 0, 0.1);
  RolloutAnalysis a = AnalyzeStep(in);
  const RolloutCheck& slow = Find(a, "latency_p99");
  EXPECT_NEAR(slow.champion, p99(0.01), 1e-12);
  EXPECT_NEAR(slow.candidate, p99(0.1), 1e-12);
  EXPECT_NEAR(slow.limit, p99(0.01) * 1.5 + 0.005, 1e-12);
  EXPECT_EQ(slow.outcome, "fail");
  in.checks.max_latency_ratio = 20;
  EXPECT_EQ(Find(AnalyzeStep(in), "latency_p99").outcome, "pass");
}

TEST(AnalyzeStepTest, QualityFailsOnlyBeyondThreeStandardErrorsOfTheDifference) {
  AnalysisInput in = Healthy();
  in.champion_labels = in.candidate_labels = 400;
  in.champion_quality = Estimate{0.80, 0.02};
  // Difference's standard error: hypot(0.02, 0.02) = 0.028284; with
  // max_quality_drop 0.05 a drop up to 0.05 + 3 * 0.028284 = 0.134853 passes.
  in.candidate_quality = Estimate{0.67, 0.02};  // Drop 0.13.
  EXPECT_EQ(Find(AnalyzeStep(in), "quality_roc_auc").outcome, "pass");
  in.candidate_quality = Estimate{0.66, 0.02};  // Drop 0.14.
  EXPECT_EQ(Find(AnalyzeStep(in), "quality_roc_auc").outcome, "fail");
  // Lower is better (log loss): a rise is the drop.
  in.metric = "log_loss";
  in.higher_is_better = false;
  in.champion_quality = Estimate{0.50, 0.01};
  in.candidate_quality = Estimate{0.60, 0.01};  // 0.10 > 0.05 + 3 * 0.014142 = 0.092426.
  EXPECT_EQ(Find(AnalyzeStep(in), "quality_log_loss").outcome, "fail");
  in.candidate_labels = 99;  // Fewer than min_feedback: not judged.
  EXPECT_EQ(Find(AnalyzeStep(in), "quality_log_loss").outcome, "skip");
}

TEST(AnalyzeStepTest, ShadowAgreementAndScoreDifferences) {
  AnalysisInput in = Healthy();
  in.shadow = true;
  in.checks.min_agreement = 0.9;
  // 100 pairs: 95 on the same side of 0.5, 5 across it.
  for (int i = 0; i < 95; ++i) in.pairs.emplace_back(0.2f, 0.3f);
  for (int i = 0; i < 5; ++i) in.pairs.emplace_back(0.4f, 0.6f);
  RolloutAnalysis a = AnalyzeStep(in);
  EXPECT_EQ(a.pairs, 100);
  EXPECT_DOUBLE_EQ(a.agreement, 0.95);
  EXPECT_NEAR(a.diff_mean, (95 * 0.1 + 5 * 0.2) / 100, 1e-6);
  EXPECT_NEAR(a.diff_p50, 0.1, 1e-6);
  EXPECT_NEAR(a.diff_max, 0.2, 1e-6);
  EXPECT_EQ(Find(a, "agreement").outcome, "pass");
  in.checks.min_agreement = 0.96;
  EXPECT_EQ(Find(AnalyzeStep(in), "agreement").outcome, "fail");
}

TEST(AnalyzeStepTest, MultiClassAgreementComparesThePredictedClasses) {
  AnalysisInput in = Healthy();
  in.shadow = true;
  in.multiclass = true;
  in.checks.min_agreement = 0.5;
  // Both confident (max probability above 0.5) yet on different classes: they disagree.
  for (int i = 0; i < 100; ++i) {
    in.pairs.emplace_back(0.9f, 0.8f);
    in.class_pairs.emplace_back(i % 3, i < 40 ? i % 3 : (i + 1) % 3);
  }
  const RolloutAnalysis a = AnalyzeStep(in);
  EXPECT_DOUBLE_EQ(a.agreement, 0.4);
  EXPECT_EQ(Find(a, "agreement").outcome, "fail");
  // Answers logged without their probabilities: nothing to compare, not a wait.
  in.class_pairs.clear();
  const RolloutAnalysis b = AnalyzeStep(in);
  EXPECT_TRUE(std::isnan(b.agreement));
  EXPECT_EQ(Find(b, "agreement").outcome, "skip");
}

TEST(AnalyzeStepTest, WithoutAPredictionLogTheScoreChecksAreSkipped) {
  AnalysisInput in = Healthy();
  in.logged = false;
  in.candidate_scores.clear();
  const RolloutAnalysis a = AnalyzeStep(in);
  EXPECT_EQ(Find(a, "prediction_psi").outcome, "skip");
  EXPECT_EQ(Find(a, "quality_roc_auc").outcome, "skip");
  EXPECT_EQ(Find(a, "traffic").outcome, "pass");
  EXPECT_FALSE(a.waiting());
}

TEST(AnalyzeStepTest, RegressorsAgreeWithinOnePercentOfTheChampionsRange) {
  AnalysisInput in = Healthy();
  in.shadow = true;
  in.classifier = false;
  // Champion scores span [0, 100]: the tolerance is 1.
  for (int i = 0; i <= 100; ++i) in.pairs.emplace_back(static_cast<float>(i), static_cast<float>(i) + (i % 2 ? 0.5f : 2.0f));
  in.pairs.emplace_back(NAN, 1.0f);  // A row without a score is left out.
  const RolloutAnalysis a = AnalyzeStep(in);
  EXPECT_EQ(a.pairs, 101);
  EXPECT_NEAR(a.agreement, 50.0 / 101, 1e-12);  // The odd ones, off by 0.5.
  EXPECT_NEAR(a.diff_max, 2.0, 1e-12);
}

}  // namespace
}  // namespace vigil
