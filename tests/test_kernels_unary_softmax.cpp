// Unary ops (float definition, f32 kernel, uint8 LUT), Softmax and LogSoftmax
// (f32 and qu8) against independently written double-precision formulas.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernel_test_util.hpp"
#include "quanta/kernels/ref.h"

namespace qk = quanta::kernels;
using namespace quanta::kernel_test;  // RunGuarded, Random*, oracles

namespace {

// Independent formulas (different but mathematically equal forms).
double OracleUnary(const qk::UnaryParams& p, double x) {
  switch (p.op) {
    case qk::UnaryOp::kRelu:
      return x > 0 ? x : 0.0;
    case qk::UnaryOp::kRelu6:
      return x <= 0 ? 0.0 : (x >= 6 ? 6.0 : x);
    case qk::UnaryOp::kClip:
      return x <= p.lo ? double{p.lo} : (x >= p.hi ? double{p.hi} : x);
    case qk::UnaryOp::kSigmoid:
      return 0.5 * (1.0 + std::tanh(0.5 * x));
    case qk::UnaryOp::kTanh:
      return 1.0 - 2.0 / (std::exp(2.0 * x) + 1.0);
    case qk::UnaryOp::kHardSwish:
      return x <= -3 ? 0.0 : (x >= 3 ? x : x * (x + 3.0) / 6.0);
    case qk::UnaryOp::kLeakyRelu:
      return x >= 0 ? x : double{p.alpha} * x;
    case qk::UnaryOp::kGelu:
      return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
    case qk::UnaryOp::kGeluTanh: {
      const double z = 0.7978845608028654 * (x + 0.044715 * x * x * x);
      return x / (1.0 + std::exp(-2.0 * z));
    }
    case qk::UnaryOp::kHardSigmoid: {
      // clamp(t, 0, 1) == (|t| - |t - 1| + 1) / 2
      const double t = double{p.alpha} * x + double{p.beta};
      return 0.5 * (std::fabs(t) - std::fabs(t - 1.0) + 1.0);
    }
    default:
      // An op added since: AllOps() does not list it until its oracle is here.
      ADD_FAILURE() << "no oracle for UnaryOp " << static_cast<int>(p.op);
      return NAN;
  }
}

std::vector<qk::UnaryParams> AllOps() {
  std::vector<qk::UnaryParams> ops;
  for (qk::UnaryOp op : {qk::UnaryOp::kRelu, qk::UnaryOp::kRelu6, qk::UnaryOp::kClip,
                         qk::UnaryOp::kSigmoid, qk::UnaryOp::kTanh, qk::UnaryOp::kHardSwish,
                         qk::UnaryOp::kLeakyRelu, qk::UnaryOp::kGelu, qk::UnaryOp::kGeluTanh,
                         qk::UnaryOp::kHardSigmoid}) {
    qk::UnaryParams p;
    p.op = op;
    p.alpha = 0.1f;
    p.beta = 0.6f;
    p.lo = -0.5f;
    p.hi = 2.f;
    ops.push_back(p);
  }
  return ops;
}

}  // namespace

TEST(Unary, FloatDefinitionMatchesIndependentFormulas) {
  for (const qk::UnaryParams& p : AllOps()) {
    for (int i = -4000; i <= 4000; ++i) {
      const float x = static_cast<float>(i) * 0.0025f * (i % 7 == 0 ? 4.f : 1.f);
      const double expected = OracleUnary(p, double{x});
      ASSERT_NEAR(qk::unary_f32(p, x), expected, 1e-6 * (1.0 + std::fabs(expected)))
          << "op " << int(p.op) << " x=" << x;
    }
    EXPECT_TRUE(std::isnan(qk::unary_f32(p, NAN))) << int(p.op);
  }
  // Spot values that pin the definitions (GELU exact vs tanh form differ).
  qk::UnaryParams g;
  g.op = qk::UnaryOp::kGelu;
  EXPECT_NEAR(qk::unary_f32(g, 1.f), 0.8413447460685429, 1e-6);
  g.op = qk::UnaryOp::kGeluTanh;
  EXPECT_NEAR(qk::unary_f32(g, 1.f), 0.8411919906082768, 1e-6);
  g.op = qk::UnaryOp::kHardSwish;
  EXPECT_FLOAT_EQ(qk::unary_f32(g, 1.f), 4.f / 6.f);
  g.op = qk::UnaryOp::kSigmoid;
  EXPECT_FLOAT_EQ(qk::unary_f32(g, 0.f), 0.5f);
  EXPECT_EQ(qk::unary_f32(g, -INFINITY), 0.f);
  EXPECT_EQ(qk::unary_f32(g, INFINITY), 1.f);
  g.op = qk::UnaryOp::kClip;
  g.lo = 2.f;
  g.hi = 1.f;  // lo > hi: ONNX min(max(x, lo), hi) == hi
  EXPECT_EQ(qk::unary_f32(g, 0.f), 1.f);
  EXPECT_EQ(qk::unary_f32(g, 5.f), 1.f);
}

TEST(Unary, F32KernelAppliesDefinition) {
  std::mt19937 rng(51);
  auto x = RandomF(1000, rng, -8.f, 8.f);
  x[3] = NAN;
  for (const qk::UnaryParams& p : AllOps()) {
    const auto y =
        RunGuarded<float>(1000, [&](float* o) { qk::f32_unary__ref(p, 1000, x.data(), o); });
    for (size_t i = 0; i < x.size(); ++i) {
      if (i == 3) {
        EXPECT_TRUE(std::isnan(y[i]));
        continue;
      }
      const double e = OracleUnary(p, double{x[i]});
      ASSERT_NEAR(y[i], e, 1e-6 * (1.0 + std::fabs(e)));
    }
  }
}

TEST(Unary, LutWithinOneLsbOfFloatThenQuantize) {
  int64_t exact = 0, total = 0;
  for (const qk::UnaryParams& p : AllOps()) {
    for (float sx : {0.02f, 0.05f, 0.1f})
      for (int32_t zx : {0, 128, 255}) {
        // output parameters from the op's range over the 256 input codes
        double lo = 0.0, hi = 0.0;
        for (int q = 0; q < 256; ++q) {
          const double v = OracleUnary(p, double{sx} * (q - zx));
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
        const float sy = static_cast<float>(std::max(hi - lo, 1e-3) / 255.0);
        const int32_t zy_natural =
            static_cast<int32_t>(std::clamp(std::nearbyint(-lo / sy), 0.0, 255.0));
        for (int32_t zy : {zy_natural, 0, 128, 255}) {
          uint8_t lut[256];
          qk::build_lut_u8(p, sx, zx, sy, zy, lut);
          for (int q = 0; q < 256; ++q) {
            const int expected =
                QuantizeReal(OracleUnary(p, double{sx} * (q - zx)), sy, zy, qk::QRange{});
            ASSERT_LE(std::abs(lut[q] - expected), 1) << "op " << int(p.op) << " q=" << q;
            exact += lut[q] == expected;
            ++total;
          }
        }
      }
  }
  EXPECT_GT(exact, total * 99 / 100);
}

TEST(Unary, LutKernelIndexesTable) {
  std::mt19937 rng(52);
  const auto lut = RandomU8(256, rng);
  const auto x = RandomU8(3001, rng);
  const auto y = RunGuarded<uint8_t>(
      3001, [&](uint8_t* o) { qk::u8_lut__ref(3001, x.data(), lut.data(), o); });
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], lut[x[i]]);
}

TEST(HardSigmoid, DefinitionSpotValuesAndEdges) {
  qk::UnaryParams p;
  p.op = qk::UnaryOp::kHardSigmoid;
  p.alpha = 0.2f;  // the ONNX defaults
  p.beta = 0.5f;
  EXPECT_EQ(qk::unary_f32(p, 0.f), 0.5f);
  EXPECT_EQ(qk::unary_f32(p, 1.f), 0.7f);    // 0.2f + 0.5 rounded once to float
  EXPECT_EQ(qk::unary_f32(p, 2.5f), 1.f);    // the knees: alpha x + beta = 1 and 0
  EXPECT_EQ(qk::unary_f32(p, -2.5f), 0.f);
  EXPECT_EQ(qk::unary_f32(p, 100.f), 1.f);
  EXPECT_EQ(qk::unary_f32(p, -100.f), 0.f);
  EXPECT_EQ(qk::unary_f32(p, INFINITY), 1.f);
  EXPECT_EQ(qk::unary_f32(p, -INFINITY), 0.f);
  EXPECT_TRUE(std::isnan(qk::unary_f32(p, NAN)));
  EXPECT_FALSE(std::signbit(qk::unary_f32(p, -3.f)));  // +0, not -0
  // A negative slope flips it; beta outside [0, 1] saturates at x = 0.
  p.alpha = -0.5f;
  p.beta = 0.25f;
  EXPECT_EQ(qk::unary_f32(p, -1.f), 0.75f);
  EXPECT_EQ(qk::unary_f32(p, 1.f), 0.f);
  EXPECT_EQ(qk::unary_f32(p, -INFINITY), 1.f);
  p.beta = 3.f;
  EXPECT_EQ(qk::unary_f32(p, 0.f), 1.f);
  // alpha = 0: clamp(beta) everywhere, infinities included (no 0 * inf = NaN).
  p.alpha = 0.f;
  p.beta = 0.3f;
  for (float x : {-INFINITY, -1e30f, 0.f, 7.f, INFINITY}) EXPECT_EQ(qk::unary_f32(p, x), 0.3f);
  p.beta = -2.f;
  EXPECT_EQ(qk::unary_f32(p, INFINITY), 0.f);
}

TEST(HardSigmoid, F32KernelAndLutAgainstFormula) {
  std::mt19937 rng(57);
  const auto x = RandomF(2000, rng, -12.f, 12.f);
  struct AB {
    float alpha, beta;
  };
  int64_t exact = 0, total = 0;
  for (AB ab : {AB{0.2f, 0.5f}, AB{1.f / 6.f, 0.5f}, AB{0.5f, 0.f}, AB{-0.3f, 0.9f},
                AB{2.f, -1.f}}) {
    qk::UnaryParams p;
    p.op = qk::UnaryOp::kHardSigmoid;
    p.alpha = ab.alpha;
    p.beta = ab.beta;
    const auto y =
        RunGuarded<float>(2000, [&](float* o) { qk::f32_unary__ref(p, 2000, x.data(), o); });
    for (size_t i = 0; i < x.size(); ++i) {
      const double e = OracleUnary(p, double{x[i]});
      ASSERT_NEAR(y[i], e, 6e-8) << "alpha " << ab.alpha << " x=" << x[i];
      ASSERT_GE(y[i], 0.f);
      ASSERT_LE(y[i], 1.f);
    }
    // The LUT over all 256 codes: the output is a calibrated [0, 1] range.
    for (float sx : {0.01f, 0.05f, 0.2f})
      for (int32_t zx : {0, 128, 255})
        for (int32_t zy : {0, 3}) {
          const float sy = 1.f / 255.f;
          uint8_t lut[256];
          qk::build_lut_u8(p, sx, zx, sy, zy, lut);
          for (int q = 0; q < 256; ++q) {
            const double real = OracleUnary(p, double{sx} * (q - zx));
            const int expected = QuantizeReal(real, sy, zy, qk::QRange{});
            ASSERT_LE(std::abs(lut[q] - expected), 1) << "q=" << q;
            // exact against the definition evaluated here on the dequantized code
            ASSERT_EQ(lut[q], OracleRound(qk::unary_f32(p, qk::dequantize(q, sx, zx)) / sy, zy,
                                          qk::QRange{}));
            exact += lut[q] == expected;
            ++total;
          }
          const auto xq = RandomU8(999, rng);
          const auto yq = RunGuarded<uint8_t>(
              999, [&](uint8_t* o) { qk::u8_lut__ref(999, xq.data(), lut, o); });
          for (size_t i = 0; i < xq.size(); ++i) ASSERT_EQ(yq[i], lut[xq[i]]);
        }
  }
  EXPECT_GT(exact, total * 99 / 100);
}

namespace {

struct SoftmaxShape {
  int64_t outer, axis, inner;
};
const SoftmaxShape kSoftmaxShapes[] = {{1, 10, 1}, {3, 7, 4}, {2, 1, 5}, {1, 1000, 1}, {4, 16, 3}};

size_t SmIdx(const SoftmaxShape& s, int64_t o, int64_t a, int64_t i) {
  return static_cast<size_t>((o * s.axis + a) * s.inner + i);
}

}  // namespace

TEST(Softmax, F32MatchesDoubleAndSumsToOne) {
  std::mt19937 rng(53);
  for (const SoftmaxShape& s : kSoftmaxShapes) {
    for (float beta : {1.f, 0.5f, 2.f}) {
      for (float range : {3.f, 100.f}) {
        const int64_t n = s.outer * s.axis * s.inner;
        const auto x = RandomF(n, rng, -range, range);
        const auto y = RunGuarded<float>(n, [&](float* o) {
          qk::f32_softmax__ref(s.outer, s.axis, s.inner, beta, x.data(), o);
        });
        for (int64_t o = 0; o < s.outer; ++o)
          for (int64_t i = 0; i < s.inner; ++i) {
            double mx = -INFINITY;
            for (int64_t a = 0; a < s.axis; ++a) mx = std::max(mx, double{x[SmIdx(s, o, a, i)]});
            double sum = 0.0;
            for (int64_t a = 0; a < s.axis; ++a)
              sum += std::exp(double{beta} * (x[SmIdx(s, o, a, i)] - mx));
            double ysum = 0.0;
            for (int64_t a = 0; a < s.axis; ++a) {
              const double e = std::exp(double{beta} * (x[SmIdx(s, o, a, i)] - mx)) / sum;
              const float got = y[SmIdx(s, o, a, i)];
              ASSERT_NEAR(got, e, 1e-6 + 1e-5 * e);
              ASSERT_GE(got, 0.f);
              ysum += got;
            }
            ASSERT_NEAR(ysum, 1.0, 1e-5);
          }
      }
    }
  }
}

TEST(Softmax, ExpTable) {
  for (float beta : {1.f, 0.7f})
    for (float sx : {0.01f, 0.1f, 0.5f}) {
      float table[256];
      qk::build_softmax_exp_table(beta, sx, table);
      EXPECT_EQ(table[0], 1.f);
      for (int d = 0; d < 256; ++d) {
        const double arg = -double{beta} * sx * d;
        const double e = std::exp(arg);
        // the fp32 argument carries a relative error of ~1 ulp, i.e. |arg| * 6e-8 absolute
        ASSERT_NEAR(table[d], e, 2e-7 * (1.0 + std::fabs(arg)) * e + 1e-38) << d;
      }
    }
}

TEST(Softmax, Qu8ExactAndWithinOneLsbOfFloat) {
  std::mt19937 rng(54);
  int64_t off = 0, total = 0;
  for (const SoftmaxShape& s : kSoftmaxShapes) {
    const int64_t n = s.outer * s.axis * s.inner;
    const auto x = RandomU8(n, rng);
    for (float sx : {0.02f, 0.1f})
      for (float beta : {1.f, 0.5f}) {
        float table[256];
        qk::build_softmax_exp_table(beta, sx, table);
        struct OutQ {
          float sy;
          int32_t zy;
        };
        for (OutQ oq : {OutQ{1.f / 256.f, 0}, OutQ{1.f / 255.f, 0}, OutQ{1.f / 128.f, 128}}) {
          const auto y = RunGuarded<uint8_t>(n, [&](uint8_t* o) {
            qk::qu8_softmax__ref(s.outer, s.axis, s.inner, x.data(), table, oq.sy, oq.zy, o);
          });
          for (int64_t o = 0; o < s.outer; ++o)
            for (int64_t i = 0; i < s.inner; ++i) {
              int mx = 0;
              for (int64_t a = 0; a < s.axis; ++a) mx = std::max<int>(mx, x[SmIdx(s, o, a, i)]);
              // exact fp32 oracle: same table entries, index-order float sum
              float fsum = 0.f;
              for (int64_t a = 0; a < s.axis; ++a)
                fsum += std::exp(-beta * sx * static_cast<float>(mx - x[SmIdx(s, o, a, i)]));
              // float path: real softmax of the dequantized inputs
              double dsum = 0.0;
              for (int64_t a = 0; a < s.axis; ++a)
                dsum += std::exp(double{beta} * sx * (x[SmIdx(s, o, a, i)] - mx));
              double real_sum = 0.0;
              for (int64_t a = 0; a < s.axis; ++a) {
                const uint8_t got = y[SmIdx(s, o, a, i)];
                const float e =
                    std::exp(-beta * sx * static_cast<float>(mx - x[SmIdx(s, o, a, i)]));
                ASSERT_EQ(got, OracleRound((e / fsum) / oq.sy, oq.zy, qk::QRange{}));
                const double real =
                    std::exp(double{beta} * sx * (x[SmIdx(s, o, a, i)] - mx)) / dsum;
                const int fq = QuantizeReal(real, oq.sy, oq.zy, qk::QRange{});
                ASSERT_LE(std::abs(got - fq), 1);
                off += got != fq;
                ++total;
                real_sum += oq.sy * (got - oq.zy);
              }
              if (oq.zy == 0 && s.axis > 1) {
                ASSERT_NEAR(real_sum, 1.0, 0.5 * oq.sy * double(s.axis) + 1e-6);
              }
            }
        }
      }
  }
  EXPECT_LT(off, total / 50 + 1);
}

// ---------------------------------------------------------------- LogSoftmax

namespace {

// Double-precision log-softmax of one line of x (shape s, line (o, i)).
std::vector<double> LogSoftmaxLine(const SoftmaxShape& s, const std::vector<float>& x, int64_t o,
                                   int64_t i) {
  double mx = -INFINITY;
  for (int64_t a = 0; a < s.axis; ++a) mx = std::max(mx, double{x[SmIdx(s, o, a, i)]});
  double sum = 0.0;
  for (int64_t a = 0; a < s.axis; ++a) sum += std::exp(double{x[SmIdx(s, o, a, i)]} - mx);
  std::vector<double> out;
  for (int64_t a = 0; a < s.axis; ++a) {
    out.push_back(double{x[SmIdx(s, o, a, i)]} - mx - std::log(sum));
  }
  return out;
}

}  // namespace

TEST(LogSoftmax, F32MatchesDoubleIncludingLargeMagnitudes) {
  std::mt19937 rng(55);
  for (const SoftmaxShape& s : kSoftmaxShapes) {
    for (float range : {3.f, 100.f, 1e4f, 1e30f, 1e37f}) {
      const int64_t n = s.outer * s.axis * s.inner;
      const auto x = RandomF(n, rng, -range, range);
      const auto y = RunGuarded<float>(
          n, [&](float* o) { qk::f32_log_softmax__ref(s.outer, s.axis, s.inner, x.data(), o); });
      for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t i = 0; i < s.inner; ++i) {
          const std::vector<double> want = LogSoftmaxLine(s, x, o, i);
          double prob_sum = 0.0;
          for (int64_t a = 0; a < s.axis; ++a) {
            const float got = y[SmIdx(s, o, a, i)];
            const double e = want[static_cast<size_t>(a)];
            ASSERT_TRUE(std::isfinite(got)) << "x=" << x[SmIdx(s, o, a, i)];
            ASSERT_LE(got, 0.f);
            // x - max is rounded once (relative 2^-24); log(sum) carries the
            // fp32 sum's error (<= axis * 2^-24 relative, i.e. absolute in log)
            ASSERT_NEAR(got, e, 1.2e-7 * std::fabs(e) + 1e-6 + 6e-8 * double(s.axis))
                << "range " << range << " a=" << a;
            prob_sum += std::exp(double{got});
          }
          ASSERT_NEAR(prob_sum, 1.0, 1e-5);
        }
    }
  }
}

TEST(LogSoftmax, F32NoInfinityWhereSoftmaxUnderflows) {
  // exp(-2e4) underflows to 0 in any precision, so log(softmax(x)) would be
  // -inf; log-softmax of finite inputs stays finite and exact here.
  const std::vector<float> x = {-1e4f, 0.f, 1e4f, 1e4f - 1.f, -3e38f, 3e38f};
  // Lines of 3 along the last axis: {-1e4, 0, 1e4}, {1e4 - 1, -3e38, 3e38}.
  const auto y =
      RunGuarded<float>(6, [&](float* o) { qk::f32_log_softmax__ref(2, 3, 1, x.data(), o); });
  EXPECT_EQ(y[0], -2e4f);
  EXPECT_EQ(y[1], -1e4f);
  EXPECT_EQ(y[2], 0.f);
  EXPECT_EQ(y[5], 0.f);
  EXPECT_EQ(y[3], 1e4f - 1.f - 3e38f);  // == -3e38f: finite
  // -3e38 - 3e38 = -6e38 is beyond FLT_MAX: -inf is the correctly rounded
  // result of the exact value (the only legitimate infinity for finite input).
  EXPECT_EQ(y[4], -INFINITY);
  // Single element: log(1) = 0; a line of equal values: -log(n).
  const std::vector<float> same(7, 123.25f);
  const auto ys =
      RunGuarded<float>(7, [&](float* o) { qk::f32_log_softmax__ref(1, 7, 1, same.data(), o); });
  for (float v : ys) EXPECT_NEAR(v, -std::log(7.0), 1e-6);
  float one = -55.f, out = 1.f;
  qk::f32_log_softmax__ref(1, 1, 1, &one, &out);
  EXPECT_EQ(out, 0.f);
}

TEST(LogSoftmax, F32SpecialValuesAndInPlace) {
  // [outer 3, axis 3]: a -inf element, a NaN line, a finite line.
  std::vector<float> x = {-INFINITY, 1.f, 2.f, 1.f, NAN, 3.f, 0.5f, -0.5f, 0.25f};
  const auto y =
      RunGuarded<float>(9, [&](float* o) { qk::f32_log_softmax__ref(3, 3, 1, x.data(), o); });
  EXPECT_EQ(y[0], -INFINITY);  // log(0) of an exact zero probability
  EXPECT_NEAR(y[1], 1.0 - 2.0 - std::log(std::exp(-1.0) + 1.0), 1e-6);
  EXPECT_NEAR(y[2], -std::log(std::exp(-1.0) + 1.0), 1e-6);
  for (int a = 3; a < 6; ++a) EXPECT_TRUE(std::isnan(y[a])) << a;  // NaN poisons its line only
  const SoftmaxShape s{3, 3, 1};
  const std::vector<double> want = LogSoftmaxLine(s, x, 2, 0);
  for (int a = 0; a < 3; ++a) EXPECT_NEAR(y[6 + a], want[a], 1e-6);
  // In place (x == y) gives the same bytes.
  std::vector<float> inplace = x;
  qk::f32_log_softmax__ref(3, 3, 1, inplace.data(), inplace.data());
  for (int a = 0; a < 9; ++a) EXPECT_TRUE(SameBits(inplace[a], y[a])) << a;  // NaNs included
}

TEST(LogSoftmax, Qu8ExactAndWithinOneLsbOfDequantizeReferenceQuantize) {
  std::mt19937 rng(56);
  int64_t off = 0, total = 0;
  for (const SoftmaxShape& s : kSoftmaxShapes) {
    const int64_t n = s.outer * s.axis * s.inner;
    for (int pattern = 0; pattern < 2; ++pattern) {
      auto x = RandomU8(n, rng);
      if (pattern == 1) {  // narrow lines: values near each other
        for (auto& v : x) v = static_cast<uint8_t>(100 + v % 9);
      }
      for (float sx : {0.02f, 0.1f, 0.5f})
        for (int32_t zx : {0, 128, 255}) {  // cancels in x - max: only the reference sees it
          float table[256];
          qk::build_softmax_exp_table(1.f, sx, table);
          struct OutQ {
            float sy;
            int32_t zy;
          };
          // The calibrated range [min, 0]: zero point 255. Also a range that
          // clips the tail (saturates at 0) and one with headroom above 0.
          const float full = (sx * 255.f + std::log(float(s.axis))) / 255.f;
          for (OutQ oq : {OutQ{full, 255}, OutQ{0.05f, 255}, OutQ{0.1f, 200}}) {
            const auto y = RunGuarded<uint8_t>(n, [&](uint8_t* o) {
              qk::qu8_log_softmax__ref(s.outer, s.axis, s.inner, x.data(), table, sx, oq.sy,
                                       oq.zy, o);
            });
            for (int64_t o = 0; o < s.outer; ++o)
              for (int64_t i = 0; i < s.inner; ++i) {
                int mx = 0;
                for (int64_t a = 0; a < s.axis; ++a) mx = std::max<int>(mx, x[SmIdx(s, o, a, i)]);
                // exact fp32 oracle of the documented arithmetic
                float fsum = 0.f;
                for (int64_t a = 0; a < s.axis; ++a)
                  fsum += std::exp(-sx * static_cast<float>(mx - x[SmIdx(s, o, a, i)]));
                const float l = static_cast<float>(std::log(double{fsum}));
                // float path: dequantize (with zx) -> double log-softmax -> quantize
                double dmx = -INFINITY;
                for (int64_t a = 0; a < s.axis; ++a)
                  dmx = std::max(dmx, double{sx} * (x[SmIdx(s, o, a, i)] - zx));
                double dsum = 0.0;
                for (int64_t a = 0; a < s.axis; ++a)
                  dsum += std::exp(double{sx} * (x[SmIdx(s, o, a, i)] - zx) - dmx);
                for (int64_t a = 0; a < s.axis; ++a) {
                  const uint8_t got = y[SmIdx(s, o, a, i)];
                  const float shifted = -(sx * static_cast<float>(mx - x[SmIdx(s, o, a, i)]));
                  ASSERT_EQ(got, OracleRound((shifted - l) / oq.sy, oq.zy, qk::QRange{}));
                  const double real =
                      double{sx} * (x[SmIdx(s, o, a, i)] - zx) - dmx - std::log(dsum);
                  const int fq = QuantizeReal(real, oq.sy, oq.zy, qk::QRange{});
                  ASSERT_LE(std::abs(got - fq), 1) << "real " << real;
                  off += got != fq;
                  ++total;
                  ASSERT_LE(got, oq.zy) << "log-probabilities are <= 0";
                }
              }
          }
        }
    }
  }
  EXPECT_LT(off, total / 50 + 1);
}
