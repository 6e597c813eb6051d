// Fused-activation ranges (requantize.h).
#include "quanta/kernels/requantize.h"

namespace quanta::kernels {

namespace {

// z_y + round_half_even(bound / s_y), clamped to [0, 255]. Computed in float
// and clamped before any conversion to int, so huge or tiny scales never
// overflow. A NaN or infinite bound returns `unbounded` (0 for a lower bound,
// 255 for an upper bound): that side is not narrowed.
int32_t quantize_bound(float bound, float s_y, int32_t z_y, int32_t unbounded) {
  if (!std::isfinite(bound)) return unbounded;
  float t = std::nearbyint(bound / s_y);  // default rounding mode: half to even
  if (std::isnan(t)) return unbounded;    // only for invalid s_y
  t = std::min(std::max(t, -512.f), 512.f);
  const int32_t q = static_cast<int32_t>(t) + z_y;
  return std::min(std::max(q, 0), 255);
}

}  // namespace

QRange activation_range_u8(Act act, float clip_min, float clip_max, float s_y, int32_t z_y) {
  QRange r;  // [0, 255]
  switch (act) {
    case Act::kNone:
      break;
    case Act::kRelu:
      r.qmin = std::min(std::max(z_y, 0), 255);
      break;
    case Act::kRelu6:
      r.qmin = std::min(std::max(z_y, 0), 255);
      r.qmax = std::max(quantize_bound(6.f, s_y, z_y, 255), r.qmin);
      break;
    case Act::kClip:
      r.qmin = quantize_bound(clip_min, s_y, z_y, 0);
      r.qmax = quantize_bound(clip_max, s_y, z_y, 255);
      // An empty interval (only possible when clip_min > clip_max) follows the
      // ONNX Clip definition min(max(x, lo), hi) == hi: every output is the
      // quantized upper bound, so qmin = qmax.
      if (r.qmin > r.qmax) r.qmin = r.qmax;
      break;
  }
  return r;
}

FRange activation_range_f32(Act act, float clip_min, float clip_max) {
  FRange r;  // (-inf, inf)
  switch (act) {
    case Act::kNone:
      break;
    case Act::kRelu:
      r.lo = 0.f;
      break;
    case Act::kRelu6:
      r.lo = 0.f;
      r.hi = 6.f;
      break;
    case Act::kClip:
      r.lo = clip_min;
      r.hi = clip_max;
      break;
  }
  return r;
}

}  // namespace quanta::kernels
