// Data movement and boundary conversions: Transpose (rank 1..6, all perms up
// to rank 4, several element sizes), Pad (constant / reflect / edge against a
// periodic-index definition), Quantize / Dequantize (rounding, NaN, inf,
// round trip).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "kernel_test_util.hpp"
#include "quanta/kernels/ref.h"

namespace qk = quanta::kernels;
using namespace quanta::kernel_test;  // RunGuarded, Random*, oracles

namespace {

using Shape = std::vector<int64_t>;

int64_t Count(const Shape& s) {
  int64_t c = 1;
  for (int64_t d : s) c *= d;
  return c;
}

std::vector<int64_t> Coords(const Shape& s, int64_t flat) {
  std::vector<int64_t> c(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    c[d] = flat % s[d];
    flat /= s[d];
  }
  return c;
}

int64_t Flat(const Shape& s, const std::vector<int64_t>& c) {
  int64_t f = 0;
  for (size_t d = 0; d < s.size(); ++d) f = f * s[d] + c[d];
  return f;
}

// Scatter each input element to its transposed position.
std::vector<uint8_t> OracleTranspose(const Shape& xs, const std::vector<int>& perm, size_t esize,
                                     const std::vector<uint8_t>& x) {
  Shape ys(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) ys[i] = xs[static_cast<size_t>(perm[i])];
  std::vector<uint8_t> y(x.size());
  for (int64_t j = 0; j < Count(xs); ++j) {
    const auto xc = Coords(xs, j);
    std::vector<int64_t> yc(xs.size());
    for (size_t i = 0; i < xs.size(); ++i) yc[i] = xc[static_cast<size_t>(perm[i])];
    std::memcpy(&y[static_cast<size_t>(Flat(ys, yc)) * esize], &x[static_cast<size_t>(j) * esize],
                esize);
  }
  return y;
}

}  // namespace

TEST(Transpose, AllPermutationsRank2To4) {
  std::mt19937 rng(61);
  const Shape shapes[] = {{3, 5}, {2, 3, 4}, {2, 3, 4, 5}, {1, 4, 1, 3}};
  for (const Shape& xs : shapes) {
    std::vector<int> perm(xs.size());
    std::iota(perm.begin(), perm.end(), 0);
    for (size_t esize : {size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{8}}) {
      const auto x = RandomU8(Count(xs) * static_cast<int64_t>(esize), rng);
      std::vector<int> p = perm;
      int perms = 0;
      do {
        const auto expected = OracleTranspose(xs, p, esize, x);
        const auto y = RunGuarded<uint8_t>(static_cast<int64_t>(x.size()), [&](uint8_t* o) {
          qk::transpose__ref(static_cast<int>(xs.size()), xs.data(), p.data(), esize, x.data(), o);
        });
        ASSERT_EQ(y, expected) << "rank " << xs.size() << " esize " << esize << " perm#" << perms;
        ++perms;
      } while (std::next_permutation(p.begin(), p.end()));
      int expected_perms = 1;
      for (size_t i = 2; i <= xs.size(); ++i) expected_perms *= static_cast<int>(i);
      EXPECT_EQ(perms, expected_perms);
    }
  }
}

TEST(Transpose, Rank1AndRank6) {
  std::mt19937 rng(62);
  const Shape r1 = {7};
  const int p1[1] = {0};
  const auto x1 = RandomU8(7, rng);
  const auto y1 = RunGuarded<uint8_t>(
      7, [&](uint8_t* o) { qk::transpose__ref(1, r1.data(), p1, 1, x1.data(), o); });
  EXPECT_EQ(y1, x1);
  const Shape r6 = {2, 3, 1, 2, 3, 2};
  const std::vector<int> p6 = {5, 0, 3, 1, 4, 2};
  const auto x6 = RandomU8(Count(r6) * 4, rng);
  const auto y6 = RunGuarded<uint8_t>(static_cast<int64_t>(x6.size()), [&](uint8_t* o) {
    qk::transpose__ref(6, r6.data(), p6.data(), 4, x6.data(), o);
  });
  EXPECT_EQ(y6, OracleTranspose(r6, p6, 4, x6));
  // a 2-D transpose moves element (i, j) to (j, i): check one by hand
  const Shape s = {2, 3};
  const int pt[2] = {1, 0};
  const float xf[6] = {0, 1, 2, 3, 4, 5};
  const auto yf =
      RunGuarded<float>(6, [&](float* o) { qk::transpose__ref(2, s.data(), pt, 4, xf, o); });
  const std::vector<float> expected = {0, 3, 1, 4, 2, 5};
  EXPECT_EQ(yf, expected);
}

namespace {

// Source coordinate by the periodic definition of reflect (numpy "reflect").
int64_t ReflectIndex(int64_t c, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  int64_t m = ((c % period) + period) % period;
  return m >= n ? period - m : m;
}

std::vector<uint8_t> OraclePad(const Shape& xs, const Shape& pb, const Shape& pe, qk::PadKind kind,
                               size_t esize, const uint8_t* value, const std::vector<uint8_t>& x) {
  Shape ys(xs.size());
  for (size_t d = 0; d < xs.size(); ++d) ys[d] = pb[d] + xs[d] + pe[d];
  std::vector<uint8_t> y(static_cast<size_t>(Count(ys)) * esize);
  for (int64_t i = 0; i < Count(ys); ++i) {
    const auto yc = Coords(ys, i);
    std::vector<int64_t> xc(xs.size());
    bool constant = false;
    for (size_t d = 0; d < xs.size(); ++d) {
      const int64_t c = yc[d] - pb[d];
      if (c >= 0 && c < xs[d]) {
        xc[d] = c;
      } else if (kind == qk::PadKind::kConstant) {
        constant = true;
      } else if (kind == qk::PadKind::kReflect) {
        xc[d] = ReflectIndex(c, xs[d]);
      } else {
        xc[d] = c < 0 ? 0 : xs[d] - 1;
      }
    }
    const uint8_t* src = constant ? value : &x[static_cast<size_t>(Flat(xs, xc)) * esize];
    std::memcpy(&y[static_cast<size_t>(i) * esize], src, esize);
  }
  return y;
}

struct PadCase {
  Shape x, pb, pe;
};

}  // namespace

TEST(Pad, ConstantReflectEdgeMatchDefinition) {
  std::mt19937 rng(63);
  const PadCase cases[] = {
      {{5}, {2}, {3}},
      {{5}, {0}, {0}},
      {{4, 6}, {1, 0}, {3, 5}},
      {{3, 4, 5}, {2, 1, 0}, {0, 3, 4}},
      {{2, 3, 4, 3}, {0, 1, 2, 0}, {1, 2, 3, 2}},
      {{1, 5, 5, 3}, {0, 2, 2, 0}, {0, 2, 2, 0}},  // NHWC spatial padding
  };
  for (const PadCase& c : cases) {
    for (qk::PadKind kind : {qk::PadKind::kConstant, qk::PadKind::kReflect, qk::PadKind::kEdge}) {
      for (size_t esize : {size_t{1}, size_t{4}}) {
        // reflect requires pad < dim on every axis
        bool ok = true;
        for (size_t d = 0; d < c.x.size(); ++d) ok &= c.pb[d] < c.x[d] && c.pe[d] < c.x[d];
        if (kind == qk::PadKind::kReflect && !ok) continue;
        const auto x = RandomU8(Count(c.x) * static_cast<int64_t>(esize), rng);
        const uint8_t value[4] = {0xDE, 0xAD, 0xBE, 0xEF};
        const auto expected = OraclePad(c.x, c.pb, c.pe, kind, esize, value, x);
        const auto y = RunGuarded<uint8_t>(static_cast<int64_t>(expected.size()), [&](uint8_t* o) {
          qk::pad__ref(static_cast<int>(c.x.size()), c.x.data(), c.pb.data(), c.pe.data(), kind,
                       esize, value, x.data(), o);
        });
        ASSERT_EQ(y, expected) << "rank " << c.x.size() << " kind " << int(kind) << " esize "
                               << esize;
      }
    }
  }
  // reflect with the largest legal pads, dims 2 and 3
  const Shape xs = {2, 3}, pb = {1, 2}, pe = {1, 2};
  const auto x = RandomU8(6, rng);
  const uint8_t v = 0;
  const auto y = RunGuarded<uint8_t>(4 * 7, [&](uint8_t* o) {
    qk::pad__ref(2, xs.data(), pb.data(), pe.data(), qk::PadKind::kReflect, 1, &v, x.data(), o);
  });
  EXPECT_EQ(y, OraclePad(xs, pb, pe, qk::PadKind::kReflect, 1, &v, x));
  // a float row, by hand: [1 2 3] reflect 2 -> [3 2 1 2 3 2 1]; edge -> [1 1 1 2 3 3 3]
  const Shape r = {3}, p2 = {2};
  const float xf[3] = {1, 2, 3};
  const float fv = -9.f;
  const auto yr = RunGuarded<float>(7, [&](float* o) {
    qk::pad__ref(1, r.data(), p2.data(), p2.data(), qk::PadKind::kReflect, 4, &fv, xf, o);
  });
  EXPECT_EQ(yr, (std::vector<float>{3, 2, 1, 2, 3, 2, 1}));
  const auto ye = RunGuarded<float>(7, [&](float* o) {
    qk::pad__ref(1, r.data(), p2.data(), p2.data(), qk::PadKind::kEdge, 4, &fv, xf, o);
  });
  EXPECT_EQ(ye, (std::vector<float>{1, 1, 1, 2, 3, 3, 3}));
  const auto yc = RunGuarded<float>(7, [&](float* o) {
    qk::pad__ref(1, r.data(), p2.data(), p2.data(), qk::PadKind::kConstant, 4, &fv, xf, o);
  });
  EXPECT_EQ(yc, (std::vector<float>{-9, -9, 1, 2, 3, -9, -9}));
}

TEST(QuantizeDequantize, QuantizeMatchesOnnxRule) {
  std::mt19937 rng(64);
  auto x = RandomF(5000, rng, -20.f, 20.f);
  // ties, NaN, infinities, huge values
  const float specials[] = {0.5f, 1.5f,     2.5f,      -0.5f, -1.5f,  -2.5f,
                            NAN,  INFINITY, -INFINITY, 1e30f, -1e30f, -0.f};
  for (size_t i = 0; i < std::size(specials); ++i) x[i] = specials[i];
  for (float s : {1.f, 0.1f, 0.0723f})
    for (int32_t z : {0, 128, 255}) {
      const auto y = RunGuarded<uint8_t>(static_cast<int64_t>(x.size()), [&](uint8_t* o) {
        qk::qu8_quantize__ref(static_cast<int64_t>(x.size()), x.data(), s, z, o);
      });
      for (size_t i = 0; i < x.size(); ++i) {
        int expected;
        if (std::isnan(x[i])) {
          expected = z;
        } else {
          const float q = x[i] / s;  // ONNX: x / s in the float type, then round half to even
          expected = static_cast<int>(std::clamp(std::nearbyint(double{q}) + z, 0.0, 255.0));
        }
        ASSERT_EQ(y[i], expected) << "x=" << x[i] << " s=" << s << " z=" << z;
      }
      if (s == 1.f) {
        EXPECT_EQ(y[0], std::min(z + 0, 255));  // 0.5 -> 0
        EXPECT_EQ(y[1], std::min(z + 2, 255));  // 1.5 -> 2
        EXPECT_EQ(y[2], std::min(z + 2, 255));  // 2.5 -> 2
        EXPECT_EQ(y[5], std::max(z - 2, 0));    // -2.5 -> -2
      }
      EXPECT_EQ(y[6], z);    // NaN
      EXPECT_EQ(y[7], 255);  // +inf
      EXPECT_EQ(y[8], 0);    // -inf
    }
}

TEST(QuantizeDequantize, DequantizeAndRoundTrip) {
  std::vector<uint8_t> q(256);
  std::iota(q.begin(), q.end(), 0);
  for (float s : {1e-3f, 0.0235f, 1.f, 3.5f})
    for (int32_t z : {0, 128, 255}) {
      const auto r = RunGuarded<float>(
          256, [&](float* o) { qk::qu8_dequantize__ref(256, q.data(), s, z, o); });
      for (int i = 0; i < 256; ++i)
        ASSERT_EQ(r[static_cast<size_t>(i)], s * static_cast<float>(i - z));
      const auto back = RunGuarded<uint8_t>(
          256, [&](uint8_t* o) { qk::qu8_quantize__ref(256, r.data(), s, z, o); });
      EXPECT_EQ(back, q);
      // float -> q -> float stays within half a step inside the representable range
      std::mt19937 rng(65);
      const float lo = s * static_cast<float>(0 - z), hi = s * static_cast<float>(255 - z);
      const auto xs = RandomF(1000, rng, lo, hi);
      const auto qs = RunGuarded<uint8_t>(
          1000, [&](uint8_t* o) { qk::qu8_quantize__ref(1000, xs.data(), s, z, o); });
      const auto rs = RunGuarded<float>(
          1000, [&](float* o) { qk::qu8_dequantize__ref(1000, qs.data(), s, z, o); });
      for (size_t i = 0; i < xs.size(); ++i)
        ASSERT_LE(std::fabs(rs[i] - xs[i]), 0.5f * s * 1.0001f);
    }
}
