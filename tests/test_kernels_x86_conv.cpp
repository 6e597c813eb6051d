// qu8_igemm_minmax_fp32__avx2_4x16c2 (+ qu8_igemm_16c2_pack and
// qu8_conv_indirection_build) against qu8_conv2d_minmax_fp32__ref with
// groups == 1: the same bytes over sweeps of input/output channels (both
// packing modes: gather for cin < 8, tap for cin >= 8), kernel sizes, strides,
// dilations, asymmetric paddings, input sizes, batches, zero points, clamps and
// extreme values; outputs pre-filled with two sentinels with guard zones
// checked; the input placed against an unreadable page.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
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

#define SKIP_WITHOUT_AVX2()                                                                  \
  do {                                                                                       \
    if (!qk::cpu_supports(qk::Tier::kAvx2))                                                   \
      GTEST_SKIP() << "CPU lacks AVX2 (+FMA): the avx2 igemm conv kernel cannot run here";   \
  } while (0)

struct Case {
  int cin = 8, cout = 16;
  int n = 1, h = 5, w = 5;
  int kh = 3, kw = 3;
  int sh = 1, sw = 1, dh = 1, dw = 1;
  int pt = 1, pl = 1, pb = 1, pr = 1;
  int32_t zx = 128, zy = 128;
  qk::QRange r;
  enum class Fill { kRandom, kMin, kMax } x_fill = Fill::kRandom, w_fill = Fill::kRandom;
  bool w_negative_extreme = false;
  bool null_bias = false;
  float mul_scale = 1.f;
  uint32_t seed = 1;

  std::string Name() const {
    return "cin=" + std::to_string(cin) + " cout=" + std::to_string(cout) +
           " n=" + std::to_string(n) + " in=" + std::to_string(h) + "x" + std::to_string(w) +
           " k=" + std::to_string(kh) + "x" + std::to_string(kw) + " s=" + std::to_string(sh) +
           "," + std::to_string(sw) + " d=" + std::to_string(dh) + "," + std::to_string(dw) +
           " pad(t,l,b,r)=" + std::to_string(pt) + "," + std::to_string(pl) + "," +
           std::to_string(pb) + "," + std::to_string(pr) + " zx=" + std::to_string(zx) +
           " zy=" + std::to_string(zy) + " q=[" + std::to_string(r.qmin) + "," +
           std::to_string(r.qmax) + "]";
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
  pr->p.cin = cs.cin;
  pr->p.cout = cs.cout;
  pr->p.groups = 1;
  std::mt19937 rng(cs.seed * 7919u + static_cast<uint32_t>(cs.cin * 131 + cs.cout));
  const int64_t row = int64_t{cs.kh} * cs.kw * cs.cin;
  const int64_t nx = int64_t{cs.n} * cs.h * cs.w * cs.cin;
  switch (cs.x_fill) {
    case Case::Fill::kRandom: pr->x = kt::RandomU8(nx, rng); break;
    case Case::Fill::kMin: pr->x.assign(static_cast<size_t>(nx), 0); break;
    case Case::Fill::kMax: pr->x.assign(static_cast<size_t>(nx), 255); break;
  }
  const int64_t nw = cs.cout * row;
  switch (cs.w_fill) {
    case Case::Fill::kRandom:
      pr->w = kt::RandomI8(nw, rng);
      for (size_t i = 0; i < pr->w.size(); i += 5) pr->w[i] = (i / 5) % 2 ? 127 : -127;
      break;
    case Case::Fill::kMin: pr->w.assign(static_cast<size_t>(nw), 0); break;
    case Case::Fill::kMax:
      pr->w.assign(static_cast<size_t>(nw),
                   static_cast<int8_t>(cs.w_negative_extreme ? -127 : 127));
      break;
  }
  std::uniform_int_distribution<int32_t> bd(-20000, 20000);
  std::vector<int32_t> raw(static_cast<size_t>(cs.cout));
  for (auto& b : raw) b = bd(rng);
  std::vector<int64_t> folded(static_cast<size_t>(cs.cout));
  qk::fold_bias_qs8(cs.cout, row, pr->w.data(), cs.null_bias ? nullptr : raw.data(), cs.zx,
                    folded.data());
  pr->bias.resize(folded.size());
  for (size_t i = 0; i < folded.size(); ++i) {
    EXPECT_LE(std::llabs(folded[i]), int64_t{std::numeric_limits<int32_t>::max()});
    pr->bias[i] = static_cast<int32_t>(folded[i]);
  }
  const float base = 100.f / (std::sqrt(static_cast<float>(row)) * 73.f * 73.f);
  std::uniform_real_distribution<float> md(0.25f, 4.f);
  pr->mul.resize(static_cast<size_t>(cs.cout));
  for (auto& m : pr->mul) m = base * md(rng) * cs.mul_scale;
  return true;
}

struct Prepared {
  std::vector<uint8_t> packed;
  std::vector<int32_t> ind;
};

Prepared Prepare(const Problem& pr, int32_t zx, bool null_bias) {
  Prepared out;
  const size_t bytes = qk::qu8_igemm_16c2_packed_size(pr.p.cout, pr.p.kh, pr.p.kw, pr.p.cin);
  out.packed.assign(bytes + 64, 0xCD);
  qk::qu8_igemm_16c2_pack(pr.p.cout, pr.p.kh, pr.p.kw, pr.p.cin, pr.w.data(),
                          null_bias ? nullptr : pr.bias.data(), pr.mul.data(), zx,
                          out.packed.data());
  for (size_t i = bytes; i < out.packed.size(); ++i) EXPECT_EQ(out.packed[i], 0xCD);
  out.ind.assign(qk::qu8_conv_indirection_size(pr.p), 0x7EADBEEF);
  EXPECT_TRUE(qk::qu8_conv_indirection_build(pr.p, out.ind.data()));
  return out;
}

int64_t Compare(const Case& cs, const std::vector<uint8_t>& want,
                const std::vector<uint8_t>& got) {
  int64_t bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] != got[i]) {
      if (bad == 0) {
        ADD_FAILURE() << cs.Name() << ": first difference at " << i << " (channel "
                      << static_cast<int64_t>(i) % cs.cout << "): ref " << int{want[i]}
                      << " avx2 " << int{got[i]};
      }
      ++bad;
    }
  }
  return bad;
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
  const Prepared prep = Prepare(pr, cs.zx, null_bias);
  const auto got = kt::RunGuarded<uint8_t>(ny, [&](uint8_t* y) {
    qk::qu8_igemm_minmax_fp32__avx2_4x16c2(pr.p, pr.x.data(), prep.ind.data(),
                                           prep.packed.data(), cs.zy, cs.r, y);
  });
  return Compare(cs, want, got);
}

constexpr int32_t kZeroPoints[] = {0, 128, 255};

struct Kernel {
  int kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
};

TEST(X86Conv, IndirectionTable) {
  qk::Conv2DParams p;
  p.h = 3; p.w = 4; p.cin = 5; p.kh = 2; p.kw = 3;
  p.stride_h = 2; p.dil_w = 2; p.pad_top = 1; p.pad_left = 2;
  p.oh = static_cast<int>(qk::window_out_dim(3, 2, 2, 1, 1, 0));
  p.ow = static_cast<int>(qk::window_out_dim(4, 3, 1, 2, 2, 1));
  ASSERT_EQ(qk::qu8_conv_indirection_size(p), static_cast<size_t>(p.oh * p.ow * 6));
  std::vector<int32_t> t(qk::qu8_conv_indirection_size(p));
  ASSERT_TRUE(qk::qu8_conv_indirection_build(p, t.data()));
  size_t i = 0;
  for (int oy = 0; oy < p.oh; ++oy)
    for (int ox = 0; ox < p.ow; ++ox)
      for (int ky = 0; ky < 2; ++ky)
        for (int kx = 0; kx < 3; ++kx) {
          const int iy = oy * 2 - 1 + ky, ix = ox - 2 + kx * 2;
          const int32_t want = iy >= 0 && iy < 3 && ix >= 0 && ix < 4 ? (iy * 4 + ix) * 5 : -1;
          EXPECT_EQ(t[i++], want) << oy << "," << ox << "," << ky << "," << kx;
        }
  p.oh = 0;
  EXPECT_EQ(qk::qu8_conv_indirection_size(p), size_t{0});
  EXPECT_FALSE(qk::qu8_conv_indirection_build(p, t.data()));
}

TEST(X86Conv, PackedSize) {
  EXPECT_EQ(qk::qu8_igemm_16c2_packed_size(0, 3, 3, 8), size_t{0});
  // tap mode: 9 taps x 1 chunk; header 64, block 128 + 256*9, zbuf 32.
  EXPECT_EQ(qk::qu8_igemm_16c2_packed_size(16, 3, 3, 8), size_t{64 + 128 + 256 * 9 + 32});
  EXPECT_EQ(qk::qu8_igemm_16c2_packed_size(17, 3, 3, 17),
            size_t{64 + 2 * (128 + 256 * 27) + 32});
  // gather mode: 40 (tap, ci) positions -> 5 chunks.
  EXPECT_EQ(qk::qu8_igemm_16c2_packed_size(64, 10, 4, 1), size_t{64 + 4 * (128 + 256 * 5) + 32});
}

TEST(X86Conv, ChannelSweep) {
  SKIP_WITHOUT_AVX2();
  const Kernel kernels[] = {
      {3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  // 3x3 same
      {3, 3, 2, 2, 1, 1, 0, 1, 1, 0},  // 3x3 stride 2, asymmetric pad
      {1, 1, 2, 2, 1, 1, 0, 0, 0, 0},  // 1x1 stride 2
      {1, 1, 1, 1, 1, 1, 1, 0, 0, 1},  // 1x1 padded
      {3, 1, 1, 2, 2, 1, 2, 0, 1, 0},  // 3x1, dilation 2 in h, stride 2 in w
  };
  const int cins[] = {1, 2, 3, 4, 8, 15, 16, 17, 32};
  std::vector<int> couts;
  for (int c = 1; c <= 17; ++c) couts.push_back(c);
  for (int c : {31, 32, 33, 64}) couts.push_back(c);
  int64_t bad = 0, cases = 0;
  uint32_t seed = 1;
  for (int ci : cins)
    for (int co : couts)
      for (const Kernel& k : kernels) {
        Case cs;
        cs.cin = ci;
        cs.cout = co;
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
  EXPECT_EQ(bad, 0) << "over " << cases << " cases";
}

TEST(X86Conv, GeometrySweep) {
  SKIP_WITHOUT_AVX2();
  const int kernel_sizes[][2] = {{3, 3}, {5, 5}, {1, 1}, {3, 1}, {10, 4}};
  const int strides[][2] = {{1, 1}, {2, 2}, {1, 2}};
  const int dilations[][2] = {{1, 1}, {2, 2}, {2, 1}};
  const int pads[][4] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 1, 0, 2}, {0, 2, 1, 0}};
  const int sizes[][2] = {{1, 1}, {5, 5}, {7, 9}};
  const int channels[][2] = {{3, 5}, {16, 16}, {17, 24}, {4, 33}};
  int64_t bad = 0, cases = 0;
  uint32_t seed = 100;
  for (const auto& ch : channels)
    for (const auto& ks : kernel_sizes)
      for (const auto& st : strides)
        for (const auto& dl : dilations)
          for (const auto& pd : pads)
            for (const auto& sz : sizes) {
              Case cs;
              cs.cin = ch[0];
              cs.cout = ch[1];
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

TEST(X86Conv, ZeroPointsAndClamps) {
  SKIP_WITHOUT_AVX2();
  int64_t bad = 0;
  uint32_t seed = 5000;
  for (int32_t zx : kZeroPoints)
    for (int32_t zy : kZeroPoints)
      for (int clamp = 0; clamp < 3; ++clamp)
        for (int ci : {2, 8, 19})
          for (int co : {7, 17, 40}) {
            Case cs;
            cs.cin = ci;
            cs.cout = co;
            cs.h = 6; cs.w = 5;
            cs.pt = 1; cs.pl = 0; cs.pb = 2; cs.pr = 1;
            cs.zx = zx;
            cs.zy = zy;
            if (clamp == 1) cs.r = {zy, 255};                                // relu
            if (clamp == 2) cs.r = {std::min(zy, 40), std::max(zy, 200)};    // narrow
            cs.seed = seed++;
            bad += Check(cs);
          }
  EXPECT_EQ(bad, 0);
}

TEST(X86Conv, ExtremeValues) {
  SKIP_WITHOUT_AVX2();
  int64_t bad = 0;
  uint32_t seed = 7000;
  using F = Case::Fill;
  for (F xf : {F::kMin, F::kMax, F::kRandom})
    for (int wsign = 0; wsign < 2; ++wsign)
      for (int32_t zx : kZeroPoints)
        for (float ms : {1.f, 1e-3f, 1e3f})
          for (int ci : {3, 24}) {
            Case cs;
            cs.cin = ci;
            cs.cout = 19;
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

TEST(X86Conv, NullBiasAndZeroWeights) {
  SKIP_WITHOUT_AVX2();
  int64_t bad = 0;
  for (int ci : {1, 9, 16})
    for (int co : {3, 16, 21}) {
      Case cs;
      cs.cin = ci;
      cs.cout = co;
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

// Small cin with many taps: several gather passes (more than 512 K bytes).
TEST(X86Conv, GatherSeveralPasses) {
  SKIP_WITHOUT_AVX2();
  int64_t bad = 0;
  for (int ci : {1, 3, 7})
    for (int co : {5, 33}) {
      Case cs;
      cs.cin = ci;
      cs.cout = co;
      cs.h = 15; cs.w = 14;
      cs.kh = 13; cs.kw = 13;  // 169 taps: 1 pass for cin 1..3, 3 for cin 7
      cs.pt = 6; cs.pl = 5; cs.pb = 6; cs.pr = 7;
      cs.sh = 2;
      cs.zx = 255;
      cs.zy = 0;
      cs.seed = static_cast<uint32_t>(ci * 31 + co);
      bad += Check(cs);
      cs.kh = 31; cs.kw = 23;  // 713 taps: 2 passes even for cin 1
      cs.pt = 15; cs.pl = 11; cs.pb = 15; cs.pr = 11;
      cs.h = 9; cs.w = 8;
      bad += Check(cs);
    }
  EXPECT_EQ(bad, 0);
}

TEST(X86Conv, ResNet8Layer32x32) {
  SKIP_WITHOUT_AVX2();
  for (int n : {1, 2}) {
    Case cs;
    cs.cin = cs.cout = 16;
    cs.n = n;
    cs.h = cs.w = 32;
    cs.zx = 0;
    cs.zy = 0;
    cs.r = {0, 255};
    cs.seed = 11 + static_cast<uint32_t>(n);
    EXPECT_EQ(Check(cs), 0);
    cs.r = {0, 200};
    cs.zx = 128;
    EXPECT_EQ(Check(cs), 0);
  }
}

TEST(X86Conv, DsCnnFirstLayer49x10) {
  SKIP_WITHOUT_AVX2();
  for (int n : {1, 2}) {
    Case cs;
    cs.cin = 1;
    cs.cout = 64;
    cs.n = n;
    cs.h = 49; cs.w = 10;
    cs.kh = 10; cs.kw = 4;
    cs.sh = cs.sw = 2;
    cs.pt = 4; cs.pl = 1; cs.pb = 5; cs.pr = 1;  // TF "SAME": 25x5 output
    cs.zx = 255;
    cs.zy = 0;
    cs.r = {0, 255};
    cs.seed = 21 + static_cast<uint32_t>(n);
    Problem probe;
    kt::SetWindow(cs, &probe.p);
    EXPECT_EQ(probe.p.oh, 25);
    EXPECT_EQ(probe.p.ow, 5);
    EXPECT_EQ(Check(cs), 0);
  }
}

// The input ends right before a PROT_NONE page: a read of any byte past the
// input faults. Channel counts with a tail (not a multiple of 8) and tiny cin
// exercise the tail-chunk and gather paths at the last pixel.
TEST(X86Conv, ReadsNothingPastTheInput) {
  SKIP_WITHOUT_AVX2();
  for (int ci : {1, 2, 3, 7, 8, 9, 15, 17, 31})
    for (int n : {1, 2}) {
      Case cs;
      cs.cin = ci;
      cs.cout = 20;
      cs.n = n;
      cs.h = 4; cs.w = 3;
      cs.pt = 0; cs.pl = 0; cs.pb = 2; cs.pr = 2;
      Problem pr;
      ASSERT_TRUE(MakeProblem(cs, &pr));
      const kt::TailGuarded guarded(pr.x.data(), pr.x.size());
      ASSERT_NE(guarded.data(), nullptr);
      const uint8_t* x = guarded.data();
      const int64_t ny = int64_t{n} * pr.p.oh * pr.p.ow * cs.cout;
      std::vector<uint8_t> want(static_cast<size_t>(ny)), got(static_cast<size_t>(ny));
      qk::qu8_conv2d_minmax_fp32__ref(pr.p, pr.x.data(), cs.zx, pr.w.data(), pr.bias.data(),
                                      pr.mul.data(), cs.zy, cs.r, want.data());
      const Prepared prep = Prepare(pr, cs.zx, false);
      qk::qu8_igemm_minmax_fp32__avx2_4x16c2(pr.p, x, prep.ind.data(), prep.packed.data(),
                                             cs.zy, cs.r, got.data());
      EXPECT_EQ(Compare(cs, want, got), 0) << "cin=" << ci << " n=" << n;
    }
}

// ------------------------------------------------ first layers (cin < 8)
// cin 1..4 (row mode for 8 <= kw*cin <= 32 and kh <= 16, gather otherwise):
// kernel sizes 1..7, 10x4 and wide rows, strides 1..3, dilations, paddings,
// images big enough for interior (dense) tiles, cout 1..40 (8-wide blocks for
// cout <= 8), all zero points and clamps; guarded outputs (Check).
struct SmallKernel {
  int kh, kw, dh, dw;
};

TEST(X86ConvFirstLayer, SmallCinSweep) {
  SKIP_WITHOUT_AVX2();
  const SmallKernel kernels[] = {{1, 1, 1, 1}, {2, 2, 1, 1}, {3, 3, 1, 1}, {4, 4, 1, 1},
                                 {5, 5, 1, 1}, {6, 6, 1, 1}, {7, 7, 1, 1}, {10, 4, 1, 1},
                                 {3, 8, 1, 1}, {1, 9, 1, 1}, {3, 3, 2, 1}, {3, 3, 1, 2},
                                 {17, 2, 1, 1}, {2, 11, 1, 1}};
  const int couts[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 24, 31, 33, 40};
  int64_t bad = 0, cases = 0;
  uint32_t seed = 5000;
  for (int ci = 1; ci <= 4; ++ci)
    for (const SmallKernel& k : kernels)
      for (int s = 1; s <= 3; ++s)
        for (int pad = 0; pad < 2; ++pad) {
          Case cs;
          cs.cin = ci;
          cs.cout = couts[seed % (sizeof(couts) / sizeof(couts[0]))];
          cs.n = 1 + static_cast<int>(seed % 3 == 0);
          cs.h = 13 + static_cast<int>(seed % 4);
          cs.w = 11 + static_cast<int>(seed % 5);
          cs.kh = k.kh; cs.kw = k.kw; cs.dh = k.dh; cs.dw = k.dw;
          cs.sh = s;
          cs.sw = 1 + (s + pad) % 3;
          if (pad == 0) {
            cs.pt = cs.pl = cs.pb = cs.pr = 0;
          } else {  // asymmetric, TF "SAME"-like
            cs.pt = k.kh / 2; cs.pl = (k.kw - 1) / 2; cs.pb = k.kh - 1 - cs.pt + 1;
            cs.pr = k.kw / 2;
          }
          cs.zx = kZeroPoints[seed % 3];
          cs.zy = kZeroPoints[(seed / 3) % 3];
          if (seed % 4 == 1) cs.r = {cs.zy, 255};
          if (seed % 4 == 2) cs.r = {std::min(cs.zy, 40), std::max(cs.zy, 200)};
          cs.seed = seed++;
          bad += Check(cs);
          ++cases;
          if (bad > 20) FAIL() << "too many mismatches";
        }
  EXPECT_EQ(bad, 0) << "over " << cases << " cases";
}

// Every cout 1..40 on the three reference first layers' kernels (small images).
TEST(X86ConvFirstLayer, CoutSweep) {
  SKIP_WITHOUT_AVX2();
  int64_t bad = 0;
  uint32_t seed = 5600;
  for (int co = 1; co <= 40; ++co)
    for (int which = 0; which < 3; ++which) {
      Case cs;
      cs.cout = co;
      cs.zx = kZeroPoints[seed % 3];
      cs.zy = kZeroPoints[(seed / 3) % 3];
      cs.seed = seed++;
      if (which == 0) {  // MobileNetV1 first layer, scaled down
        cs.cin = 3; cs.h = cs.w = 14; cs.sh = cs.sw = 2;
        cs.pt = cs.pl = 0; cs.pb = cs.pr = 1;
      } else if (which == 1) {  // ResNet-8 first layer
        cs.cin = 3; cs.h = cs.w = 10;
      } else {  // DS-CNN first layer
        cs.cin = 1; cs.h = 21; cs.w = 10; cs.kh = 10; cs.kw = 4; cs.sh = cs.sw = 2;
        cs.pt = 4; cs.pl = 1; cs.pb = 5; cs.pr = 1;
      }
      bad += Check(cs);
    }
  EXPECT_EQ(bad, 0);
}

// Extreme inputs / weights through the row mode (int32 sums of 255 * +-127).
TEST(X86ConvFirstLayer, ExtremeValues) {
  SKIP_WITHOUT_AVX2();
  int64_t bad = 0;
  for (int ci : {1, 2, 3, 4})
    for (int co : {8, 16, 19})
      for (int neg = 0; neg < 2; ++neg)
        for (int zx : {0, 255}) {
          Case cs;
          cs.cin = ci;
          cs.cout = co;
          cs.h = cs.w = 12;
          cs.kh = cs.kw = 8 / ci + 1;
          cs.x_fill = Case::Fill::kMax;
          cs.w_fill = Case::Fill::kMax;
          cs.w_negative_extreme = neg == 1;
          cs.zx = zx;
          cs.mul_scale = 1e-3f;
          bad += Check(cs);
        }
  EXPECT_EQ(bad, 0);
}

// The input against an unreadable page, with the last rows of the image read
// directly (no padding at the bottom/right: dense tiles reach the last byte).
TEST(X86ConvFirstLayer, ReadsNothingPastTheInput) {
  SKIP_WITHOUT_AVX2();
  const SmallKernel kernels[] = {{3, 3, 1, 1}, {1, 8, 1, 1}, {2, 5, 1, 1}, {3, 3, 1, 2}};
  for (int ci = 1; ci <= 4; ++ci)
    for (const SmallKernel& k : kernels)
      for (int co : {8, 16, 20}) {
        Case cs;
        cs.cin = ci;
        cs.cout = co;
        cs.h = 9; cs.w = 12;
        cs.kh = k.kh; cs.kw = k.kw; cs.dh = k.dh; cs.dw = k.dw;
        cs.pt = cs.pl = cs.pb = cs.pr = 0;
        Problem pr;
        if (!MakeProblem(cs, &pr)) continue;
        const kt::TailGuarded guarded(pr.x.data(), pr.x.size());
        ASSERT_NE(guarded.data(), nullptr);
        const int64_t ny = int64_t{pr.p.oh} * pr.p.ow * cs.cout;
        std::vector<uint8_t> want(static_cast<size_t>(ny)), got(static_cast<size_t>(ny));
        qk::qu8_conv2d_minmax_fp32__ref(pr.p, pr.x.data(), cs.zx, pr.w.data(), pr.bias.data(),
                                        pr.mul.data(), cs.zy, cs.r, want.data());
        const Prepared prep = Prepare(pr, cs.zx, false);
        qk::qu8_igemm_minmax_fp32__avx2_4x16c2(pr.p, guarded.data(), prep.ind.data(),
                                               prep.packed.data(), cs.zy, cs.r, got.data());
        EXPECT_EQ(Compare(cs, want, got), 0);
      }
}

// --------------------------------------------------------- pixel ranges
// The range overload over several splits of the flattened n*oh*ow pixels
// (tile-aligned and not, empty pieces, pieces spanning images) gives the bytes
// of the full call and writes nothing outside its pixels.
int64_t CheckSplits(const Case& cs) {
  Problem pr;
  if (!MakeProblem(cs, &pr)) return 0;
  const Prepared prep = Prepare(pr, cs.zx, false);
  const int64_t total = int64_t{pr.p.n} * pr.p.oh * pr.p.ow;
  const int64_t ny = total * pr.p.cout;
  std::vector<uint8_t> full(static_cast<size_t>(ny));
  qk::qu8_igemm_minmax_fp32__avx2_4x16c2(pr.p, pr.x.data(), prep.ind.data(), prep.packed.data(),
                                         cs.zy, cs.r, full.data());
  std::vector<uint8_t> want(static_cast<size_t>(ny));
  qk::qu8_conv2d_minmax_fp32__ref(pr.p, pr.x.data(), cs.zx, pr.w.data(), pr.bias.data(),
                                  pr.mul.data(), cs.zy, cs.r, want.data());
  int64_t bad = Compare(cs, want, full);
  std::vector<std::vector<int64_t>> splits;
  for (int64_t parts : {2, 3, 5, 7}) {  // equal-ish pieces (thread splits)
    std::vector<int64_t> cut;
    for (int64_t t = 0; t <= parts; ++t) cut.push_back(total * t / parts);
    splits.push_back(cut);
  }
  for (int64_t step : {1, 3, 4, 5, 6, 9}) {  // fixed pieces, last one shorter
    std::vector<int64_t> cut;
    for (int64_t b = 0; b < total; b += step) cut.push_back(b);
    cut.push_back(total);
    splits.push_back(cut);
  }
  splits.push_back({0, 0, 1, total / 2 + 1, total / 2 + 1, total - 1, total});
  for (const auto& cut : splits) {
    std::vector<uint8_t> got(static_cast<size_t>(ny + 2 * kt::kGuard), 0xA5);
    uint8_t* y = got.data() + kt::kGuard;
    for (size_t t = 0; t + 1 < cut.size(); ++t) {
      // each piece alone writes exactly its pixels
      std::vector<uint8_t> before(got);
      qk::qu8_igemm_minmax_fp32__avx2_4x16c2(pr.p, pr.x.data(), prep.ind.data(),
                                             prep.packed.data(), cs.zy, cs.r, y, cut[t],
                                             cut[t + 1], nullptr);
      const size_t lo = static_cast<size_t>(kt::kGuard + cut[t] * pr.p.cout);
      const size_t hi = static_cast<size_t>(kt::kGuard + cut[t + 1] * pr.p.cout);
      for (size_t i = 0; i < got.size(); ++i) {
        if ((i < lo || i >= hi) && got[i] != before[i]) {
          ADD_FAILURE() << cs.Name() << ": piece [" << cut[t] << ", " << cut[t + 1]
                        << ") wrote byte " << static_cast<int64_t>(i) - kt::kGuard;
          ++bad;
          break;
        }
      }
    }
    std::vector<uint8_t> body(got.begin() + kt::kGuard, got.begin() + kt::kGuard + ny);
    bad += Compare(cs, full, body);
  }
  // out-of-range bounds are clamped; empty or reversed ranges write nothing
  std::vector<uint8_t> got(static_cast<size_t>(ny), 0x5A);
  qk::qu8_igemm_minmax_fp32__avx2_4x16c2(pr.p, pr.x.data(), prep.ind.data(), prep.packed.data(),
                                         cs.zy, cs.r, got.data(), 3, 3, nullptr);
  qk::qu8_igemm_minmax_fp32__avx2_4x16c2(pr.p, pr.x.data(), prep.ind.data(), prep.packed.data(),
                                         cs.zy, cs.r, got.data(), 5, 2, nullptr);
  for (uint8_t b : got) bad += b != 0x5A;
  qk::qu8_igemm_minmax_fp32__avx2_4x16c2(pr.p, pr.x.data(), prep.ind.data(), prep.packed.data(),
                                         cs.zy, cs.r, got.data(), -5, total + 9, nullptr);
  bad += Compare(cs, full, got);
  return bad;
}

TEST(X86Conv, PixelRangeSplits) {
  SKIP_WITHOUT_AVX2();
  int64_t bad = 0;
  uint32_t seed = 9000;
  // tap and gather modes, several images, m per image not a multiple of 4
  const int shapes[][6] = {  // cin, cout, n, h, w, stride
      {16, 16, 2, 7, 9, 1}, {3, 16, 3, 9, 7, 2}, {1, 33, 2, 6, 5, 1},
      {17, 20, 3, 5, 5, 1}, {8, 40, 1, 11, 6, 2}, {5, 7, 2, 3, 3, 1},
      {3, 8, 2, 13, 11, 2}, {3, 5, 1, 10, 9, 1}, {4, 24, 2, 9, 13, 1}, {2, 17, 3, 7, 12, 3}};
  for (const auto& sh : shapes) {
    Case cs;
    cs.cin = sh[0];
    cs.cout = sh[1];
    cs.n = sh[2];
    cs.h = sh[3];
    cs.w = sh[4];
    cs.sh = cs.sw = sh[5];
    cs.zx = kZeroPoints[seed % 3];
    cs.zy = kZeroPoints[(seed / 3) % 3];
    cs.seed = seed++;
    bad += CheckSplits(cs);
  }
  EXPECT_EQ(bad, 0);
}

// ------------------------------------------------- fused residual Add
// Against the unfused reference pair: qu8_conv2d_minmax_fp32__ref into a
// temporary, then qu8_add_minmax_fp32__ref in the graph's operand order. Run
// in pieces (a range split) and in place (y == residual) too.
struct ResOpts {
  qk::QAddParams add;
  qk::AddOrder order = qk::AddOrder::kConvFirst;
  bool in_place = false;
  size_t s_extra = 0;  // residual pixel stride - cout (not in place)
  int pieces = 1;
};

int64_t CheckResidual(const Case& cs, const ResOpts& ro) {
  Problem pr;
  if (!MakeProblem(cs, &pr)) return 0;
  const int64_t total = int64_t{pr.p.n} * pr.p.oh * pr.p.ow;
  const int64_t ny = total * pr.p.cout;
  const size_t cout = static_cast<size_t>(pr.p.cout);
  std::vector<uint8_t> conv(static_cast<size_t>(ny));
  qk::qu8_conv2d_minmax_fp32__ref(pr.p, pr.x.data(), cs.zx, pr.w.data(), pr.bias.data(),
                                  pr.mul.data(), cs.zy, cs.r, conv.data());
  std::mt19937 rng(cs.seed * 31u + 5u);
  const std::vector<uint8_t> skip = kt::RandomU8(ny, rng);
  const int64_t shape[2] = {total, pr.p.cout};
  qk::BroadcastShape bs;
  EXPECT_TRUE(qk::make_broadcast(2, shape, 2, shape, &bs));
  std::vector<uint8_t> want(static_cast<size_t>(ny));
  if (ro.order == qk::AddOrder::kConvFirst) {
    qk::qu8_add_minmax_fp32__ref(bs, conv.data(), skip.data(), ro.add, want.data());
  } else {
    qk::qu8_add_minmax_fp32__ref(bs, skip.data(), conv.data(), ro.add, want.data());
  }
  const Prepared prep = Prepare(pr, cs.zx, false);
  const size_t ss = ro.in_place ? cout : cout + ro.s_extra;
  int64_t bad = 0;
  for (int sidx = 0; sidx < 2; ++sidx) {
    const uint8_t sentinel = kt::Sentinel<uint8_t>(sidx);
    std::vector<uint8_t> ybuf(static_cast<size_t>(ny + 2 * kt::kGuard), sentinel);
    uint8_t* y = ybuf.data() + kt::kGuard;
    std::vector<uint8_t> sbuf(static_cast<size_t>(total) * ss + 1, 0x3C);
    uint8_t* sdata = ro.in_place ? y : sbuf.data();
    for (int64_t i = 0; i < total; ++i)
      std::memcpy(sdata + static_cast<size_t>(i) * ss, skip.data() + static_cast<size_t>(i) * cout,
                  cout);
    const std::vector<uint8_t> sbuf_before(sbuf);
    qk::QResidual res;
    res.data = sdata;
    res.stride = ss;
    res.add = ro.add;
    res.order = ro.order;
    for (int t = 0; t < ro.pieces; ++t) {
      qk::qu8_igemm_minmax_fp32__avx2_4x16c2(pr.p, pr.x.data(), prep.ind.data(),
                                             prep.packed.data(), cs.zy, cs.r, y,
                                             total * t / ro.pieces, total * (t + 1) / ro.pieces,
                                             &res);
    }
    for (int64_t i = 0; i < kt::kGuard; ++i) {
      bad += ybuf[static_cast<size_t>(i)] != sentinel;
      bad += ybuf[static_cast<size_t>(kt::kGuard + ny + i)] != sentinel;
    }
    std::vector<uint8_t> got(y, y + ny);
    bad += Compare(cs, want, got);
    if (!ro.in_place && sbuf != sbuf_before) {
      ADD_FAILURE() << cs.Name() << ": residual modified";
      ++bad;
    }
  }
  return bad;
}

qk::QAddParams AddParams(int which, std::mt19937& rng) {
  qk::QAddParams a;
  a.za = kZeroPoints[which % 3];
  a.zb = kZeroPoints[(which / 3) % 3];
  a.zy = kZeroPoints[(which / 9) % 3];
  std::uniform_real_distribution<float> lu(std::log(0.2f), std::log(2.f));
  a.ma = std::exp(lu(rng));
  a.mb = std::exp(lu(rng));
  switch ((which / 27) % 3) {
    case 0: a.r = {0, 255}; break;
    case 1: a.r = {a.zy, 255}; break;
    default: a.r = {std::min(a.zy, 180), std::min(a.zy, 180) + 60}; break;
  }
  return a;
}

TEST(X86ConvResidual, ChannelAndGeometrySweep) {
  SKIP_WITHOUT_AVX2();
  const Kernel kernels[] = {
      {3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {3, 3, 2, 2, 1, 1, 0, 1, 1, 0},
      {1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
      {3, 1, 1, 2, 2, 1, 2, 0, 1, 0},
  };
  std::mt19937 rng(606);
  int64_t bad = 0, cases = 0;
  uint32_t seed = 300;
  int which = 0;
  for (int ci : {1, 3, 4, 8, 16, 17})
    for (int co : {1, 5, 8, 15, 16, 17, 24, 33})
      for (const Kernel& k : kernels) {
        Case cs;
        cs.cin = ci;
        cs.cout = co;
        cs.n = 1 + static_cast<int>(seed % 2);
        cs.h = 6;
        cs.w = 7;
        cs.kh = k.kh; cs.kw = k.kw; cs.sh = k.sh; cs.sw = k.sw; cs.dh = k.dh; cs.dw = k.dw;
        cs.pt = k.pt; cs.pl = k.pl; cs.pb = k.pb; cs.pr = k.pr;
        cs.zx = kZeroPoints[seed % 3];
        cs.zy = kZeroPoints[(seed / 3) % 3];
        if (seed % 4 == 1) cs.r = {cs.zy, 255};
        if (seed % 4 == 2) cs.r = {std::min(cs.zy, 40), std::max(cs.zy, 200)};
        cs.seed = seed++;
        ResOpts ro;
        ro.add = AddParams(which, rng);
        ro.order = which % 2 ? qk::AddOrder::kResidualFirst : qk::AddOrder::kConvFirst;
        if (ro.order == qk::AddOrder::kConvFirst) ro.add.za = cs.zy; else ro.add.zb = cs.zy;
        ro.in_place = which % 3 == 0;
        ro.s_extra = which % 5 == 1 ? 3 : 0;
        ro.pieces = 1 + which % 3;
        ++which;
        bad += CheckResidual(cs, ro);
        ++cases;
        if (ci < 8) {  // a bigger image: the row mode's dense tiles
          cs.h = 12; cs.w = 13;
          bad += CheckResidual(cs, ro);
          ++cases;
        }
        if (bad > 20) FAIL() << "too many mismatches";
      }
  EXPECT_EQ(bad, 0) << "over " << cases << " cases";
}

TEST(X86ConvResidual, ZeroPointsClampsOrdersInPlace) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(707);
  int64_t bad = 0;
  uint32_t seed = 400;
  for (int which = 0; which < 81; ++which)
    for (int order = 0; order < 2; ++order)
      for (int in_place = 0; in_place < 2; ++in_place)
        for (int ci : {2, 3, 16}) {
          Case cs;
          cs.cin = ci;
          cs.cout = ci == 3 ? 7 : 19;
          cs.h = 5; cs.w = 5;
          cs.zx = kZeroPoints[which % 3];
          cs.zy = kZeroPoints[(which / 3) % 3];
          if (which % 3 == 1) cs.r = {cs.zy, 255};
          if (which % 3 == 2) cs.r = {std::min(cs.zy, 40), std::max(cs.zy, 200)};
          cs.seed = seed++;
          ResOpts ro;
          ro.add = AddParams(which, rng);
          ro.order = order ? qk::AddOrder::kResidualFirst : qk::AddOrder::kConvFirst;
          ro.in_place = in_place == 1;
          ro.pieces = 1 + which % 2;
          bad += CheckResidual(cs, ro);
          if (bad > 20) FAIL() << "too many mismatches";
        }
  EXPECT_EQ(bad, 0);
}

TEST(X86ConvResidual, ResNet8Block32x32) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(808);
  for (int order = 0; order < 2; ++order) {
    Case cs;
    cs.cin = cs.cout = 16;
    cs.h = cs.w = 32;
    cs.zx = 0;
    cs.zy = 128;
    cs.seed = 77;
    ResOpts ro;
    ro.add.za = order ? 3 : 128;
    ro.add.zb = order ? 128 : 3;
    ro.add.zy = 0;
    ro.add.ma = 0.6f;
    ro.add.mb = 0.9f;
    ro.add.r = {0, 255};  // Add + ReLU with zy = 0
    ro.order = order ? qk::AddOrder::kResidualFirst : qk::AddOrder::kConvFirst;
    ro.in_place = true;
    ro.pieces = 2;
    EXPECT_EQ(CheckResidual(cs, ro), 0);
  }
}

}  // namespace
