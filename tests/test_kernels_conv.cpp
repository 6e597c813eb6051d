// Conv2D reference kernels (f32 and qu8) against independent computations:
// an NCHW loop nest in double for floats, an int64 "sum (x - zx) * w + bias"
// oracle for the quantized kernel (exact), and dequantize -> float conv ->
// quantize (within 1 LSB). Also window_out_dim and fold_bias_qs8.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.hpp"
#include "quanta/kernels/ref.h"

namespace qk = quanta::kernels;
using namespace quanta::kernel_test;  // RunGuarded, Random*, oracles

namespace {

struct ConvCase {
  const char* name;
  int n, h, w, cin, cout, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups;
};

// clang-format off
const ConvCase kCases[] = {
    // name              n  h  w cin cout kh kw sh sw dh dw pt pl pb pr g
    {"3x3_s1_pad1",      1, 7, 6, 5, 7,   3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"3x3_s2_asym_pad",  1, 9, 8, 3, 4,   3, 3, 2, 2, 1, 1, 0, 1, 2, 0, 1},
    {"3x3_dil2",         1, 9, 9, 4, 3,   3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1},
    {"groups2",          1, 6, 5, 6, 4,   3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},
    {"groups3_s2",       1, 7, 7, 6, 9,   3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3},
    {"depthwise",        1, 8, 7, 8, 8,   3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8},
    {"depthwise_mult2",  1, 9, 8, 4, 8,   3, 3, 2, 2, 1, 1, 1, 1, 0, 1, 4},
    {"depthwise_5x5_d2", 1, 11, 10, 3, 3, 5, 5, 1, 1, 2, 2, 4, 3, 4, 5, 3},
    {"1x1",              1, 5, 4, 9, 6,   1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"1x1_s2",           1, 7, 6, 4, 5,   1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1},
    {"batch2_2x3_mixed", 2, 6, 7, 3, 5,   2, 3, 2, 1, 1, 2, 0, 2, 1, 1, 1},
    {"5x5_big_asym_pad", 1, 6, 6, 2, 3,   5, 5, 1, 1, 1, 1, 2, 0, 4, 1, 1},
    {"kernel_eq_input",  1, 3, 3, 4, 2,   3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1},
};
// clang-format on

qk::Conv2DParams MakeParams(const ConvCase& c) {
  qk::Conv2DParams p;
  SetWindow(c, &p);
  p.cin = c.cin;
  p.cout = c.cout;
  p.groups = c.groups;
  return p;
}

// Independent convolution: transposes to NCHW / OIHW, loops channel-outer and
// calls `tap(n, o, oy, ox, xv, wv)` for every in-bounds tap. Padded taps are
// never visited (they contribute nothing once zx is subtracted).
template <typename X, typename W, typename Tap>
void NchwConvOracle(const qk::Conv2DParams& p, const std::vector<X>& x_nhwc,
                    const std::vector<W>& w_ohwi, Tap&& tap) {
  const int cin_g = p.cin / p.groups, cout_g = p.cout / p.groups;
  std::vector<X> xn(x_nhwc.size());
  for (int n = 0; n < p.n; ++n)
    for (int y = 0; y < p.h; ++y)
      for (int x = 0; x < p.w; ++x)
        for (int c = 0; c < p.cin; ++c)
          xn[((static_cast<size_t>(n) * p.cin + c) * p.h + y) * p.w + x] =
              x_nhwc[((static_cast<size_t>(n) * p.h + y) * p.w + x) * p.cin + c];
  std::vector<W> wn(w_ohwi.size());
  for (int o = 0; o < p.cout; ++o)
    for (int ky = 0; ky < p.kh; ++ky)
      for (int kx = 0; kx < p.kw; ++kx)
        for (int i = 0; i < cin_g; ++i)
          wn[((static_cast<size_t>(o) * cin_g + i) * p.kh + ky) * p.kw + kx] =
              w_ohwi[((static_cast<size_t>(o) * p.kh + ky) * p.kw + kx) * cin_g + i];
  for (int n = 0; n < p.n; ++n)
    for (int o = 0; o < p.cout; ++o) {
      const int g = o / cout_g;
      for (int i = 0; i < cin_g; ++i) {
        const int c = g * cin_g + i;
        for (int ky = 0; ky < p.kh; ++ky)
          for (int kx = 0; kx < p.kw; ++kx) {
            const W wv = wn[((static_cast<size_t>(o) * cin_g + i) * p.kh + ky) * p.kw + kx];
            for (int oy = 0; oy < p.oh; ++oy)
              for (int ox = 0; ox < p.ow; ++ox) {
                const int iy = oy * p.stride_h + ky * p.dil_h - p.pad_top;
                const int ix = ox * p.stride_w + kx * p.dil_w - p.pad_left;
                if (iy < 0 || ix < 0 || iy >= p.h || ix >= p.w) continue;
                tap(n, o, oy, ox, xn[((static_cast<size_t>(n) * p.cin + c) * p.h + iy) * p.w + ix],
                    wv);
              }
          }
      }
    }
}

size_t OutIndex(const qk::Conv2DParams& p, int n, int o, int oy, int ox) {
  return ((static_cast<size_t>(n) * p.oh + oy) * p.ow + ox) * p.cout + o;
}

}  // namespace

TEST(WindowOutDim, MatchesCountOfFittingPositions) {
  for (int64_t in = 1; in <= 12; ++in)
    for (int64_t k = 1; k <= 5; ++k)
      for (int64_t s = 1; s <= 3; ++s)
        for (int64_t d = 1; d <= 3; ++d)
          for (int64_t pb = 0; pb <= 3; ++pb)
            for (int64_t pe = 0; pe <= 3; ++pe) {
              int64_t count = 0;  // positions o whose last tap is inside the padded input
              for (int64_t o = 0; o < 100; ++o) {
                if (o * s + d * (k - 1) <= in + pb + pe - 1) ++count;
              }
              const int64_t got = qk::window_out_dim(in, k, s, d, pb, pe);
              if (count > 0) {
                ASSERT_EQ(got, count) << in << " " << k << " " << s << " " << d;
              } else {
                ASSERT_LE(got, 0) << in << " " << k << " " << s << " " << d;
              }
            }
  EXPECT_EQ(qk::window_out_dim(224, 7, 2, 1, 3, 3), 112);
  EXPECT_LE(qk::window_out_dim(2, 5, 1, 1, 0, 0), 0);
  EXPECT_LE(qk::window_out_dim(1, 3, 2, 3, 0, 0), 0);  // negative numerator: floor, not truncation
}

TEST(FoldBias, MatchesNaiveSum) {
  std::mt19937 rng(3);
  const int rows = 5;
  const int64_t row_len = 37;
  const auto w = RandomI8(rows * row_len, rng);
  const std::vector<int32_t> bias = {100, -7, 0, 123456, -2000000};
  for (int32_t zx : {0, 128, 255}) {
    std::vector<int64_t> out(rows), out_nb(rows);
    qk::fold_bias_qs8(rows, row_len, w.data(), bias.data(), zx, out.data());
    qk::fold_bias_qs8(rows, row_len, w.data(), nullptr, zx, out_nb.data());
    for (int c = 0; c < rows; ++c) {
      int64_t expected = bias[static_cast<size_t>(c)];
      for (int64_t k = 0; k < row_len; ++k)
        expected -= int64_t{zx} * w[static_cast<size_t>(c * row_len + k)];
      EXPECT_EQ(out[static_cast<size_t>(c)], expected);
      EXPECT_EQ(out_nb[static_cast<size_t>(c)], expected - bias[static_cast<size_t>(c)]);
    }
  }
  // values beyond int32 are returned exactly (the caller checks the range)
  const std::vector<int8_t> big(100000, -127);
  int64_t out = 0;
  const int32_t b = std::numeric_limits<int32_t>::max();
  qk::fold_bias_qs8(1, 100000, big.data(), &b, 255, &out);
  EXPECT_EQ(out, int64_t{b} + int64_t{255} * 127 * 100000);
}

class ConvTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvTest, F32MatchesNchwOracle) {
  const ConvCase& c = GetParam();
  const qk::Conv2DParams p = MakeParams(c);
  ASSERT_GT(p.oh, 0);
  ASSERT_GT(p.ow, 0);
  std::mt19937 rng(11);
  const auto x = RandomF(int64_t{p.n} * p.h * p.w * p.cin, rng);
  const auto w = RandomF(int64_t{p.cout} * p.kh * p.kw * (p.cin / p.groups), rng);
  const auto bias = RandomF(p.cout, rng);
  const size_t ny = static_cast<size_t>(p.n) * p.oh * p.ow * p.cout;
  std::vector<double> sum(ny, 0.0), mag(ny, 0.0);
  NchwConvOracle(p, x, w, [&](int n, int o, int oy, int ox, float xv, float wv) {
    sum[OutIndex(p, n, o, oy, ox)] += double{xv} * wv;
    mag[OutIndex(p, n, o, oy, ox)] += std::fabs(double{xv} * wv);
  });
  const qk::FRange acts[] = {qk::FRange{}, qk::activation_range_f32(qk::Act::kRelu, 0, 0),
                             qk::activation_range_f32(qk::Act::kClip, -0.3f, 0.4f)};
  for (const qk::FRange& act : acts) {
    for (bool with_bias : {true, false}) {
      const auto y = RunGuarded<float>(static_cast<int64_t>(ny), [&](float* out) {
        qk::f32_conv2d__ref(p, x.data(), w.data(), with_bias ? bias.data() : nullptr, act, out);
      });
      for (int n = 0; n < p.n; ++n)
        for (int oy = 0; oy < p.oh; ++oy)
          for (int ox = 0; ox < p.ow; ++ox)
            for (int o = 0; o < p.cout; ++o) {
              const size_t i = OutIndex(p, n, o, oy, ox);
              const double b = with_bias ? bias[static_cast<size_t>(o)] : 0.0;
              const double expected = ClampD(sum[i] + b, act);
              ASSERT_NEAR(y[i], expected, 1e-5 * (mag[i] + 1.0)) << c.name << " at " << i;
            }
    }
  }
}

TEST_P(ConvTest, Qu8ExactIntegerOracleAndFloatPath) {
  const ConvCase& c = GetParam();
  const qk::Conv2DParams p = MakeParams(c);
  ASSERT_GT(p.oh, 0);
  ASSERT_GT(p.ow, 0);
  std::mt19937 rng(12);
  const int cin_g = p.cin / p.groups;
  const int64_t row_len = int64_t{p.kh} * p.kw * cin_g;
  const auto x = RandomU8(int64_t{p.n} * p.h * p.w * p.cin, rng);
  const auto w = RandomI8(p.cout * row_len, rng);
  std::vector<int32_t> bias(static_cast<size_t>(p.cout));
  std::uniform_int_distribution<int32_t> bd(-20000, 20000);
  for (auto& b : bias) b = bd(rng);
  const size_t ny = static_cast<size_t>(p.n) * p.oh * p.ow * p.cout;
  const float sx = 0.02f;
  const qk::Act acts[] = {qk::Act::kNone, qk::Act::kRelu, qk::Act::kRelu6, qk::Act::kClip};
  int64_t mismatches_1lsb = 0, checked = 0;
  for (bool per_channel : {true, false}) {
    std::vector<float> sw(static_cast<size_t>(p.cout));
    std::uniform_real_distribution<float> swd(0.002f, 0.02f);
    for (auto& s : sw) s = per_channel ? swd(rng) : 0.0075f;
    for (int32_t zx : {0, 128, 255}) {
      // exact integer accumulators: sum over in-bounds taps of (x - zx) * w, + bias
      std::vector<int64_t> acc(ny, 0);
      NchwConvOracle(p, x, w, [&](int n, int o, int oy, int ox, uint8_t xv, int8_t wv) {
        acc[OutIndex(p, n, o, oy, ox)] += (int64_t{xv} - zx) * wv;
      });
      double max_real = 0.0;
      for (size_t i = 0; i < ny; ++i) {
        const size_t o = i % static_cast<size_t>(p.cout);
        acc[i] += bias[o];
        ASSERT_LE(std::llabs(acc[i]), std::numeric_limits<int32_t>::max());
        max_real = std::max(max_real, std::fabs(double(acc[i]) * sx * sw[o]));
      }
      // output scale so that the outputs cover the range (and some saturate)
      const float sy = static_cast<float>(max_real / 150.0);
      std::vector<float> m(static_cast<size_t>(p.cout));
      for (int o = 0; o < p.cout; ++o)
        m[static_cast<size_t>(o)] = qk::requant_multiplier(sx, sw[static_cast<size_t>(o)], sy);
      std::vector<int64_t> folded64(static_cast<size_t>(p.cout));
      qk::fold_bias_qs8(p.cout, row_len, w.data(), bias.data(), zx, folded64.data());
      std::vector<int32_t> folded(folded64.begin(), folded64.end());
      for (int32_t zy : {0, 128, 255}) {
        for (qk::Act a : acts) {
          const qk::QRange r = qk::activation_range_u8(a, -0.5f * sy * 40, sy * 50, sy, zy);
          const auto y = RunGuarded<uint8_t>(static_cast<int64_t>(ny), [&](uint8_t* out) {
            qk::qu8_conv2d_minmax_fp32__ref(p, x.data(), zx, w.data(), folded.data(), m.data(), zy,
                                            r, out);
          });
          for (size_t i = 0; i < ny; ++i) {
            const size_t o = i % static_cast<size_t>(p.cout);
            const float f = static_cast<float>(acc[i]) * m[o];
            ASSERT_EQ(y[i], OracleRound(f, zy, r))
                << c.name << " i=" << i << " zx=" << zx << " zy=" << zy << " acc=" << acc[i];
            const double real = double(acc[i]) * sx * sw[o];
            const int fq = QuantizeReal(real, sy, zy, r);
            ASSERT_LE(std::abs(int{y[i]} - fq), 1) << c.name << " i=" << i;
            mismatches_1lsb += (y[i] != fq);
            ++checked;
          }
        }
      }
    }
  }
  // off-by-one against the float path only at near-ties
  EXPECT_LT(mismatches_1lsb, checked / 50 + 1);
}

INSTANTIATE_TEST_SUITE_P(Cases, ConvTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<ConvCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(ConvQu8, NullBiasWithZeroZxIsPlainSum) {
  // 1x1 conv, zx = 0, no bias: y = requantize(sum x * w)
  std::mt19937 rng(5);
  qk::Conv2DParams p;
  p.h = 3;
  p.w = 3;
  p.cin = 4;
  p.cout = 2;
  p.oh = 3;
  p.ow = 3;
  const auto x = RandomU8(36, rng);
  const auto w = RandomI8(8, rng);
  const float m[2] = {0.001f, 0.003f};
  const auto y = RunGuarded<uint8_t>(18, [&](uint8_t* out) {
    qk::qu8_conv2d_minmax_fp32__ref(p, x.data(), 0, w.data(), nullptr, m, 7, qk::QRange{}, out);
  });
  for (int pix = 0; pix < 9; ++pix)
    for (int o = 0; o < 2; ++o) {
      int32_t acc = 0;
      for (int i = 0; i < 4; ++i)
        acc += x[static_cast<size_t>(pix * 4 + i)] * w[static_cast<size_t>(o * 4 + i)];
      EXPECT_EQ(y[static_cast<size_t>(pix * 2 + o)],
                OracleRound(static_cast<float>(acc) * m[o], 7, qk::QRange{}));
    }
}

TEST(ConvQu8, SaturatedAccumulatorNearInt32Limit) {
  // K large, x = 255, w = 127: acc close to INT32_MAX is still exact.
  qk::Conv2DParams p;
  p.h = 1;
  p.w = 1;
  p.cin = 66000;
  p.cout = 2;
  p.oh = 1;
  p.ow = 1;
  const std::vector<uint8_t> x(66000, 255);
  std::vector<int8_t> w(2 * 66000, 127);
  for (int i = 0; i < 66000; ++i) w[static_cast<size_t>(66000 + i)] = -127;
  const float m[2] = {1e-7f, 1e-7f};
  const int32_t bias0[2] = {0, 0};
  const auto y = RunGuarded<uint8_t>(2, [&](uint8_t* out) {
    qk::qu8_conv2d_minmax_fp32__ref(p, x.data(), 0, w.data(), bias0, m, 128, qk::QRange{}, out);
  });
  const int64_t acc = int64_t{66000} * 255 * 127;
  ASSERT_LE(acc, std::numeric_limits<int32_t>::max());
  EXPECT_EQ(y[0], OracleRound(static_cast<float>(acc) * 1e-7f, 128, qk::QRange{}));
  EXPECT_EQ(y[1], OracleRound(static_cast<float>(-acc) * 1e-7f, 128, qk::QRange{}));
  EXPECT_NE(y[0], y[1]);
}
