#include "monitor/drift.h"

#include <algorithm>
#include <boost/math/distributions/chi_squared.hpp>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace vigil {
namespace {

double Total(std::span<const double> counts) { return std::accumulate(counts.begin(), counts.end(), 0.0); }

// Shares of `counts`; all zero when the total is zero.
std::vector<double> Shares(std::span<const double> counts) {
  const double total = Total(counts);
  std::vector<double> out(counts.begin(), counts.end());
  for (double& v : out) v = total > 0 ? v / total : 0.0;
  return out;
}

}  // namespace

double PopulationStabilityIndex(std::span<const double> reference, std::span<const double> window, double epsilon) {
  const std::vector<double> r = Shares(reference), w = Shares(window);
  double psi = 0;
  for (size_t i = 0; i < r.size() && i < w.size(); ++i) {
    const double a = std::max(r[i], epsilon), b = std::max(w[i], epsilon);
    psi += (b - a) * std::log(b / a);
  }
  return psi;
}

double JensenShannonDistance(std::span<const double> reference, std::span<const double> window) {
  const std::vector<double> p = Shares(reference), q = Shares(window);
  double divergence = 0;
  for (size_t i = 0; i < p.size() && i < q.size(); ++i) {
    const double m = 0.5 * (p[i] + q[i]);
    if (p[i] > 0) divergence += 0.5 * p[i] * std::log2(p[i] / m);
    if (q[i] > 0) divergence += 0.5 * q[i] * std::log2(q[i] / m);
  }
  return std::sqrt(std::max(0.0, divergence));
}

double NormalizedWasserstein(std::span<const double> reference, std::span<const double> window,
                             std::span<const double> centers, double reference_stddev) {
  const std::vector<double> p = Shares(reference), q = Shares(window);
  // On the line, W1 is the integral of |F_p - F_q|: the cumulative gap after
  // each bin times the distance to the next bin's centre.
  double distance = 0, gap = 0;
  for (size_t i = 0; i + 1 < centers.size() && i < p.size() && i < q.size(); ++i) {
    gap += p[i] - q[i];
    distance += std::abs(gap) * (centers[i + 1] - centers[i]);
  }
  return reference_stddev > 0 ? distance / reference_stddev : (distance > 0 ? std::numeric_limits<double>::infinity() : 0.0);
}

double KolmogorovTail(double lambda) {
  // Below 0.2 the tail is 1 to within 1e-20, and the alternating series
  // converges too slowly to sum.
  if (lambda < 0.2) return 1.0;
  double sum = 0, sign = 1;
  for (int k = 1; k <= 100; ++k) {
    const double term = sign * std::exp(-2.0 * k * k * lambda * lambda);
    sum += term;
    // (<=: for a large lambda every term underflows to 0, and so does the tail.)
    if (std::abs(term) <= 1e-12 * std::abs(sum)) return std::clamp(2.0 * sum, 0.0, 1.0);
    sign = -sign;
  }
  return 1.0;  // Not converged: no evidence of a difference.
}

TestResult KolmogorovSmirnov(std::span<const double> reference, std::span<const double> window) {
  const double n = Total(reference), m = Total(window);
  if (n <= 0 || m <= 0) return {};
  double d = 0, cr = 0, cw = 0;
  for (size_t i = 0; i < reference.size() && i < window.size(); ++i) {
    cr += reference[i] / n;
    cw += window[i] / m;
    d = std::max(d, std::abs(cr - cw));
  }
  const double ne = n * m / (n + m);
  const double root = std::sqrt(ne);
  return {d, KolmogorovTail((root + 0.12 + 0.11 / root) * d)};
}

TestResult ChiSquare(std::span<const double> reference, std::span<const double> window) {
  const double n = Total(reference), m = Total(window);
  if (n <= 0 || m <= 0) return {};
  const double total = n + m;
  double statistic = 0;
  int bins = 0;
  for (size_t i = 0; i < reference.size() && i < window.size(); ++i) {
    const double pooled = reference[i] + window[i];
    if (pooled <= 0) continue;
    const double expected_reference = pooled * n / total, expected_window = pooled * m / total;
    statistic += (reference[i] - expected_reference) * (reference[i] - expected_reference) / expected_reference;
    statistic += (window[i] - expected_window) * (window[i] - expected_window) / expected_window;
    ++bins;
  }
  if (bins < 2) return {statistic, 1.0};
  const boost::math::chi_squared distribution(bins - 1);
  return {statistic, boost::math::cdf(boost::math::complement(distribution, statistic))};
}

}  // namespace vigil
