// The AVX2 kernels of x86_misc.h against their references, byte for byte
// (float outputs: bit for bit): u8 MaxPool, qu8 AveragePool, qu8
// GlobalAveragePool, Quantize, Dequantize and the dense qu8 Mul. Sweeps of
// channels (1..40 with primes and 16/32 +-1, and larger), windows, strides,
// dilations, paddings, zero points {0, 128, 255} and clamps; outputs run
// twice with two sentinels and guard zones (RunGuarded); inputs placed
// against an unreadable page (TailGuarded); special floats for Quantize.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.hpp"
#include "quanta/kernels/tier.h"
#include "quanta/kernels/ref.h"
#include "quanta/kernels/x86_misc.h"

namespace qk = quanta::kernels;
namespace kt = quanta::kernel_test;

namespace {

#define SKIP_WITHOUT_AVX2()                                                       \
  do {                                                                            \
    if (!qk::cpu_supports(qk::Tier::kAvx2))                                        \
      GTEST_SKIP() << "CPU lacks AVX2 (+FMA): the avx2 kernels cannot run here"; \
  } while (0)

constexpr int32_t kZeroPoints[] = {0, 128, 255};

const std::vector<int>& Channels() {
  static const std::vector<int> c = [] {
    std::vector<int> v;
    for (int i = 1; i <= 40; ++i) v.push_back(i);
    for (int i : {47, 63, 64, 65, 95, 96, 97, 144}) v.push_back(i);
    return v;
  }();
  return c;
}

struct Win {
  int n = 1, h = 5, w = 5;
  int kh = 3, kw = 3, sh = 1, sw = 1, dh = 1, dw = 1;
  int pt = 0, pl = 0, pb = 0, pr = 0;
};

struct Geo {
  int kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
};

// Windows with pads < kernel (what the loader allows).
constexpr Geo kGeos[] = {
    {1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, {2, 2, 2, 2, 1, 1, 0, 0, 0, 0},
    {3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {3, 2, 1, 2, 1, 1, 2, 0, 1, 1}, {5, 5, 3, 3, 1, 1, 2, 2, 2, 2},
    {3, 3, 1, 1, 2, 2, 2, 2, 2, 2}, {7, 7, 1, 1, 1, 1, 0, 0, 0, 0},
    {2, 3, 2, 1, 2, 1, 1, 2, 0, 1},
};

bool MakeWindow(const Geo& g, int n, int h, int w, int c, qk::Pool2DParams* p) {
  Win win;
  win.n = n; win.h = h; win.w = w;
  win.kh = g.kh; win.kw = g.kw; win.sh = g.sh; win.sw = g.sw; win.dh = g.dh; win.dw = g.dw;
  win.pt = g.pt; win.pl = g.pl; win.pb = g.pb; win.pr = g.pr;
  kt::SetWindow(win, p);
  p->c = c;
  return p->oh > 0 && p->ow > 0;
}

std::string Describe(const qk::Pool2DParams& p) {
  return "c=" + std::to_string(p.c) + " n=" + std::to_string(p.n) + " in=" + std::to_string(p.h) +
         "x" + std::to_string(p.w) + " k=" + std::to_string(p.kh) + "x" + std::to_string(p.kw) +
         " s=" + std::to_string(p.stride_h) + "," + std::to_string(p.stride_w) +
         " d=" + std::to_string(p.dil_h) + "," + std::to_string(p.dil_w) +
         " pad=" + std::to_string(p.pad_top) + "," + std::to_string(p.pad_left) +
         " out=" + std::to_string(p.oh) + "x" + std::to_string(p.ow) +
         " cip=" + std::to_string(p.count_include_pad);
}

int64_t Diff(const std::vector<uint8_t>& want, const std::vector<uint8_t>& got,
             const std::string& what) {
  int64_t bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] != got[i]) {
      if (bad == 0)
        ADD_FAILURE() << what << ": first difference at " << i << ": ref " << int{want[i]}
                      << " avx2 " << int{got[i]};
      ++bad;
    }
  }
  return bad;
}

// ------------------------------------------------------------------ MaxPool

int64_t CheckMaxPool(const qk::Pool2DParams& p, qk::QRange r, std::mt19937& rng,
                     bool guard_page) {
  const int64_t nx = int64_t{p.n} * p.h * p.w * p.c;
  const int64_t ny = int64_t{p.n} * p.oh * p.ow * p.c;
  const auto xv = kt::RandomU8(nx, rng);
  const auto want =
      kt::RunGuarded<uint8_t>(ny, [&](uint8_t* y) { qk::u8_maxpool_minmax__ref(p, xv.data(), r, y); });
  std::vector<uint8_t> got;
  if (guard_page) {
    const kt::TailGuarded g(xv.data(), xv.size());
    EXPECT_NE(g.data(), nullptr);
    got = kt::RunGuarded<uint8_t>(
        ny, [&](uint8_t* y) { qk::u8_maxpool_minmax__avx2_c32(p, g.data(), r, y); });
  } else {
    got = kt::RunGuarded<uint8_t>(
        ny, [&](uint8_t* y) { qk::u8_maxpool_minmax__avx2_c32(p, xv.data(), r, y); });
  }
  return Diff(want, got, "maxpool " + Describe(p));
}

TEST(X86MaxPool, ChannelAndWindowSweep) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(1);
  int64_t bad = 0, cases = 0;
  int k = 0;
  for (int c : Channels())
    for (const Geo& g : kGeos) {
      qk::Pool2DParams p;
      if (!MakeWindow(g, 1 + k % 2, 7, 9, c, &p)) continue;
      qk::QRange r;
      if (k % 3 == 1) r = {40, 255};
      if (k % 3 == 2) r = {17, 200};
      bad += CheckMaxPool(p, r, rng, k % 4 == 0);
      ++k;
      ++cases;
    }
  EXPECT_GT(cases, 300);
  EXPECT_EQ(bad, 0) << "over " << cases << " cases";
}

TEST(X86MaxPool, SmallInputsAndGuardPage) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(2);
  int64_t bad = 0;
  for (int c : {1, 3, 15, 16, 17, 31, 32, 33, 63, 65})
    for (int h : {1, 2, 3})
      for (const Geo& g : kGeos) {
        qk::Pool2DParams p;
        if (!MakeWindow(g, 1, h, 4, c, &p)) continue;
        bad += CheckMaxPool(p, qk::QRange{}, rng, true);
      }
  EXPECT_EQ(bad, 0);
}

// ------------------------------------------------------------------ AvgPool

int64_t CheckAvgPool(const qk::Pool2DParams& p, int32_t zx, float ratio, int32_t zy, qk::QRange r,
                     std::mt19937& rng, bool guard_page) {
  const int64_t nx = int64_t{p.n} * p.h * p.w * p.c;
  const int64_t ny = int64_t{p.n} * p.oh * p.ow * p.c;
  const auto xv = kt::RandomU8(nx, rng);
  const auto want = kt::RunGuarded<uint8_t>(ny, [&](uint8_t* y) {
    qk::qu8_avgpool_minmax_fp32__ref(p, xv.data(), zx, ratio, zy, r, y);
  });
  std::vector<uint8_t> got;
  if (guard_page) {
    const kt::TailGuarded g(xv.data(), xv.size());
    EXPECT_NE(g.data(), nullptr);
    got = kt::RunGuarded<uint8_t>(ny, [&](uint8_t* y) {
      qk::qu8_avgpool_minmax_fp32__avx2_c32(p, g.data(), zx, ratio, zy, r, y);
    });
  } else {
    got = kt::RunGuarded<uint8_t>(ny, [&](uint8_t* y) {
      qk::qu8_avgpool_minmax_fp32__avx2_c32(p, xv.data(), zx, ratio, zy, r, y);
    });
  }
  return Diff(want, got,
              "avgpool " + Describe(p) + " zx=" + std::to_string(zx) + " zy=" + std::to_string(zy));
}

TEST(X86AvgPool, ChannelWindowAndPadSweep) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(3);
  const float ratios[] = {1.f, 0.37f, 2.5f, 1.f / 3.f};
  int64_t bad = 0, cases = 0;
  int k = 0;
  for (int c : Channels())
    for (const Geo& g : kGeos)
      for (bool cip : {false, true}) {
        qk::Pool2DParams p;
        if (!MakeWindow(g, 1 + k % 2, 6, 7, c, &p)) continue;
        p.count_include_pad = cip;
        const int32_t zx = kZeroPoints[k % 3];
        const int32_t zy = kZeroPoints[(k / 3) % 3];
        qk::QRange r;
        if (k % 5 == 1) r = {zy, 255};
        if (k % 5 == 2) r = {std::min(zy, 30), std::max(zy, 220)};
        bad += CheckAvgPool(p, zx, ratios[k % 4], zy, r, rng, k % 7 == 0);
        ++k;
        ++cases;
      }
  EXPECT_GT(cases, 600);
  EXPECT_EQ(bad, 0) << "over " << cases << " cases";
}

// Ratio 1 and an identity-like window: the averages land on .5 ties often.
TEST(X86AvgPool, TiesAndExtremes) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(4);
  int64_t bad = 0;
  for (int32_t zx : kZeroPoints)
    for (int32_t zy : kZeroPoints)
      for (float ratio : {1.f, 1e-3f, 1e3f})
        for (const Geo& g : {Geo{2, 2, 2, 2, 1, 1, 0, 0, 0, 0}, Geo{2, 1, 1, 1, 1, 1, 1, 0, 0, 0}})
          for (bool cip : {false, true}) {
            qk::Pool2DParams p;
            ASSERT_TRUE(MakeWindow(g, 2, 5, 6, 37, &p));
            p.count_include_pad = cip;
            bad += CheckAvgPool(p, zx, ratio, zy, qk::QRange{}, rng, true);
          }
  EXPECT_EQ(bad, 0);
}

// Windows around 256 inside taps (the uint16 / int32 switch), all-255 input
// for the largest sums.
TEST(X86AvgPool, LargeWindows) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(11);
  int64_t bad = 0;
  for (const Geo& g : {Geo{16, 16, 1, 1, 1, 1, 0, 0, 0, 0}, Geo{17, 16, 1, 1, 1, 1, 0, 0, 0, 0},
                       Geo{17, 17, 2, 2, 1, 1, 8, 8, 8, 8}})
    for (int c : {32, 33, 64, 71})
      for (bool cip : {false, true}) {
        qk::Pool2DParams p;
        ASSERT_TRUE(MakeWindow(g, 1, 18, 17, c, &p));
        p.count_include_pad = cip;
        const int64_t nx = int64_t{p.n} * p.h * p.w * p.c;
        const int64_t ny = int64_t{p.n} * p.oh * p.ow * p.c;
        for (int fill = 0; fill < 2; ++fill) {
          auto xv = kt::RandomU8(nx, rng);
          if (fill == 1) std::fill(xv.begin(), xv.end(), uint8_t{255});
          std::vector<uint8_t> want(static_cast<size_t>(ny)), got(static_cast<size_t>(ny));
          qk::qu8_avgpool_minmax_fp32__ref(p, xv.data(), 0, 1.f, 0, qk::QRange{}, want.data());
          qk::qu8_avgpool_minmax_fp32__avx2_c32(p, xv.data(), 0, 1.f, 0, qk::QRange{}, got.data());
          bad += Diff(want, got, "avgpool large " + Describe(p));
          qk::qu8_avgpool_minmax_fp32__ref(p, xv.data(), 255, 0.5f, 128, qk::QRange{}, want.data());
          qk::qu8_avgpool_minmax_fp32__avx2_c32(p, xv.data(), 255, 0.5f, 128, qk::QRange{},
                                                got.data());
          bad += Diff(want, got, "avgpool large zx=255 " + Describe(p));
        }
      }
  EXPECT_EQ(bad, 0);
}

// ------------------------------------------------------- GlobalAveragePool

TEST(X86GlobalAvgPool, Sweep) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(5);
  int64_t bad = 0, cases = 0;
  int k = 0;
  for (int c : Channels())
    for (int64_t hw : {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{7}, int64_t{49},
                       int64_t{255}, int64_t{256}, int64_t{257}, int64_t{600}}) {
      if (c > 40 && hw > 49 && hw != 600) continue;
      const int n = 1 + k % 3;
      const int32_t zx = kZeroPoints[k % 3];
      const int32_t zy = kZeroPoints[(k / 3) % 3];
      const float ratio = (k % 4 == 0) ? 1.f : 0.6f + 0.1f * static_cast<float>(k % 7);
      qk::QRange r;
      if (k % 5 == 1) r = {zy, 255};
      if (k % 5 == 2) r = {std::min(zy, 30), std::max(zy, 220)};
      // Mostly random, sometimes all 255 (the largest sums).
      std::vector<uint8_t> xv = kt::RandomU8(int64_t{n} * hw * c, rng);
      if (k % 6 == 5) std::fill(xv.begin(), xv.end(), uint8_t{255});
      const int64_t ny = int64_t{n} * c;
      const auto want = kt::RunGuarded<uint8_t>(ny, [&](uint8_t* y) {
        qk::qu8_global_avgpool_minmax_fp32__ref(n, hw, c, xv.data(), zx, ratio, zy, r, y);
      });
      const kt::TailGuarded g(xv.data(), xv.size());
      ASSERT_TRUE(xv.empty() || g.data() != nullptr);
      const uint8_t* xp = xv.empty() ? xv.data() : g.data();
      const auto got = kt::RunGuarded<uint8_t>(ny, [&](uint8_t* y) {
        qk::qu8_global_avgpool_minmax_fp32__avx2_c32(n, hw, c, xp, zx, ratio, zy, r, y);
      });
      bad += Diff(want, got,
                  "gap c=" + std::to_string(c) + " hw=" + std::to_string(hw) + " zx=" +
                      std::to_string(zx) + " zy=" + std::to_string(zy));
      ++k;
      ++cases;
    }
  EXPECT_EQ(bad, 0) << "over " << cases << " cases";
}

// ----------------------------------------------------------------- Quantize

std::vector<float> SpecialFloats(float s, std::mt19937& rng) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = {
      std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
      std::numeric_limits<float>::signaling_NaN(), inf, -inf, 0.f, -0.f,
      std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min(),
      1e-40f, -1e-40f, std::numeric_limits<float>::min(), std::numeric_limits<float>::max(),
      -std::numeric_limits<float>::max(), 1e30f, -1e30f};
  // Ties: (k + 0.5) * s for s a power of two is exact, x / s is exactly k + .5.
  for (int k = -300; k <= 300; ++k) v.push_back((static_cast<float>(k) + 0.5f) * s);
  for (int k = -300; k <= 300; ++k) v.push_back(static_cast<float>(k) * s);
  // Neighbours of the ties (one ulp either way).
  for (int k = -40; k <= 40; ++k) {
    const float t = (static_cast<float>(k) + 0.5f) * s;
    v.push_back(std::nextafter(t, inf));
    v.push_back(std::nextafter(t, -inf));
  }
  const auto rnd = kt::RandomF(500, rng, -400.f * s, 400.f * s);
  v.insert(v.end(), rnd.begin(), rnd.end());
  std::shuffle(v.begin() + 16, v.end(), rng);
  return v;
}

TEST(X86Quantize, SpecialValuesAndTies) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(6);
  int64_t bad = 0;
  for (float s : {1.f, 0.5f, 0.125f, 0.1f, 0.0039215686f, 3.7e-5f, 1e-30f, 2e30f, 7.f})
    for (int32_t z : {0, 1, 128, 200, 255}) {
      const auto xv = SpecialFloats(s, rng);
      const int64_t n = static_cast<int64_t>(xv.size());
      const auto want =
          kt::RunGuarded<uint8_t>(n, [&](uint8_t* y) { qk::qu8_quantize__ref(n, xv.data(), s, z, y); });
      const kt::TailGuarded g(xv.data(), xv.size() * sizeof(float));
      ASSERT_NE(g.data(), nullptr);
      const auto* xg = reinterpret_cast<const float*>(g.data());
      const auto got =
          kt::RunGuarded<uint8_t>(n, [&](uint8_t* y) { qk::qu8_quantize__avx2(n, xg, s, z, y); });
      bad += Diff(want, got, "quantize s=" + std::to_string(s) + " z=" + std::to_string(z));
    }
  EXPECT_EQ(bad, 0);
}

TEST(X86Quantize, LengthSweep) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(7);
  int64_t bad = 0;
  for (int64_t n = 0; n <= 80; ++n)
    for (int32_t z : kZeroPoints) {
      auto xv = kt::RandomF(n, rng, -200.f, 200.f);
      if (n > 3) xv[static_cast<size_t>(n / 2)] = std::numeric_limits<float>::quiet_NaN();
      const auto want = kt::RunGuarded<uint8_t>(
          n, [&](uint8_t* y) { qk::qu8_quantize__ref(n, xv.data(), 0.75f, z, y); });
      const kt::TailGuarded g(xv.data(), xv.size() * sizeof(float));
      const auto* xg = n > 0 ? reinterpret_cast<const float*>(g.data()) : xv.data();
      const auto got =
          kt::RunGuarded<uint8_t>(n, [&](uint8_t* y) { qk::qu8_quantize__avx2(n, xg, 0.75f, z, y); });
      bad += Diff(want, got, "quantize n=" + std::to_string(n));
    }
  EXPECT_EQ(bad, 0);
}

// --------------------------------------------------------------- Dequantize

TEST(X86Dequantize, LengthScaleAndZeroPointSweep) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(8);
  int64_t bad = 0;
  for (int64_t n : {0, 1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 100, 256, 1000})
    for (float s : {1.f, 0.1f, 0.0039215686f, 1e-38f, 3e38f, 1e-45f})
      for (int32_t z : kZeroPoints) {
        auto xv = kt::RandomU8(n, rng);
        if (n >= 2) { xv[0] = 0; xv[1] = 255; }
        const auto want = kt::RunGuarded<float>(
            n, [&](float* y) { qk::qu8_dequantize__ref(n, xv.data(), s, z, y); });
        const kt::TailGuarded g(xv.data(), xv.size());
        const uint8_t* xg = n > 0 ? g.data() : xv.data();
        const auto got =
            kt::RunGuarded<float>(n, [&](float* y) { qk::qu8_dequantize__avx2(n, xg, s, z, y); });
        for (int64_t i = 0; i < n; ++i) {
          if (!kt::SameBits(want[static_cast<size_t>(i)], got[static_cast<size_t>(i)])) {
            if (bad == 0)
              ADD_FAILURE() << "dequantize n=" << n << " s=" << s << " z=" << z << " at " << i;
            ++bad;
          }
        }
      }
  EXPECT_EQ(bad, 0);
}

// --------------------------------------------------------------------- Mul

TEST(X86Mul, Sweep) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(9);
  int64_t bad = 0;
  int k = 0;
  for (int64_t n : {0, 1, 5, 8, 15, 16, 17, 33, 64, 257, 1000})
    for (int32_t za : kZeroPoints)
      for (int32_t zb : kZeroPoints)
        for (float m : {1.f / 255.f, 0.01f, 1.f, 1e-6f, 0.5f}) {
          qk::QMulParams p;
          p.za = za;
          p.zb = zb;
          p.zy = kZeroPoints[k % 3];
          p.m = m;
          if (k % 4 == 1) p.r = {p.zy, 255};
          if (k % 4 == 2) p.r = {std::min(p.zy, 10), std::max(p.zy, 240)};
          ++k;
          const auto a = kt::RandomU8(n, rng);
          const auto b = kt::RandomU8(n, rng);
          const int64_t shape[1] = {n};
          qk::BroadcastShape bs;
          ASSERT_TRUE(qk::make_broadcast(1, shape, 1, shape, &bs));
          const auto want = kt::RunGuarded<uint8_t>(
              n, [&](uint8_t* y) { qk::qu8_mul_minmax_fp32__ref(bs, a.data(), b.data(), p, y); });
          const kt::TailGuarded ga(a.data(), a.size());
          const kt::TailGuarded gb(b.data(), b.size());
          const uint8_t* ap = n > 0 ? ga.data() : a.data();
          const uint8_t* bp = n > 0 ? gb.data() : b.data();
          const auto got = kt::RunGuarded<uint8_t>(
              n, [&](uint8_t* y) { qk::qu8_vmul_minmax_fp32__avx2(n, ap, bp, p, y); });
          bad += Diff(want, got, "mul n=" + std::to_string(n));
        }
  EXPECT_EQ(bad, 0);
}

// m = NaN / inf: the NaN rule of requantize_f (-> zy clamped).
TEST(X86Mul, NonFiniteMultiplier) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(10);
  int64_t bad = 0;
  for (float m : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    qk::QMulParams p;
    p.za = 128;
    p.zb = 0;
    p.zy = 100;
    p.m = m;
    p.r = {20, 90};
    const int64_t n = 77;
    auto a = kt::RandomU8(n, rng);
    a[3] = 128;  // product 0: 0 * inf = NaN
    const auto b = kt::RandomU8(n, rng);
    const int64_t shape[1] = {n};
    qk::BroadcastShape bs;
    ASSERT_TRUE(qk::make_broadcast(1, shape, 1, shape, &bs));
    std::vector<uint8_t> want(n), got(n);
    qk::qu8_mul_minmax_fp32__ref(bs, a.data(), b.data(), p, want.data());
    qk::qu8_vmul_minmax_fp32__avx2(n, a.data(), b.data(), p, got.data());
    bad += Diff(want, got, "mul m=" + std::to_string(m));
  }
  EXPECT_EQ(bad, 0);
}

}  // namespace
