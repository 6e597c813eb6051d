// The AVX-512 VNNI kernels (x86_avx512.h) against the references: same bytes
// over docs/design.md §4 sweeps (M = 1..MR+1, N around the 16/32-channel blocks, K
// around the 4-byte groups plus primes, zero points {0, 128, 255}, clamps,
// strides, dilation, padding, cin 1..9), outputs pre-filled with two
// sentinels and guarded, inputs ending right before a PROT_NONE page.
//
// Every check runs twice: on quanta::kernels::emu (the same sources compiled
// against SIMDe, no ISA flags: always runs, slowly) and on the native kernels,
// which are skipped (GTEST_SKIP) when the CPU lacks AVX-512 VNNI. The sweep
// sizes keep the emulated run short (a few seconds).
#include <gtest/gtest.h>

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
#include "quanta/kernels/x86_avx512.h"

namespace qk = quanta::kernels;
namespace kt = quanta::kernel_test;

namespace {

using GemmFn = void (*)(int, int, int, const uint8_t*, size_t, const void*, int32_t, qk::QRange,
                        uint8_t*, size_t);
using IgemmFn = void (*)(const qk::Conv2DParams&, const uint8_t*, const int32_t*, const void*,
                         int32_t, qk::QRange, uint8_t*, int64_t, int64_t);

struct Impl {
  const char* name;
  GemmFn gemm;
  IgemmFn igemm;
};

const Impl kEmu{"emu", qk::emu::qu8_gemm_minmax_fp32__avx512vnni_8x32c4,
                qk::emu::qu8_igemm_minmax_fp32__avx512vnni_8x32c4};
const Impl kNative{"native", qk::qu8_gemm_minmax_fp32__avx512vnni_8x32c4,
                   qk::qu8_igemm_minmax_fp32__avx512vnni_8x32c4};

#define SKIP_WITHOUT_VNNI()                                                          \
  do {                                                                               \
    if (!qk::cpu_supports(qk::Tier::kAvx512Vnni))                                     \
      GTEST_SKIP() << "CPU lacks AVX-512 VNNI: the native avx512vnni kernels cannot " \
                      "run here (their SIMDe-emulated twins are tested instead)";    \
  } while (0)

const int32_t kZeroPoints[] = {0, 128, 255};

qk::QRange ClampFor(int which, int32_t zy) {
  switch (which % 3) {
    case 0: return {0, 255};
    case 1: return {zy, 255};
    default: return {std::min(zy, 200), std::min(zy, 200) + 40};
  }
}

std::vector<int32_t> FoldBias(int rows, int64_t row_len, const std::vector<int8_t>& w, int32_t zx,
                              std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> db(-100000, 100000);
  std::vector<int32_t> raw(static_cast<size_t>(rows));
  for (auto& b : raw) b = db(rng);
  std::vector<int64_t> f(static_cast<size_t>(rows));
  qk::fold_bias_qs8(rows, row_len, w.data(), raw.data(), zx, f.data());
  std::vector<int32_t> out(f.size());
  for (size_t i = 0; i < f.size(); ++i) out[i] = static_cast<int32_t>(f[i]);
  return out;
}

std::vector<float> Multipliers(int n, int64_t k, std::mt19937& rng) {
  std::uniform_real_distribution<float> lu(std::log(0.1f), std::log(3.f));
  const float base = 100.f / (std::sqrt(static_cast<float>(k)) * 5400.f);
  std::vector<float> m(static_cast<size_t>(n));
  for (auto& v : m) v = base * std::exp(lu(rng));
  return m;
}

// ------------------------------------------------------------------ GEMM
// One GEMM case: x rows x_stride apart, the last row ending at a guard page;
// y rows y_stride apart in a sentinel-filled guarded buffer (two sentinels).
int64_t CheckGemm(const Impl& impl, int m, int n, int k, int32_t zx, int32_t zy, qk::QRange r,
                  size_t x_extra, size_t y_extra, bool null_bias, std::mt19937& rng) {
  const std::vector<uint8_t> x = kt::RandomU8(int64_t{m} * k, rng);
  const std::vector<int8_t> w = kt::RandomI8(int64_t{n} * k, rng);
  const std::vector<int32_t> bias = FoldBias(n, k, w, zx, rng);
  const std::vector<float> mul = Multipliers(n, k, rng);
  const int32_t* b = null_bias ? nullptr : bias.data();
  std::vector<uint8_t> want(static_cast<size_t>(m) * n);
  qk::qu8_fully_connected_minmax_fp32__ref(m, k, n, x.data(), w.data(), b, mul.data(), zy, r,
                                           want.data());
  const size_t size = qk::qu8_gemm_16c4_packed_size(n, k);
  std::vector<unsigned char> packed(size + 64, 0xCD);
  qk::qu8_gemm_16c4_pack(n, k, w.data(), b, mul.data(), packed.data());
  int64_t bad = 0;
  for (size_t i = size; i < packed.size(); ++i) bad += packed[i] != 0xCD;
  EXPECT_EQ(bad, 0) << "pack wrote past qu8_gemm_16c4_packed_size";

  const size_t xs = static_cast<size_t>(k) + x_extra;
  const size_t xbytes = (static_cast<size_t>(m) - 1) * xs + static_cast<size_t>(k);
  kt::TailGuarded xg(xbytes);
  EXPECT_NE(xg.data(), nullptr);
  if (xg.data() == nullptr) return 1;
  std::memset(xg.data(), 0x77, xbytes);
  for (int i = 0; i < m; ++i)
    std::memcpy(xg.data() + i * xs, x.data() + static_cast<size_t>(i) * k, static_cast<size_t>(k));
  const size_t ys = static_cast<size_t>(n) + y_extra;
  const size_t g = kt::kGuard;
  for (int s = 0; s < 2; ++s) {
    const uint8_t sentinel = kt::Sentinel<uint8_t>(s);
    std::vector<uint8_t> ybuf(static_cast<size_t>(m) * ys + 2 * g, sentinel);
    impl.gemm(m, n, k, xg.data(), xs, packed.data(), zy, r, ybuf.data() + g, ys);
    for (size_t i = 0; i < ybuf.size(); ++i) {
      const bool in_out = i >= g && i < g + static_cast<size_t>(m) * ys &&
                          (i - g) % ys < static_cast<size_t>(n);
      const uint8_t expect =
          in_out ? want[(i - g) / ys * static_cast<size_t>(n) + (i - g) % ys] : sentinel;
      if (ybuf[i] != expect) {
        if (bad < 3)
          ADD_FAILURE() << impl.name << " m=" << m << " n=" << n << " k=" << k << " zx=" << zx
                        << " zy=" << zy << " r=[" << r.qmin << "," << r.qmax << "] byte " << i
                        << (in_out ? " (output)" : " (outside)") << " = " << int{ybuf[i]}
                        << ", want " << int{expect};
        ++bad;
      }
    }
  }
  return bad;
}

void SweepGemm(const Impl& impl) {
  std::mt19937 rng(2024);
  std::vector<int> ns;  // 1 .. 2*NR+1 (NR = 32), then wider (the 1-row tile is 128)
  for (int n = 1; n <= 65; ++n) ns.push_back(n);
  for (int n : {97, 113, 127, 128, 129}) ns.push_back(n);
  const int ks[] = {1, 2, 3, 4, 5, 6, 7, 8, 13, 31, 64, 101};
  int64_t bad = 0, cases = 0;
  for (int m = 1; m <= 9; ++m) {
    for (int n : ns) {
      for (int k : ks) {
        const int32_t zx = kZeroPoints[cases % 3];
        const int32_t zy = kZeroPoints[(cases / 3) % 3];
        const qk::QRange r = ClampFor(static_cast<int>(cases / 9), zy);
        const size_t xe = cases % 4 == 1 ? 3 : 0, ye = cases % 5 == 2 ? 5 : 0;
        bad += CheckGemm(impl, m, n, k, zx, zy, r, xe, ye, cases % 7 == 3, rng);
        ++cases;
      }
    }
  }
  // Larger shapes: the 8-row path with several block pairs, GEMV over long K.
  const int big[][3] = {{16, 96, 24}, {17, 130, 67}, {24, 64, 257}, {1, 128, 640}, {2, 200, 129}};
  for (const auto& s : big) {
    bad += CheckGemm(impl, s[0], s[1], s[2], 128, 3, {0, 255}, 0, 0, false, rng);
    ++cases;
  }
  EXPECT_EQ(bad, 0) << "over " << cases << " cases";
}

// Accumulators near the int32 limits and multipliers that saturate both ends.
void ExtremeGemm(const Impl& impl) {
  const int m = 9, n = 33, k = 67;
  std::vector<uint8_t> x(static_cast<size_t>(m) * k, 255);
  std::vector<int8_t> w(static_cast<size_t>(n) * k);
  for (size_t i = 0; i < w.size(); ++i) w[i] = (i / k) % 2 ? int8_t{127} : int8_t{-127};
  std::vector<int32_t> bias(n);
  for (int j = 0; j < n; ++j) bias[j] = j % 3 == 0 ? 2000000000 : j % 3 == 1 ? -2000000000 : 7;
  std::vector<float> mul(n);
  for (int j = 0; j < n; ++j) mul[j] = j % 4 == 0 ? 1e-9f : j % 4 == 1 ? 3e4f : j % 4 == 2 ? 0.5f : 1.f;
  for (const int32_t zy : kZeroPoints) {
    const qk::QRange r{0, 255};
    std::vector<uint8_t> want(static_cast<size_t>(m) * n);
    qk::qu8_fully_connected_minmax_fp32__ref(m, k, n, x.data(), w.data(), bias.data(), mul.data(),
                                             zy, r, want.data());
    std::vector<unsigned char> packed(qk::qu8_gemm_16c4_packed_size(n, k));
    qk::qu8_gemm_16c4_pack(n, k, w.data(), bias.data(), mul.data(), packed.data());
    const std::vector<uint8_t> got = kt::RunGuarded<uint8_t>(int64_t{m} * n, [&](uint8_t* y) {
      impl.gemm(m, n, k, x.data(), k, packed.data(), zy, r, y, n);
    });
    EXPECT_EQ(got, want) << impl.name << " zy=" << zy;
  }
}

// --------------------------------------------------------- igemm conv
struct ConvCase {
  int n, h, w, cin, cout, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
};

qk::Conv2DParams Params(const ConvCase& c) {
  qk::Conv2DParams p;
  kt::SetWindow(c, &p);
  p.cin = c.cin;
  p.cout = c.cout;
  p.groups = 1;
  return p;
}

int64_t CheckConv(const Impl& impl, const ConvCase& cc, int32_t zx, int32_t zy, qk::QRange r,
                  std::mt19937& rng) {
  const qk::Conv2DParams p = Params(cc);
  if (p.oh <= 0 || p.ow <= 0) return 0;
  const int64_t taps = int64_t{p.kh} * p.kw;
  const size_t xbytes = static_cast<size_t>(p.n) * p.h * p.w * p.cin;
  const std::vector<uint8_t> x = kt::RandomU8(static_cast<int64_t>(xbytes), rng);
  const std::vector<int8_t> w = kt::RandomI8(p.cout * taps * p.cin, rng);
  const std::vector<int32_t> bias = FoldBias(p.cout, taps * p.cin, w, zx, rng);
  const std::vector<float> mul = Multipliers(p.cout, taps * p.cin, rng);
  const int64_t pixels = int64_t{p.n} * p.oh * p.ow;
  std::vector<uint8_t> want(static_cast<size_t>(pixels * p.cout));
  qk::qu8_conv2d_minmax_fp32__ref(p, x.data(), zx, w.data(), bias.data(), mul.data(), zy, r,
                                  want.data());
  std::vector<int32_t> table(qk::qu8_conv_indirection_size(p));
  EXPECT_TRUE(qk::qu8_conv_indirection_build(p, table.data()));
  const size_t size = qk::qu8_igemm_16c4_packed_size(p.cout, p.kh, p.kw, p.cin);
  std::vector<unsigned char> packed(size + 64, 0xCD);
  qk::qu8_igemm_16c4_pack(p.cout, p.kh, p.kw, p.cin, w.data(), bias.data(), mul.data(), zx,
                          packed.data());
  int64_t bad = 0;
  for (size_t i = size; i < packed.size(); ++i) bad += packed[i] != 0xCD;
  EXPECT_EQ(bad, 0) << "pack wrote past qu8_igemm_16c4_packed_size";
  kt::TailGuarded xg(x.data(), xbytes);
  EXPECT_NE(xg.data(), nullptr);
  if (xg.data() == nullptr) return 1;
  const auto got = kt::RunGuarded<uint8_t>(pixels * p.cout, [&](uint8_t* y) {
    impl.igemm(p, xg.data(), table.data(), packed.data(), zy, r, y, 0, pixels);
  });
  // The same output computed in three arbitrary pixel ranges.
  const int64_t a = pixels / 3, b = pixels - pixels / 5;
  const auto split = kt::RunGuarded<uint8_t>(pixels * p.cout, [&](uint8_t* y) {
    impl.igemm(p, xg.data(), table.data(), packed.data(), zy, r, y, b, pixels);
    impl.igemm(p, xg.data(), table.data(), packed.data(), zy, r, y, 0, a);
    impl.igemm(p, xg.data(), table.data(), packed.data(), zy, r, y, a, b);
  });
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] != want[i] || split[i] != want[i]) {
      if (bad < 3)
        ADD_FAILURE() << impl.name << " conv n=" << p.n << " " << p.h << "x" << p.w << "x"
                      << p.cin << " -> " << p.cout << " k" << p.kh << "x" << p.kw << " s"
                      << p.stride_h << "," << p.stride_w << " d" << p.dil_h << "," << p.dil_w
                      << " p" << p.pad_top << "," << p.pad_left << " zx=" << zx << " zy=" << zy
                      << " byte " << i << ": " << int{got[i]} << " / split " << int{split[i]}
                      << ", want " << int{want[i]};
      ++bad;
    }
  }
  return bad;
}

void SweepConv(const Impl& impl) {
  std::mt19937 rng(77);
  std::vector<ConvCase> cases;
  // cin 1..9 x cout around the blocks on a padded 3x3 (tap and gather modes).
  for (int cin = 1; cin <= 9; ++cin)
    for (int cout : {1, 5, 16, 17, 32, 33, 50})
      cases.push_back({1, 5, 6, cin, cout, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1});
  // Geometry: strides, dilation, asymmetric padding, 1x1, non-square, batches.
  const ConvCase geo[] = {
      {2, 7, 5, 3, 24, 3, 3, 2, 2, 1, 1, 1, 1, 0, 1},
      {1, 9, 9, 4, 16, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},
      {3, 4, 4, 8, 33, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
      {1, 8, 7, 6, 40, 2, 3, 2, 1, 1, 2, 0, 1, 1, 0},
      {1, 11, 11, 3, 16, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3},
      {2, 6, 6, 13, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {1, 5, 5, 2, 9, 5, 5, 1, 1, 1, 1, 4, 4, 4, 4},   // mostly padding
      {1, 20, 20, 1, 8, 11, 11, 1, 1, 1, 1, 5, 5, 5, 5},  // 121 taps, cin 1
      {1, 12, 12, 3, 32, 10, 10, 1, 1, 1, 1, 0, 0, 0, 0},  // 300 K bytes: 2 gather passes
      {1, 6, 6, 67, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
  };
  cases.insert(cases.end(), std::begin(geo), std::end(geo));
  int64_t bad = 0, i = 0;
  for (const ConvCase& c : cases) {
    const int32_t zx = kZeroPoints[i % 3], zy = kZeroPoints[(i / 3) % 3];
    bad += CheckConv(impl, c, zx, zy, ClampFor(static_cast<int>(i / 9), zy), rng);
    ++i;
  }
  EXPECT_EQ(bad, 0) << "over " << cases.size() << " convolutions";
}

}  // namespace

TEST(X86Avx512, PackedSizes) {
  EXPECT_EQ(qk::qu8_gemm_16c4_packed_size(0, 5), 0u);
  EXPECT_EQ(qk::qu8_gemm_16c4_packed_size(1, 1), 128u + 16u * 4u);
  EXPECT_EQ(qk::qu8_gemm_16c4_packed_size(17, 9), 2u * (128u + 16u * 12u));
  EXPECT_EQ(qk::qu8_igemm_16c4_packed_size(0, 3, 3, 3), 0u);
  // cin 8, 3x3: 64-byte header, 9 taps x 2 groups x 64 bytes + 128, zx row.
  EXPECT_EQ(qk::qu8_igemm_16c4_packed_size(16, 3, 3, 8), 64u + 128u + 18u * 64u + 64u);
  // cin 3, 3x3 (gather): 27 K bytes -> 7 groups.
  EXPECT_EQ(qk::qu8_igemm_16c4_packed_size(16, 3, 3, 3), 64u + 128u + 7u * 64u + 64u);
}

TEST(X86Avx512, GemmSweepEmu) { SweepGemm(kEmu); }
TEST(X86Avx512, GemmSweepNative) {
  SKIP_WITHOUT_VNNI();
  SweepGemm(kNative);
}
TEST(X86Avx512, GemmExtremesEmu) { ExtremeGemm(kEmu); }
TEST(X86Avx512, GemmExtremesNative) {
  SKIP_WITHOUT_VNNI();
  ExtremeGemm(kNative);
}
TEST(X86Avx512, IgemmSweepEmu) { SweepConv(kEmu); }
TEST(X86Avx512, IgemmSweepNative) {
  SKIP_WITHOUT_VNNI();
  SweepConv(kNative);
}

// ======================================================================
// Depthwise qu8 and the f32 kernels (GEMM, implicit-GEMM conv, depthwise).
// qu8: bytes of the references; f32: |got - ref| <= 1e-5 * (sum |x*w| +
// |bias|) + 1e-6 (NaN must match NaN), and bit-identical results across row /
// pixel splits. Inputs end at a PROT_NONE page; outputs are sentinel-filled
// and guarded (kt::RunGuarded).
namespace {

using DwFn = void (*)(const qk::Conv2DParams&, int, int, const uint8_t*, int32_t, const void*,
                      int32_t, qk::QRange, uint8_t*);
using DwFullFn = void (*)(const qk::Conv2DParams&, const uint8_t*, int32_t, const void*, int32_t,
                          qk::QRange, uint8_t*);
using F32GemmFn = void (*)(int, int, int, const float*, size_t, const void*, qk::FRange, float*,
                           size_t);
using F32IgemmFn = void (*)(int, int, int, int, const float*, const int64_t*, const float*,
                            const void*, qk::FRange, float*, size_t);
using F32DwFn = void (*)(const qk::Conv2DParams&, int, int, const float*, const void*,
                         qk::FRange, float*);
using F32DwFullFn = void (*)(const qk::Conv2DParams&, const float*, const void*, qk::FRange,
                             float*);

struct Impl2 {
  const char* name;
  DwFn dw_rows;
  DwFullFn dw;
  F32GemmFn gemm;
  F32IgemmFn igemm;
  F32DwFn fdw_rows;
  F32DwFullFn fdw;
};

const Impl2 kEmu2{"emu",
                  qk::emu::qu8_dwconv_minmax_fp32__avx512_c16_rows,
                  qk::emu::qu8_dwconv_minmax_fp32__avx512_c16,
                  qk::emu::f32_gemm_minmax__avx512_8x32,
                  qk::emu::f32_igemm_minmax__avx512_8x32,
                  qk::emu::f32_dwconv_minmax__avx512_c16_rows,
                  qk::emu::f32_dwconv_minmax__avx512_c16};
const Impl2 kNative2{"native",
                     qk::qu8_dwconv_minmax_fp32__avx512_c16_rows,
                     qk::qu8_dwconv_minmax_fp32__avx512_c16,
                     qk::f32_gemm_minmax__avx512_8x32,
                     qk::f32_igemm_minmax__avx512_8x32,
                     qk::f32_dwconv_minmax__avx512_c16_rows,
                     qk::f32_dwconv_minmax__avx512_c16};

qk::Conv2DParams DwParams(const ConvCase& c, int channels) {
  qk::Conv2DParams p;
  kt::SetWindow(c, &p);
  p.cin = p.cout = p.groups = channels;
  return p;
}

std::string DwName(const qk::Conv2DParams& p) {
  return "n=" + std::to_string(p.n) + " " + std::to_string(p.h) + "x" + std::to_string(p.w) +
         " C=" + std::to_string(p.cout) + " k" + std::to_string(p.kh) + "x" +
         std::to_string(p.kw) + " s" + std::to_string(p.stride_h) + "," +
         std::to_string(p.stride_w) + " d" + std::to_string(p.dil_h) + "," +
         std::to_string(p.dil_w) + " p" + std::to_string(p.pad_top) + "," +
         std::to_string(p.pad_left) + " out " + std::to_string(p.oh) + "x" + std::to_string(p.ow);
}

// ------------------------------------------------------------ qu8 depthwise
int64_t CheckDw(const Impl2& impl, const qk::Conv2DParams& p, int32_t zx, int32_t zy,
                qk::QRange r, bool null_bias, std::mt19937& rng,
                const std::vector<uint8_t>* x_in = nullptr,
                const std::vector<int8_t>* w_in = nullptr,
                const std::vector<int32_t>* bias_in = nullptr,
                const std::vector<float>* mul_in = nullptr) {
  if (p.oh <= 0 || p.ow <= 0) return 0;
  const int C = p.cout;
  const int64_t taps = int64_t{p.kh} * p.kw;
  const size_t xbytes = static_cast<size_t>(p.n) * p.h * p.w * C;
  const std::vector<uint8_t> x = x_in ? *x_in : kt::RandomU8(static_cast<int64_t>(xbytes), rng);
  const std::vector<int8_t> w = w_in ? *w_in : kt::RandomI8(C * taps, rng);
  const std::vector<int32_t> bias = bias_in ? *bias_in : FoldBias(C, taps, w, zx, rng);
  const std::vector<float> mul = mul_in ? *mul_in : Multipliers(C, taps, rng);
  const int32_t* b = null_bias ? nullptr : bias.data();
  const int64_t out = int64_t{p.n} * p.oh * p.ow * C;
  std::vector<uint8_t> want(static_cast<size_t>(out));
  qk::qu8_conv2d_minmax_fp32__ref(p, x.data(), zx, w.data(), b, mul.data(), zy, r, want.data());
  std::vector<unsigned char> packed(qk::qu8_dwconv_c16_packed_size(C, p.kh, p.kw));
  qk::qu8_dwconv_c16_pack(C, p.kh, p.kw, w.data(), b, mul.data(), packed.data());
  kt::TailGuarded xg(x.data(), xbytes);
  EXPECT_NE(xg.data(), nullptr);
  if (xg.data() == nullptr) return 1;
  const auto got = kt::RunGuarded<uint8_t>(out, [&](uint8_t* y) {
    impl.dw(p, xg.data(), zx, packed.data(), zy, r, y);
  });
  // Three row ranges in arbitrary order (plus empty / out-of-range ones).
  const int a = p.oh / 3, c = p.oh - p.oh / 4;
  const auto split = kt::RunGuarded<uint8_t>(out, [&](uint8_t* y) {
    impl.dw_rows(p, c, p.oh + 5, xg.data(), zx, packed.data(), zy, r, y);
    impl.dw_rows(p, -2, a, xg.data(), zx, packed.data(), zy, r, y);
    impl.dw_rows(p, a, a, xg.data(), zx, packed.data(), zy, r, y);
    impl.dw_rows(p, a, c, xg.data(), zx, packed.data(), zy, r, y);
  });
  int64_t bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] != want[i] || split[i] != want[i]) {
      if (bad < 3)
        ADD_FAILURE() << impl.name << " dw " << DwName(p) << " zx=" << zx << " zy=" << zy
                      << " r=[" << r.qmin << "," << r.qmax << "] byte " << i << " (pixel "
                      << i / C << " ch " << i % C << "): " << int{got[i]} << " / split "
                      << int{split[i]} << ", want " << int{want[i]};
      ++bad;
    }
  }
  return bad;
}

void SweepDw(const Impl2& impl) {
  std::mt19937 rng(4242);
  int64_t bad = 0, i = 0;
  auto run = [&](const ConvCase& cc, int C) {
    const qk::Conv2DParams p = DwParams(cc, C);
    const int32_t zx = kZeroPoints[i % 3], zy = kZeroPoints[(i / 3) % 3];
    bad += CheckDw(impl, p, zx, zy, ClampFor(static_cast<int>(i / 9), zy), i % 11 == 5, rng);
    ++i;
  };
  // Channels 1..70 (primes, 16k +- 1, 32k +- 1) on the 3x3 row-cached path
  // (stride 1 and 2) and on a generic 5x5 dilated kernel.
  for (int C = 1; C <= 70; ++C) {
    run({1, 4, 5, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, C);
    if (C <= 20 || C % 16 <= 1 || C % 16 == 15 || C == 37 || C == 53 || C == 67)
      run({1, 6, 7, 0, 0, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1}, C);
    if (C <= 9 || C % 16 <= 1 || C % 16 == 15 || C == 41 || C == 61)
      run({1, 7, 7, 0, 0, 5, 5, 1, 1, 1, 2, 2, 3, 2, 1}, C);
  }
  // Geometry: kernel sizes 1..5 and 7x7, strides, dilation, asymmetric and
  // large padding, batches, wide rows (several 64-column segments), stride_h 3.
  const ConvCase geo[] = {
      {2, 5, 6, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
      {1, 6, 5, 0, 0, 1, 1, 2, 2, 1, 1, 1, 0, 0, 1},
      {1, 6, 7, 0, 0, 2, 2, 1, 1, 1, 1, 0, 1, 1, 0},
      {1, 7, 6, 0, 0, 2, 2, 2, 2, 2, 2, 1, 1, 0, 0},
      {2, 5, 5, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {1, 7, 9, 0, 0, 3, 3, 2, 2, 1, 1, 0, 1, 1, 0},
      {1, 8, 8, 0, 0, 3, 3, 2, 1, 1, 1, 1, 0, 0, 2},
      {1, 10, 7, 0, 0, 3, 3, 3, 2, 1, 1, 2, 2, 2, 2},
      {1, 9, 9, 0, 0, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},
      {1, 8, 8, 0, 0, 3, 3, 1, 2, 1, 2, 1, 2, 1, 2},
      {1, 3, 140, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {1, 3, 150, 0, 0, 3, 3, 1, 2, 1, 1, 0, 1, 0, 0},
      {1, 2, 2, 0, 0, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2},
      {1, 8, 9, 0, 0, 4, 4, 1, 1, 1, 1, 2, 1, 1, 2},
      {1, 9, 8, 0, 0, 5, 5, 2, 1, 1, 1, 2, 2, 2, 2},
      {1, 11, 12, 0, 0, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2},
      {1, 11, 11, 0, 0, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3},
      {1, 12, 13, 0, 0, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3},
      {1, 6, 9, 0, 0, 1, 3, 1, 1, 1, 1, 0, 1, 0, 1},
      {1, 9, 6, 0, 0, 3, 1, 1, 1, 1, 1, 1, 0, 1, 0},
      {1, 7, 8, 0, 0, 2, 5, 1, 2, 2, 1, 1, 2, 1, 2},
      {1, 20, 20, 0, 0, 17, 17, 1, 1, 1, 1, 8, 8, 8, 8},  // 289 taps: no tap table
  };
  const int gc[] = {1, 5, 16, 17, 31, 33, 47, 3, 64, 70, 9, 32, 13, 24, 19, 40, 7, 18, 29, 2, 23, 5};
  int g = 0;
  for (const ConvCase& cc : geo) run(cc, gc[g++ % (sizeof(gc) / sizeof(gc[0]))]);
  EXPECT_EQ(bad, 0) << "over " << i << " depthwise convolutions";
}

// Accumulators near the int32 limits, multipliers that saturate both ends.
void ExtremeDw(const Impl2& impl) {
  std::mt19937 rng(5);
  for (const ConvCase& cc : {ConvCase{1, 5, 6, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
                             ConvCase{1, 6, 6, 0, 0, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2}}) {
    const int C = 35;
    const qk::Conv2DParams p = DwParams(cc, C);
    const int64_t taps = int64_t{p.kh} * p.kw;
    std::vector<uint8_t> x(static_cast<size_t>(p.h) * p.w * C, 255);
    std::vector<int8_t> w(static_cast<size_t>(C * taps));
    for (size_t i = 0; i < w.size(); ++i) w[i] = (i / taps) % 2 ? int8_t{127} : int8_t{-127};
    std::vector<int32_t> bias(C);
    for (int j = 0; j < C; ++j) bias[j] = j % 3 == 0 ? 2140000000 : j % 3 == 1 ? -2140000000 : 7;
    std::vector<float> mul(C);
    for (int j = 0; j < C; ++j) mul[j] = j % 4 == 0 ? 1e-9f : j % 4 == 1 ? 3e4f : j % 4 == 2 ? 0.5f : 1.f;
    for (const int32_t z : kZeroPoints)
      EXPECT_EQ(CheckDw(impl, p, z, z, {0, 255}, false, rng, &x, &w, &bias, &mul), 0);
  }
}

// ------------------------------------------------------------ f32 helpers
// Compares within the f32 tolerance; mag[i] = sum |x*w| + |bias| per output.
int64_t CompareF(const char* what, const std::vector<float>& got, const std::vector<float>& ref,
                 const std::vector<double>& mag) {
  int64_t bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    bool ok;
    if (std::isnan(ref[i]) || std::isnan(got[i])) {
      ok = std::isnan(ref[i]) && std::isnan(got[i]);
    } else {
      ok = std::fabs(double(got[i]) - double(ref[i])) <= 1e-5 * mag[i] + 1e-6;
    }
    if (!ok) {
      if (bad < 3)
        ADD_FAILURE() << what << " element " << i << ": " << got[i] << ", want " << ref[i]
                      << " (tol " << 1e-5 * mag[i] + 1e-6 << ")";
      ++bad;
    }
  }
  return bad;
}

int64_t CompareBits(const char* what, const std::vector<float>& a, const std::vector<float>& b) {
  int64_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i) bad += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
  EXPECT_EQ(bad, 0) << what << ": split results differ from the full call";
  return bad;
}

const qk::FRange kFClamps[] = {{-INFINITY, INFINITY}, {0.f, INFINITY}, {-0.25f, 0.3f}};

// A float array placed against a guard page.
struct FGuard {
  explicit FGuard(const std::vector<float>& v) : g(v.data(), v.size() * sizeof(float)) {}
  const float* data() const { return reinterpret_cast<const float*>(g.data()); }
  kt::TailGuarded g;
};

// ------------------------------------------------------------ f32 GEMM
int64_t CheckF32Gemm(const Impl2& impl, int m, int n, int k, size_t xe, size_t ye, int clamp,
                     bool null_bias, bool nan, std::mt19937& rng) {
  std::vector<float> x = kt::RandomF(int64_t{m} * k, rng);
  const std::vector<float> w = kt::RandomF(int64_t{n} * k, rng);
  const std::vector<float> bias = kt::RandomF(n, rng);
  if (nan && m * k > 0) x[static_cast<size_t>((m / 2) * k + k / 2)] = NAN;
  const float* bp = null_bias ? nullptr : bias.data();
  const qk::FRange act = kFClamps[clamp % 3];
  std::vector<float> ref(static_cast<size_t>(m) * n);
  qk::f32_fully_connected__ref(m, k, n, x.data(), w.data(), bp, act, ref.data());
  std::vector<double> mag(ref.size());
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double s = bp ? std::fabs(double(bp[j])) : 0.0;
      for (int kk = 0; kk < k; ++kk) s += std::fabs(double(x[size_t(i) * k + kk]) * w[size_t(j) * k + kk]);
      mag[size_t(i) * n + j] = s;
    }
  std::vector<float> packed(qk::f32_gemm_16_packed_size(n, k) / sizeof(float));
  qk::f32_gemm_16_pack(n, k, w.data(), bp, packed.data());
  // x rows x_stride floats apart (gaps filled with NaN: reading them poisons y).
  const size_t xs = static_cast<size_t>(k) + xe, ys = static_cast<size_t>(n) + ye;
  std::vector<float> xbuf(m > 0 ? (size_t(m) - 1) * xs + size_t(k) : 0, NAN);
  for (int i = 0; i < m; ++i)
    std::copy(x.begin() + size_t(i) * k, x.begin() + size_t(i + 1) * k, xbuf.begin() + i * xs);
  FGuard xg(xbuf);
  auto run = [&](int r0, int r1, float* ybase) {
    impl.gemm(r1 - r0, n, k, xg.data() + size_t(r0) * xs, xs, packed.data(), act,
              ybase + size_t(r0) * ys, ys);
  };
  // Two runs into guarded buffers pre-filled with two sentinels: the n
  // columns of every row must be written (same bits both times), the
  // y_stride gaps and the guards never.
  const int64_t ysize = int64_t{m} * static_cast<int64_t>(ys);
  auto guarded = [&](auto&& fn) {
    std::vector<float> out[2];
    for (int s = 0; s < 2; ++s) {
      const float sent = kt::Sentinel<float>(s);
      out[s].assign(static_cast<size_t>(ysize + 2 * kt::kGuard), sent);
      fn(out[s].data() + kt::kGuard);
      int64_t wrong = 0;
      for (int64_t i = 0; i < ysize + 2 * kt::kGuard; ++i) {
        const int64_t o = i - kt::kGuard;
        const bool in_out = o >= 0 && o < ysize && static_cast<size_t>(o) % ys < size_t(n);
        if (!in_out) wrong += !kt::SameBits(out[s][size_t(i)], sent);
      }
      EXPECT_EQ(wrong, 0) << "gemm wrote outside y[i][0..n)";
    }
    int64_t unwritten = 0;
    for (int64_t o = 0; o < ysize; ++o)
      if (static_cast<size_t>(o) % ys < size_t(n))
        unwritten += !kt::SameBits(out[0][size_t(o + kt::kGuard)], out[1][size_t(o + kt::kGuard)]);
    EXPECT_EQ(unwritten, 0) << "gemm left outputs unwritten";
    return std::vector<float>(out[0].begin() + kt::kGuard, out[0].begin() + kt::kGuard + ysize);
  };
  const auto full = guarded([&](float* y) { run(0, m, y); });
  // Rows split at a multiple of MR = 8 (as the runtime's threads do).
  const int cut = m / 16 * 8;
  const auto split = guarded([&](float* y) {
    run(cut, m, y);
    run(0, cut, y);
  });
  std::vector<float> got(ref.size()), got_split(ref.size());
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      got[size_t(i) * n + j] = full[i * ys + j];
      got_split[size_t(i) * n + j] = split[i * ys + j];
    }
  }
  const std::string what = std::string(impl.name) + " f32 gemm m=" + std::to_string(m) +
                           " n=" + std::to_string(n) + " k=" + std::to_string(k);
  return CompareF(what.c_str(), got, ref, mag) + CompareBits(what.c_str(), got, got_split);
}

void SweepF32Gemm(const Impl2& impl) {
  std::mt19937 rng(99);
  const int ns[] = {1, 2, 7, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 70};
  const int ks[] = {0, 1, 2, 3, 5, 8, 13, 33};
  int64_t bad = 0, cases = 0;
  for (int m = 1; m <= 17; ++m) {
    for (int n : ns) {
      if ((m + n) % 2 == 1 && m != 1 && m != 8 && m != 9) continue;  // keep the emulated run short
      for (int k : ks) {
        bad += CheckF32Gemm(impl, m, n, k, cases % 3 == 1 ? 3 : 0, cases % 4 == 2 ? 5 : 0,
                            static_cast<int>(cases), cases % 7 == 3, false, rng);
        ++cases;
      }
    }
  }
  // NaN in x propagates; larger shapes.
  bad += CheckF32Gemm(impl, 9, 40, 20, 0, 0, 0, false, true, rng);
  bad += CheckF32Gemm(impl, 3, 33, 17, 1, 0, 2, false, true, rng);
  bad += CheckF32Gemm(impl, 24, 96, 130, 0, 2, 1, false, false, rng);
  EXPECT_EQ(bad, 0) << "over " << cases << " GEMMs";
}

// -------------------------------------------------------------- f32 igemm
struct F32ConvData {
  std::vector<float> x, w, bias, ref;
  std::vector<double> mag;
};

F32ConvData MakeF32Conv(const qk::Conv2DParams& p, int clamp, std::mt19937& rng,
                        bool nan = false) {
  F32ConvData d;
  const int cpg = p.cin / p.groups;
  d.x = kt::RandomF(int64_t{p.n} * p.h * p.w * p.cin, rng);
  if (nan) d.x[d.x.size() / 2 + 1] = NAN;  // must reach exactly the outputs that read it
  d.w = kt::RandomF(int64_t{p.cout} * p.kh * p.kw * cpg, rng);
  d.bias = kt::RandomF(p.cout, rng);
  d.ref.resize(size_t(p.n) * p.oh * p.ow * p.cout);
  qk::f32_conv2d__ref(p, d.x.data(), d.w.data(), d.bias.data(), kFClamps[clamp % 3], d.ref.data());
  // Magnitudes: the same conv on |x|, |w|, |bias| without clamp.
  std::vector<float> ax(d.x), aw(d.w), ab(d.bias), m(d.ref.size());
  for (auto& v : ax) v = std::fabs(v);
  for (auto& v : aw) v = std::fabs(v);
  for (auto& v : ab) v = std::fabs(v);
  qk::f32_conv2d__ref(p, ax.data(), aw.data(), ab.data(), {}, m.data());
  d.mag.assign(m.begin(), m.end());
  for (auto& v : d.mag) v *= 1.0001;  // the magnitude itself is rounded
  return d;
}

int64_t CheckF32Igemm(const Impl2& impl, const ConvCase& cc, int clamp, std::mt19937& rng,
                      bool nan = false) {
  const qk::Conv2DParams p = Params(cc);
  if (p.oh <= 0 || p.ow <= 0) return 0;
  const F32ConvData d = MakeF32Conv(p, clamp, rng, nan);
  const int taps = p.kh * p.kw;
  std::vector<int64_t> table(qk::f32_igemm_indirection_count(p));
  qk::f32_igemm_indirection_build(p, table.data());
  std::vector<float> packed(qk::f32_gemm_16_packed_size(p.cout, taps * p.cin) / sizeof(float));
  qk::f32_gemm_16_pack(p.cout, taps * p.cin, d.w.data(), d.bias.data(), packed.data());
  const std::vector<float> zero(static_cast<size_t>(p.cin), 0.f);
  FGuard xg(d.x);
  FGuard zg(zero);
  const int m = p.n * p.oh * p.ow;
  const qk::FRange act = kFClamps[clamp % 3];
  auto run = [&](int i0, int i1, float* y) {
    impl.igemm(i1 - i0, p.cout, taps, p.cin, xg.data(), table.data() + size_t(i0) * taps,
               zg.data(), packed.data(), act, y + size_t(i0) * p.cout, p.cout);
  };
  const int64_t out = int64_t{m} * p.cout;
  const auto got = kt::RunGuarded<float>(out, [&](float* y) { run(0, m, y); });
  const int a = m / 3, b = m - m / 5;  // arbitrary pixel ranges
  const auto split = kt::RunGuarded<float>(out, [&](float* y) {
    run(b, m, y);
    run(0, a, y);
    run(a, b, y);
  });
  const std::string what = std::string(impl.name) + " f32 igemm " + DwName(p) +
                           " cin=" + std::to_string(p.cin);
  return CompareF(what.c_str(), got, d.ref, d.mag) + CompareBits(what.c_str(), got, split);
}

void SweepF32Igemm(const Impl2& impl) {
  std::mt19937 rng(123);
  std::vector<ConvCase> cases;
  for (int cout : {1, 7, 16, 17, 32, 33, 48, 65})
    cases.push_back({1, 5, 4, 3, cout, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1});
  const ConvCase geo[] = {
      {2, 7, 5, 3, 24, 3, 3, 2, 2, 1, 1, 1, 1, 0, 1},
      {1, 9, 9, 4, 16, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},
      {3, 4, 4, 8, 33, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
      {1, 8, 7, 6, 40, 2, 3, 2, 1, 1, 2, 0, 1, 1, 0},
      {1, 9, 9, 2, 20, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2},
      {1, 11, 11, 1, 8, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3},
      {1, 5, 5, 13, 31, 4, 4, 1, 1, 1, 1, 2, 1, 1, 2},
  };
  cases.insert(cases.end(), std::begin(geo), std::end(geo));
  int64_t bad = 0;
  int i = 0;
  for (const ConvCase& c : cases) bad += CheckF32Igemm(impl, c, i++, rng);
  bad += CheckF32Igemm(impl, {1, 6, 5, 5, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, 2, rng, true);
  EXPECT_EQ(bad, 0) << "over " << cases.size() << " convolutions";
}

// ---------------------------------------------------------- f32 depthwise
int64_t CheckF32Dw(const Impl2& impl, const ConvCase& cc, int C, int clamp, std::mt19937& rng,
                   bool nan = false) {
  const qk::Conv2DParams p = DwParams(cc, C);
  if (p.oh <= 0 || p.ow <= 0) return 0;
  const F32ConvData d = MakeF32Conv(p, clamp, rng, nan);
  std::vector<float> packed(qk::f32_dwconv_c16_packed_size(C, p.kh, p.kw) / sizeof(float));
  qk::f32_dwconv_c16_pack(C, p.kh, p.kw, d.w.data(), d.bias.data(), packed.data());
  FGuard xg(d.x);
  const qk::FRange act = kFClamps[clamp % 3];
  const int64_t out = int64_t{p.n} * p.oh * p.ow * C;
  const auto got = kt::RunGuarded<float>(out, [&](float* y) {
    impl.fdw(p, xg.data(), packed.data(), act, y);
  });
  const int a = p.oh / 3, b = p.oh - p.oh / 4;
  const auto split = kt::RunGuarded<float>(out, [&](float* y) {
    impl.fdw_rows(p, b, p.oh + 2, xg.data(), packed.data(), act, y);
    impl.fdw_rows(p, -1, a, xg.data(), packed.data(), act, y);
    impl.fdw_rows(p, a, b, xg.data(), packed.data(), act, y);
  });
  const std::string what = std::string(impl.name) + " f32 dw " + DwName(p);
  return CompareF(what.c_str(), got, d.ref, d.mag) + CompareBits(what.c_str(), got, split);
}

void SweepF32Dw(const Impl2& impl) {
  std::mt19937 rng(321);
  int64_t bad = 0;
  int i = 0;
  for (int C : {1, 2, 3, 5, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 70})
    bad += CheckF32Dw(impl, {1, 5, 7, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, C, i++, rng);
  const ConvCase geo[] = {
      {2, 5, 6, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
      {1, 7, 9, 0, 0, 3, 3, 2, 2, 1, 1, 0, 1, 1, 0},
      {1, 9, 9, 0, 0, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},
      {1, 8, 9, 0, 0, 4, 4, 1, 1, 1, 1, 2, 1, 1, 2},
      {1, 9, 10, 0, 0, 5, 5, 2, 1, 1, 2, 2, 4, 2, 3},
      {1, 12, 12, 0, 0, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3},
      {1, 7, 8, 0, 0, 2, 5, 1, 2, 2, 1, 1, 2, 1, 2},
      {1, 2, 2, 0, 0, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2},
  };
  const int gc[] = {33, 17, 64, 5, 70, 16, 31, 9};
  int g = 0;
  for (const ConvCase& cc : geo) bad += CheckF32Dw(impl, cc, gc[g++], i++, rng);
  bad += CheckF32Dw(impl, {1, 6, 9, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, 37, 1, rng, true);
  EXPECT_EQ(bad, 0);
}

}  // namespace

TEST(X86Avx512, DwconvSweepEmu) { SweepDw(kEmu2); }
TEST(X86Avx512, DwconvSweepNative) {
  SKIP_WITHOUT_VNNI();
  SweepDw(kNative2);
}
TEST(X86Avx512, DwconvExtremesEmu) { ExtremeDw(kEmu2); }
TEST(X86Avx512, DwconvExtremesNative) {
  SKIP_WITHOUT_VNNI();
  ExtremeDw(kNative2);
}
TEST(X86Avx512, F32GemmSweepEmu) { SweepF32Gemm(kEmu2); }
TEST(X86Avx512, F32GemmSweepNative) {
  SKIP_WITHOUT_VNNI();
  SweepF32Gemm(kNative2);
}
TEST(X86Avx512, F32IgemmSweepEmu) { SweepF32Igemm(kEmu2); }
TEST(X86Avx512, F32IgemmSweepNative) {
  SKIP_WITHOUT_VNNI();
  SweepF32Igemm(kNative2);
}
TEST(X86Avx512, F32DwconvSweepEmu) { SweepF32Dw(kEmu2); }
TEST(X86Avx512, F32DwconvSweepNative) {
  SKIP_WITHOUT_VNNI();
  SweepF32Dw(kNative2);
}
