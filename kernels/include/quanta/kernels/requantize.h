// The quantization arithmetic every Quanta kernel obeys (docs/design.md §1).
//
// This header is the single definition of requantization. Reference kernels
// call it directly; optimized kernels must produce the same bytes.
//
// Build note: the project compiles with -ffp-contract=off and without
// -ffast-math, so `float(acc) * m` is one IEEE multiply and lrintf rounds
// half to even under the default rounding mode.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace quanta::kernels {

// m = s_x * s_w / s_y, in fp32, in exactly this order.
inline float requant_multiplier(float s_x, float s_w, float s_y) {
  const float sxw = s_x * s_w;
  return sxw / s_y;
}

// int32 accumulator -> uint8 output.
//   f = float(acc) * m;  r = round_half_even(f);  y = clamp(r + z_y, qmin, qmax)
// Implemented as a clamp of f to [qmin - z_y, qmax - z_y] before rounding.
// Because the bounds are integers and rounding is monotone, this equals
// clamping after rounding, and it never overflows int32 whatever m is.
// Requires 0 <= qmin <= qmax <= 255 and z_y in [0, 255].
inline uint8_t requantize(int32_t acc, float m, int32_t z_y, int32_t qmin, int32_t qmax) {
  float f = static_cast<float>(acc) * m;
  f = std::min(std::max(f, static_cast<float>(qmin - z_y)), static_cast<float>(qmax - z_y));
  const int32_t r = static_cast<int32_t>(std::lrintf(f));
  return static_cast<uint8_t>(r + z_y);
}

// Same rule with a float value already scaled to output units (used by the
// elementwise ops whose fp32 expression is not a single product).
inline uint8_t requantize_f(float f, int32_t z_y, int32_t qmin, int32_t qmax) {
  if (std::isnan(f)) return static_cast<uint8_t>(std::min(std::max(z_y, qmin), qmax));
  f = std::min(std::max(f, static_cast<float>(qmin - z_y)), static_cast<float>(qmax - z_y));
  return static_cast<uint8_t>(static_cast<int32_t>(std::lrintf(f)) + z_y);
}

// Float -> uint8 at the boundary (ONNX QuantizeLinear):
//   q = clamp(round_half_even(x / s) + z, 0, 255)
// NaN -> z. +inf -> 255, -inf -> 0 (saturation).
inline uint8_t quantize_u8(float x, float s, int32_t z) {
  if (std::isnan(x)) return static_cast<uint8_t>(z);
  return requantize_f(x / s, z, 0, 255);
}

inline float dequantize(int32_t q, float s, int32_t z) {
  return s * static_cast<float>(q - z);
}

// Fused activation -> [qmin, qmax] for an output with scale s_y, zero point z_y.
//   none:  [0, 255]
//   relu:  [z_y, 255]
//   relu6: [z_y, min(255, z_y + round(6 / s_y))]
//   clip(lo, hi): [max(0, z_y + round(lo / s_y)), min(255, z_y + round(hi / s_y))]
// (round = half to even; an infinite bound leaves that side at 0 / 255.)
struct QRange {
  int32_t qmin = 0;
  int32_t qmax = 255;
};

enum class Act : uint8_t { kNone = 0, kRelu = 1, kRelu6 = 2, kClip = 3 };

QRange activation_range_u8(Act act, float clip_min, float clip_max, float s_y, int32_t z_y);

// Float activation bounds for the f32 kernels.
struct FRange {
  float lo = -INFINITY;
  float hi = INFINITY;
};
FRange activation_range_f32(Act act, float clip_min, float clip_max);

}  // namespace quanta::kernels
