// Drift statistics against values worked out by hand or taken from the
// distributions' published tables, not from this code.
#include "monitor/drift.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace vigil {
namespace {

using V = std::vector<double>;

TEST(DriftTest, PopulationStabilityIndex) {
  // Shares 0.5/0.5 against 0.25/0.75 (counts need not match in total):
  // (0.25 - 0.5) ln(0.5) + (0.75 - 0.5) ln(1.5) = 0.1732868 + 0.1013663.
  EXPECT_NEAR(PopulationStabilityIndex(V{50, 50}, V{25, 75}), 0.2746531, 1e-6);
  EXPECT_NEAR(PopulationStabilityIndex(V{10, 30, 60}, V{1, 3, 6}), 0.0, 1e-12);
  // An empty window bin counts as 1e-4: (1e-4 - 0.5) ln(1e-4 / 0.5) + (1 - 0.5) ln(1 / 0.5).
  EXPECT_NEAR(PopulationStabilityIndex(V{1, 1}, V{0, 4}), (1e-4 - 0.5) * std::log(1e-4 / 0.5) + 0.5 * std::log(2.0),
              1e-9);
}

TEST(DriftTest, JensenShannonDistance) {
  EXPECT_NEAR(JensenShannonDistance(V{1, 0}, V{0, 1}), 1.0, 1e-12);  // Disjoint: the maximum.
  EXPECT_NEAR(JensenShannonDistance(V{2, 2}, V{2, 2}), 0.0, 1e-12);
  // P = (0.5, 0.5), Q = (1, 0), M = (0.75, 0.25): KL(P||M) = 0.2075187,
  // KL(Q||M) = 0.4150375; JS = 0.3112781; distance = its square root.
  EXPECT_NEAR(JensenShannonDistance(V{5, 5}, V{3, 0}), 0.5579230, 1e-6);
}

TEST(DriftTest, NormalizedWasserstein) {
  const V centers = {0, 1, 2};
  // All the mass moves from 0 to 2: distance 2, over a standard deviation of 4.
  EXPECT_NEAR(NormalizedWasserstein(V{7, 0, 0}, V{0, 0, 3}, centers, 4.0), 0.5, 1e-12);
  // Half the mass shifts one bin to the right: (0.5 + 0.5) * 1.
  EXPECT_NEAR(NormalizedWasserstein(V{1, 1, 0}, V{0, 1, 1}, centers, 1.0), 1.0, 1e-12);
  EXPECT_NEAR(NormalizedWasserstein(V{1, 2, 3}, V{2, 4, 6}, centers, 1.0), 0.0, 1e-12);
}

TEST(DriftTest, KolmogorovDistributionTail) {
  // Critical values of the Kolmogorov distribution (Smirnov's table):
  // Q(1.2238) = 0.10, Q(1.3581) = 0.05, Q(1.6276) = 0.01.
  EXPECT_NEAR(KolmogorovTail(1.2238), 0.10, 2e-4);
  EXPECT_NEAR(KolmogorovTail(1.3581), 0.05, 2e-4);
  EXPECT_NEAR(KolmogorovTail(1.6276), 0.01, 2e-4);
  EXPECT_DOUBLE_EQ(KolmogorovTail(0.0), 1.0);
  // Tiny distances are no evidence at all (the series does not converge there).
  EXPECT_DOUBLE_EQ(KolmogorovTail(0.001), 1.0);
  EXPECT_NEAR(KolmogorovTail(0.3), 1.0, 1e-4);  // Tables: 1.0000.
  EXPECT_EQ(KolmogorovTail(40.0), 0.0);          // Every term underflows.
}

TEST(DriftTest, KolmogorovSmirnovOnBins) {
  // Cumulative shares (0.2, 0.5, 1) against (0.1, 0.2, 1): D = 0.3.
  const TestResult r = KolmogorovSmirnov(V{20, 30, 50}, V{10, 10, 80});
  EXPECT_NEAR(r.statistic, 0.3, 1e-12);
  // ne = 100 * 100 / 200 = 50; lambda = (sqrt(50) + 0.12 + 0.11 / sqrt(50)) * 0.3.
  const double lambda = (std::sqrt(50.0) + 0.12 + 0.11 / std::sqrt(50.0)) * 0.3;
  EXPECT_NEAR(r.p_value, KolmogorovTail(lambda), 1e-12);
  EXPECT_LT(r.p_value, 0.001);
  EXPECT_NEAR(KolmogorovSmirnov(V{1, 2, 3}, V{10, 20, 30}).statistic, 0.0, 1e-12);
  EXPECT_NEAR(KolmogorovSmirnov(V{1, 2, 3}, V{10, 20, 30}).p_value, 1.0, 1e-12);
}

TEST(DriftTest, ChiSquareTestOfHomogeneity) {
  // 2 x 2: chi^2 = T (ad - bc)^2 / ((a + b)(c + d)(a + c)(b + d)) with
  // a, b = 500, 500 and c, d = 60, 40: 1.1e11 / 3.024e10. One degree of
  // freedom: p = erfc(sqrt(chi^2 / 2)).
  TestResult r = ChiSquare(V{500, 500}, V{60, 40});
  EXPECT_NEAR(r.statistic, 1.1e11 / 3.024e10, 1e-9);
  EXPECT_NEAR(r.p_value, std::erfc(std::sqrt(r.statistic / 2)), 1e-9);
  EXPECT_NEAR(r.p_value, 0.0564895, 1e-6);
  // 2 x 3, worked out by hand: 6.0661765; two degrees of freedom: p = exp(-x / 2).
  r = ChiSquare(V{300, 300, 400}, V{40, 20, 40});
  EXPECT_NEAR(r.statistic, 6.0661765, 1e-6);
  EXPECT_NEAR(r.p_value, 0.0481667, 1e-6);
  // Identical shares: nothing to see.
  r = ChiSquare(V{10, 20, 30}, V{1, 2, 3});
  EXPECT_NEAR(r.statistic, 0.0, 1e-12);
  EXPECT_NEAR(r.p_value, 1.0, 1e-12);
  // A category the reference never saw, in a quarter of the window.
  r = ChiSquare(V{500, 500, 0}, V{50, 50, 33});
  EXPECT_LT(r.p_value, 1e-10);
}

}  // namespace
}  // namespace vigil
