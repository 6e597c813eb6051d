// Streaming statistics of one activation tensor during calibration, and the
// range-selection methods (min-max, percentile, MSE-optimal clipping).
// Pure computation: no runtime, no I/O. See docs/converter.md, "Calibration".
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "quanta/converter.hpp"

namespace quanta::convert::detail {

// Counts of values over [lo, hi] split into counts.size() equal bins; bin i
// covers [lo + i*w, lo + (i+1)*w), the last bin includes hi.
struct Histogram {
  float lo = 0, hi = 0;
  std::vector<int64_t> counts;
  double bin_width() const;
  double bin_center(size_t i) const;
  int64_t total() const;
};

struct Range {
  float lo = 0, hi = 0;
};

// The uint8 asymmetric quantization of a real range (docs/design.md §1), widened to
// contain 0 so that 0 is exactly representable: scale = (hi - lo) / 255,
// zero_point = clamp(round_half_even(-lo / scale), 0, 255), -lo / scale
// computed in float. A degenerate range (hi == lo == 0) gives scale 1/255 and
// zero point 0; a tiny range gets at least FLT_MIN; NaN bounds count as 0 and
// infinite ones as +-FLT_MAX: never a zero, denormal or non-finite scale.
struct U8Params {
  float scale = 1.0f;
  int32_t zero_point = 0;
};
U8Params u8_params_for_range(float lo, float hi);

// Expected mean squared error (per value) of quantizing the histogram's
// values with u8_params_for_range(lo, hi), whose representable bounds are
// lo' = s * (0 - zp) and hi' = s * (255 - zp):
//   - a value outside [lo', hi'] adds its squared distance to the nearest
//     bound (clipping);
//   - a value inside adds the rounding error s^2 / 12 (the uniform model),
//     except in a bin lying wholly within s/2 of 0: such values round to 0,
//     which is exactly representable, and add exactly x^2. (Without this the
//     model overstates the error of a spike at 0, e.g. after ReLU, or of a
//     distribution narrower than the step, and the search clips too much.)
// Each bin's values are taken at the bin center. 0 for an empty histogram.
double expected_quantization_mse(const Histogram& h, float lo, float hi);

// The range keeping `percentile` percent of the values: hi at quantile
// p/100, lo at quantile 1 - p/100, widened to contain 0. The quantile q is
// the point where the cumulative count reaches q * total, interpolating
// linearly inside that bin (empty bins are skipped), so p = 100 gives the
// histogram's own range. `percentile` is clamped to [50, 100].
Range percentile_range(const Histogram& h, double percentile);

// The range minimizing expected_quantization_mse over candidate ranges
// [lo * a, hi * b], 0 < a, b <= 1, of the histogram's own range [lo, hi]
// (clipping each end independently; an end at 0, as after ReLU, stays 0).
// Search: a grid of 1/8 octave in log2(a) x log2(b) down to one bin width,
// then a pattern search refining both down to 1/4096 octave. Ties keep the
// wider range. About 1 ms for 2048 bins (each candidate costs O(log bins)).
Range mse_range(const Histogram& h);

// Statistics of one tensor, fed in up to two passes over the data:
//   pass 1: observe_minmax() on every value (min, max, counts);
//   pass 2 (percentile and mse only): begin_histogram() once, then
//           observe_histogram() on the same values again.
// Non-finite values are counted and skipped. Memory is O(bins).
class TensorObserver {
 public:
  void observe_minmax(const float* v, size_t n);
  // Starts the histogram over [min(min, 0), max(max, 0)] of pass 1
  // (at least 1 bin).
  void begin_histogram(int bins);
  // Values outside the pass-1 range (data that changed) go to the end bins;
  // without begin_histogram() this does nothing.
  void observe_histogram(const float* v, size_t n);

  float min() const { return min_; }
  float max() const { return max_; }
  int64_t count() const { return count_; }
  int64_t non_finite() const { return non_finite_; }
  const Histogram& histogram() const { return hist_; }

  // The chosen range and what was observed. A tensor that never saw a finite
  // value gets the range [0, 0] (the caller reports it). kPercentile and kMse
  // without a histogram (pass 2 not run) fall back to the min-max range.
  TensorRange result(CalibrationMethod method, double percentile) const;

 private:
  float min_ = 0, max_ = 0;
  bool seen_ = false;
  int64_t count_ = 0, non_finite_ = 0;
  Histogram hist_;
};

}  // namespace quanta::convert::detail
