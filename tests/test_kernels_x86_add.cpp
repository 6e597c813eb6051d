// The AVX2 dense qu8 Add against the reference, byte for byte.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "quanta/kernels/tier.h"
#include "quanta/kernels/ref.h"
#include "quanta/kernels/x86.h"

namespace quanta::kernels {
namespace {

std::vector<uint8_t> reference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
                               const QAddParams& p) {
  const int64_t n = static_cast<int64_t>(a.size());
  BroadcastShape s;
  EXPECT_TRUE(make_broadcast(1, &n, 1, &n, &s));
  std::vector<uint8_t> y(a.size());
  qu8_add_minmax_fp32__ref(s, a.data(), b.data(), p, y.data());
  return y;
}

TEST(X86Add, DenseAddMatchesTheReferenceBytes) {
  if (!cpu_supports(Tier::kAvx2)) GTEST_SKIP() << "this CPU has no AVX2";
  std::mt19937 rng(11);
  const std::vector<float> mults = {0.5f, 1.0f, 0.0123f, 3.7f, 1e-6f, 250.0f, 1e30f};
  const std::vector<QRange> ranges = {{0, 255}, {128, 255}, {3, 200}, {100, 100}};
  int cases = 0;
  for (int n : {1, 7, 8, 9, 15, 16, 17, 31, 64, 100, 257}) {
    for (int32_t za : {0, 128, 255}) {
      for (int32_t zb : {0, 77, 255}) {
        for (int32_t zy : {0, 128, 255}) {
          for (const QRange& r0 : ranges) {
            QAddParams p;
            p.za = za;
            p.zb = zb;
            p.zy = zy;
            p.ma = mults[rng() % mults.size()];
            p.mb = mults[rng() % mults.size()];
            p.r = r0;
            std::vector<uint8_t> a(n), b(n);
            for (auto& v : a) v = static_cast<uint8_t>(rng());
            for (auto& v : b) v = static_cast<uint8_t>(rng());
            if (n > 2) {
              a[0] = 0;
              a[1] = 255;
              b[0] = 255;
              b[1] = 0;
            }
            const auto want = reference(a, b, p);
            std::vector<uint8_t> got(n + 16, 0xA5);
            qu8_vadd_minmax_fp32__avx2(n, a.data(), b.data(), p, got.data());
            for (int i = 0; i < n; ++i) ASSERT_EQ(got[i], want[i]) << "n=" << n << " i=" << i;
            for (int i = n; i < n + 16; ++i) ASSERT_EQ(got[i], 0xA5) << "wrote past the end";
            ++cases;
          }
        }
      }
    }
  }
  EXPECT_GT(cases, 1000);
}

TEST(X86Add, OverflowToNanGivesTheZeroPointLikeTheReference) {
  if (!cpu_supports(Tier::kAvx2)) GTEST_SKIP() << "this CPU has no AVX2";
  // (255 - 0) * 3e38 overflows to +inf and (0 - 255) * 3e38 to -inf: inf - inf = NaN.
  QAddParams p;
  p.za = 0;
  p.zb = 255;
  p.zy = 90;
  p.ma = 3e38f;
  p.mb = 3e38f;
  p.r = {10, 200};
  std::vector<uint8_t> a(16, 255), b(16, 0);
  const auto want = reference(a, b, p);
  std::vector<uint8_t> got(16);
  qu8_vadd_minmax_fp32__avx2(16, a.data(), b.data(), p, got.data());
  EXPECT_EQ(got, want);
  EXPECT_EQ(got[0], 90);
}

}  // namespace
}  // namespace quanta::kernels
