// The qu8 GEMM kernels qu8_gemm_minmax_fp32__avx2_2x8c8 (+ qu8_gemm_8c8_pack)
// and qu8_gemm_minmax_fp32__avx2_3x16c2 (+ qu8_gemm_16c2_pack) against the
// reference qu8_fully_connected_minmax_fp32__ref (and
// qu8_conv2d_minmax_fp32__ref for 1x1 convolutions): same bytes over sweeps of
// shapes, zero points, clamps, strides, extreme values; outputs pre-filled with
// two sentinels, guard bytes checked.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernel_test_util.hpp"
#include "quanta/kernels/tier.h"
#include "quanta/kernels/ref.h"
#include "quanta/kernels/x86.h"

namespace qk = quanta::kernels;
namespace kt = quanta::kernel_test;

namespace {

// One kernel under test with its packing.
struct Variant {
  const char* name;
  int mr;  // rows per tile
  int nr;  // channels per block
  size_t (*packed_size)(int n, int k);
  void (*pack)(int n, int k, const int8_t* w, const int32_t* bias_folded, const float* multiplier,
               void* packed);
  void (*run)(int m, int n, int k, const uint8_t* x, size_t x_stride, const void* packed,
              int32_t zy, qk::QRange r, uint8_t* y, size_t y_stride);
};

const Variant kVariants[] = {
    {"avx2_2x8c8", 2, 8, qk::qu8_gemm_8c8_packed_size, qk::qu8_gemm_8c8_pack,
     qk::qu8_gemm_minmax_fp32__avx2_2x8c8},
    {"avx2_3x16c2", 3, 16, qk::qu8_gemm_16c2_packed_size, qk::qu8_gemm_16c2_pack,
     qk::qu8_gemm_minmax_fp32__avx2_3x16c2},
};

#define SKIP_WITHOUT_AVX2()                                                           \
  do {                                                                                \
    if (!qk::cpu_supports(qk::Tier::kAvx2))                                            \
      GTEST_SKIP() << "CPU lacks AVX2 (+FMA): the avx2 GEMM cannot run on this host"; \
  } while (0)

struct Problem {
  int m = 1, n = 1, k = 1;
  int32_t zx = 0, zy = 0;
  qk::QRange r;
  std::vector<uint8_t> x;     // [m, k] contiguous
  std::vector<int8_t> w;      // [n, k]
  std::vector<int32_t> bias;  // folded, [n]
  std::vector<float> mul;     // [n]
  bool null_bias = false;
};

std::vector<int32_t> Fold(const Problem& p, const std::vector<int32_t>& raw) {
  std::vector<int64_t> f(static_cast<size_t>(p.n));
  qk::fold_bias_qs8(p.n, p.k, p.w.data(), raw.data(), p.zx, f.data());
  std::vector<int32_t> out(f.size());
  for (size_t i = 0; i < f.size(); ++i) {
    EXPECT_LE(std::llabs(f[i]), int64_t{std::numeric_limits<int32_t>::max()});
    out[i] = static_cast<int32_t>(f[i]);
  }
  return out;
}

// Random problem; multipliers scaled so outputs spread over the u8 range.
Problem MakeRandom(int m, int n, int k, int32_t zx, qk::QRange r, std::mt19937& rng) {
  Problem p;
  p.m = m;
  p.n = n;
  p.k = k;
  p.zx = zx;
  p.r = r;
  p.zy = std::uniform_int_distribution<int>(0, 255)(rng);
  p.x = kt::RandomU8(int64_t{m} * k, rng);
  p.w = kt::RandomI8(int64_t{n} * k, rng);
  std::uniform_int_distribution<int32_t> db(-100000, 100000);
  std::vector<int32_t> raw(static_cast<size_t>(n));
  for (auto& b : raw) b = db(rng);
  p.bias = Fold(p, raw);
  std::uniform_real_distribution<float> lu(std::log(0.1f), std::log(3.f));
  const float base = 100.f / (std::sqrt(static_cast<float>(k)) * 5400.f);
  p.mul.resize(static_cast<size_t>(n));
  for (auto& v : p.mul) v = base * std::exp(lu(rng));
  return p;
}

std::vector<uint8_t> Reference(const Problem& p) {
  std::vector<uint8_t> y(static_cast<size_t>(p.m) * static_cast<size_t>(p.n));
  qk::qu8_fully_connected_minmax_fp32__ref(p.m, p.k, p.n, p.x.data(), p.w.data(),
                                           p.null_bias ? nullptr : p.bias.data(), p.mul.data(),
                                           p.zy, p.r, y.data());
  return y;
}

std::vector<unsigned char> Pack(const Variant& v, const Problem& p) {
  const size_t size = v.packed_size(p.n, p.k);
  std::vector<unsigned char> packed(size + 64, 0xCD);
  v.pack(p.n, p.k, p.w.data(), p.null_bias ? nullptr : p.bias.data(), p.mul.data(), packed.data());
  for (size_t i = size; i < packed.size(); ++i) {
    EXPECT_EQ(packed[i], 0xCD) << v.name << ": pack wrote past its packed_size";
    if (packed[i] != 0xCD) break;
  }
  return packed;
}

// Runs the kernel with row strides x_stride >= k and y_stride >= n, twice, into
// outputs pre-filled with two different sentinels, and compares with the
// reference. Returns the number of mismatching or stray bytes.
int64_t CheckKernel(const Variant& v, const Problem& p, size_t x_extra = 0, size_t y_extra = 0) {
  const std::vector<uint8_t> want = Reference(p);
  const std::vector<unsigned char> packed = Pack(v, p);
  const size_t xs = static_cast<size_t>(p.k) + x_extra;
  const size_t ys = static_cast<size_t>(p.n) + y_extra;
  std::vector<uint8_t> xbuf(static_cast<size_t>(p.m) * xs + 1, 0x77);
  for (int i = 0; i < p.m; ++i)
    std::memcpy(xbuf.data() + static_cast<size_t>(i) * xs,
                p.x.data() + static_cast<size_t>(i) * static_cast<size_t>(p.k),
                static_cast<size_t>(p.k));
  int64_t bad = 0;
  for (int s = 0; s < 2; ++s) {
    const uint8_t sentinel = kt::Sentinel<uint8_t>(s);
    const size_t g = kt::kGuard;
    std::vector<uint8_t> ybuf(static_cast<size_t>(p.m) * ys + 2 * g, sentinel);
    v.run(p.m, p.n, p.k, xbuf.data(), xs, packed.data(), p.zy, p.r, ybuf.data() + g, ys);
    for (size_t i = 0; i < ybuf.size(); ++i) {
      const bool in_out = i >= g && i < g + static_cast<size_t>(p.m) * ys &&
                          (i - g) % ys < static_cast<size_t>(p.n);
      if (in_out) {
        const size_t row = (i - g) / ys, col = (i - g) % ys;
        const uint8_t ref = want[row * static_cast<size_t>(p.n) + col];
        if (ybuf[i] != ref) {
          if (bad < 5)
            ADD_FAILURE() << v.name << " m=" << p.m << " n=" << p.n << " k=" << p.k
                          << " zx=" << p.zx << " zy=" << p.zy << " r=[" << p.r.qmin << ","
                          << p.r.qmax << "] y[" << row << "][" << col << "] = " << int{ybuf[i]}
                          << ", ref " << int{ref};
          ++bad;
        }
      } else if (ybuf[i] != sentinel) {
        if (bad < 5)
          ADD_FAILURE() << v.name << ": stray write at byte " << i << " of the output buffer";
        ++bad;
      }
    }
  }
  return bad;
}

const int32_t kZeroPoints[] = {0, 128, 255};

qk::QRange ClampFor(int which, int32_t zy) {
  switch (which % 3) {
    case 0:
      return {0, 255};  // full
    case 1:
      return {zy, 255};  // relu-like
    default:
      return {std::min(zy, 200), std::min(zy, 200) + 40};  // narrow
  }
}

}  // namespace

TEST(X86Gemm, PackedSize) {
  EXPECT_EQ(qk::qu8_gemm_16c2_packed_size(0, 10), 0u);
  EXPECT_EQ(qk::qu8_gemm_16c2_packed_size(1, 1), 128u + 32u * 8u);
  EXPECT_EQ(qk::qu8_gemm_16c2_packed_size(17, 24), 2u * (128u + 32u * 24u));
  EXPECT_EQ(qk::qu8_gemm_8c8_packed_size(0, 10), 0u);
  EXPECT_EQ(qk::qu8_gemm_8c8_packed_size(1, 1), 64u + 16u * 8u);
  EXPECT_EQ(qk::qu8_gemm_8c8_packed_size(8, 8), 64u + 16u * 8u);
  EXPECT_EQ(qk::qu8_gemm_8c8_packed_size(9, 9), 2u * (64u + 16u * 16u));
  EXPECT_EQ(qk::qu8_gemm_8c8_packed_size(128, 640), 16u * (64u + 16u * 640u));
}

// M = 1..MR+1, N around the block width, K = 1..33 and larger / prime values,
// every input zero point, clamps cycling full / relu / narrow.
TEST(X86Gemm, SweepShapes) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(1234);
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    std::vector<int> ns;
    for (int n = 1; n <= 2 * v.nr + 1; ++n) ns.push_back(n);
    for (int n : {23, 31, 32, 33, 64})
      if (n > 2 * v.nr + 1) ns.push_back(n);
    std::vector<int> ks;
    for (int k = 1; k <= 33; ++k) ks.push_back(k);
    for (int k : {37, 64, 101, 127, 257, 640}) ks.push_back(k);
    int64_t bad = 0, cases = 0;
    int which = 0;
    // M = 1..MR+1 and a few beyond (2 full tiles + tail)
    for (int m = 1; m <= 2 * v.mr + 1; ++m)
      for (int n : ns)
        for (int k : ks)
          for (int32_t zx : kZeroPoints) {
            Problem p = MakeRandom(m, n, k, zx, {0, 255}, rng);
            p.r = ClampFor(which++, p.zy);
            bad += CheckKernel(v, p);
            ++cases;
            if (bad > 20) FAIL() << "too many mismatches";
          }
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(cases, int64_t{2 * v.mr + 1} * static_cast<int64_t>(ns.size() * ks.size()) * 3);
  }
}

TEST(X86Gemm, LargerM) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(77);
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    int64_t bad = 0;
    int which = 0;
    for (int m : {5, 6, 7, 8, 9, 10, 31, 64, 100})
      for (int n : {7, 8, 33, 64, 144})
        for (int k : {3, 24, 64, 127, 144})
          for (int32_t zx : kZeroPoints) {
            Problem p = MakeRandom(m, n, k, zx, {0, 255}, rng);
            p.r = ClampFor(which++, p.zy);
            bad += CheckKernel(v, p);
            if (bad > 20) FAIL() << "too many mismatches";
          }
    EXPECT_EQ(bad, 0);
  }
}

// Inputs at 255 and weights at +-127 (and -128, never produced by the
// converter but exact here too): the int16 products and pair sums must not
// saturate anywhere. Multipliers both tiny (values in range) and large
// (clamped).
TEST(X86Gemm, ExtremeValues) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(5);
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    int64_t bad = 0;
    for (int pattern = 0; pattern < 5; ++pattern)
      for (int m : {1, 3, 4})
        for (int n : {1, 8, 13})
          for (int k : {1, 2, 7, 8, 9, 16, 127, 640, 4099})
            for (int32_t zx : kZeroPoints)
              for (float scale : {1.f, 300.f}) {
                Problem p;
                p.m = m;
                p.n = n;
                p.k = k;
                p.zx = zx;
                p.zy = 128;
                p.x.assign(static_cast<size_t>(m) * static_cast<size_t>(k), 255);
                p.w.resize(static_cast<size_t>(n) * static_cast<size_t>(k));
                for (size_t i = 0; i < p.w.size(); ++i) {
                  switch (pattern) {
                    case 0:
                      p.w[i] = 127;
                      break;
                    case 1:
                      p.w[i] = -127;
                      break;
                    case 2:
                      p.w[i] = (i % 2) ? int8_t{127} : int8_t{-127};
                      break;
                    case 3:
                      p.w[i] = -128;
                      break;
                    default:
                      p.w[i] = (i % 3 == 0) ? int8_t{-128} : int8_t{127};
                      break;
                  }
                }
                if (pattern == 2) {  // mix in random inputs too
                  auto rx = kt::RandomU8(int64_t{m} * k, rng);
                  for (size_t i = 0; i < p.x.size(); i += 2) p.x[i] = rx[i];
                }
                p.bias = Fold(p, std::vector<int32_t>(static_cast<size_t>(n), 12345));
                p.mul.assign(static_cast<size_t>(n),
                             scale * 100.f / (255.f * 128.f * static_cast<float>(k)));
                p.r = {0, 255};
                bad += CheckKernel(v, p);
                if (bad > 20) FAIL() << "too many mismatches";
              }
    EXPECT_EQ(bad, 0);
  }
}

// Multipliers that are powers of two make exact .5 ties: round half to even.
TEST(X86Gemm, TiesRoundHalfToEven) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(9);
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    int64_t bad = 0;
    for (float mul : {0.5f, 0.25f, 0.125f, 1.f / 1024.f})
      for (int k : {1, 5, 8, 33}) {
        Problem p = MakeRandom(7, 19, k, 0, {0, 255}, rng);
        // small inputs and weights so many results land on ties inside the
        // range
        for (auto& v : p.x) v = static_cast<uint8_t>(v % 5);
        for (auto& v : p.w) v = static_cast<int8_t>(v % 4);
        p.bias = Fold(p, std::vector<int32_t>(static_cast<size_t>(p.n), 3));
        p.mul.assign(static_cast<size_t>(p.n), mul);
        p.zy = 100;
        bad += CheckKernel(v, p);
      }
    EXPECT_EQ(bad, 0);
  }
}

// Degenerate multipliers give the reference's bytes too (saturation, inf, 0,
// NaN) and per-channel multipliers differ.
TEST(X86Gemm, SpecialMultipliers) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(11);
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    int64_t bad = 0;
    const float specials[] = {0.f,
                              -0.f,
                              1e30f,
                              -1e30f,
                              std::numeric_limits<float>::infinity(),
                              std::numeric_limits<float>::denorm_min(),
                              1.f,
                              std::numeric_limits<float>::quiet_NaN()};
    for (int32_t zy : {0, 77, 255})
      for (int clamp = 0; clamp < 3; ++clamp) {
        Problem p = MakeRandom(5, 17, 21, 128, {0, 255}, rng);
        p.zy = zy;
        p.r = ClampFor(clamp, zy);
        for (size_t i = 0; i < p.mul.size(); ++i) p.mul[i] = specials[i % std::size(specials)];
        bad += CheckKernel(v, p);
      }
    EXPECT_EQ(bad, 0);
  }
}

TEST(X86Gemm, NullBias) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(13);
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    int64_t bad = 0;
    for (int n : {1, 8, 9, 20}) {
      Problem p = MakeRandom(4, n, 30, 0, {0, 255}, rng);
      p.null_bias = true;
      bad += CheckKernel(v, p);
    }
    EXPECT_EQ(bad, 0);
  }
}

TEST(X86Gemm, RowStrides) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(17);
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    int64_t bad = 0;
    for (int m : {1, 2, 3, 4, 7})
      for (int n : {3, 8, 11})
        for (int k : {5, 8, 19})
          for (size_t xe : {size_t{1}, size_t{13}})
            for (size_t ye : {size_t{1}, size_t{9}}) {
              Problem p = MakeRandom(m, n, k, 255, {0, 255}, rng);
              bad += CheckKernel(v, p, xe, ye);
            }
    EXPECT_EQ(bad, 0);
  }
}

// The last row of x ends exactly at a PROT_NONE page: any read past x[m-1][k)
// faults.
TEST(X86Gemm, NoReadPastInput) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(19);
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    for (int m : {1, 2, 3, 4})
      for (int k : {1, 7, 9, 15, 16, 17, 33}) {
        Problem p = MakeRandom(m, 9, k, 0, {0, 255}, rng);
        const kt::TailGuarded guarded(p.x.data(), p.x.size());
        ASSERT_NE(guarded.data(), nullptr);
        const uint8_t* xp = guarded.data();
        const auto packed = Pack(v, p);
        std::vector<uint8_t> y(static_cast<size_t>(m) * 9);
        v.run(m, 9, k, xp, static_cast<size_t>(k), packed.data(), p.zy, p.r, y.data(), 9);
        EXPECT_EQ(y, Reference(p)) << "m=" << m << " k=" << k;
      }
  }
}

TEST(X86Gemm, EmptyShapesWriteNothing) {
  SKIP_WITHOUT_AVX2();
  for (const Variant& v : kVariants) {
    std::vector<unsigned char> packed(v.packed_size(16, 8) + 1, 0);
    uint8_t x[64] = {};
    std::vector<uint8_t> y(64, 0xA5);
    v.run(0, 8, 8, x, 8, packed.data(), 0, {0, 255}, y.data(), 8);
    v.run(3, 0, 8, x, 8, packed.data(), 0, {0, 255}, y.data(), 8);
    for (uint8_t b : y) EXPECT_EQ(b, 0xA5) << v.name;
  }
}

// 1x1, stride-1, unpadded Conv2D in NHWC is the GEMM with M = N*H*W, K = Cin,
// N = Cout: the same bytes as qu8_conv2d_minmax_fp32__ref.
TEST(X86Gemm, Conv1x1MatchesConvReference) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(23);
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    int which = 0;
    for (int cin : {3, 16, 24, 144})
      for (int cout : {8, 24, 37, 144})
        for (int32_t zx : kZeroPoints) {
          qk::Conv2DParams cp;
          cp.n = 2;
          cp.h = 5;
          cp.w = 7;
          cp.cin = cin;
          cp.cout = cout;
          cp.oh = 5;
          cp.ow = 7;
          const int m = cp.n * cp.h * cp.w;
          Problem p = MakeRandom(m, cout, cin, zx, {0, 255}, rng);
          p.r = ClampFor(which++, p.zy);
          std::vector<uint8_t> want(static_cast<size_t>(m) * static_cast<size_t>(cout));
          qk::qu8_conv2d_minmax_fp32__ref(cp, p.x.data(), zx, p.w.data(), p.bias.data(),
                                          p.mul.data(), p.zy, p.r, want.data());
          const auto packed = Pack(v, p);
          std::vector<uint8_t> got = kt::RunGuarded<uint8_t>(int64_t{m} * cout, [&](uint8_t* y) {
            v.run(m, cout, cin, p.x.data(), static_cast<size_t>(cin), packed.data(), p.zy, p.r, y,
                  static_cast<size_t>(cout));
          });
          EXPECT_EQ(got, want) << "cin=" << cin << " cout=" << cout << " zx=" << zx;
        }
  }
}

// ------------------------------------------------ fused residual Add epilogue
// The kernels with a QResidual against the unfused reference pair:
// qu8_fully_connected_minmax_fp32__ref into a temporary, then
// qu8_add_minmax_fp32__ref with the Add's parameters in the graph's order.
namespace {

using RunRes = void (*)(int m, int n, int k, const uint8_t* x, size_t x_stride,
                        const void* packed, int32_t zy, qk::QRange r, uint8_t* y,
                        size_t y_stride, const qk::QResidual* res);

struct ResVariant {
  const Variant* base;
  RunRes run;
};

const ResVariant kResVariants[] = {
    {&kVariants[0], qk::qu8_gemm_minmax_fp32__avx2_2x8c8},
    {&kVariants[1], qk::qu8_gemm_minmax_fp32__avx2_3x16c2},
};

// Dense Add of two [m, n] tensors by the reference.
std::vector<uint8_t> RefAdd(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, int m,
                            int n, const qk::QAddParams& ap) {
  const int64_t shape[2] = {m, n};
  qk::BroadcastShape bs;
  EXPECT_TRUE(qk::make_broadcast(2, shape, 2, shape, &bs));
  std::vector<uint8_t> y(a.size());
  qk::qu8_add_minmax_fp32__ref(bs, a.data(), b.data(), ap, y.data());
  return y;
}

struct ResCase {
  qk::QAddParams add;
  qk::AddOrder order = qk::AddOrder::kConvFirst;
  bool in_place = false;     // y == residual
  size_t s_extra = 0;        // residual row stride - n (not in place)
  size_t y_extra = 0;        // y row stride - n (in place: also the residual's)
};

std::string ResName(const Problem& p, const ResCase& rc) {
  return "m=" + std::to_string(p.m) + " n=" + std::to_string(p.n) + " k=" + std::to_string(p.k) +
         " zy=" + std::to_string(p.zy) + " r=[" + std::to_string(p.r.qmin) + "," +
         std::to_string(p.r.qmax) + "] add za=" + std::to_string(rc.add.za) +
         " zb=" + std::to_string(rc.add.zb) + " zy=" + std::to_string(rc.add.zy) +
         " ma=" + std::to_string(rc.add.ma) + " mb=" + std::to_string(rc.add.mb) + " r=[" +
         std::to_string(rc.add.r.qmin) + "," + std::to_string(rc.add.r.qmax) + "] order=" +
         (rc.order == qk::AddOrder::kConvFirst ? "conv,skip" : "skip,conv") +
         (rc.in_place ? " in-place" : "");
}

// Returns the number of wrong or stray bytes.
int64_t CheckResidual(const ResVariant& v, const Problem& p, const ResCase& rc,
                      std::mt19937& rng) {
  const size_t m = static_cast<size_t>(p.m), n = static_cast<size_t>(p.n);
  const std::vector<uint8_t> conv = Reference(p);
  const std::vector<uint8_t> skip = kt::RandomU8(int64_t{p.m} * p.n, rng);
  const std::vector<uint8_t> want = rc.order == qk::AddOrder::kConvFirst
                                        ? RefAdd(conv, skip, p.m, p.n, rc.add)
                                        : RefAdd(skip, conv, p.m, p.n, rc.add);
  const std::vector<unsigned char> packed = Pack(*v.base, p);
  const size_t ys = n + rc.y_extra;
  const size_t ss = rc.in_place ? ys : n + rc.s_extra;
  const size_t g = kt::kGuard;
  int64_t bad = 0;
  for (int sidx = 0; sidx < 2; ++sidx) {
    const uint8_t sentinel = kt::Sentinel<uint8_t>(sidx);
    std::vector<uint8_t> ybuf(m * ys + 2 * g, sentinel);
    // Residual buffer: its own (filled with a different byte between rows) or y.
    std::vector<uint8_t> sbuf(m * ss + 2 * g, 0x3C);
    uint8_t* sdata = rc.in_place ? ybuf.data() + g : sbuf.data() + g;
    for (size_t i = 0; i < m; ++i) std::memcpy(sdata + i * ss, skip.data() + i * n, n);
    const std::vector<uint8_t> sbuf_before = sbuf;
    qk::QResidual res;
    res.data = sdata;
    res.stride = ss;
    res.add = rc.add;
    res.order = rc.order;
    v.run(p.m, p.n, p.k, p.x.data(), static_cast<size_t>(p.k), packed.data(), p.zy, p.r,
          ybuf.data() + g, ys, &res);
    for (size_t i = 0; i < ybuf.size(); ++i) {
      const bool in_out = i >= g && i < g + m * ys && (i - g) % ys < n;
      if (in_out) {
        const size_t row = (i - g) / ys, col = (i - g) % ys;
        if (ybuf[i] != want[row * n + col]) {
          if (bad < 3)
            ADD_FAILURE() << v.base->name << " " << ResName(p, rc) << ": y[" << row << "]["
                          << col << "] = " << int{ybuf[i]} << ", ref "
                          << int{want[row * n + col]};
          ++bad;
        }
      } else {
        // in place: the gaps between rows keep the sentinel too
        if (ybuf[i] != sentinel) {
          if (bad < 3) ADD_FAILURE() << v.base->name << ": stray write at " << i;
          ++bad;
        }
      }
    }
    if (!rc.in_place && sbuf != sbuf_before) {
      ADD_FAILURE() << v.base->name << ": residual modified";
      ++bad;
    }
  }
  return bad;
}

qk::QAddParams RandomAdd(std::mt19937& rng, int which) {
  qk::QAddParams a;
  a.za = kZeroPoints[which % 3];
  a.zb = kZeroPoints[(which / 3) % 3];
  a.zy = kZeroPoints[(which / 9) % 3];
  std::uniform_real_distribution<float> lu(std::log(0.2f), std::log(2.f));
  a.ma = std::exp(lu(rng));
  a.mb = std::exp(lu(rng));
  switch ((which / 27) % 3) {
    case 0: a.r = {0, 255}; break;
    case 1: a.r = {a.zy, 255}; break;  // fused ReLU on the Add
    default: a.r = {std::min(a.zy, 180), std::min(a.zy, 180) + 60}; break;
  }
  return a;
}

}  // namespace

TEST(X86GemmResidual, MatchesReferencePair) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(4242);
  for (const ResVariant& v : kResVariants) {
    SCOPED_TRACE(v.base->name);
    int64_t bad = 0, cases = 0;
    int which = 0;
    for (int m = 1; m <= 2 * v.base->mr + 1; ++m)
      for (int n : {1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40})
        for (int k : {1, 5, 8, 13, 16, 33, 64})
          for (int order = 0; order < 2; ++order) {
            const int32_t zx = kZeroPoints[which % 3];
            Problem p = MakeRandom(m, n, k, zx, {0, 255}, rng);
            p.zy = kZeroPoints[(which / 3) % 3];
            p.r = ClampFor(which / 2, p.zy);  // the conv's own clamp
            ResCase rc;
            rc.add = RandomAdd(rng, which);
            rc.add.za = p.zy;  // as a graph would: the Add reads the conv's zero point
            if (order == 1) std::swap(rc.add.za, rc.add.zb);
            rc.order = order ? qk::AddOrder::kResidualFirst : qk::AddOrder::kConvFirst;
            rc.in_place = (which % 4) == 1;
            rc.s_extra = (which % 5 == 2) ? 7 : 0;
            rc.y_extra = (which % 7 == 3) ? 5 : 0;
            ++which;
            bad += CheckResidual(v, p, rc, rng);
            ++cases;
            if (bad > 20) FAIL() << "too many mismatches";
          }
    EXPECT_EQ(bad, 0) << "over " << cases << " cases";
  }
}

// Every (zero point, clamp) combination of both the conv and the Add, both
// orders, in place and not; the Add's zero point for the conv operand differs
// from the conv's zy in some cases (the fused kernel must follow the Add).
TEST(X86GemmResidual, ZeroPointsClampsOrders) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(99);
  for (const ResVariant& v : kResVariants) {
    SCOPED_TRACE(v.base->name);
    int64_t bad = 0;
    for (int which = 0; which < 81; ++which)
      for (int conv_clamp = 0; conv_clamp < 3; ++conv_clamp)
        for (int order = 0; order < 2; ++order)
          for (int in_place = 0; in_place < 2; ++in_place) {
            Problem p = MakeRandom(7, 21, 19, kZeroPoints[which % 3], {0, 255}, rng);
            p.zy = kZeroPoints[(which / 3) % 3];
            p.r = ClampFor(conv_clamp, p.zy);
            ResCase rc;
            rc.add = RandomAdd(rng, which);
            rc.order = order ? qk::AddOrder::kResidualFirst : qk::AddOrder::kConvFirst;
            rc.in_place = in_place == 1;
            bad += CheckResidual(v, p, rc, rng);
            if (bad > 20) FAIL() << "too many mismatches";
          }
    EXPECT_EQ(bad, 0);
  }
}

// Exact ties in the Add (multipliers 0.5) and degenerate multipliers (0, huge,
// inf, NaN: NaN -> zy clamped, as requantize_f).
TEST(X86GemmResidual, TiesAndSpecialAddMultipliers) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(7);
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float specials[][2] = {{0.5f, 0.5f}, {0.25f, 1.5f}, {0.f, 1.f},  {1e30f, 1.f},
                               {inf, 1.f},   {inf, -inf},   {nan, 1.f},  {1.f, nan}};
  for (const ResVariant& v : kResVariants) {
    SCOPED_TRACE(v.base->name);
    int64_t bad = 0;
    for (const auto& sp : specials)
      for (int order = 0; order < 2; ++order)
        for (int32_t zy : {0, 100, 255}) {
          Problem p = MakeRandom(5, 18, 11, 128, {0, 255}, rng);
          ResCase rc;
          rc.add.za = p.zy;
          rc.add.zb = 77;
          rc.add.zy = zy;
          rc.add.ma = sp[0];
          rc.add.mb = sp[1];
          rc.add.r = ClampFor(order + zy, zy);
          rc.order = order ? qk::AddOrder::kResidualFirst : qk::AddOrder::kConvFirst;
          bad += CheckResidual(v, p, rc, rng);
        }
    EXPECT_EQ(bad, 0);
  }
}

// res == nullptr is the plain kernel; the residual is read only inside its
// rows (it ends at a PROT_NONE page).
TEST(X86GemmResidual, NullResidualAndNoReadPastResidual) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(31);
  for (const ResVariant& v : kResVariants) {
    SCOPED_TRACE(v.base->name);
    for (int m : {1, 2, 3, 4})
      for (int n : {1, 7, 9, 16, 17}) {
        Problem p = MakeRandom(m, n, 10, 128, {0, 255}, rng);
        const auto packed = Pack(*v.base, p);
        std::vector<uint8_t> y(static_cast<size_t>(m) * n);
        v.run(m, n, 10, p.x.data(), 10, packed.data(), p.zy, p.r, y.data(),
              static_cast<size_t>(n), nullptr);
        EXPECT_EQ(y, Reference(p));
        const std::vector<uint8_t> skip = kt::RandomU8(int64_t{m} * n, rng);
        const kt::TailGuarded guarded(skip.data(), skip.size());
        ASSERT_NE(guarded.data(), nullptr);
        qk::QResidual res;
        res.data = guarded.data();
        res.stride = static_cast<size_t>(n);
        res.add.za = p.zy;
        res.add.zb = 30;
        res.add.zy = 140;
        res.add.ma = 0.75f;
        res.add.mb = 1.25f;
        v.run(m, n, 10, p.x.data(), 10, packed.data(), p.zy, p.r, y.data(),
              static_cast<size_t>(n), &res);
        EXPECT_EQ(y, RefAdd(Reference(p), skip, m, n, res.add)) << "m=" << m << " n=" << n;
      }
  }
}

// MatMul of two activations: B packed at run time by qu8_gemm_16c2_pack_act,
// then the 3x16c2 kernel, against qu8_matmul_minmax_fp32__ref. Includes the
// largest supported K with all-255 / all-0 operands (the int32 bound).
namespace {

int64_t CheckActMatMul(int m, int n, int k, int32_t za, int32_t zb, int32_t zy, qk::QRange r,
                       float mult, const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  std::vector<uint8_t> want(static_cast<size_t>(m) * n), got(want.size() + 32, 0xA5);
  qk::qu8_matmul_minmax_fp32__ref(m, k, n, a.data(), za, b.data(), zb, mult, zy, r, want.data());
  std::vector<uint8_t> packed(qk::qu8_gemm_16c2_packed_size(n, k) + 1, 0x5A);
  qk::qu8_gemm_16c2_pack_act(n, k, b.data(), static_cast<size_t>(n), zb, za, mult, packed.data());
  EXPECT_EQ(packed.back(), 0x5A) << "packing wrote past its size";
  qk::qu8_gemm_minmax_fp32__avx2_3x16c2(m, n, k, a.data(), static_cast<size_t>(k), packed.data(),
                                        zy, r, got.data(), static_cast<size_t>(n));
  int64_t bad = 0;
  for (size_t i = 0; i < want.size(); ++i) bad += got[i] != want[i];
  for (size_t i = want.size(); i < got.size(); ++i) bad += got[i] != 0xA5;
  return bad;
}

}  // namespace

TEST(X86Gemm, ActivationMatMulMatchesReference) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(77);
  int64_t bad = 0, cases = 0;
  int which = 0;
  for (int m : {1, 2, 3, 4, 7})
    for (int n : {1, 5, 16, 17, 24, 33, 64})
      for (int k : {1, 2, 7, 8, 9, 31, 64, 100})
        for (int32_t za : kZeroPoints)
          for (int32_t zb : kZeroPoints) {
            const auto a = kt::RandomU8(int64_t{m} * k, rng);
            const auto b = kt::RandomU8(int64_t{k} * n, rng);
            const int32_t zy = (za + zb) / 2;
            const float mult = 0.5f / static_cast<float>(k * 64);
            bad += CheckActMatMul(m, n, k, za, zb, zy, ClampFor(which++, zy), mult, a, b);
            ++cases;
          }
  EXPECT_EQ(bad, 0) << "over " << cases << " cases";
  // The largest K the runtime sends here, at the extremes of the accumulator.
  const int k = qk::kQu8GemmActMaxK;
  for (auto [av, bv, za, zb] : {std::tuple{255, 0, 0, 255}, std::tuple{255, 255, 0, 0},
                                std::tuple{0, 255, 255, 0}}) {
    const std::vector<uint8_t> a(static_cast<size_t>(2) * k, static_cast<uint8_t>(av));
    const std::vector<uint8_t> b(static_cast<size_t>(k) * 3, static_cast<uint8_t>(bv));
    EXPECT_EQ(CheckActMatMul(2, 3, k, za, zb, 128, {0, 255}, 1e-9f, a, b), 0)
        << "a=" << av << " b=" << bv << " za=" << za << " zb=" << zb;
  }
}
