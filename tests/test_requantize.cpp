// The requantization contract (docs/design.md §1, requantize.h): rounding, clamping,
// extreme values, float boundary quantization and fused-activation ranges.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "quanta/kernels/requantize.h"

namespace qk = quanta::kernels;

namespace {

// Independent statement of the rule: round the fp32 product half to even in
// double, add z, clamp -- in that order, with no early clamp.
int32_t OracleRequantize(int32_t acc, float m, int32_t zy, int32_t qmin, int32_t qmax) {
  const float f = static_cast<float>(acc) * m;  // the one fp32 multiply
  double r = std::nearbyint(static_cast<double>(f)) + zy;
  r = std::min(std::max(r, static_cast<double>(qmin)), static_cast<double>(qmax));
  return static_cast<int32_t>(r);
}

}  // namespace

TEST(Requantize, MultiplierIsProductThenQuotientInFp32) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(1e-4f, 1.f);
  for (int i = 0; i < 1000; ++i) {
    const volatile float sx = d(rng), sw = d(rng), sy = d(rng);
    const volatile float prod = sx * sw;
    const float expected = prod / sy;
    EXPECT_EQ(qk::requant_multiplier(sx, sw, sy), expected);
  }
}

TEST(Requantize, TiesRoundHalfToEven) {
  // acc * m exactly representable halves.
  EXPECT_EQ(qk::requantize(5, 0.5f, 0, 0, 255), 2);       // 2.5 -> 2
  EXPECT_EQ(qk::requantize(7, 0.5f, 0, 0, 255), 4);       // 3.5 -> 4
  EXPECT_EQ(qk::requantize(1, 0.5f, 0, 0, 255), 0);       // 0.5 -> 0
  EXPECT_EQ(qk::requantize(3, 0.5f, 0, 0, 255), 2);       // 1.5 -> 2
  EXPECT_EQ(qk::requantize(-5, 0.5f, 128, 0, 255), 126);  // -2.5 -> -2
  EXPECT_EQ(qk::requantize(-7, 0.5f, 128, 0, 255), 124);  // -3.5 -> -4
  EXPECT_EQ(qk::requantize(-1, 0.5f, 128, 0, 255), 128);  // -0.5 -> -0
  EXPECT_EQ(qk::requantize(5, 0.25f, 10, 0, 255), 11);    // 1.25 -> 1
  EXPECT_EQ(qk::requantize(5, 0.75f, 10, 0, 255), 14);    // 3.75 -> 4
  // requantize_f: same rule on a float
  EXPECT_EQ(qk::requantize_f(2.5f, 0, 0, 255), 2);
  EXPECT_EQ(qk::requantize_f(3.5f, 0, 0, 255), 4);
  EXPECT_EQ(qk::requantize_f(-2.5f, 100, 0, 255), 98);
  EXPECT_EQ(qk::requantize_f(254.5f, 0, 0, 255), 254);
}

TEST(Requantize, SaturatesAtTypeBounds) {
  EXPECT_EQ(qk::requantize(1000, 1.f, 0, 0, 255), 255);
  EXPECT_EQ(qk::requantize(256, 1.f, 0, 0, 255), 255);
  EXPECT_EQ(qk::requantize(255, 1.f, 0, 0, 255), 255);
  EXPECT_EQ(qk::requantize(-1, 1.f, 0, 0, 255), 0);
  EXPECT_EQ(qk::requantize(-129, 1.f, 128, 0, 255), 0);
  EXPECT_EQ(qk::requantize(-128, 1.f, 128, 0, 255), 0);
  EXPECT_EQ(qk::requantize(127, 1.f, 128, 0, 255), 255);
  EXPECT_EQ(qk::requantize(128, 1.f, 128, 0, 255), 255);
  EXPECT_EQ(qk::requantize(-255, 1.f, 255, 0, 255), 0);
  EXPECT_EQ(qk::requantize(1, 1.f, 255, 0, 255), 255);
  // 254.5 rounds to 254 (even), 255.5 rounds to 256 then saturates.
  EXPECT_EQ(qk::requantize(509, 0.5f, 0, 0, 255), 254);
  EXPECT_EQ(qk::requantize(511, 0.5f, 0, 0, 255), 255);
}

TEST(Requantize, QminQmaxClamp) {
  EXPECT_EQ(qk::requantize(-50, 1.f, 128, 128, 255), 128);  // relu
  EXPECT_EQ(qk::requantize(50, 1.f, 128, 128, 160), 160);
  EXPECT_EQ(qk::requantize(20, 1.f, 128, 128, 160), 148);
  EXPECT_EQ(qk::requantize(0, 1.f, 128, 130, 140), 130);  // z below qmin
  EXPECT_EQ(qk::requantize(0, 1.f, 128, 100, 110), 110);  // z above qmax
  EXPECT_EQ(qk::requantize(12345, 1.f, 0, 7, 7), 7);
  EXPECT_EQ(qk::requantize(-12345, 1.f, 0, 7, 7), 7);
  EXPECT_EQ(qk::requantize_f(-3.f, 10, 9, 200), 9);
  EXPECT_EQ(qk::requantize_f(1000.f, 10, 9, 200), 200);
}

TEST(Requantize, ExtremeMultipliersAndAccumulators) {
  const int32_t kMin = std::numeric_limits<int32_t>::min();
  const int32_t kMax = std::numeric_limits<int32_t>::max();
  for (int32_t zy : {0, 128, 255}) {
    EXPECT_EQ(qk::requantize(kMax, 1e-10f, zy, 0, 255), zy);  // 0.21 -> 0
    EXPECT_EQ(qk::requantize(kMin, 1e-10f, zy, 0, 255), zy);
    EXPECT_EQ(qk::requantize(kMax, 1e10f, zy, 0, 255), 255);
    EXPECT_EQ(qk::requantize(kMin, 1e10f, zy, 0, 255), 0);
    EXPECT_EQ(qk::requantize(1, 1e10f, zy, 0, 255), 255);
    EXPECT_EQ(qk::requantize(-1, 1e10f, zy, 0, 255), 0);
    EXPECT_EQ(qk::requantize(kMax, FLT_MAX, zy, 0, 255), 255);  // product is +inf
    EXPECT_EQ(qk::requantize(kMin, FLT_MAX, zy, 0, 255), 0);    // product is -inf
    EXPECT_EQ(qk::requantize(0, FLT_MAX, zy, 0, 255), zy);
    EXPECT_EQ(qk::requantize(kMax, FLT_MIN, zy, 0, 255), zy);
    EXPECT_EQ(qk::requantize(kMax, std::numeric_limits<float>::denorm_min(), zy, 0, 255), zy);
    EXPECT_EQ(qk::requantize(kMax, 1.f, zy, 0, 255), 255);
    EXPECT_EQ(qk::requantize(kMin, 1.f, zy, 0, 255), 0);
    EXPECT_EQ(qk::requantize(kMin, 1.f, zy, 40, 50), 40);
    EXPECT_EQ(qk::requantize(kMax, 1.f, zy, 40, 50), 50);
  }
  // A value just below 2^31 after the multiply must not wrap in the int conversion.
  EXPECT_EQ(qk::requantize(kMax, 0.99999994f, 0, 0, 255), 255);
  EXPECT_EQ(qk::requantize_f(FLT_MAX, 0, 0, 255), 255);
  EXPECT_EQ(qk::requantize_f(-FLT_MAX, 255, 0, 255), 0);
  EXPECT_EQ(qk::requantize_f(INFINITY, 3, 0, 255), 255);
  EXPECT_EQ(qk::requantize_f(-INFINITY, 3, 0, 255), 0);
}

TEST(Requantize, RequantizeFNanGivesClampedZeroPoint) {
  EXPECT_EQ(qk::requantize_f(NAN, 77, 0, 255), 77);
  EXPECT_EQ(qk::requantize_f(NAN, 77, 100, 255), 100);
  EXPECT_EQ(qk::requantize_f(NAN, 77, 0, 50), 50);
}

TEST(Requantize, MatchesRoundThenClampOracleOnRandomInputs) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> acc_small(-100000, 100000);
  std::uniform_int_distribution<int32_t> acc_any(std::numeric_limits<int32_t>::min(),
                                                 std::numeric_limits<int32_t>::max());
  std::uniform_real_distribution<float> log_m(-30.f, 5.f);
  std::uniform_int_distribution<int32_t> q(0, 255);
  int64_t checked = 0;
  for (int i = 0; i < 400000; ++i) {
    const int32_t acc = (i % 4 == 0) ? acc_any(rng) : acc_small(rng);
    const float m = std::exp2(log_m(rng));
    const int32_t zy = q(rng);
    int32_t qmin = q(rng), qmax = q(rng);
    if (qmin > qmax) std::swap(qmin, qmax);
    if (i % 3 == 0) {
      qmin = 0;
      qmax = 255;
    }
    const int32_t got = qk::requantize(acc, m, zy, qmin, qmax);
    ASSERT_EQ(got, OracleRequantize(acc, m, zy, qmin, qmax))
        << "acc=" << acc << " m=" << m << " zy=" << zy << " [" << qmin << "," << qmax << "]";
    ++checked;
  }
  // exact ties: acc * m == k + 0.5
  for (int32_t k = -300; k <= 300; ++k) {
    const int32_t acc = 2 * k + 1;
    for (int32_t zy : {0, 128, 255}) {
      const int32_t expected_r = (k % 2 == 0) ? k : k + 1;  // even neighbour of k + 0.5
      const int32_t expected = std::min(std::max(expected_r + zy, 0), 255);
      ASSERT_EQ(qk::requantize(acc, 0.5f, zy, 0, 255), expected) << acc;
      ++checked;
    }
  }
  EXPECT_GT(checked, 400000);
}

TEST(Requantize, QuantizeU8) {
  // ties to even on x / s
  EXPECT_EQ(qk::quantize_u8(2.5f, 1.f, 0), 2);
  EXPECT_EQ(qk::quantize_u8(3.5f, 1.f, 0), 4);
  EXPECT_EQ(qk::quantize_u8(-2.5f, 1.f, 128), 126);
  EXPECT_EQ(qk::quantize_u8(0.25f, 0.5f, 10), 10);  // 0.5 -> 0
  EXPECT_EQ(qk::quantize_u8(0.75f, 0.5f, 10), 12);  // 1.5 -> 2
  // saturation
  EXPECT_EQ(qk::quantize_u8(1e30f, 0.1f, 0), 255);
  EXPECT_EQ(qk::quantize_u8(-1e30f, 0.1f, 255), 0);
  EXPECT_EQ(qk::quantize_u8(1.f, FLT_MIN, 0), 255);  // x / s overflows to inf
  EXPECT_EQ(qk::quantize_u8(-1.f, FLT_MIN, 255), 0);
  // NaN -> z, inf saturates
  for (int32_t z : {0, 128, 255}) {
    EXPECT_EQ(qk::quantize_u8(NAN, 0.1f, z), z);
    EXPECT_EQ(qk::quantize_u8(-NAN, 0.1f, z), z);
    EXPECT_EQ(qk::quantize_u8(INFINITY, 0.1f, z), 255);
    EXPECT_EQ(qk::quantize_u8(-INFINITY, 0.1f, z), 0);
    EXPECT_EQ(qk::quantize_u8(0.f, 0.1f, z), z);
    EXPECT_EQ(qk::quantize_u8(-0.f, 0.1f, z), z);
  }
  // round trip q -> real -> q for every code
  for (float s : {1e-3f, 0.0235f, 1.f, 17.f}) {
    for (int32_t z : {0, 128, 255}) {
      for (int32_t v = 0; v < 256; ++v) {
        ASSERT_EQ(qk::quantize_u8(qk::dequantize(v, s, z), s, z), v) << s << " " << z;
      }
    }
  }
}

TEST(Requantize, Dequantize) {
  EXPECT_EQ(qk::dequantize(128, 0.5f, 128), 0.f);
  EXPECT_EQ(qk::dequantize(0, 0.5f, 128), -64.f);
  EXPECT_EQ(qk::dequantize(255, 0.25f, 0), 63.75f);
  EXPECT_EQ(qk::dequantize(0, 2.f, 255), -510.f);
}

TEST(ActivationRangeU8, NoneAndRelu) {
  for (int32_t z : {0, 1, 128, 255}) {
    const qk::QRange none = qk::activation_range_u8(qk::Act::kNone, 0.f, 0.f, 0.1f, z);
    EXPECT_EQ(none.qmin, 0);
    EXPECT_EQ(none.qmax, 255);
    const qk::QRange relu = qk::activation_range_u8(qk::Act::kRelu, 0.f, 0.f, 0.1f, z);
    EXPECT_EQ(relu.qmin, z);
    EXPECT_EQ(relu.qmax, 255);
  }
}

TEST(ActivationRangeU8, Relu6) {
  struct Case {
    float s;
    int32_t z;
    int32_t qmin, qmax;
  };
  // clang-format off
  const Case cases[] = {
      {0.1f, 0, 0, 60},        // 6 / 0.1 = 60
      {0.1f, 128, 128, 188},
      {0.1f, 200, 200, 255},   // saturates
      {6.f / 255.f, 0, 0, 255},
      {1.2f, 10, 10, 15},      // 5
      {4.f, 0, 0, 2},          // 1.5 -> 2 (even)
      {2.4f, 0, 0, 2},         // 6 / 2.4f rounds to exactly 2.5f -> 2 (even)
      {12.f, 7, 7, 7},         // 0.5 -> 0 (even)
      {24.f, 7, 7, 7},         // 0.25 -> 0
      {8.f, 7, 7, 8},          // 0.75 -> 1
      {FLT_MIN, 3, 3, 255},    // 6 / FLT_MIN is huge: no overflow
      {1e-38f, 3, 3, 255},
      {0.05f, 255, 255, 255},
  };
  // clang-format on
  for (const Case& c : cases) {
    const qk::QRange r = qk::activation_range_u8(qk::Act::kRelu6, -5.f, 99.f, c.s, c.z);
    EXPECT_EQ(r.qmin, c.qmin) << c.s << " " << c.z;
    EXPECT_EQ(r.qmax, c.qmax) << c.s << " " << c.z;
    EXPECT_LE(r.qmin, r.qmax);
  }
  // the 6 / 2.4f case really is a tie in fp32
  const volatile float s24 = 2.4f;
  EXPECT_EQ(6.f / s24, 2.5f);
}

TEST(ActivationRangeU8, Clip) {
  struct Case {
    float lo, hi, s;
    int32_t z;
    int32_t qmin, qmax;
  };
  // clang-format off
  const Case cases[] = {
      {-1.f, 1.f, 0.1f, 128, 118, 138},
      {0.f, 6.f, 0.1f, 0, 0, 60},
      {-1000.f, 1000.f, 0.1f, 128, 0, 255},
      {-INFINITY, INFINITY, 0.1f, 128, 0, 255},
      {-INFINITY, 1.f, 0.1f, 128, 0, 138},
      {-1.f, INFINITY, 0.1f, 128, 118, 255},
      {0.25f, 0.75f, 0.5f, 100, 100, 102},    // 0.5 -> 0, 1.5 -> 2
      {-0.25f, -0.75f + 0.5f, 0.5f, 100, 100, 100},  // -0.5 -> -0, -0.5 -> -0
      {-3e38f, 3e38f, 1e-3f, 5, 0, 255},      // bound / s overflows to inf
      {1e30f, 2e30f, 0.1f, 0, 255, 255},      // whole interval above the range
      {-2e30f, -1e30f, 0.1f, 255, 0, 0},      // whole interval below the range
      {NAN, NAN, 0.1f, 128, 0, 255},          // NaN bound: side not narrowed
  };
  // clang-format on
  for (const Case& c : cases) {
    const qk::QRange r = qk::activation_range_u8(qk::Act::kClip, c.lo, c.hi, c.s, c.z);
    EXPECT_EQ(r.qmin, c.qmin) << c.lo << " " << c.hi << " " << c.s << " " << c.z;
    EXPECT_EQ(r.qmax, c.qmax) << c.lo << " " << c.hi << " " << c.s << " " << c.z;
  }
  // Empty interval (lo > hi): ONNX Clip gives hi everywhere -> qmin == qmax == q(hi).
  const qk::QRange e = qk::activation_range_u8(qk::Act::kClip, 2.f, 1.f, 0.1f, 128);
  EXPECT_EQ(e.qmin, 138);
  EXPECT_EQ(e.qmax, 138);
  // Random sweep: the documented formula, and qmin <= qmax always.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> b(-20.f, 20.f);
  std::uniform_real_distribution<float> ls(-8.f, 3.f);
  std::uniform_int_distribution<int32_t> zq(0, 255);
  for (int i = 0; i < 20000; ++i) {
    float lo = b(rng), hi = b(rng);
    if (lo > hi) std::swap(lo, hi);
    const float s = std::exp2(ls(rng));
    const int32_t z = zq(rng);
    const qk::QRange r = qk::activation_range_u8(qk::Act::kClip, lo, hi, s, z);
    const double qlo = std::clamp(std::nearbyint(static_cast<double>(lo / s)) + z, 0.0, 255.0);
    const double qhi = std::clamp(std::nearbyint(static_cast<double>(hi / s)) + z, 0.0, 255.0);
    ASSERT_EQ(r.qmin, static_cast<int32_t>(qlo));
    ASSERT_EQ(r.qmax, static_cast<int32_t>(qhi));
    ASSERT_LE(r.qmin, r.qmax);
  }
}

TEST(ActivationRangeF32, AllKinds) {
  const qk::FRange none = qk::activation_range_f32(qk::Act::kNone, 1.f, 2.f);
  EXPECT_TRUE(std::isinf(none.lo) && none.lo < 0);
  EXPECT_TRUE(std::isinf(none.hi) && none.hi > 0);
  const qk::FRange relu = qk::activation_range_f32(qk::Act::kRelu, 1.f, 2.f);
  EXPECT_EQ(relu.lo, 0.f);
  EXPECT_TRUE(std::isinf(relu.hi) && relu.hi > 0);
  const qk::FRange relu6 = qk::activation_range_f32(qk::Act::kRelu6, 1.f, 2.f);
  EXPECT_EQ(relu6.lo, 0.f);
  EXPECT_EQ(relu6.hi, 6.f);
  const qk::FRange clip = qk::activation_range_f32(qk::Act::kClip, -1.5f, 2.25f);
  EXPECT_EQ(clip.lo, -1.5f);
  EXPECT_EQ(clip.hi, 2.25f);
}
