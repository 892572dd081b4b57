// Drift statistics between a reference distribution and a production window,
// both given as counts over the same bins.
//
// Counts are what Vigil keeps (DESIGN.md, "Statistics that merge"): a
// reference profile fixes the bins (quantile edges for numeric features,
// categories for categorical ones), every window counts into them, and
// windows add up over time and across replicas. Every statistic here is a
// function of two count vectors:
//   - PSI, the population stability index, with empty bins smoothed;
//   - Jensen-Shannon distance (base 2, in [0, 1]);
//   - Wasserstein-1 distance between the binned distributions, each bin's
//     mass at its centre, divided by the reference standard deviation;
//   - Kolmogorov-Smirnov: the largest gap between the two cumulative
//     distributions at the bin edges (the binned statistic, at most the
//     exact one) and its asymptotic p-value;
//   - chi-square test of homogeneity between the two samples, with its
//     p-value.
//
// Thread-safety: pure functions.
#ifndef VIGIL_MONITOR_DRIFT_H_
#define VIGIL_MONITOR_DRIFT_H_

#include <cstdint>
#include <span>

namespace vigil {

// PSI = sum over bins of (w - r) * ln(w / r), with r and w the reference and
// window shares; a bin empty on either side counts as `epsilon` of its
// side, the usual smoothing. Field convention: < 0.1 stable, 0.1 to 0.25 a
// moderate shift, > 0.25 a major one.
double PopulationStabilityIndex(std::span<const double> reference, std::span<const double> window,
                                double epsilon = 1e-4);

// The Jensen-Shannon distance: the square root of the Jensen-Shannon
// divergence with base-2 logarithms, so that it lies in [0, 1].
double JensenShannonDistance(std::span<const double> reference, std::span<const double> window);

// Wasserstein-1 (earth mover's) distance between the two binned
// distributions on the line, bin b's mass at `centers[b]`, divided by
// `reference_stddev` (a scale-free distance; 0.1 is the usual threshold).
double NormalizedWasserstein(std::span<const double> reference, std::span<const double> window,
                             std::span<const double> centers, double reference_stddev);

struct TestResult {
  double statistic = 0;
  double p_value = 1;
};

// Two-sample Kolmogorov-Smirnov on binned counts: D is the largest absolute
// difference of the cumulative shares after each bin; the p-value is the
// Kolmogorov distribution's tail at (sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) * D
// with ne = n * m / (n + m) (Stephens' approximation, as in Numerical
// Recipes' kstwo).
TestResult KolmogorovSmirnov(std::span<const double> reference, std::span<const double> window);

// The Kolmogorov distribution's upper tail Q(lambda) = 2 * sum over k >= 1 of
// (-1)^(k-1) * exp(-2 k^2 lambda^2).
double KolmogorovTail(double lambda);

// Chi-square test of homogeneity of the two samples (the 2 x K contingency
// table of reference and window counts): sum of (O - E)^2 / E over both
// rows, E from the pooled shares; degrees of freedom: the bins either sample
// fills, minus one. Two-sample, like the KS test here: the reference is a
// sample too, and treating its shares as exact would raise false alarms. A
// category only the window has counts like any other.
TestResult ChiSquare(std::span<const double> reference, std::span<const double> window);

}  // namespace vigil

#endif  // VIGIL_MONITOR_DRIFT_H_
