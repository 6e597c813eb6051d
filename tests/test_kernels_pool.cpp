// Pooling reference kernels (max, average, global average; f32 and u8) against
// an oracle that materializes the padded input plane with a validity mask and
// reduces each window over it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.hpp"
#include "quanta/kernels/ref.h"

namespace qk = quanta::kernels;
using namespace quanta::kernel_test;  // RunGuarded, Random*, oracles

namespace {

struct PoolCase {
  const char* name;
  int n, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
};

// clang-format off
const PoolCase kPoolCases[] = {
    // name           n  h  w  c kh kw sh sw dh dw pt pl pb pr
    {"3x3_s1_pad1",   1, 6, 7, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {"3x3_s2_asym",   1, 7, 8, 2, 3, 3, 2, 2, 1, 1, 0, 1, 1, 0},
    {"2x2_s2",        2, 8, 6, 4, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0},
    {"3x3_dil2_pad2", 1, 9, 9, 2, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},
    {"5x5_asym_pad",  1, 6, 7, 3, 5, 5, 1, 2, 1, 1, 2, 0, 4, 3},
    {"2x3_stride12",  1, 5, 9, 5, 2, 3, 1, 2, 1, 1, 1, 2, 0, 1},
    {"global_like",   1, 4, 4, 3, 4, 4, 1, 1, 1, 1, 0, 0, 0, 0},
};
// clang-format on

qk::Pool2DParams MakePool(const PoolCase& c, bool include_pad) {
  qk::Pool2DParams p;
  SetWindow(c, &p);
  p.c = c.c;
  p.count_include_pad = include_pad;
  return p;
}

// One padded plane per (n, c): value and validity; windows reduce over it.
struct Window {
  std::vector<double> values;  // in-bounds tap values
  int padded_taps = 0;
};

template <typename T>
Window GetWindow(const qk::Pool2DParams& p, const std::vector<T>& x, int n, int c, int oy, int ox) {
  // materialize the padded plane (cheap at these sizes) then read the window from it
  const int ph = p.pad_top + p.h + p.kh * p.dil_h + p.oh * p.stride_h;
  const int pw = p.pad_left + p.w + p.kw * p.dil_w + p.ow * p.stride_w;
  std::vector<double> plane(static_cast<size_t>(ph) * pw, 0.0);
  std::vector<char> valid(plane.size(), 0);
  for (int y = 0; y < p.h; ++y)
    for (int xx = 0; xx < p.w; ++xx) {
      const size_t pi = static_cast<size_t>(y + p.pad_top) * pw + (xx + p.pad_left);
      plane[pi] = double(x[((static_cast<size_t>(n) * p.h + y) * p.w + xx) * p.c + c]);
      valid[pi] = 1;
    }
  Window win;
  for (int ky = 0; ky < p.kh; ++ky)
    for (int kx = 0; kx < p.kw; ++kx) {
      const size_t pi = static_cast<size_t>(oy * p.stride_h + ky * p.dil_h) * pw +
                        (ox * p.stride_w + kx * p.dil_w);
      if (valid[pi]) {
        win.values.push_back(plane[pi]);
      } else {
        ++win.padded_taps;
      }
    }
  return win;
}

size_t OutIdx(const qk::Pool2DParams& p, int n, int oy, int ox, int c) {
  return ((static_cast<size_t>(n) * p.oh + oy) * p.ow + ox) * p.c + c;
}

class PoolTest : public ::testing::TestWithParam<PoolCase> {};

}  // namespace

TEST_P(PoolTest, F32MaxAndAvg) {
  std::mt19937 rng(41);
  for (bool include_pad : {false, true}) {
    const qk::Pool2DParams p = MakePool(GetParam(), include_pad);
    ASSERT_GT(p.oh, 0);
    const auto x = RandomF(int64_t{p.n} * p.h * p.w * p.c, rng, -3.f, 3.f);
    const int64_t ny = int64_t{p.n} * p.oh * p.ow * p.c;
    for (qk::FRange act : {qk::FRange{}, qk::activation_range_f32(qk::Act::kClip, -1.f, 2.f)}) {
      const auto ymax =
          RunGuarded<float>(ny, [&](float* o) { qk::f32_maxpool__ref(p, x.data(), act, o); });
      const auto yavg =
          RunGuarded<float>(ny, [&](float* o) { qk::f32_avgpool__ref(p, x.data(), act, o); });
      for (int n = 0; n < p.n; ++n)
        for (int oy = 0; oy < p.oh; ++oy)
          for (int ox = 0; ox < p.ow; ++ox)
            for (int c = 0; c < p.c; ++c) {
              const Window win = GetWindow(p, x, n, c, oy, ox);
              ASSERT_FALSE(win.values.empty());
              double mx = win.values[0], sum = 0.0;
              for (double v : win.values) {
                mx = std::max(mx, v);
                sum += v;
              }
              const double count =
                  include_pad ? double(win.values.size() + static_cast<size_t>(win.padded_taps))
                              : double(win.values.size());
              const size_t i = OutIdx(p, n, oy, ox, c);
              ASSERT_EQ(ymax[i], static_cast<float>(ClampD(mx, act)));
              ASSERT_NEAR(yavg[i], ClampD(sum / count, act), 1e-5);
            }
    }
  }
}

TEST_P(PoolTest, Qu8MaxAndAvg) {
  std::mt19937 rng(42);
  const float sx = 0.05f;
  for (bool include_pad : {false, true}) {
    const qk::Pool2DParams p = MakePool(GetParam(), include_pad);
    const auto x = RandomU8(int64_t{p.n} * p.h * p.w * p.c, rng);
    const int64_t ny = int64_t{p.n} * p.oh * p.ow * p.c;
    for (float sy : {0.05f, 0.02f})
      for (int32_t zx : {0, 128, 255})
        for (int32_t zy : {0, 128, 255})
          for (qk::Act act : {qk::Act::kNone, qk::Act::kRelu, qk::Act::kRelu6}) {
            const qk::QRange r = qk::activation_range_u8(act, 0, 0, sy, zy);
            const qk::QRange rx = qk::activation_range_u8(act, 0, 0, sx, zx);
            const float ratio = sx / sy;
            const auto ymax = RunGuarded<uint8_t>(
                ny, [&](uint8_t* o) { qk::u8_maxpool_minmax__ref(p, x.data(), rx, o); });
            const auto yavg = RunGuarded<uint8_t>(ny, [&](uint8_t* o) {
              qk::qu8_avgpool_minmax_fp32__ref(p, x.data(), zx, ratio, zy, r, o);
            });
            for (int n = 0; n < p.n; ++n)
              for (int oy = 0; oy < p.oh; ++oy)
                for (int ox = 0; ox < p.ow; ++ox)
                  for (int c = 0; c < p.c; ++c) {
                    const Window win = GetWindow(p, x, n, c, oy, ox);
                    int32_t mx = 0, acc = 0;
                    for (double v : win.values) {
                      mx = std::max(mx, static_cast<int32_t>(v));
                      acc += static_cast<int32_t>(v) - zx;
                    }
                    const int count =
                        include_pad ? p.kh * p.kw : static_cast<int>(win.values.size());
                    const size_t i = OutIdx(p, n, oy, ox, c);
                    ASSERT_EQ(ymax[i], std::min(std::max(mx, rx.qmin), rx.qmax));
                    const float m = ratio / static_cast<float>(count);
                    ASSERT_EQ(yavg[i], OracleRound(static_cast<float>(acc) * m, zy, r))
                        << GetParam().name;
                    const int fq = QuantizeReal(double{sx} * acc / count, sy, zy, r);
                    ASSERT_LE(std::abs(yavg[i] - fq), 1);
                  }
          }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, PoolTest, ::testing::ValuesIn(kPoolCases),
                         [](const ::testing::TestParamInfo<PoolCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(Pool, CountIncludePadChangesBorderOnly) {
  // 3x3 avg pool with pad 1 on a constant 4x4 input: interior outputs are the
  // constant either way; the corner is 4/9 of it with count_include_pad.
  qk::Pool2DParams p;
  p.h = p.w = 4;
  p.c = 1;
  p.kh = p.kw = 3;
  p.pad_top = p.pad_left = 1;
  p.oh = p.ow = 4;
  const std::vector<float> x(16, 9.f);
  p.count_include_pad = true;
  const auto inc =
      RunGuarded<float>(16, [&](float* o) { qk::f32_avgpool__ref(p, x.data(), qk::FRange{}, o); });
  p.count_include_pad = false;
  const auto exc =
      RunGuarded<float>(16, [&](float* o) { qk::f32_avgpool__ref(p, x.data(), qk::FRange{}, o); });
  EXPECT_FLOAT_EQ(inc[0], 4.f);
  EXPECT_FLOAT_EQ(inc[1], 6.f);
  EXPECT_FLOAT_EQ(inc[5], 9.f);
  for (float v : exc) EXPECT_FLOAT_EQ(v, 9.f);
}

TEST(GlobalAvgPool, F32AndQu8) {
  std::mt19937 rng(43);
  const int n = 2, c = 5;
  for (int64_t hw : {1, 7, 49, 1000}) {
    const auto xf = RandomF(n * hw * c, rng, -2.f, 5.f);
    const auto yf = RunGuarded<float>(
        n * c, [&](float* o) { qk::f32_global_avgpool__ref(n, hw, c, xf.data(), o); });
    const auto xq = RandomU8(n * hw * c, rng);
    for (int b = 0; b < n; ++b)
      for (int ch = 0; ch < c; ++ch) {
        double sum = 0.0;
        for (int64_t i = 0; i < hw; ++i) sum += xf[static_cast<size_t>((b * hw + i) * c + ch)];
        ASSERT_NEAR(yf[static_cast<size_t>(b * c + ch)], sum / double(hw), 1e-5);
      }
    const float sx = 0.04f;
    for (float sy : {0.04f, 0.01f})
      for (int32_t zx : {0, 128, 255})
        for (int32_t zy : {0, 128, 255}) {
          const qk::QRange r = qk::activation_range_u8(qk::Act::kRelu, 0, 0, sy, zy);
          const float ratio = sx / sy;
          const auto yq = RunGuarded<uint8_t>(n * c, [&](uint8_t* o) {
            qk::qu8_global_avgpool_minmax_fp32__ref(n, hw, c, xq.data(), zx, ratio, zy, r, o);
          });
          for (int b = 0; b < n; ++b)
            for (int ch = 0; ch < c; ++ch) {
              int32_t acc = 0;
              for (int64_t i = 0; i < hw; ++i)
                acc += xq[static_cast<size_t>((b * hw + i) * c + ch)] - zx;
              const uint8_t got = yq[static_cast<size_t>(b * c + ch)];
              ASSERT_EQ(got, OracleRound(static_cast<float>(acc) * (ratio / static_cast<float>(hw)),
                                         zy, r));
              ASSERT_LE(std::abs(got - QuantizeReal(double{sx} * acc / double(hw), sy, zy, r)), 1);
            }
        }
  }
}
