// FullyConnected and MatMul reference kernels (f32 and qu8) against
// independent computations: double-precision dot products for floats, an
// int64 "sum (x - zx) * w + bias" oracle (exact) and the dequantize -> float ->
// quantize path (within 1 LSB) for the quantized kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernel_test_util.hpp"
#include "quanta/kernels/ref.h"

namespace qk = quanta::kernels;
using namespace quanta::kernel_test;  // RunGuarded, Random*, oracles

namespace {

struct Mkn {
  int m, k, n;
};
const Mkn kShapes[] = {{1, 1, 1},  {1, 640, 128}, {1, 17, 5},  {3, 8, 16},
                       {7, 33, 9}, {4, 1, 3},     {16, 64, 31}};

}  // namespace

TEST(FullyConnectedF32, MatchesDoubleDot) {
  std::mt19937 rng(21);
  for (const Mkn& s : kShapes) {
    const auto x = RandomF(int64_t{s.m} * s.k, rng);
    const auto w = RandomF(int64_t{s.n} * s.k, rng);
    const auto b = RandomF(s.n, rng);
    for (qk::FRange act : {qk::FRange{}, qk::activation_range_f32(qk::Act::kRelu6, 0, 0)}) {
      for (bool with_bias : {true, false}) {
        const auto y = RunGuarded<float>(int64_t{s.m} * s.n, [&](float* out) {
          qk::f32_fully_connected__ref(s.m, s.k, s.n, x.data(), w.data(),
                                       with_bias ? b.data() : nullptr, act, out);
        });
        for (int i = 0; i < s.m; ++i)
          for (int j = 0; j < s.n; ++j) {
            double sum = with_bias ? b[static_cast<size_t>(j)] : 0.0, mag = 1.0;
            for (int k = 0; k < s.k; ++k) {
              const double t =
                  double{x[static_cast<size_t>(i * s.k + k)]} * w[static_cast<size_t>(j * s.k + k)];
              sum += t;
              mag += std::fabs(t);
            }
            ASSERT_NEAR(y[static_cast<size_t>(i * s.n + j)], ClampD(sum, act), 1e-5 * mag);
          }
      }
    }
  }
}

TEST(FullyConnectedQu8, ExactIntegerOracleAndFloatPath) {
  std::mt19937 rng(22);
  const float sx = 0.05f;
  int64_t off_by_one = 0, checked = 0;
  for (const Mkn& s : kShapes) {
    const auto x = RandomU8(int64_t{s.m} * s.k, rng);
    const auto w = RandomI8(int64_t{s.n} * s.k, rng);
    std::vector<int32_t> bias(static_cast<size_t>(s.n));
    std::uniform_int_distribution<int32_t> bd(-30000, 30000);
    for (auto& b : bias) b = bd(rng);
    std::vector<float> sw(static_cast<size_t>(s.n));
    std::uniform_real_distribution<float> swd(0.001f, 0.01f);
    for (auto& v : sw) v = swd(rng);
    for (int32_t zx : {0, 128, 255}) {
      std::vector<int64_t> acc(static_cast<size_t>(s.m) * s.n);
      double max_real = 1e-6;
      for (int i = 0; i < s.m; ++i)
        for (int j = 0; j < s.n; ++j) {
          int64_t a = bias[static_cast<size_t>(j)];
          for (int k = 0; k < s.k; ++k)
            a += (int64_t{x[static_cast<size_t>(i * s.k + k)]} - zx) *
                 w[static_cast<size_t>(j * s.k + k)];
          acc[static_cast<size_t>(i * s.n + j)] = a;
          max_real = std::max(max_real, std::fabs(double(a) * sx * sw[static_cast<size_t>(j)]));
        }
      const float sy = static_cast<float>(max_real / 140.0);
      std::vector<float> mult(static_cast<size_t>(s.n));
      for (int j = 0; j < s.n; ++j)
        mult[static_cast<size_t>(j)] = qk::requant_multiplier(sx, sw[static_cast<size_t>(j)], sy);
      std::vector<int64_t> f64(static_cast<size_t>(s.n));
      qk::fold_bias_qs8(s.n, s.k, w.data(), bias.data(), zx, f64.data());
      const std::vector<int32_t> folded(f64.begin(), f64.end());
      for (int32_t zy : {0, 128, 255}) {
        for (qk::Act a : {qk::Act::kNone, qk::Act::kRelu, qk::Act::kRelu6}) {
          const qk::QRange r = qk::activation_range_u8(a, 0, 0, sy, zy);
          const auto y = RunGuarded<uint8_t>(int64_t{s.m} * s.n, [&](uint8_t* out) {
            qk::qu8_fully_connected_minmax_fp32__ref(s.m, s.k, s.n, x.data(), w.data(),
                                                     folded.data(), mult.data(), zy, r, out);
          });
          for (int i = 0; i < s.m; ++i)
            for (int j = 0; j < s.n; ++j) {
              const size_t idx = static_cast<size_t>(i * s.n + j);
              ASSERT_EQ(
                  y[idx],
                  OracleRound(static_cast<float>(acc[idx]) * mult[static_cast<size_t>(j)], zy, r))
                  << "m=" << s.m << " k=" << s.k << " n=" << s.n << " zx=" << zx << " zy=" << zy;
              const int fq =
                  QuantizeReal(double(acc[idx]) * sx * sw[static_cast<size_t>(j)], sy, zy, r);
              ASSERT_LE(std::abs(int{y[idx]} - fq), 1);
              off_by_one += (y[idx] != fq);
              ++checked;
            }
        }
      }
    }
  }
  EXPECT_LT(off_by_one, checked / 50 + 1);
}

TEST(FullyConnectedQu8, AccumulatorAtInt32Edge) {
  // K = 66000 with x = 255, w = +-127: |acc| = 2,137,410,000 < 2^31, exact.
  const int k = 66000;
  const std::vector<uint8_t> x(static_cast<size_t>(k), 255);
  std::vector<int8_t> w(2 * static_cast<size_t>(k), 127);
  std::fill(w.begin() + k, w.end(), int8_t{-127});
  const int32_t bias[2] = {0, 0};
  const float m[2] = {100.f / 2.1374e9f, 100.f / 2.1374e9f};
  const auto y = RunGuarded<uint8_t>(2, [&](uint8_t* out) {
    qk::qu8_fully_connected_minmax_fp32__ref(1, k, 2, x.data(), w.data(), bias, m, 128,
                                             qk::QRange{}, out);
  });
  const int64_t acc = int64_t{k} * 255 * 127;
  EXPECT_EQ(y[0], OracleRound(static_cast<float>(acc) * m[0], 128, qk::QRange{}));
  EXPECT_EQ(y[1], OracleRound(static_cast<float>(-acc) * m[1], 128, qk::QRange{}));
  EXPECT_EQ(y[0], 228);  // 128 + 100
  EXPECT_EQ(y[1], 28);   // 128 - 100
}

TEST(MatMulF32, MatchesDoubleDot) {
  std::mt19937 rng(23);
  for (const Mkn& s : kShapes) {
    const auto a = RandomF(int64_t{s.m} * s.k, rng);
    const auto b = RandomF(int64_t{s.k} * s.n, rng);
    for (qk::FRange act : {qk::FRange{}, qk::activation_range_f32(qk::Act::kClip, -0.5f, 0.5f)}) {
      const auto y = RunGuarded<float>(int64_t{s.m} * s.n, [&](float* out) {
        qk::f32_matmul__ref(s.m, s.k, s.n, a.data(), b.data(), act, out);
      });
      // column-major traversal of b, different from the kernel's
      for (int j = 0; j < s.n; ++j)
        for (int i = 0; i < s.m; ++i) {
          double sum = 0.0, mag = 1.0;
          for (int k = 0; k < s.k; ++k) {
            const double t =
                double{a[static_cast<size_t>(i * s.k + k)]} * b[static_cast<size_t>(k * s.n + j)];
            sum += t;
            mag += std::fabs(t);
          }
          ASSERT_NEAR(y[static_cast<size_t>(i * s.n + j)], ClampD(sum, act), 1e-5 * mag);
        }
    }
  }
}

TEST(MatMulQu8, ExactIntegerOracleAndFloatPath) {
  std::mt19937 rng(24);
  const float sa = 0.03f, sb = 0.07f;
  int64_t off_by_one = 0, checked = 0;
  for (const Mkn& s : kShapes) {
    const auto a = RandomU8(int64_t{s.m} * s.k, rng);
    const auto b = RandomU8(int64_t{s.k} * s.n, rng);
    for (int32_t za : {0, 128, 255})
      for (int32_t zb : {0, 128, 255}) {
        // b transposed first, then row-by-row dot products
        std::vector<int32_t> bt(static_cast<size_t>(s.k) * s.n);
        for (int k = 0; k < s.k; ++k)
          for (int j = 0; j < s.n; ++j)
            bt[static_cast<size_t>(j * s.k + k)] = b[static_cast<size_t>(k * s.n + j)] - zb;
        std::vector<int64_t> acc(static_cast<size_t>(s.m) * s.n);
        double max_real = 1e-6;
        for (int i = 0; i < s.m; ++i)
          for (int j = 0; j < s.n; ++j) {
            int64_t t = 0;
            for (int k = 0; k < s.k; ++k)
              t += (int64_t{a[static_cast<size_t>(i * s.k + k)]} - za) *
                   bt[static_cast<size_t>(j * s.k + k)];
            acc[static_cast<size_t>(i * s.n + j)] = t;
            max_real = std::max(max_real, std::fabs(double(t) * sa * sb));
          }
        const float sy = static_cast<float>(max_real / 130.0);
        const float mult = qk::requant_multiplier(sa, sb, sy);
        for (int32_t zy : {0, 128, 255}) {
          for (qk::Act act : {qk::Act::kNone, qk::Act::kRelu}) {
            const qk::QRange r = qk::activation_range_u8(act, 0, 0, sy, zy);
            const auto y = RunGuarded<uint8_t>(int64_t{s.m} * s.n, [&](uint8_t* out) {
              qk::qu8_matmul_minmax_fp32__ref(s.m, s.k, s.n, a.data(), za, b.data(), zb, mult, zy,
                                              r, out);
            });
            for (size_t idx = 0; idx < acc.size(); ++idx) {
              ASSERT_EQ(y[idx], OracleRound(static_cast<float>(acc[idx]) * mult, zy, r));
              const int fq = QuantizeReal(double(acc[idx]) * sa * sb, sy, zy, r);
              ASSERT_LE(std::abs(int{y[idx]} - fq), 1);
              off_by_one += (y[idx] != fq);
              ++checked;
            }
          }
        }
      }
  }
  EXPECT_LT(off_by_one, checked / 50 + 1);
}
