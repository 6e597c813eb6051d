// Elementwise reference kernels: numpy broadcasting (make_broadcast), f32 and
// qu8 Add/Mul with fused activations, Concat (bytes and requantizing), and
// qu8 Requantize. The oracle broadcasts by decomposing each flat output index
// into coordinates (div/mod), independently of the kernels' stride walk.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernel_test_util.hpp"
#include "quanta/kernels/ref.h"

namespace qk = quanta::kernels;
using namespace quanta::kernel_test;  // RunGuarded, Random*, oracles

namespace {

using Shape = std::vector<int64_t>;

struct BCase {
  Shape a, b;
};

// clang-format off
const BCase kBroadcastCases[] = {
    {{2, 3, 4}, {2, 3, 4}},            // same shape
    {{3, 5}, {}},                      // scalar (rank 0)
    {{3, 5}, {1}},                     // scalar (rank 1)
    {{}, {2, 2}},                      // scalar on the left
    {{3, 5}, {5}},                     // row
    {{3, 5}, {3, 1}},                  // column
    {{4, 1}, {1, 5}},                  // outer product
    {{2, 3, 4, 5}, {1, 3, 1, 5}},      // rank 4
    {{2, 3, 4, 5}, {4, 1}},            // rank 4 with rank 2
    {{1, 3, 1, 5}, {2, 3, 4, 5}},      // rank 4, left broadcasts
    {{2, 1, 2, 1, 3, 2}, {1, 2, 1, 2, 1, 2}},  // rank 6
    {{7}, {7}},
};
// clang-format on

Shape OracleOutShape(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t ad = d + a.size() >= rank ? a[d + a.size() - rank] : 1;
    const int64_t bd = d + b.size() >= rank ? b[d + b.size() - rank] : 1;
    out[d] = std::max(ad, bd);
  }
  return out;
}

int64_t Count(const Shape& s) {
  int64_t c = 1;
  for (int64_t d : s) c *= d;
  return c;
}

// Flat index into `in` (right-aligned with out) for output flat index i.
int64_t SourceIndex(const Shape& out, const Shape& in, int64_t i) {
  std::vector<int64_t> coord(out.size());
  for (size_t d = out.size(); d-- > 0;) {
    coord[d] = i % out[d];
    i /= out[d];
  }
  int64_t flat = 0;
  const size_t off = out.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d) {
    const int64_t c = in[d] == 1 ? 0 : coord[d + off];
    flat = flat * in[d] + c;
  }
  return flat;
}

qk::BroadcastShape Make(const Shape& a, const Shape& b) {
  qk::BroadcastShape s;
  EXPECT_TRUE(qk::make_broadcast(static_cast<int>(a.size()), a.data(), static_cast<int>(b.size()),
                                 b.data(), &s));
  return s;
}

}  // namespace

TEST(MakeBroadcast, ShapesAndStrides) {
  qk::BroadcastShape s;
  const Shape a = {3, 5}, col = {3, 1};
  ASSERT_TRUE(qk::make_broadcast(2, a.data(), 2, col.data(), &s));
  EXPECT_EQ(s.rank, 2);
  EXPECT_EQ(s.out[0], 3);
  EXPECT_EQ(s.out[1], 5);
  EXPECT_EQ(s.a_stride[0], 5);
  EXPECT_EQ(s.a_stride[1], 1);
  EXPECT_EQ(s.b_stride[0], 1);
  EXPECT_EQ(s.b_stride[1], 0);
  EXPECT_EQ(s.num_elements(), 15);

  const Shape r4a = {2, 3, 4, 5}, r4b = {4, 1};
  ASSERT_TRUE(qk::make_broadcast(4, r4a.data(), 2, r4b.data(), &s));
  EXPECT_EQ(s.rank, 4);
  const int64_t b_expected[4] = {0, 0, 1, 0};
  const int64_t a_expected[4] = {60, 20, 5, 1};
  for (int d = 0; d < 4; ++d) {
    EXPECT_EQ(s.b_stride[d], b_expected[d]) << d;
    EXPECT_EQ(s.a_stride[d], a_expected[d]) << d;
  }
  ASSERT_TRUE(qk::make_broadcast(0, nullptr, 0, nullptr, &s));
  EXPECT_EQ(s.rank, 0);
  EXPECT_EQ(s.num_elements(), 1);

  for (const BCase& c : kBroadcastCases) {
    const qk::BroadcastShape bs = Make(c.a, c.b);
    const Shape out = OracleOutShape(c.a, c.b);
    ASSERT_EQ(bs.rank, static_cast<int>(out.size()));
    for (size_t d = 0; d < out.size(); ++d) EXPECT_EQ(bs.out[d], out[d]);
    EXPECT_EQ(bs.num_elements(), Count(out));
  }
}

TEST(MakeBroadcast, RejectsIncompatibleAndTooHighRank) {
  qk::BroadcastShape s;
  const Shape a = {3, 4}, b = {3}, c = {2, 4};
  EXPECT_FALSE(qk::make_broadcast(2, a.data(), 1, b.data(), &s));
  EXPECT_FALSE(qk::make_broadcast(2, a.data(), 2, c.data(), &s));
  const Shape r7(7, 1);
  EXPECT_FALSE(qk::make_broadcast(7, r7.data(), 2, a.data(), &s));
  EXPECT_FALSE(qk::make_broadcast(2, a.data(), 7, r7.data(), &s));
  const Shape r6(6, 1);
  EXPECT_TRUE(qk::make_broadcast(6, r6.data(), 2, a.data(), &s));
  const Shape zero = {0, 3}, row = {3};
  ASSERT_TRUE(qk::make_broadcast(2, zero.data(), 1, row.data(), &s));
  EXPECT_EQ(s.num_elements(), 0);
}

TEST(BinaryF32, AddMulMatchNaiveBroadcast) {
  std::mt19937 rng(31);
  const qk::FRange acts[] = {qk::FRange{}, qk::activation_range_f32(qk::Act::kRelu, 0, 0),
                             qk::activation_range_f32(qk::Act::kRelu6, 0, 0),
                             qk::activation_range_f32(qk::Act::kClip, -0.25f, 0.5f)};
  for (const BCase& c : kBroadcastCases) {
    const auto a = RandomF(Count(c.a), rng, -4.f, 4.f);
    const auto b = RandomF(Count(c.b), rng, -4.f, 4.f);
    const qk::BroadcastShape s = Make(c.a, c.b);
    const Shape out = OracleOutShape(c.a, c.b);
    const int64_t n = Count(out);
    for (const qk::FRange& act : acts) {
      const auto add =
          RunGuarded<float>(n, [&](float* y) { qk::f32_add__ref(s, a.data(), b.data(), act, y); });
      const auto mul =
          RunGuarded<float>(n, [&](float* y) { qk::f32_mul__ref(s, a.data(), b.data(), act, y); });
      for (int64_t i = 0; i < n; ++i) {
        const float av = a[static_cast<size_t>(SourceIndex(out, c.a, i))];
        const float bv = b[static_cast<size_t>(SourceIndex(out, c.b, i))];
        ASSERT_EQ(add[static_cast<size_t>(i)], static_cast<float>(ClampD(av + bv, act))) << i;
        ASSERT_EQ(mul[static_cast<size_t>(i)], static_cast<float>(ClampD(av * bv, act))) << i;
      }
    }
  }
}

TEST(BinaryQu8, AddExactAndWithinOneLsbOfFloat) {
  std::mt19937 rng(32);
  const float sa = 0.02f, sb = 0.035f, sy = 0.04f;
  int64_t off = 0, checked = 0;
  for (const BCase& c : kBroadcastCases) {
    const auto a = RandomU8(Count(c.a), rng);
    const auto b = RandomU8(Count(c.b), rng);
    const qk::BroadcastShape s = Make(c.a, c.b);
    const Shape out = OracleOutShape(c.a, c.b);
    const int64_t n = Count(out);
    for (int32_t za : {0, 128, 255})
      for (int32_t zb : {0, 128, 255})
        for (int32_t zy : {0, 128, 255})
          for (qk::Act act : {qk::Act::kNone, qk::Act::kRelu, qk::Act::kRelu6, qk::Act::kClip}) {
            qk::QAddParams p;
            p.za = za;
            p.zb = zb;
            p.zy = zy;
            p.ma = sa / sy;
            p.mb = sb / sy;
            p.r = qk::activation_range_u8(act, -1.f, 1.5f, sy, zy);
            const auto y = RunGuarded<uint8_t>(
                n, [&](uint8_t* o) { qk::qu8_add_minmax_fp32__ref(s, a.data(), b.data(), p, o); });
            for (int64_t i = 0; i < n; ++i) {
              const int32_t av = a[static_cast<size_t>(SourceIndex(out, c.a, i))];
              const int32_t bv = b[static_cast<size_t>(SourceIndex(out, c.b, i))];
              const float ta = static_cast<float>(av - za) * p.ma;
              const float tb = static_cast<float>(bv - zb) * p.mb;
              ASSERT_EQ(y[static_cast<size_t>(i)], OracleRound(ta + tb, zy, p.r));
              const int fq =
                  QuantizeReal(double{sa} * (av - za) + double{sb} * (bv - zb), sy, zy, p.r);
              ASSERT_LE(std::abs(y[static_cast<size_t>(i)] - fq), 1);
              off += (y[static_cast<size_t>(i)] != fq);
              ++checked;
            }
          }
  }
  EXPECT_LT(off, checked / 20 + 1);
}

TEST(BinaryQu8, MulExactAndWithinOneLsbOfFloat) {
  std::mt19937 rng(33);
  const float sa = 0.02f, sb = 0.03f, sy = 0.15f;
  int64_t off = 0, checked = 0;
  for (const BCase& c : kBroadcastCases) {
    const auto a = RandomU8(Count(c.a), rng);
    const auto b = RandomU8(Count(c.b), rng);
    const qk::BroadcastShape s = Make(c.a, c.b);
    const Shape out = OracleOutShape(c.a, c.b);
    const int64_t n = Count(out);
    for (int32_t za : {0, 128, 255})
      for (int32_t zb : {0, 128, 255})
        for (int32_t zy : {0, 128, 255})
          for (qk::Act act : {qk::Act::kNone, qk::Act::kRelu, qk::Act::kRelu6}) {
            qk::QMulParams p;
            p.za = za;
            p.zb = zb;
            p.zy = zy;
            p.m = qk::requant_multiplier(sa, sb, sy);
            p.r = qk::activation_range_u8(act, 0, 0, sy, zy);
            const auto y = RunGuarded<uint8_t>(
                n, [&](uint8_t* o) { qk::qu8_mul_minmax_fp32__ref(s, a.data(), b.data(), p, o); });
            for (int64_t i = 0; i < n; ++i) {
              const int32_t av = a[static_cast<size_t>(SourceIndex(out, c.a, i))];
              const int32_t bv = b[static_cast<size_t>(SourceIndex(out, c.b, i))];
              const int32_t prod = (av - za) * (bv - zb);
              ASSERT_EQ(y[static_cast<size_t>(i)],
                        OracleRound(static_cast<float>(prod) * p.m, zy, p.r));
              const int fq =
                  QuantizeReal(double{sa} * (av - za) * double{sb} * (bv - zb), sy, zy, p.r);
              ASSERT_LE(std::abs(y[static_cast<size_t>(i)] - fq), 1);
              off += (y[static_cast<size_t>(i)] != fq);
              ++checked;
            }
          }
  }
  EXPECT_LT(off, checked / 20 + 1);
}

TEST(Concat, BytesInInputOrderPerOuterRow) {
  std::mt19937 rng(34);
  const int64_t outer = 4;
  const int64_t inner_bytes[4] = {3, 0, 5, 8};
  std::vector<std::vector<uint8_t>> in;
  for (int64_t ib : inner_bytes) in.push_back(RandomU8(outer * ib, rng));
  const void* ptrs[4] = {in[0].data(), in[1].data(), in[2].data(), in[3].data()};
  const int64_t total_inner = 16;
  const auto y = RunGuarded<uint8_t>(
      outer * total_inner, [&](uint8_t* o) { qk::concat__ref(outer, 4, ptrs, inner_bytes, o); });
  for (int64_t o = 0; o < outer; ++o) {
    int64_t col = 0;
    for (int i = 0; i < 4; ++i)
      for (int64_t e = 0; e < inner_bytes[i]; ++e, ++col)
        ASSERT_EQ(y[static_cast<size_t>(o * total_inner + col)],
                  in[static_cast<size_t>(i)][static_cast<size_t>(o * inner_bytes[i] + e)]);
  }
  // float data moves bit-exactly (NaN payloads included)
  std::vector<float> f0 = {1.f, NAN, -0.f}, f1 = {INFINITY, 2.5f};
  const void* fp[2] = {f0.data(), f1.data()};
  const int64_t fb[2] = {3 * 4, 2 * 4};
  const auto fy = RunGuarded<float>(5, [&](float* o) { qk::concat__ref(1, 2, fp, fb, o); });
  EXPECT_EQ(std::memcmp(fy.data(), f0.data(), 12), 0);
  EXPECT_EQ(std::memcmp(fy.data() + 3, f1.data(), 8), 0);
}

TEST(Concat, Qu8DifferentScalesRequantized) {
  std::mt19937 rng(35);
  const int64_t outer = 3;
  const int64_t inner[3] = {5, 2, 7};
  const float sx[3] = {0.01f, 0.05f, 0.2f};
  const int32_t zx[3] = {0, 128, 255};
  const float sy = 0.1f;
  int64_t off = 0;
  for (int32_t zy : {0, 128, 255}) {
    std::vector<std::vector<uint8_t>> in;
    for (int64_t n : inner) in.push_back(RandomU8(outer * n, rng));
    const uint8_t* ptrs[3] = {in[0].data(), in[1].data(), in[2].data()};
    float m[3];
    for (int i = 0; i < 3; ++i) m[i] = sx[i] / sy;
    const auto y = RunGuarded<uint8_t>(
        outer * 14, [&](uint8_t* o) { qk::qu8_concat__ref(outer, 3, ptrs, inner, zx, m, zy, o); });
    for (int64_t o = 0; o < outer; ++o) {
      int64_t col = 0;
      for (int i = 0; i < 3; ++i)
        for (int64_t e = 0; e < inner[i]; ++e, ++col) {
          const int32_t xv = in[static_cast<size_t>(i)][static_cast<size_t>(o * inner[i] + e)];
          const uint8_t got = y[static_cast<size_t>(o * 14 + col)];
          ASSERT_EQ(got, OracleRound(static_cast<float>(xv - zx[i]) * m[i], zy, qk::QRange{}));
          const int fq = QuantizeReal(double{sx[i]} * (xv - zx[i]), sy, zy, qk::QRange{});
          ASSERT_LE(std::abs(got - fq), 1);
          off += got != fq;
        }
    }
  }
  EXPECT_LT(off, 10);
  // An input with the output's parameters is copied exactly.
  const auto x = RandomU8(256, rng);
  const uint8_t* xp[1] = {x.data()};
  const int64_t in1[1] = {256};
  const int32_t z1[1] = {77};
  const float one[1] = {1.f};
  const auto y = RunGuarded<uint8_t>(
      256, [&](uint8_t* o) { qk::qu8_concat__ref(1, 1, xp, in1, z1, one, 77, o); });
  EXPECT_EQ(y, x);
}

TEST(Qu8Requantize, MatchesOracle) {
  std::vector<uint8_t> x(256);
  for (int i = 0; i < 256; ++i) x[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  for (float sx : {0.01f, 0.1f, 1.f})
    for (float sy : {0.02f, 0.1f})
      for (int32_t zx : {0, 128, 255})
        for (int32_t zy : {0, 128, 255})
          for (qk::Act act : {qk::Act::kNone, qk::Act::kRelu, qk::Act::kRelu6}) {
            const qk::QRange r = qk::activation_range_u8(act, 0, 0, sy, zy);
            const float m = sx / sy;
            const auto y = RunGuarded<uint8_t>(
                256, [&](uint8_t* o) { qk::qu8_requantize__ref(256, x.data(), zx, m, zy, r, o); });
            for (int i = 0; i < 256; ++i) {
              ASSERT_EQ(y[static_cast<size_t>(i)],
                        OracleRound(static_cast<float>(i - zx) * m, zy, r));
              ASSERT_LE(std::abs(y[static_cast<size_t>(i)] -
                                 QuantizeReal(double{sx} * (i - zx), sy, zy, r)),
                        1);
            }
          }
}
