// Calibration statistics (converter/src/calib_stats.hpp): the uint8
// parameters of a range, the observer, and the three range-selection methods
// checked against distributions whose optimum is known or brute-forced.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <limits>
#include <random>
#include <vector>

#include "calib_stats.hpp"

namespace quanta::convert::detail {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Two passes of the observer over `v`, as calibration does.
TensorObserver observe(const std::vector<float>& v, int bins = 2048) {
  TensorObserver o;
  o.observe_minmax(v.data(), v.size());
  o.begin_histogram(bins);
  o.observe_histogram(v.data(), v.size());
  return o;
}

std::vector<float> uniform(size_t n, float lo, float hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<float> gaussian(size_t n, float sigma, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Laplace(0, b) by inverting its CDF.
std::vector<float> laplace(size_t n, double b, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(-0.5, 0.5);
  std::vector<float> v(n);
  for (float& x : v) {
    const double u = d(rng);
    x = static_cast<float>(-b * (u < 0 ? -1.0 : 1.0) * std::log(1.0 - 2.0 * std::fabs(u)));
  }
  return v;
}

// The real quantize-dequantize error of the samples (docs/design.md §1:
// round half to even, clamp to [0, 255]).
double empirical_mse(const std::vector<float>& v, const U8Params& p) {
  double sum = 0;
  for (float x : v) {
    const float q = std::clamp(std::nearbyint(x / p.scale) + static_cast<float>(p.zero_point),
                               0.0f, 255.0f);
    const double r = static_cast<double>(p.scale) * (static_cast<double>(q) - p.zero_point);
    sum += (r - x) * (r - x);
  }
  return sum / static_cast<double>(v.size());
}

double empirical_mse(const std::vector<float>& v, float lo, float hi) {
  return empirical_mse(v, u8_params_for_range(lo, hi));
}

// The model of expected_quantization_mse written as a plain loop over bins.
double model_mse_by_loop(const Histogram& h, float lo, float hi) {
  const U8Params p = u8_params_for_range(lo, hi);
  const double s = p.scale;
  const double qlo = s * (0 - p.zero_point), qhi = s * (255 - p.zero_point);
  const double w = h.bin_width();
  double sum = 0;
  for (size_t i = 0; i < h.counts.size(); ++i) {
    const double x = h.bin_center(i);
    const double c = static_cast<double>(h.counts[i]);
    if (x < qlo) {
      sum += c * (qlo - x) * (qlo - x);
    } else if (x > qhi) {
      sum += c * (x - qhi) * (x - qhi);
    } else if (std::fabs(x) <= (s - w) / 2) {
      sum += c * x * x;  // the whole bin rounds to 0
    } else {
      sum += c * s * s / 12.0;
    }
  }
  return sum / static_cast<double>(h.total());
}

// ------------------------------------------------------------------ u8 parameters

TEST(CalibStats, U8ParamsHandComputed) {
  // [-1, 3]: scale 4/255; -lo/scale = 63.75 rounds to 64.
  U8Params p = u8_params_for_range(-1.0f, 3.0f);
  EXPECT_EQ(p.scale, 4.0f / 255.0f);
  EXPECT_EQ(p.zero_point, 64);
  // Post-ReLU6: zero point 0.
  p = u8_params_for_range(0.0f, 6.0f);
  EXPECT_EQ(p.scale, 6.0f / 255.0f);
  EXPECT_EQ(p.zero_point, 0);
  // [-1, 1.5]: -lo/scale = 102 exactly.
  p = u8_params_for_range(-1.0f, 1.5f);
  EXPECT_EQ(p.scale, 2.5f / 255.0f);
  EXPECT_EQ(p.zero_point, 102);
}

TEST(CalibStats, U8ParamsWidenToContainZero) {
  // All positive: [2, 5] becomes [0, 5].
  U8Params p = u8_params_for_range(2.0f, 5.0f);
  EXPECT_EQ(p.scale, 5.0f / 255.0f);
  EXPECT_EQ(p.zero_point, 0);
  // All negative: [-2, -1] becomes [-2, 0], zero point at the top.
  p = u8_params_for_range(-2.0f, -1.0f);
  EXPECT_EQ(p.scale, 2.0f / 255.0f);
  EXPECT_EQ(p.zero_point, 255);
  // A mixed range: the representable bounds s * (0 - zp) and s * (255 - zp)
  // cover [lo, hi] up to half a step (the zero point's rounding).
  p = u8_params_for_range(-0.37f, 1.91f);
  EXPECT_EQ(p.zero_point, 41);  // 0.37 / (2.28 / 255) = 41.38
  EXPECT_LE(p.scale * (0 - p.zero_point), -0.37f + p.scale / 2);
  EXPECT_GE(p.scale * (255 - p.zero_point), 1.91f - p.scale / 2);
}

TEST(CalibStats, U8ParamsDegenerateRangesGiveAUsableScale) {
  for (auto [lo, hi] : std::vector<std::pair<float, float>>{
           {0.0f, 0.0f}, {-0.0f, 0.0f}, {kNaN, kNaN}, {0.0f, kNaN}}) {
    const U8Params p = u8_params_for_range(lo, hi);
    EXPECT_EQ(p.scale, 1.0f / 255.0f) << lo << " " << hi;
    EXPECT_EQ(p.zero_point, 0);
  }
  // Tiny, huge and infinite ranges: finite, normal, positive scales.
  for (auto [lo, hi] : std::vector<std::pair<float, float>>{
           {0.0f, 1e-42f}, {-1e-40f, 0.0f}, {-FLT_MAX, FLT_MAX}, {-kInf, kInf}, {0.0f, kInf}}) {
    const U8Params p = u8_params_for_range(lo, hi);
    EXPECT_TRUE(std::isfinite(p.scale)) << lo << " " << hi;
    EXPECT_GE(p.scale, FLT_MIN) << lo << " " << hi;
    EXPECT_GE(p.zero_point, 0);
    EXPECT_LE(p.zero_point, 255);
  }
  const int32_t zp = u8_params_for_range(-kInf, kInf).zero_point;  // about 127.5
  EXPECT_TRUE(zp == 127 || zp == 128) << zp;
}

// ------------------------------------------------------------------ observer

TEST(CalibStats, ObserverCountsAndSkipsNonFinite) {
  const std::vector<float> v = {1.0f, kNaN, -2.5f, kInf, 4.0f, -kInf, 0.5f};
  const TensorObserver o = observe(v, 16);
  EXPECT_EQ(o.count(), 4);
  EXPECT_EQ(o.non_finite(), 3);
  EXPECT_EQ(o.min(), -2.5f);
  EXPECT_EQ(o.max(), 4.0f);
  EXPECT_EQ(o.histogram().total(), 4);
  EXPECT_EQ(o.histogram().lo, -2.5f);
  EXPECT_EQ(o.histogram().hi, 4.0f);
  const TensorRange r = o.result(CalibrationMethod::kMinMax, 99.0);
  EXPECT_EQ(r.count, 4);
  EXPECT_EQ(r.non_finite, 3);
}

TEST(CalibStats, HistogramRangeIncludesZeroAndMaxLandsInLastBin) {
  const std::vector<float> v = {2.0f, 3.0f, 10.0f};
  const TensorObserver o = observe(v, 10);
  const Histogram& h = o.histogram();
  EXPECT_EQ(h.lo, 0.0f);
  EXPECT_EQ(h.hi, 10.0f);
  ASSERT_EQ(h.counts.size(), 10u);
  EXPECT_EQ(h.counts[2], 1);
  EXPECT_EQ(h.counts[3], 1);
  EXPECT_EQ(h.counts[9], 1);
  EXPECT_DOUBLE_EQ(h.bin_width(), 1.0);
  EXPECT_DOUBLE_EQ(h.bin_center(9), 9.5);
}

TEST(CalibStats, NoFiniteValueGivesZeroRange) {
  const std::vector<float> v = {kNaN, kInf};
  const TensorObserver o = observe(v);
  for (auto m : {CalibrationMethod::kMinMax, CalibrationMethod::kPercentile, CalibrationMethod::kMse}) {
    const TensorRange r = o.result(m, 99.9);
    EXPECT_EQ(r.lo, 0.0f);
    EXPECT_EQ(r.hi, 0.0f);
    EXPECT_EQ(r.count, 0);
    EXPECT_EQ(r.non_finite, 2);
  }
}

TEST(CalibStats, AllZerosGiveZeroRange) {
  const std::vector<float> v(1000, 0.0f);
  const TensorObserver o = observe(v);
  for (auto m : {CalibrationMethod::kMinMax, CalibrationMethod::kPercentile, CalibrationMethod::kMse}) {
    const TensorRange r = o.result(m, 99.9);
    EXPECT_EQ(r.lo, 0.0f);
    EXPECT_EQ(r.hi, 0.0f);
    EXPECT_EQ(r.count, 1000);
  }
}

TEST(CalibStats, ChunkedObservationEqualsOneCall) {
  std::vector<float> v = gaussian(100003, 2.0f, 7);
  v[17] = kNaN;
  v[50000] = kInf;
  v[99999] = 40.0f;
  const TensorObserver whole = observe(v, 512);

  TensorObserver chunked;
  const size_t chunks[] = {1, 7, 1000, 4096, 13, 65536};
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) chunked.begin_histogram(512);
    size_t at = 0, k = 0;
    while (at < v.size()) {
      const size_t n = std::min(chunks[k++ % 6], v.size() - at);
      if (pass == 0) {
        chunked.observe_minmax(v.data() + at, n);
      } else {
        chunked.observe_histogram(v.data() + at, n);
      }
      at += n;
    }
  }
  EXPECT_EQ(chunked.min(), whole.min());
  EXPECT_EQ(chunked.max(), whole.max());
  EXPECT_EQ(chunked.count(), whole.count());
  EXPECT_EQ(chunked.non_finite(), whole.non_finite());
  EXPECT_EQ(chunked.histogram().counts, whole.histogram().counts);
  for (auto m : {CalibrationMethod::kMinMax, CalibrationMethod::kPercentile, CalibrationMethod::kMse}) {
    const TensorRange a = chunked.result(m, 99.9), b = whole.result(m, 99.9);
    EXPECT_EQ(a.lo, b.lo) << calibration_method_name(m);
    EXPECT_EQ(a.hi, b.hi) << calibration_method_name(m);
  }
}

// ------------------------------------------------------------------ min-max

TEST(CalibStats, MinMaxIsTheExactObservedRange) {
  const std::vector<float> v = uniform(100000, -1.5f, 2.5f, 1);
  const float lo = *std::min_element(v.begin(), v.end());
  const float hi = *std::max_element(v.begin(), v.end());
  const TensorRange r = observe(v).result(CalibrationMethod::kMinMax, 0);
  EXPECT_EQ(r.lo, lo);
  EXPECT_EQ(r.hi, hi);
  EXPECT_EQ(r.min, lo);
  EXPECT_EQ(r.max, hi);
  EXPECT_EQ(r.count, 100000);
  // Widened to contain 0 for a positive-only tensor, observed extremes kept.
  const TensorRange p = observe({2.0f, 5.0f}).result(CalibrationMethod::kMinMax, 0);
  EXPECT_EQ(p.lo, 0.0f);
  EXPECT_EQ(p.hi, 5.0f);
  EXPECT_EQ(p.min, 2.0f);
}

// ------------------------------------------------------------------ percentile

TEST(CalibStats, PercentileOfUniform) {
  const std::vector<float> v = uniform(1000000, 0.0f, 1.0f, 2);
  const TensorRange r = observe(v).result(CalibrationMethod::kPercentile, 99.0);
  EXPECT_NEAR(r.hi, 0.99f, 1e-3f);
  EXPECT_EQ(r.lo, 0.0f);  // the 1% quantile (0.01) widened to contain 0

  const std::vector<float> s = uniform(1000000, -1.0f, 1.0f, 3);
  const TensorRange t = observe(s).result(CalibrationMethod::kPercentile, 99.0);
  EXPECT_NEAR(t.hi, 0.98f, 2e-3f);
  EXPECT_NEAR(t.lo, -0.98f, 2e-3f);
}

TEST(CalibStats, PercentileInterpolatesInsideABin) {
  // 4 bins over [0, 4] with 25 values each; quantile 0.9 is 90% through:
  // the last bin starts at 75 values, so 15 / 25 = 0.6 into it.
  Histogram h;
  h.lo = 0;
  h.hi = 4;
  h.counts = {25, 25, 25, 25};
  EXPECT_NEAR(percentile_range(h, 90.0).hi, 3.6f, 1e-6f);
  EXPECT_NEAR(percentile_range(h, 100.0).hi, 4.0f, 1e-6f);
  // Empty bins are skipped: all 10 values in bin 1 of [-2, 2].
  h.lo = -2;
  h.hi = 2;
  h.counts = {0, 10, 0, 0};
  const Range r = percentile_range(h, 80.0);
  EXPECT_EQ(r.hi, 0.0f);                   // quantile 0.8 is -0.2, widened to 0
  EXPECT_NEAR(r.lo, -1.0f + 0.2f, 1e-6f);  // quantile 0.2
}

TEST(CalibStats, Percentile100IsMinMax) {
  const std::vector<float> v = gaussian(50000, 1.0f, 4);
  const TensorObserver o = observe(v);
  const TensorRange p = o.result(CalibrationMethod::kPercentile, 100.0);
  EXPECT_FLOAT_EQ(p.lo, o.min());
  EXPECT_FLOAT_EQ(p.hi, o.max());
}

// ------------------------------------------------------------------ MSE model

TEST(CalibStats, ExpectedMseHandComputed) {
  // Values at 0.5, 1.5, 2.5, 3.5 and range [0, 2.55] (step 0.01): three
  // values round (0.01^2 / 12 each), 3.5 is clipped to 2.55.
  Histogram h;
  h.lo = 0;
  h.hi = 4;
  h.counts = {1, 1, 1, 1};
  const double s = 2.55f / 255.0f;
  const double expected = (3 * s * s / 12 + (3.5 - 255 * s) * (3.5 - 255 * s)) / 4;
  EXPECT_NEAR(expected_quantization_mse(h, 0.0f, 2.55f), expected, 1e-12);
  // No clipping at all: only the rounding term.
  const double s4 = 4.0f / 255.0f;
  EXPECT_NEAR(expected_quantization_mse(h, 0.0f, 4.0f), s4 * s4 / 12, 1e-15);
  // A step wider than the bins near 0: with [-1, 1] split into 8 bins of
  // 0.25 and the range [-63.75, 63.75] (step 0.5, zero point 127.5 -> 128),
  // the bins centered at +-0.125 lie wholly within half a step of 0 and
  // round to 0, error 0.125^2; the others get the uniform term 0.5^2 / 12.
  h.lo = -1;
  h.hi = 1;
  h.counts = {0, 0, 1, 3, 5, 0, 0, 2};  // centers -0.875 + 0.25 i
  const U8Params p = u8_params_for_range(-63.75f, 63.75f);
  ASSERT_EQ(p.scale, 0.5f);
  const double step = 0.5;
  const double want = (1 * step * step / 12 + (3 + 5) * 0.125 * 0.125 + 2 * step * step / 12) / 11;
  EXPECT_NEAR(expected_quantization_mse(h, -63.75f, 63.75f), want, 1e-15);
}

TEST(CalibStats, ExpectedMseMatchesABinLoop) {
  const TensorObserver o = observe(laplace(100000, 0.7, 5));
  const Histogram& h = o.histogram();
  for (auto [lo, hi] : std::vector<std::pair<float, float>>{
           {o.min(), o.max()}, {-3.0f, 2.0f}, {-0.5f, 6.0f}, {-0.01f, 0.02f}, {0.0f, 1.0f}, {-7.9f, 0.0f}}) {
    const double a = expected_quantization_mse(h, lo, hi);
    const double b = model_mse_by_loop(h, lo, hi);
    EXPECT_NEAR(a, b, 1e-9 * b) << "[" << lo << ", " << hi << "]";
  }
}

// ------------------------------------------------------------------ MSE range

TEST(CalibStats, MseOnUniformBarelyClips) {
  const std::vector<float> v = uniform(1000000, -1.0f, 3.0f, 6);
  const TensorObserver o = observe(v);
  const TensorRange r = o.result(CalibrationMethod::kMse, 0);
  // Clipping a uniform distribution costs more than it saves almost at once:
  // the optimum shrinks each end by ~0.2% of the range.
  EXPECT_LE(r.hi, o.max());
  EXPECT_GE(r.hi, 0.99f * o.max());
  EXPECT_GE(r.lo, o.min());
  EXPECT_LE(r.lo, 0.99f * o.min());
}

TEST(CalibStats, MseOnLaplaceMatchesBruteForceOfTheRealError) {
  // With 1M values the extremes are near b * ln(5e5) = 13, while the optimum
  // for 8 bits is near 10 b (clipping ~1e-4 of the mass).
  const std::vector<float> v = laplace(1000000, 1.0, 8);
  const TensorObserver o = observe(v);
  const TensorRange r = o.result(CalibrationMethod::kMse, 0);

  // Brute force over symmetric clips c of the real quantization error.
  const double top = std::max(-o.min(), o.max());
  double best_c = top, best = empirical_mse(v, -static_cast<float>(top), static_cast<float>(top));
  for (double c = 7.0; c <= std::min(top, 13.0); c += 0.05) {
    const double e = empirical_mse(v, -static_cast<float>(c), static_cast<float>(c));
    if (e < best) {
      best = e;
      best_c = c;
    }
  }
  const double got = empirical_mse(v, r.lo, r.hi);
  EXPECT_LE(got, 1.02 * best) << "mse range [" << r.lo << ", " << r.hi << "], brute force c=" << best_c;
  EXPECT_NEAR(r.hi, best_c, 0.06 * best_c);
  EXPECT_NEAR(-r.lo, best_c, 0.06 * best_c);
  // The optimum clips the tails well inside the observed extremes (~12 here).
  EXPECT_LT(r.hi, 0.9f * o.max());
  EXPECT_GT(r.lo, 0.9f * o.min());
  EXPECT_LT(got, 0.8 * empirical_mse(v, o.min(), o.max()));
}

TEST(CalibStats, MseClipsRareHugeOutliers) {
  // Two values at 100 sigma among a million: covering them makes the step
  // 0.78 (error ~0.05 for every value); clipping them to ~+-30 costs less.
  std::vector<float> v = gaussian(1000000, 1.0f, 9);
  v[1234] = 100.0f;
  v[777777] = -100.0f;
  const TensorObserver o = observe(v);
  const TensorRange mse = o.result(CalibrationMethod::kMse, 0);
  const TensorRange minmax = o.result(CalibrationMethod::kMinMax, 0);
  EXPECT_LT(mse.hi, 60.0f);
  EXPECT_GT(mse.lo, -60.0f);
  EXPECT_GT(mse.hi, 5.0f);  // the Gaussian itself is not clipped
  EXPECT_LT(mse.lo, -5.0f);
  const double e_mse = empirical_mse(v, mse.lo, mse.hi);
  const double e_minmax = empirical_mse(v, minmax.lo, minmax.hi);
  EXPECT_LT(e_mse, 0.6 * e_minmax) << e_mse << " vs " << e_minmax;
}

TEST(CalibStats, MseKeepsZeroForOneSidedData) {
  std::vector<float> v = gaussian(200000, 1.0f, 10);
  for (float& x : v) x = std::max(x, 0.0f);  // post-ReLU
  const TensorObserver o = observe(v);
  const TensorRange r = o.result(CalibrationMethod::kMse, 0);
  EXPECT_EQ(r.lo, 0.0f);
  EXPECT_GT(r.hi, 2.0f);
  EXPECT_LT(r.hi, o.max());
}

TEST(CalibStats, MseRangeIsTheModelOptimum) {
  // A dense brute-force grid over both ends of the model's own error: the
  // search must find a range at least as good (up to 0.1%).
  for (uint64_t seed : {11, 12}) {
    std::vector<float> v = laplace(100000, 1.0, seed);
    for (size_t i = 0; i < v.size(); i += 3) v[i] = 0.3f * v[i] + 2.0f;  // asymmetric mixture
    const TensorObserver o = observe(v);
    const Histogram& h = o.histogram();
    const Range r = mse_range(h);
    const double got = expected_quantization_mse(h, r.lo, r.hi);
    double best = std::numeric_limits<double>::infinity();
    const int n = 150;
    for (int i = 1; i <= n; ++i) {
      for (int j = 1; j <= n; ++j) {
        const float lo = h.lo * static_cast<float>(i) / n, hi = h.hi * static_cast<float>(j) / n;
        best = std::min(best, expected_quantization_mse(h, lo, hi));
      }
    }
    EXPECT_LE(got, best * 1.001) << "seed " << seed << " range [" << r.lo << ", " << r.hi << "]";
    EXPECT_GE(r.lo, h.lo);
    EXPECT_LE(r.hi, h.hi);
  }
}

TEST(CalibStats, MseRangeTakesUnder20msFor2048Bins) {
  const std::vector<Histogram> hists = {observe(laplace(100000, 1.0, 13)).histogram(),
                                        observe(gaussian(100000, 3.0f, 14)).histogram(),
                                        observe(uniform(100000, -2.0f, 5.0f, 15)).histogram()};
  Range sink;
  const int reps = 10;
  const auto t0 = std::chrono::steady_clock::now();
  for (int k = 0; k < reps; ++k) {
    for (const Histogram& h : hists) {
      const Range r = mse_range(h);
      sink.hi += r.hi;
    }
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                        .count() / (reps * static_cast<double>(hists.size()));
  RecordProperty("mse_range_ms", std::to_string(ms));
  std::printf("mse_range: %.3f ms per 2048-bin histogram\n", ms);
  EXPECT_LT(ms, 20.0);
  EXPECT_GT(sink.hi, 0.0f);
}

TEST(CalibStats, MethodNames) {
  EXPECT_STREQ(calibration_method_name(CalibrationMethod::kMinMax), "minmax");
  EXPECT_STREQ(calibration_method_name(CalibrationMethod::kPercentile), "percentile");
  EXPECT_STREQ(calibration_method_name(CalibrationMethod::kMse), "mse");
}

}  // namespace
}  // namespace quanta::convert::detail
