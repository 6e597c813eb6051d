// Activation statistics and range selection for calibration (calib_stats.hpp).
//
// The MSE search evaluates the expected error of a candidate range in O(log
// bins): prefix sums of count, count*u and count*u^2 over the bins (u being a
// bin center's distance from the histogram's low end, and a mirrored set for
// the high end) give the squared clipping distance of all bins beyond a bound
// in closed form, sum c (q - x)^2 = q^2 C - 2 q S1 + S2. That makes a dense
// two-dimensional search affordable (thousands of candidates, well under a
// millisecond for 2048 bins).
#include "calib_stats.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>

namespace quanta::convert {

const char* calibration_method_name(CalibrationMethod m) {
  switch (m) {
    case CalibrationMethod::kMinMax: return "minmax";
    case CalibrationMethod::kPercentile: return "percentile";
    case CalibrationMethod::kMse: return "mse";
  }
  return "?";
}

}  // namespace quanta::convert

namespace quanta::convert::detail {
namespace {

// The histogram's range widened to contain 0 (it already does when it was
// built by TensorObserver).
Range widened(float lo, float hi) { return {std::min(lo, 0.0f), std::max(hi, 0.0f)}; }

// Expected quantization MSE of a fixed histogram for any candidate range, in
// O(log bins) per candidate after O(bins) set-up.
class MseModel {
 public:
  explicit MseModel(const Histogram& h)
      : lo_(h.lo), hi_(h.hi), width_(h.bin_width()), n_(h.counts.size()) {
    cum_.assign(n_ + 1, 0.0);
    low1_.assign(n_ + 1, 0.0);
    low2_.assign(n_ + 1, 0.0);
    high1_.assign(n_ + 1, 0.0);
    high2_.assign(n_ + 1, 0.0);
    sq_.assign(n_ + 1, 0.0);
    // Prefix sums over bins [0, k) for the low tail, suffix sums over bins
    // [k, n) for the high tail.
    for (size_t i = 0; i < n_; ++i) {
      const double c = static_cast<double>(h.counts[i]);
      const double u = center(i) - lo_;
      cum_[i + 1] = cum_[i] + c;
      low1_[i + 1] = low1_[i] + c * u;
      low2_[i + 1] = low2_[i] + c * u * u;
      sq_[i + 1] = sq_[i] + c * center(i) * center(i);
    }
    for (size_t i = n_; i-- > 0;) {
      const double c = static_cast<double>(h.counts[i]);
      const double v = hi_ - center(i);
      high1_[i] = high1_[i + 1] + c * v;
      high2_[i] = high2_[i + 1] + c * v * v;
    }
    total_ = cum_[n_];
  }

  double total() const { return total_; }

  // Mean squared error per value with the uint8 parameters for [lo, hi].
  double mse(float lo, float hi) const {
    if (total_ <= 0) return 0.0;
    const U8Params p = u8_params_for_range(lo, hi);
    const double s = p.scale;
    const double qlo = s * (0 - p.zero_point);    // the representable bounds
    const double qhi = s * (255 - p.zero_point);
    // Bins [0, k) lie below qlo, bins [j, n) above qhi (by their centers).
    const size_t k = count_below(qlo);
    const size_t j = std::max(k, first_above(qhi));
    // sum over [0, k) of c * (qlo - x)^2 with x = lo + u:
    const double a = qlo - lo_;
    const double below = a * a * cum_[k] - 2 * a * low1_[k] + low2_[k];
    // sum over [j, n) of c * (x - qhi)^2 with x = hi - v:
    const double b = hi_ - qhi;
    const double above =
        b * b * (cum_[n_] - cum_[j]) - 2 * b * high1_[j] + high2_[j];
    double inside = (cum_[j] - cum_[k]) * (s * s / 12.0);
    // Bins lying wholly within half a step of 0 round to 0 exactly: their
    // error is x^2, not s^2 / 12 (which overstates it for a spike at 0).
    if (s > width_) {
      const double z = 0.5 * (s - width_);
      const size_t z0 = std::clamp(count_below(-z), k, j);
      const size_t z1 = std::clamp(first_above(z), z0, j);
      inside += (sq_[z1] - sq_[z0]) - (cum_[z1] - cum_[z0]) * (s * s / 12.0);
    }
    // Cancellation in the closed forms can leave a tiny negative residue.
    return (std::max(below, 0.0) + std::max(above, 0.0) + inside) / total_;
  }

 private:
  // Same formula as Histogram::bin_center.
  double center(size_t i) const { return lo_ + (static_cast<double>(i) + 0.5) * width_; }
  // Number of bins whose center is < x.
  size_t count_below(double x) const {
    size_t first = 0, count = n_;
    while (count > 0) {
      const size_t step = count / 2;
      if (center(first + step) < x) {
        first += step + 1;
        count -= step + 1;
      } else {
        count = step;
      }
    }
    return first;
  }
  // Index of the first bin whose center is > x (n if none).
  size_t first_above(double x) const {
    size_t first = 0, count = n_;
    while (count > 0) {
      const size_t step = count / 2;
      if (!(center(first + step) > x)) {
        first += step + 1;
        count -= step + 1;
      } else {
        count = step;
      }
    }
    return first;
  }

  double lo_, hi_, width_;
  size_t n_;
  double total_ = 0;
  std::vector<double> cum_, low1_, low2_, high1_, high2_, sq_;
};

}  // namespace

// ------------------------------------------------------------------ Histogram

double Histogram::bin_width() const {
  if (counts.empty()) return 0.0;
  return (static_cast<double>(hi) - static_cast<double>(lo)) / static_cast<double>(counts.size());
}

double Histogram::bin_center(size_t i) const {
  return static_cast<double>(lo) + (static_cast<double>(i) + 0.5) * bin_width();
}

int64_t Histogram::total() const {
  return std::accumulate(counts.begin(), counts.end(), int64_t{0});
}

// ------------------------------------------------------------------ parameters

U8Params u8_params_for_range(float lo, float hi) {
  // NaN bounds count as 0; infinite ones saturate at the largest float.
  constexpr double kMax = FLT_MAX;
  const double l = std::isnan(lo) ? 0.0 : std::clamp(static_cast<double>(lo), -kMax, 0.0);
  const double h = std::isnan(hi) ? 0.0 : std::clamp(static_cast<double>(hi), 0.0, kMax);
  const double span = h - l;
  if (!(span > 0.0)) return {1.0f / 255.0f, 0};
  const float scale = std::max(static_cast<float>(span / 255.0), FLT_MIN);
  // -lo / scale in float, rounded half to even (the default rounding mode).
  const float zp_real = static_cast<float>(-l) / scale;
  const long zp = std::lrint(std::min(zp_real, 1024.0f));
  return {scale, static_cast<int32_t>(std::clamp(zp, 0L, 255L))};
}

// ------------------------------------------------------------------ range selection

double expected_quantization_mse(const Histogram& h, float lo, float hi) {
  return MseModel(h).mse(lo, hi);
}

Range percentile_range(const Histogram& h, double percentile) {
  const Range full = widened(h.lo, h.hi);
  const int64_t total = h.total();
  if (h.counts.empty() || total <= 0) return full;
  const double p = std::isnan(percentile) ? 100.0 : std::clamp(percentile, 50.0, 100.0);
  const double w = h.bin_width();

  // The value below which a fraction q of the values lie, interpolating
  // linearly inside the bin where the cumulative count reaches q * total.
  auto quantile = [&](double q) {
    const double target = q * static_cast<double>(total);
    double cum = 0;
    for (size_t i = 0; i < h.counts.size(); ++i) {
      const auto c = static_cast<double>(h.counts[i]);
      if (c == 0) continue;
      if (cum + c >= target) {
        const double frac = std::clamp((target - cum) / c, 0.0, 1.0);
        return static_cast<double>(h.lo) + (static_cast<double>(i) + frac) * w;
      }
      cum += c;
    }
    return static_cast<double>(h.hi);
  };
  const double q = p / 100.0;
  const auto lo = static_cast<float>(quantile(1.0 - q));
  const auto hi = static_cast<float>(quantile(q));
  return {std::clamp(lo, full.lo, 0.0f), std::clamp(hi, 0.0f, full.hi)};
}

Range mse_range(const Histogram& h) {
  const Range full = widened(h.lo, h.hi);
  if (h.counts.empty() || h.total() <= 0 || full.lo == full.hi) return full;
  const MseModel model(h);

  // Candidates are [full.lo * 2^ea, full.hi * 2^eb] with ea, eb <= 0: the
  // exponents are searched in octaves, first on a grid of 1/8 octave, then
  // refined by a pattern search down to 1/4096 octave. Shrinking one end
  // below about one bin width is pointless (the histogram cannot resolve
  // it), which bounds the exponents from below.
  const double width = h.bin_width();
  auto min_exponent = [&](float end) {
    if (end == 0.0f) return 0.0;  // a one-sided distribution: that end stays 0
    const double ratio = width / std::fabs(static_cast<double>(end));
    return ratio >= 1.0 ? 0.0 : std::log2(ratio);
  };
  const double ea_min = min_exponent(full.lo);
  const double eb_min = min_exponent(full.hi);
  auto candidate = [&](double ea, double eb) {
    return Range{static_cast<float>(full.lo * std::exp2(ea)),
                 static_cast<float>(full.hi * std::exp2(eb))};
  };
  auto cost = [&](double ea, double eb) {
    const Range r = candidate(ea, eb);
    return model.mse(r.lo, r.hi);
  };

  // Coarse grid. Ties keep the earlier candidate, i.e. the one clipping less.
  constexpr double kCoarse = 1.0 / 8.0;
  double best_a = 0, best_b = 0;
  double best = cost(0, 0);
  const int na = static_cast<int>(std::floor(-ea_min / kCoarse));
  const int nb = static_cast<int>(std::floor(-eb_min / kCoarse));
  for (int ia = 0; ia <= na; ++ia) {
    for (int ib = 0; ib <= nb; ++ib) {
      const double ea = -ia * kCoarse, eb = -ib * kCoarse;
      const double c = cost(ea, eb);
      if (c < best) {
        best = c;
        best_a = ea;
        best_b = eb;
      }
    }
  }

  // Pattern search around the best grid point: move to the best of the 8
  // neighbours while that improves, then halve the step.
  for (double step = kCoarse / 2; step >= 1.0 / 4096; step /= 2) {
    for (int moves = 0; moves < 64; ++moves) {
      double next_a = best_a, next_b = best_b, next = best;
      for (int da = -1; da <= 1; ++da) {
        for (int db = -1; db <= 1; ++db) {
          if (da == 0 && db == 0) continue;
          const double ea = std::clamp(best_a + da * step, ea_min, 0.0);
          const double eb = std::clamp(best_b + db * step, eb_min, 0.0);
          const double c = cost(ea, eb);
          if (c < next) {
            next = c;
            next_a = ea;
            next_b = eb;
          }
        }
      }
      if (next >= best) break;
      best = next;
      best_a = next_a;
      best_b = next_b;
    }
  }
  return candidate(best_a, best_b);
}

// ------------------------------------------------------------------ TensorObserver

void TensorObserver::observe_minmax(const float* v, size_t n) {
  float lo = min_, hi = max_;
  bool seen = seen_;
  int64_t finite = 0;
  for (size_t i = 0; i < n; ++i) {
    const float x = v[i];
    if (!std::isfinite(x)) continue;
    ++finite;
    if (!seen) {
      lo = hi = x;
      seen = true;
    } else {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  }
  min_ = lo;
  max_ = hi;
  seen_ = seen;
  count_ += finite;
  non_finite_ += static_cast<int64_t>(n) - finite;
}

void TensorObserver::begin_histogram(int bins) {
  const Range r = seen_ ? widened(min_, max_) : Range{};
  hist_.lo = r.lo;
  hist_.hi = r.hi;
  hist_.counts.assign(static_cast<size_t>(std::max(bins, 1)), 0);
}

void TensorObserver::observe_histogram(const float* v, size_t n) {
  const size_t bins = hist_.counts.size();
  if (bins == 0) return;  // begin_histogram() was not called
  const double lo = hist_.lo;
  const double span = static_cast<double>(hist_.hi) - lo;
  // Values outside [lo, hi] (data that changed between the passes) land in
  // the end bins; a zero-width histogram puts everything in bin 0.
  const double per_unit = span > 0 ? static_cast<double>(bins) / span : 0.0;
  const auto last = static_cast<double>(bins - 1);
  int64_t* counts = hist_.counts.data();
  for (size_t i = 0; i < n; ++i) {
    const float x = v[i];
    if (!std::isfinite(x)) continue;
    const double t = std::clamp((static_cast<double>(x) - lo) * per_unit, 0.0, last);
    ++counts[static_cast<size_t>(t)];
  }
}

TensorRange TensorObserver::result(CalibrationMethod method, double percentile) const {
  TensorRange r;
  r.min = min_;
  r.max = max_;
  r.count = count_;
  r.non_finite = non_finite_;
  if (!seen_) return r;  // [0, 0]
  Range range = widened(min_, max_);
  // Without a histogram (pass 2 skipped or empty) the min-max range is the
  // only information there is.
  const bool have_histogram = hist_.total() > 0;
  if (method == CalibrationMethod::kPercentile && have_histogram) {
    range = percentile_range(hist_, percentile);
  } else if (method == CalibrationMethod::kMse && have_histogram) {
    range = mse_range(hist_);
  }
  r.lo = range.lo;
  r.hi = range.hi;
  return r;
}

}  // namespace quanta::convert::detail
