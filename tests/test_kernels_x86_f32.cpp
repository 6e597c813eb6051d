// The fp32 AVX2+FMA kernels f32_gemm_minmax__avx2_6x16 (+ f32_gemm_16_pack) and
// f32_dwconv_minmax__avx2_c16 (+ f32_dwconv_c16_pack) against the references
// f32_fully_connected__ref / f32_conv2d__ref over sweeps of shapes, strides,
// paddings, dilations and clamps; outputs pre-filled with two sentinels with
// guard zones checked (RunGuarded), input reads bounded by PROT_NONE pages.
//
// Tolerance. These kernels are NOT bit-exact with the float references: they
// use fused multiply-adds (one rounding per product+add instead of two) and a
// different summation order (the GEMM splits K over several accumulators for
// 1- and 2-row tiles). Each output is therefore checked with
//   |got - ref| <= 1e-5 * (sum_k |x*w| + |bias|) + 1e-6
// i.e. relative to the magnitude of the terms summed (the error bound of a
// float sum scales with that, not with the result, which may cancel to ~0).
// The clamp is 1-Lipschitz, so the same bound holds after it. NaN must match NaN.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

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
#include "quanta/kernels/x86.h"

namespace qk = quanta::kernels;
namespace kt = quanta::kernel_test;

namespace {

#define SKIP_WITHOUT_AVX2()                                                             \
  do {                                                                                  \
    if (!qk::cpu_supports(qk::Tier::kAvx2))                                              \
      GTEST_SKIP() << "CPU lacks AVX2 (+FMA): the avx2 f32 kernels cannot run on this host"; \
  } while (0)

const qk::FRange kClamps[3] = {
    {-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()},
    {0.f, std::numeric_limits<float>::infinity()},
    {0.f, 6.f}};
const char* const kClampNames[3] = {"none", "relu", "relu6"};

std::vector<float> Uniform(size_t n, std::mt19937& rng, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& f : v) f = d(rng);
  return v;
}

// Compares got with ref under the tolerance above; returns the number of
// mismatches (reports the first few).
int64_t Compare(const std::vector<float>& got, const std::vector<float>& ref,
                const std::vector<double>& mag, const std::string& what) {
  int64_t bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const float g = got[i], r = ref[i];
    bool ok;
    if (std::isnan(r) || std::isnan(g)) {
      ok = std::isnan(r) && std::isnan(g);
    } else if (std::isinf(r) || std::isinf(g)) {
      ok = r == g;
    } else {
      ok = std::fabs(double(g) - double(r)) <= 1e-5 * mag[i] + 1e-6;
    }
    if (!ok && ++bad <= 3) {
      ADD_FAILURE() << what << " at " << i << ": got " << g << " ref " << r << " (tol "
                    << 1e-5 * mag[i] + 1e-6 << ")";
    }
  }
  return bad;
}

// ------------------------------------------------------------------ GEMM

struct Gemm {
  int m, n, k;
  std::vector<float> x, w, bias;  // x [m, k], w [n, k], bias [n] (empty = null)
};

Gemm MakeGemm(int m, int n, int k, bool with_bias, std::mt19937& rng) {
  Gemm g{m, n, k, {}, {}, {}};
  g.x = Uniform(size_t(m) * size_t(k), rng, -2.f, 2.f);
  g.w = Uniform(size_t(n) * size_t(k), rng, -1.f, 1.f);
  if (with_bias) g.bias = Uniform(size_t(n), rng, -3.f, 3.f);
  return g;
}

std::vector<double> GemmMagnitude(const Gemm& g) {
  std::vector<double> mag(size_t(g.m) * size_t(g.n));
  for (int i = 0; i < g.m; ++i) {
    for (int j = 0; j < g.n; ++j) {
      double s = g.bias.empty() ? 0.0 : std::fabs(double(g.bias[size_t(j)]));
      for (int kk = 0; kk < g.k; ++kk) {
        s += std::fabs(double(g.x[size_t(i) * size_t(g.k) + size_t(kk)]) *
                       double(g.w[size_t(j) * size_t(g.k) + size_t(kk)]));
      }
      mag[size_t(i) * size_t(g.n) + size_t(j)] = s;
    }
  }
  return mag;
}

std::vector<float> PackGemm(const Gemm& g) {
  const size_t bytes = qk::f32_gemm_16_packed_size(g.n, g.k);
  EXPECT_EQ(bytes % 32, 0u);
  std::vector<float> packed(bytes / sizeof(float) + 1, std::numeric_limits<float>::quiet_NaN());
  qk::f32_gemm_16_pack(g.n, g.k, g.w.data(), g.bias.empty() ? nullptr : g.bias.data(),
                       packed.data());
  // The last float is past the packed size: the packing must not touch it.
  EXPECT_TRUE(std::isnan(packed.back())) << "packing wrote past its size";
  return packed;
}

std::vector<float> RefGemm(const Gemm& g, qk::FRange act) {
  std::vector<float> y(size_t(g.m) * size_t(g.n));
  qk::f32_fully_connected__ref(g.m, g.k, g.n, g.x.data(), g.w.data(),
                               g.bias.empty() ? nullptr : g.bias.data(), act, y.data());
  return y;
}

// Runs the kernel with x rows x_pad floats apart beyond k (the gap filled with
// NaN: reading it would poison the result) into a guarded, sentinel-filled y.
void CheckGemm(const Gemm& g, qk::FRange act, int x_pad, const std::string& what) {
  const auto packed = PackGemm(g);
  const size_t xs = size_t(g.k) + size_t(x_pad);
  std::vector<float> xbuf(size_t(g.m) * xs, std::numeric_limits<float>::quiet_NaN());
  for (int i = 0; i < g.m; ++i) {
    std::memcpy(xbuf.data() + size_t(i) * xs, g.x.data() + size_t(i) * size_t(g.k),
                size_t(g.k) * sizeof(float));
  }
  const auto got = kt::RunGuarded<float>(int64_t(g.m) * g.n, [&](float* y) {
    qk::f32_gemm_minmax__avx2_6x16(g.m, g.n, g.k, xbuf.data(), xs, packed.data(), act, y,
                                   size_t(g.n));
  });
  Compare(got, RefGemm(g, act), GemmMagnitude(g), what);
}

TEST(X86F32, GemmShapeSweep) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(1234);
  std::vector<int> ns, ks;
  for (int v = 1; v <= 33; ++v) ns.push_back(v), ks.push_back(v);
  ns.push_back(64);
  ks.push_back(64);
  ks.push_back(640);
  int idx = 0;
  for (int m = 1; m <= 9; ++m) {
    for (int n : ns) {
      for (int k : ks) {
        for (int c = 0; c < 3; ++c, ++idx) {
          const Gemm g = MakeGemm(m, n, k, idx % 5 != 0, rng);
          CheckGemm(g, kClamps[c], idx % 3,
                    "m=" + std::to_string(m) + " n=" + std::to_string(n) +
                        " k=" + std::to_string(k) + " clamp=" + kClampNames[c]);
          if (HasFailure()) return;
        }
      }
    }
  }
}

TEST(X86F32, GemmLargerShapes) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(77);
  const int shapes[][3] = {{1, 128, 640}, {1, 1000, 1280}, {13, 96, 24}, {50, 24, 144},
                           {128, 48, 768}, {37, 17, 300}, {6, 16, 1}, {12, 32, 0}};
  for (const auto& s : shapes) {
    for (int c = 0; c < 3; ++c) {
      const Gemm g = MakeGemm(s[0], s[1], s[2], true, rng);
      CheckGemm(g, kClamps[c], 5,
                "m=" + std::to_string(s[0]) + " n=" + std::to_string(s[1]) +
                    " k=" + std::to_string(s[2]) + " clamp=" + kClampNames[c]);
    }
  }
}

// y rows y_stride > n apart: the gaps between rows keep their sentinel.
TEST(X86F32, GemmOutputStride) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(5);
  for (int m : {1, 5, 7}) {
    for (int n : {3, 16, 21}) {
      const Gemm g = MakeGemm(m, n, 19, true, rng);
      const auto packed = PackGemm(g);
      const size_t ys = size_t(n) + 5;
      const float sentinel = 1234.5f;
      std::vector<float> y(size_t(m) * ys, sentinel);
      qk::f32_gemm_minmax__avx2_6x16(m, n, g.k, g.x.data(), size_t(g.k), packed.data(),
                                     kClamps[0], y.data(), ys);
      const auto ref = RefGemm(g, kClamps[0]);
      const auto mag = GemmMagnitude(g);
      std::vector<float> got(ref.size());
      for (int i = 0; i < m; ++i) {
        for (int j = 0; j < n; ++j) got[size_t(i * n + j)] = y[size_t(i) * ys + size_t(j)];
        for (size_t j = size_t(n); j < ys; ++j) EXPECT_EQ(y[size_t(i) * ys + j], sentinel);
      }
      Compare(got, ref, mag, "strided y m=" + std::to_string(m) + " n=" + std::to_string(n));
    }
  }
}

// 1x1 stride-1 unpadded NHWC conv = GEMM over pixels (w = OHWI as [Cout, Cin]).
TEST(X86F32, GemmAsPointwiseConv) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(9);
  const int shapes[][5] = {{1, 7, 5, 24, 144}, {2, 3, 4, 144, 24}, {1, 1, 9, 16, 96}};
  for (const auto& s : shapes) {
    qk::Conv2DParams p;
    p.n = s[0], p.h = s[1], p.w = s[2], p.cin = s[3], p.cout = s[4];
    p.oh = p.h, p.ow = p.w;
    const int m = p.n * p.h * p.w;
    const Gemm g = MakeGemm(m, p.cout, p.cin, true, rng);
    for (int c = 0; c < 3; ++c) {
      std::vector<float> ref(size_t(m) * size_t(p.cout));
      qk::f32_conv2d__ref(p, g.x.data(), g.w.data(), g.bias.data(), kClamps[c], ref.data());
      const auto packed = PackGemm(g);
      const auto got = kt::RunGuarded<float>(int64_t(m) * p.cout, [&](float* y) {
        qk::f32_gemm_minmax__avx2_6x16(m, p.cout, p.cin, g.x.data(), size_t(p.cin),
                                       packed.data(), kClamps[c], y, size_t(p.cout));
      });
      Compare(got, ref, GemmMagnitude(g), "pw conv cin=" + std::to_string(p.cin));
    }
  }
}

TEST(X86F32, GemmNaNPropagates) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(3);
  Gemm g = MakeGemm(7, 20, 11, true, rng);
  g.x[size_t(2 * 11 + 4)] = std::numeric_limits<float>::quiet_NaN();  // row 2
  for (int c = 0; c < 3; ++c) {
    const auto packed = PackGemm(g);
    std::vector<float> y(size_t(g.m) * size_t(g.n));
    qk::f32_gemm_minmax__avx2_6x16(g.m, g.n, g.k, g.x.data(), size_t(g.k), packed.data(),
                                   kClamps[c], y.data(), size_t(g.n));
    const auto ref = RefGemm(g, kClamps[c]);
    for (size_t i = 0; i < y.size(); ++i) {
      EXPECT_EQ(std::isnan(y[i]), std::isnan(ref[i])) << i << " clamp " << kClampNames[c];
    }
    EXPECT_TRUE(std::isnan(y[size_t(2 * 20)]));
  }
}

// Memory whose last `floats` elements end exactly at a PROT_NONE page.
class TailGuarded {
 public:
  explicit TailGuarded(size_t floats) : mem_(floats * sizeof(float)) {}
  float* data() const { return reinterpret_cast<float*>(mem_.data()); }

 private:
  kt::TailGuarded mem_;
};

// The last row of x ends at a PROT_NONE page: any read past x[m-1][k) faults.
TEST(X86F32, GemmNoReadPastInput) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(11);
  for (int m : {1, 2, 6, 7}) {
    for (int k : {1, 3, 8, 17}) {
      const Gemm g = MakeGemm(m, 21, k, true, rng);
      TailGuarded xg(g.x.size());
      ASSERT_NE(xg.data(), nullptr);
      std::memcpy(xg.data(), g.x.data(), g.x.size() * sizeof(float));
      const auto packed = PackGemm(g);
      std::vector<float> y(size_t(m) * 21);
      qk::f32_gemm_minmax__avx2_6x16(m, 21, k, xg.data(), size_t(k), packed.data(), kClamps[0],
                                     y.data(), 21);
      Compare(y, RefGemm(g, kClamps[0]), GemmMagnitude(g), "guarded x");
    }
  }
}

// ------------------------------------------------------------- depthwise

struct Dw {
  qk::Conv2DParams p;
  std::vector<float> x, w, bias;
};

std::vector<double> DwMagnitude(const Dw& d) {
  const auto& p = d.p;
  std::vector<double> mag(size_t(p.n) * size_t(p.oh) * size_t(p.ow) * size_t(p.cout));
  size_t o = 0;
  for (int n = 0; n < p.n; ++n) {
    for (int oy = 0; oy < p.oh; ++oy) {
      for (int ox = 0; ox < p.ow; ++ox) {
        for (int c = 0; c < p.cout; ++c, ++o) {
          double s = d.bias.empty() ? 0.0 : std::fabs(double(d.bias[size_t(c)]));
          for (int ky = 0; ky < p.kh; ++ky) {
            const int iy = oy * p.stride_h - p.pad_top + ky * p.dil_h;
            if (iy < 0 || iy >= p.h) continue;
            for (int kx = 0; kx < p.kw; ++kx) {
              const int ix = ox * p.stride_w - p.pad_left + kx * p.dil_w;
              if (ix < 0 || ix >= p.w) continue;
              s += std::fabs(
                  double(d.x[((size_t(n) * size_t(p.h) + size_t(iy)) * size_t(p.w) +
                              size_t(ix)) * size_t(p.cin) + size_t(c)]) *
                  double(d.w[(size_t(c) * size_t(p.kh) + size_t(ky)) * size_t(p.kw) +
                             size_t(kx)]));
            }
          }
          mag[o] = s;
        }
      }
    }
  }
  return mag;
}

// Returns false if the output would be empty.
bool MakeDw(int c, int h, int w, int kh, int kw, int stride, int dil, int pt, int pb, int pl,
            int pr, bool with_bias, std::mt19937& rng, Dw* d) {
  qk::Conv2DParams& p = d->p;
  p = qk::Conv2DParams{};
  p.n = 1, p.h = h, p.w = w, p.cin = c, p.cout = c, p.groups = c;
  p.kh = kh, p.kw = kw;
  p.stride_h = stride, p.stride_w = stride, p.dil_h = dil, p.dil_w = dil;
  p.pad_top = pt, p.pad_left = pl;
  const int64_t oh = qk::window_out_dim(h, kh, stride, dil, pt, pb);
  const int64_t ow = qk::window_out_dim(w, kw, stride, dil, pl, pr);
  if (oh <= 0 || ow <= 0) return false;
  p.oh = int(oh), p.ow = int(ow);
  d->x = Uniform(size_t(h) * size_t(w) * size_t(c), rng, -2.f, 2.f);
  d->w = Uniform(size_t(c) * size_t(kh) * size_t(kw), rng, -1.f, 1.f);
  d->bias = with_bias ? Uniform(size_t(c), rng, -1.f, 1.f) : std::vector<float>{};
  return true;
}

std::vector<float> PackDw(const Dw& d) {
  const size_t bytes = qk::f32_dwconv_c16_packed_size(d.p.cout, d.p.kh, d.p.kw);
  EXPECT_EQ(bytes % 64, 0u);
  std::vector<float> packed(bytes / sizeof(float) + 1, std::numeric_limits<float>::quiet_NaN());
  qk::f32_dwconv_c16_pack(d.p.cout, d.p.kh, d.p.kw, d.w.data(),
                          d.bias.empty() ? nullptr : d.bias.data(), packed.data());
  EXPECT_TRUE(std::isnan(packed.back())) << "packing wrote past its size";
  return packed;
}

void CheckDw(const Dw& d, qk::FRange act, const std::string& what) {
  const auto& p = d.p;
  const int64_t out = int64_t(p.n) * p.oh * p.ow * p.cout;
  std::vector<float> ref(size_t(out), 0.f);
  qk::f32_conv2d__ref(p, d.x.data(), d.w.data(), d.bias.empty() ? nullptr : d.bias.data(), act,
                      ref.data());
  const auto packed = PackDw(d);
  // x ends at a PROT_NONE page: reading past it faults.
  TailGuarded xg(d.x.size());
  ASSERT_NE(xg.data(), nullptr);
  std::memcpy(xg.data(), d.x.data(), d.x.size() * sizeof(float));
  const auto got = kt::RunGuarded<float>(out, [&](float* y) {
    qk::f32_dwconv_minmax__avx2_c16(p, xg.data(), packed.data(), act, y);
  });
  Compare(got, ref, DwMagnitude(d), what);
}

TEST(X86F32, DwconvSweep) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(2024);
  std::vector<int> channels;
  for (int c = 1; c <= 33; ++c) channels.push_back(c);
  channels.push_back(144);
  const int kernels[][2] = {{3, 3}, {5, 5}, {1, 1}, {3, 1}};
  int idx = 0;
  for (int c : channels) {
    for (const auto& k : kernels) {
      for (int stride : {1, 2}) {
        for (int dil : {1, 2}) {
          // paddings {top, bottom, left, right}: none, "same"-like, asymmetric.
          const int sh = (k[0] - 1) * dil / 2, sw = (k[1] - 1) * dil / 2;
          const int pads[][4] = {{0, 0, 0, 0}, {sh, sh, sw, sw}, {0, k[0] - 1, k[1] - 1, 0},
                                 {1, 2, 2, 0}};
          for (const auto& pd : pads) {
            ++idx;
            const int h = 5 + idx % 4, w = 6 + idx % 3;
            Dw d;
            if (!MakeDw(c, h, w, k[0], k[1], stride, dil, pd[0], pd[1], pd[2], pd[3],
                        idx % 4 != 0, rng, &d)) {
              continue;
            }
            const int clamp = idx % 3;
            CheckDw(d, kClamps[clamp],
                    "c=" + std::to_string(c) + " k=" + std::to_string(k[0]) + "x" +
                        std::to_string(k[1]) + " s=" + std::to_string(stride) +
                        " d=" + std::to_string(dil) + " pad=" + std::to_string(pd[0]) + "," +
                        std::to_string(pd[1]) + "," + std::to_string(pd[2]) + "," +
                        std::to_string(pd[3]) + " clamp=" + kClampNames[clamp]);
            if (HasFailure()) return;
          }
        }
      }
    }
  }
}

TEST(X86F32, DwconvClampsAndBatches) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(8);
  for (int c : {8, 13, 64, 72, 144}) {
    for (int cl = 0; cl < 3; ++cl) {
      Dw d;
      ASSERT_TRUE(MakeDw(c, 9, 7, 3, 3, 2, 1, 1, 1, 0, 1, true, rng, &d));
      d.p.n = 2;  // two images
      d.x = Uniform(size_t(2) * 9 * 7 * size_t(c), rng, -2.f, 2.f);
      CheckDw(d, kClamps[cl], "batch2 c=" + std::to_string(c) + " clamp=" + kClampNames[cl]);
    }
  }
}

// Windows made only of padding (pad >= kernel extent) give bias, clamped.
TEST(X86F32, DwconvAllPaddingWindow) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(4);
  Dw d;
  ASSERT_TRUE(MakeDw(20, 2, 2, 3, 3, 1, 1, 4, 4, 4, 4, true, rng, &d));
  CheckDw(d, kClamps[2], "all-padding windows");
}

// ------------------------------------------------ implicit-GEMM conv

void CheckIgemm(const qk::Conv2DParams& p, bool with_bias, qk::FRange act, std::mt19937& rng,
                const std::string& what) {
  const int taps = p.kh * p.kw;
  const int k = taps * p.cin;
  const auto x = Uniform(size_t(p.n) * size_t(p.h) * size_t(p.w) * size_t(p.cin), rng, -2.f, 2.f);
  const auto w = Uniform(size_t(p.cout) * size_t(k), rng, -1.f, 1.f);
  const auto bias = with_bias ? Uniform(size_t(p.cout), rng, -1.f, 1.f) : std::vector<float>{};
  const float* bp = with_bias ? bias.data() : nullptr;
  const int m = p.n * p.oh * p.ow;
  std::vector<float> ref(size_t(m) * size_t(p.cout));
  qk::f32_conv2d__ref(p, x.data(), w.data(), bp, act, ref.data());

  // |x*w| magnitude over the valid taps, from an explicit im2col.
  std::vector<double> mag(ref.size());
  std::vector<int64_t> table(qk::f32_igemm_indirection_count(p));
  ASSERT_EQ(table.size(), size_t(m) * size_t(taps));
  qk::f32_igemm_indirection_build(p, table.data());
  for (int i = 0; i < m; ++i) {
    for (int co = 0; co < p.cout; ++co) {
      double s = with_bias ? std::fabs(double(bias[size_t(co)])) : 0.0;
      for (int t = 0; t < taps; ++t) {
        const int64_t off = table[size_t(i) * size_t(taps) + size_t(t)];
        if (off < 0) continue;
        for (int ci = 0; ci < p.cin; ++ci) {
          s += std::fabs(double(x[size_t(off) + size_t(ci)]) *
                         double(w[size_t(co) * size_t(k) + size_t(t) * size_t(p.cin) + size_t(ci)]));
        }
      }
      mag[size_t(i) * size_t(p.cout) + size_t(co)] = s;
    }
  }

  std::vector<float> packed(qk::f32_gemm_16_packed_size(p.cout, k) / sizeof(float));
  qk::f32_gemm_16_pack(p.cout, k, w.data(), bp, packed.data());
  const std::vector<float> zero(size_t(p.cin), 0.f);
  TailGuarded xg(x.size());
  ASSERT_NE(xg.data(), nullptr);
  std::memcpy(xg.data(), x.data(), x.size() * sizeof(float));
  const auto got = kt::RunGuarded<float>(int64_t(m) * p.cout, [&](float* y) {
    qk::f32_igemm_minmax__avx2_6x16(m, p.cout, taps, p.cin, xg.data(), table.data(), zero.data(),
                                    packed.data(), act, y, size_t(p.cout));
  });
  Compare(got, ref, mag, what);
}

TEST(X86F32, IgemmSweep) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(31);
  const int kernels[][2] = {{3, 3}, {5, 5}, {1, 1}, {3, 1}};
  int idx = 0;
  for (int cin : {1, 3, 8, 17}) {
    for (int cout : {1, 7, 16, 24, 33}) {
      for (const auto& kk : kernels) {
        for (int stride : {1, 2}) {
          for (int dil : {1, 2}) {
            const int pads[][4] = {{0, 0, 0, 0}, {1, 2, 2, 0}};
            for (const auto& pd : pads) {
              ++idx;
              qk::Conv2DParams p;
              p.n = 1 + idx % 2, p.h = 5 + idx % 4, p.w = 6 + idx % 3;
              p.cin = cin, p.cout = cout, p.kh = kk[0], p.kw = kk[1];
              p.stride_h = p.stride_w = stride;
              p.dil_h = p.dil_w = dil;
              p.pad_top = pd[0], p.pad_left = pd[2];
              const int64_t oh = qk::window_out_dim(p.h, p.kh, stride, dil, pd[0], pd[1]);
              const int64_t ow = qk::window_out_dim(p.w, p.kw, stride, dil, pd[2], pd[3]);
              if (oh <= 0 || ow <= 0) continue;
              p.oh = int(oh), p.ow = int(ow);
              const int clamp = idx % 3;
              CheckIgemm(p, idx % 4 != 0, kClamps[clamp], rng,
                         "cin=" + std::to_string(cin) + " cout=" + std::to_string(cout) +
                             " k=" + std::to_string(kk[0]) + "x" + std::to_string(kk[1]) +
                             " s=" + std::to_string(stride) + " d=" + std::to_string(dil) +
                             " pad=" + std::to_string(pd[0]) + "," + std::to_string(pd[1]) +
                             "," + std::to_string(pd[2]) + "," + std::to_string(pd[3]) +
                             " clamp=" + kClampNames[clamp]);
              if (HasFailure()) return;
            }
          }
        }
      }
    }
  }
}

TEST(X86F32, PackedSizes) {
  EXPECT_EQ(qk::f32_gemm_16_packed_size(1, 1), 16u * 2u * 4u);
  EXPECT_EQ(qk::f32_gemm_16_packed_size(17, 3), 2u * 16u * 4u * 4u);
  EXPECT_EQ(qk::f32_dwconv_c16_packed_size(17, 3, 3), 32u * 10u * 4u);
  EXPECT_EQ(qk::f32_dwconv_c16_packed_size(144, 3, 3), 144u * 10u * 4u);
}

}  // namespace
