// qu8_dwconv_minmax_fp32__avx2_c16 (+ qu8_dwconv_c16_pack) against the
// reference qu8_conv2d_minmax_fp32__ref with groups == cin == cout: same bytes
// over sweeps of channels, kernel sizes, strides, dilations, asymmetric
// paddings, input sizes, batches, zero points, clamps and extreme values;
// outputs pre-filled with two sentinels with guard zones checked, and the input
// placed against an unreadable page to prove no byte past it is read.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.hpp"
#include "quanta/kernels/tier.h"
#include "quanta/kernels/ref.h"
#include "quanta/kernels/x86.h"

namespace qk = quanta::kernels;
namespace kt = quanta::kernel_test;

namespace {

#define SKIP_WITHOUT_AVX2()                                                               \
  do {                                                                                    \
    if (!qk::cpu_supports(qk::Tier::kAvx2))                                                \
      GTEST_SKIP() << "CPU lacks AVX2 (+FMA): the avx2 depthwise kernel cannot run here"; \
  } while (0)

struct Case {
  int c = 8;
  int n = 1, h = 5, w = 5;
  int kh = 3, kw = 3;
  int sh = 1, sw = 1, dh = 1, dw = 1;
  int pt = 1, pl = 1, pb = 1, pr = 1;
  int32_t zx = 128, zy = 128;
  qk::QRange r;
  enum class Fill { kRandom, kMin, kMax } x_fill = Fill::kRandom, w_fill = Fill::kRandom;
  bool w_negative_extreme = false;  // with w_fill kMax: all -127 instead of 127
  bool null_bias = false;
  float mul_scale = 1.f;
  uint32_t seed = 1;

  std::string Name() const {
    return "c=" + std::to_string(c) + " n=" + std::to_string(n) + " in=" + std::to_string(h) +
           "x" + std::to_string(w) + " k=" + std::to_string(kh) + "x" + std::to_string(kw) +
           " s=" + std::to_string(sh) + "," + std::to_string(sw) + " d=" + std::to_string(dh) +
           "," + std::to_string(dw) + " pad(t,l,b,r)=" + std::to_string(pt) + "," +
           std::to_string(pl) + "," + std::to_string(pb) + "," + std::to_string(pr) +
           " zx=" + std::to_string(zx) + " zy=" + std::to_string(zy) + " q=[" +
           std::to_string(r.qmin) + "," + std::to_string(r.qmax) + "]";
  }
};

struct Problem {
  qk::Conv2DParams p;
  std::vector<uint8_t> x;
  std::vector<int8_t> w;
  std::vector<int32_t> bias;  // folded
  std::vector<float> mul;
};

bool MakeProblem(const Case& cs, Problem* pr) {
  kt::SetWindow(cs, &pr->p);
  if (pr->p.oh <= 0 || pr->p.ow <= 0) return false;
  pr->p.cin = pr->p.cout = pr->p.groups = cs.c;
  std::mt19937 rng(cs.seed * 7919u + static_cast<uint32_t>(cs.c));
  const int64_t taps = int64_t{cs.kh} * cs.kw;
  const int64_t nx = int64_t{cs.n} * cs.h * cs.w * cs.c;
  switch (cs.x_fill) {
    case Case::Fill::kRandom: pr->x = kt::RandomU8(nx, rng); break;
    case Case::Fill::kMin: pr->x.assign(static_cast<size_t>(nx), 0); break;
    case Case::Fill::kMax: pr->x.assign(static_cast<size_t>(nx), 255); break;
  }
  const int64_t nw = cs.c * taps;
  switch (cs.w_fill) {
    case Case::Fill::kRandom: {
      pr->w = kt::RandomI8(nw, rng);
      // Sprinkle the extremes.
      for (size_t i = 0; i < pr->w.size(); i += 5) pr->w[i] = (i / 5) % 2 ? 127 : -127;
      break;
    }
    case Case::Fill::kMin: pr->w.assign(static_cast<size_t>(nw), 0); break;
    case Case::Fill::kMax:
      pr->w.assign(static_cast<size_t>(nw),
                   static_cast<int8_t>(cs.w_negative_extreme ? -127 : 127));
      break;
  }
  std::uniform_int_distribution<int32_t> bd(-20000, 20000);
  std::vector<int32_t> raw(static_cast<size_t>(cs.c));
  for (auto& b : raw) b = bd(rng);
  std::vector<int64_t> folded(static_cast<size_t>(cs.c));
  qk::fold_bias_qs8(cs.c, taps, pr->w.data(), cs.null_bias ? nullptr : raw.data(), cs.zx,
                    folded.data());
  pr->bias.resize(folded.size());
  for (size_t i = 0; i < folded.size(); ++i) {
    EXPECT_LE(std::llabs(folded[i]), int64_t{std::numeric_limits<int32_t>::max()});
    pr->bias[i] = static_cast<int32_t>(folded[i]);
  }
  // Per-channel multipliers spreading typical sums over the u8 range.
  const float base = 100.f / (std::sqrt(static_cast<float>(taps)) * 73.f * 73.f);
  std::uniform_real_distribution<float> md(0.25f, 4.f);
  pr->mul.resize(static_cast<size_t>(cs.c));
  for (auto& m : pr->mul) m = base * md(rng) * cs.mul_scale;
  return true;
}

std::vector<uint8_t> PackFor(const Problem& pr, bool null_bias) {
  const size_t bytes = qk::qu8_dwconv_c16_packed_size(pr.p.cout, pr.p.kh, pr.p.kw);
  std::vector<uint8_t> packed(bytes + 32, 0xCD);
  qk::qu8_dwconv_c16_pack(pr.p.cout, pr.p.kh, pr.p.kw, pr.w.data(),
                          null_bias ? nullptr : pr.bias.data(), pr.mul.data(), packed.data());
  return packed;
}

// Runs ref and avx2; returns the number of differing bytes (and reports the first).
int64_t Check(const Case& cs) {
  Problem pr;
  if (!MakeProblem(cs, &pr)) return 0;
  const bool null_bias = cs.null_bias && cs.zx == 0;  // folded bias is 0 only then
  const int64_t ny = int64_t{pr.p.n} * pr.p.oh * pr.p.ow * pr.p.cout;
  const auto want = kt::RunGuarded<uint8_t>(ny, [&](uint8_t* y) {
    qk::qu8_conv2d_minmax_fp32__ref(pr.p, pr.x.data(), cs.zx, pr.w.data(),
                                    null_bias ? nullptr : pr.bias.data(), pr.mul.data(), cs.zy,
                                    cs.r, y);
  });
  const auto packed = PackFor(pr, null_bias);
  const auto got = kt::RunGuarded<uint8_t>(ny, [&](uint8_t* y) {
    qk::qu8_dwconv_minmax_fp32__avx2_c16(pr.p, pr.x.data(), cs.zx, packed.data(), cs.zy, cs.r, y);
  });
  int64_t bad = 0;
  for (int64_t i = 0; i < ny; ++i) {
    if (want[static_cast<size_t>(i)] != got[static_cast<size_t>(i)]) {
      if (bad == 0) {
        ADD_FAILURE() << cs.Name() << ": first difference at " << i << " (channel "
                      << i % pr.p.cout << "): ref " << int{want[static_cast<size_t>(i)]}
                      << " avx2 " << int{got[static_cast<size_t>(i)]};
      }
      ++bad;
    }
  }
  return bad;
}

constexpr int32_t kZeroPoints[] = {0, 128, 255};

struct Kernel {
  int kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
};

TEST(X86DwConv, PackedSizeAndLayout) {
  EXPECT_EQ(qk::qu8_dwconv_c16_packed_size(1, 3, 3), size_t{128 + 64 * 5});
  EXPECT_EQ(qk::qu8_dwconv_c16_packed_size(16, 3, 3), size_t{128 + 64 * 5});
  EXPECT_EQ(qk::qu8_dwconv_c16_packed_size(17, 3, 3), size_t{2 * (128 + 64 * 5)});
  EXPECT_EQ(qk::qu8_dwconv_c16_packed_size(144, 1, 1), size_t{9 * (128 + 64)});
  EXPECT_EQ(qk::qu8_dwconv_c16_packed_size(64, 5, 5) % 32, size_t{0});
}

TEST(X86DwConv, ChannelSweep) {
  SKIP_WITHOUT_AVX2();
  const Kernel kernels[] = {
      {3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  // 3x3 same
      {3, 3, 2, 2, 1, 1, 0, 1, 1, 0},  // 3x3 stride 2, asymmetric pad
      {5, 5, 1, 1, 1, 1, 2, 2, 2, 2},  // 5x5 same
      {1, 1, 1, 1, 1, 1, 0, 0, 0, 0},  // 1x1
      {3, 1, 1, 2, 2, 1, 2, 0, 1, 0},  // 3x1, dilation 2 in h, stride 2 in w
  };
  std::vector<int> channels;
  for (int c = 1; c <= 33; ++c) channels.push_back(c);
  channels.push_back(64);
  channels.push_back(144);
  int64_t bad = 0, cases = 0;
  uint32_t seed = 1;
  for (int c : channels) {
    for (const Kernel& k : kernels) {
      Case cs;
      cs.c = c;
      cs.n = 1 + static_cast<int>(seed % 2);
      cs.h = 7;
      cs.w = 9;
      cs.kh = k.kh; cs.kw = k.kw; cs.sh = k.sh; cs.sw = k.sw; cs.dh = k.dh; cs.dw = k.dw;
      cs.pt = k.pt; cs.pl = k.pl; cs.pb = k.pb; cs.pr = k.pr;
      cs.zx = kZeroPoints[seed % 3];
      cs.zy = kZeroPoints[(seed / 3) % 3];
      cs.seed = seed++;
      bad += Check(cs);
      ++cases;
    }
  }
  EXPECT_EQ(bad, 0) << "over " << cases << " cases";
}

TEST(X86DwConv, GeometrySweep) {
  SKIP_WITHOUT_AVX2();
  const int kernel_sizes[][2] = {{3, 3}, {5, 5}, {1, 1}, {3, 1}};
  const int strides[][2] = {{1, 1}, {2, 2}, {1, 2}};
  const int dilations[][2] = {{1, 1}, {2, 2}, {2, 1}};
  const int pads[][4] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 1, 0, 2}, {0, 2, 1, 0}};
  const int sizes[][2] = {{1, 1}, {5, 5}, {7, 9}};
  const int channels[] = {5, 16, 24};
  int64_t bad = 0, cases = 0;
  uint32_t seed = 100;
  for (int c : channels)
    for (const auto& ks : kernel_sizes)
      for (const auto& st : strides)
        for (const auto& dl : dilations)
          for (const auto& pd : pads)
            for (const auto& sz : sizes) {
              Case cs;
              cs.c = c;
              cs.n = 1 + static_cast<int>(seed % 2);
              cs.h = sz[0]; cs.w = sz[1];
              cs.kh = ks[0]; cs.kw = ks[1];
              cs.sh = st[0]; cs.sw = st[1];
              cs.dh = dl[0]; cs.dw = dl[1];
              cs.pt = pd[0]; cs.pl = pd[1]; cs.pb = pd[2]; cs.pr = pd[3];
              cs.zx = kZeroPoints[seed % 3];
              cs.zy = kZeroPoints[(seed / 3) % 3];
              cs.seed = seed++;
              Problem probe;
              kt::SetWindow(cs, &probe.p);
              if (probe.p.oh <= 0 || probe.p.ow <= 0) continue;
              bad += Check(cs);
              ++cases;
            }
  EXPECT_GT(cases, 500);
  EXPECT_EQ(bad, 0) << "over " << cases << " cases";
}

TEST(X86DwConv, ZeroPointsAndClamps) {
  SKIP_WITHOUT_AVX2();
  int64_t bad = 0;
  uint32_t seed = 5000;
  for (int32_t zx : kZeroPoints)
    for (int32_t zy : kZeroPoints)
      for (int clamp = 0; clamp < 3; ++clamp)
        for (int c : {8, 17, 40}) {
          Case cs;
          cs.c = c;
          cs.h = 6; cs.w = 5;
          cs.pt = 1; cs.pl = 0; cs.pb = 2; cs.pr = 1;
          cs.zx = zx;
          cs.zy = zy;
          if (clamp == 1) cs.r = {zy, 255};                      // relu
          if (clamp == 2) cs.r = {std::min(zy, 40), std::max(zy, 200)};  // narrow
          cs.seed = seed++;
          bad += Check(cs);
        }
  EXPECT_EQ(bad, 0);
}

TEST(X86DwConv, ExtremeValues) {
  SKIP_WITHOUT_AVX2();
  int64_t bad = 0;
  uint32_t seed = 7000;
  using F = Case::Fill;
  for (F xf : {F::kMin, F::kMax, F::kRandom})
    for (int wsign = 0; wsign < 2; ++wsign)
      for (int32_t zx : kZeroPoints)
        for (float ms : {1.f, 1e-3f, 1e3f}) {
          Case cs;
          cs.c = 19;
          cs.n = 2;
          cs.h = 7; cs.w = 7;
          cs.kh = 5; cs.kw = 5;
          cs.pt = 2; cs.pl = 1; cs.pb = 0; cs.pr = 2;
          cs.x_fill = xf;
          cs.w_fill = F::kMax;
          cs.w_negative_extreme = wsign == 1;
          cs.zx = zx;
          cs.zy = 128;
          cs.mul_scale = ms;
          cs.seed = seed++;
          bad += Check(cs);
        }
  EXPECT_EQ(bad, 0);
}

TEST(X86DwConv, NullBiasAndZeroWeights) {
  SKIP_WITHOUT_AVX2();
  int64_t bad = 0;
  for (int c : {3, 16, 21}) {
    Case cs;
    cs.c = c;
    cs.zx = 0;
    cs.null_bias = true;
    bad += Check(cs);
    cs.w_fill = Case::Fill::kMin;
    cs.zx = 77;
    cs.null_bias = false;
    bad += Check(cs);
  }
  EXPECT_EQ(bad, 0);
}

TEST(X86DwConv, LargeKernelsUseSeveralTapPasses) {
  SKIP_WITHOUT_AVX2();
  int64_t bad = 0;
  // 9x9 = 81 taps and 11x7 = 77 taps exceed one pass of 64 taps.
  for (const auto& k : {std::pair{9, 9}, std::pair{11, 7}, std::pair{8, 8}})
    for (int c : {7, 16, 33}) {
      Case cs;
      cs.c = c;
      cs.h = 12; cs.w = 10;
      cs.kh = k.first; cs.kw = k.second;
      cs.pt = 4; cs.pl = 3; cs.pb = 4; cs.pr = 2;
      cs.sh = 2;
      cs.zx = 255;
      cs.zy = 0;
      cs.seed = static_cast<uint32_t>(c * 31 + k.first);
      bad += Check(cs);
    }
  EXPECT_EQ(bad, 0);
}

TEST(X86DwConv, MobileNetBlock56x56) {
  SKIP_WITHOUT_AVX2();
  Case cs;
  cs.c = 144;
  cs.h = cs.w = 56;
  cs.zx = 128;
  cs.zy = 0;
  cs.r = {0, 200};
  EXPECT_EQ(Check(cs), 0);
}

// The input ends right before a PROT_NONE page: a read of any byte past the
// input faults. Channel counts with a tail (not a multiple of 16) exercise
// the partial-load path of the last pixel.
TEST(X86DwConv, ReadsNothingPastTheInput) {
  SKIP_WITHOUT_AVX2();
  for (int c : {1, 3, 15, 17, 31, 48}) {
    Case cs;
    cs.c = c;
    cs.h = 4; cs.w = 3;
    cs.pt = 0; cs.pl = 0; cs.pb = 2; cs.pr = 2;
    Problem pr;
    ASSERT_TRUE(MakeProblem(cs, &pr));
    const kt::TailGuarded guarded(pr.x.data(), pr.x.size());
    ASSERT_NE(guarded.data(), nullptr);
    const uint8_t* x = guarded.data();
    const int64_t ny = int64_t{pr.p.oh} * pr.p.ow * c;
    std::vector<uint8_t> want(static_cast<size_t>(ny)), got(static_cast<size_t>(ny));
    qk::qu8_conv2d_minmax_fp32__ref(pr.p, pr.x.data(), cs.zx, pr.w.data(), pr.bias.data(),
                                    pr.mul.data(), cs.zy, cs.r, want.data());
    const auto packed = PackFor(pr, false);
    qk::qu8_dwconv_minmax_fp32__avx2_c16(pr.p, x, cs.zx, packed.data(), cs.zy, cs.r, got.data());
    EXPECT_EQ(want, got) << "c=" << c;
  }
}

// Row ranges: for every split point s, rows [0, s) then [s, oh) (and the
// degenerate / out-of-range ranges) give exactly the bytes of the full call,
// and a range call writes only its own rows (the others keep the sentinel).
// Covers the 3x3 ring-buffer path (stride 1 and 2, stride_h 1..3) and the
// generic path (5x5, dilation, 1x3 stride 3).
TEST(X86DwConv, RowRangesMatchFullCall) {
  SKIP_WITHOUT_AVX2();
  const Kernel kernels[] = {
      {3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
      {3, 3, 3, 1, 1, 1, 2, 1, 0, 1}, {5, 5, 1, 1, 1, 1, 2, 2, 2, 2},
      {3, 3, 1, 1, 2, 2, 2, 2, 2, 2}, {1, 3, 1, 3, 1, 1, 0, 1, 0, 1},
  };
  uint32_t seed = 9000;
  for (const Kernel& k : kernels)
    for (int c : {5, 16, 17, 40}) {
      Case cs;
      cs.c = c;
      cs.n = 2;
      cs.h = 9; cs.w = 37;  // > one 32-column segment
      cs.kh = k.kh; cs.kw = k.kw; cs.sh = k.sh; cs.sw = k.sw; cs.dh = k.dh; cs.dw = k.dw;
      cs.pt = k.pt; cs.pl = k.pl; cs.pb = k.pb; cs.pr = k.pr;
      cs.zx = kZeroPoints[seed % 3];
      cs.zy = kZeroPoints[(seed / 3) % 3];
      cs.seed = seed++;
      EXPECT_EQ(Check(cs), 0);
      Problem pr;
      ASSERT_TRUE(MakeProblem(cs, &pr));
      const auto packed = PackFor(pr, false);
      const qk::Conv2DParams& p = pr.p;
      const size_t ny = static_cast<size_t>(p.n) * p.oh * p.ow * c;
      std::vector<uint8_t> full(ny, 0xA5);
      qk::qu8_dwconv_minmax_fp32__avx2_c16(p, pr.x.data(), cs.zx, packed.data(), cs.zy, cs.r,
                                           full.data());
      for (int split = 0; split <= p.oh; ++split) {
        std::vector<uint8_t> got(ny, 0x5A);
        qk::qu8_dwconv_minmax_fp32__avx2_c16_rows(p, 0, split, pr.x.data(), cs.zx,
                                                  packed.data(), cs.zy, cs.r, got.data());
        // Only rows [0, split) of each image written so far.
        int64_t stray = 0;
        const size_t row_bytes = static_cast<size_t>(p.ow) * c;
        for (int n = 0; n < p.n; ++n)
          for (int oy = split; oy < p.oh; ++oy)
            for (size_t i = 0; i < row_bytes; ++i)
              stray += got[(static_cast<size_t>(n) * p.oh + oy) * row_bytes + i] != 0x5A;
        EXPECT_EQ(stray, 0) << cs.Name() << " split " << split;
        qk::qu8_dwconv_minmax_fp32__avx2_c16_rows(p, split, p.oh + 3, pr.x.data(), cs.zx,
                                                  packed.data(), cs.zy, cs.r, got.data());
        qk::qu8_dwconv_minmax_fp32__avx2_c16_rows(p, -2, 0, pr.x.data(), cs.zx, packed.data(),
                                                  cs.zy, cs.r, got.data());
        EXPECT_EQ(got, full) << cs.Name() << " split " << split;
      }
    }
}

TEST(X86DwConvF32, RowRangesMatchFullCall) {
  SKIP_WITHOUT_AVX2();
  const Kernel kernels[] = {
      {3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
      {5, 5, 1, 2, 2, 1, 2, 2, 2, 2}, {1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
  };
  std::mt19937 rng(77);
  for (const Kernel& k : kernels)
    for (int c : {3, 8, 16, 33, 72}) {
      Case cs;
      cs.c = c;
      cs.n = 2;
      cs.h = 8; cs.w = 11;
      cs.kh = k.kh; cs.kw = k.kw; cs.sh = k.sh; cs.sw = k.sw; cs.dh = k.dh; cs.dw = k.dw;
      cs.pt = k.pt; cs.pl = k.pl; cs.pb = k.pb; cs.pr = k.pr;
      qk::Conv2DParams p;
      kt::SetWindow(cs, &p);
      ASSERT_GT(p.oh, 0);
      p.cin = p.cout = p.groups = c;
      const auto x = kt::RandomF(int64_t{p.n} * p.h * p.w * c, rng);
      const auto w = kt::RandomF(int64_t{c} * p.kh * p.kw, rng);
      const auto bias = kt::RandomF(c, rng);
      std::vector<uint8_t> packed(qk::f32_dwconv_c16_packed_size(c, p.kh, p.kw));
      qk::f32_dwconv_c16_pack(c, p.kh, p.kw, w.data(), bias.data(), packed.data());
      const qk::FRange act{-0.5f, 0.75f};
      const size_t ny = static_cast<size_t>(p.n) * p.oh * p.ow * c;
      std::vector<float> full(ny, 1e30f);
      qk::f32_dwconv_minmax__avx2_c16(p, x.data(), packed.data(), act, full.data());
      for (int split = 0; split <= p.oh; ++split) {
        std::vector<float> got(ny, -3.f);
        qk::f32_dwconv_minmax__avx2_c16_rows(p, 0, split, x.data(), packed.data(), act,
                                             got.data());
        const size_t row = static_cast<size_t>(p.ow) * c;
        int64_t stray = 0;
        for (int n = 0; n < p.n; ++n)
          for (int oy = split; oy < p.oh; ++oy)
            for (size_t i = 0; i < row; ++i)
              stray += got[(static_cast<size_t>(n) * p.oh + oy) * row + i] != -3.f;
        EXPECT_EQ(stray, 0) << "c=" << c << " split " << split;
        qk::f32_dwconv_minmax__avx2_c16_rows(p, split, p.oh, x.data(), packed.data(), act,
                                             got.data());
        EXPECT_EQ(0, std::memcmp(got.data(), full.data(), ny * sizeof(float)))
            << "c=" << c << " k=" << k.kh << "x" << k.kw << " split " << split;
      }
    }
}

// Wide 3x3 layers (several 32-column segments, stride_h 2 with stride_w 1,
// channel tails) through the ring-buffer path, input against a guard page.
TEST(X86DwConv, Ring3x3WideAndGuarded) {
  SKIP_WITHOUT_AVX2();
  uint32_t seed = 12000;
  for (int c : {1, 7, 16, 31, 33, 64})
    for (int sh : {1, 2})
      for (int sw : {1, 2}) {
        Case cs;
        cs.c = c;
        cs.h = 11; cs.w = 70;
        cs.sh = sh; cs.sw = sw;
        cs.pt = 1; cs.pl = 1; cs.pb = sh == 2 ? 0 : 1; cs.pr = sw == 2 ? 0 : 1;
        cs.zx = kZeroPoints[seed % 3];
        cs.zy = kZeroPoints[(seed / 3) % 3];
        cs.seed = seed++;
        EXPECT_EQ(Check(cs), 0);
        Problem pr;
        ASSERT_TRUE(MakeProblem(cs, &pr));
        const kt::TailGuarded guarded(pr.x.data(), pr.x.size());
        ASSERT_NE(guarded.data(), nullptr);
        const size_t ny = static_cast<size_t>(pr.p.oh) * pr.p.ow * c;
        std::vector<uint8_t> want(ny), got(ny);
        qk::qu8_conv2d_minmax_fp32__ref(pr.p, pr.x.data(), cs.zx, pr.w.data(), pr.bias.data(),
                                        pr.mul.data(), cs.zy, cs.r, want.data());
        const auto packed = PackFor(pr, false);
        qk::qu8_dwconv_minmax_fp32__avx2_c16(pr.p, guarded.data(), cs.zx, packed.data(), cs.zy,
                                             cs.r, got.data());
        EXPECT_EQ(want, got) << cs.Name();
      }
}

}  // namespace
