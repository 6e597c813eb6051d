// End-to-end: small float and quantized models built with ModelWriter, run
// through Model + Session, checked against outputs computed independently in
// this file (plain loops, double or int64 arithmetic).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <thread>

#include "quanta/model_writer.hpp"
#include "quanta/quanta.hpp"

namespace quanta {
namespace {

using Opt = fb::OptionsUnion;

std::shared_ptr<const Model> load(const ModelWriter& w) {
  const std::vector<uint8_t> bytes = w.finish();
  auto m = Model::load_buffer(bytes.data(), bytes.size(), /*copy=*/true);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? *m : nullptr;
}

std::vector<float> random_floats(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// ------------------------------------------------------------ float MLP
// x[2,4] -> FC(4->3, bias, relu) -> FC(3->2) -> Softmax(axis -1)
struct FloatMlp {
  std::vector<float> w1 = random_floats(12, -1, 1, 1), b1 = random_floats(3, -0.5, 0.5, 2);
  std::vector<float> w2 = random_floats(6, -1, 1, 3), b2 = random_floats(2, -0.5, 0.5, 4);

  ModelWriter build() const {
    ModelWriter w("test");
    const int x = w.add_tensor("x", {2, 4}, DType::kF32);
    const int cw1 = w.add_constant_f32("w1", {3, 4}, w1);
    const int cb1 = w.add_constant_f32("b1", {3}, b1);
    const int h = w.add_tensor("h", {2, 3}, DType::kF32);
    const int cw2 = w.add_constant_f32("w2", {2, 3}, w2);
    const int cb2 = w.add_constant_f32("b2", {2}, b2);
    const int logits = w.add_tensor("logits", {2, 2}, DType::kF32);
    const int y = w.add_tensor("y", {2, 2}, DType::kF32);
    Opt fc1;
    fb::FullyConnectedOptionsT o1;
    o1.activation = fb::Activation::RELU;
    fc1.Set(o1);
    w.add_node(OpType::kFullyConnected, {x, cw1, cb1}, {h}, std::move(fc1), "fc1", {"Gemm_0"});
    w.add_node(OpType::kFullyConnected, {h, cw2, cb2}, {logits}, {}, "fc2", {"Gemm_1"});
    Opt sm;
    sm.Set(fb::SoftmaxOptionsT{});
    w.add_node(OpType::kSoftmax, {logits}, {y}, std::move(sm), "softmax", {"Softmax_2"});
    w.set_inputs({x});
    w.set_outputs({y});
    return w;
  }

  std::vector<double> reference(const std::vector<float>& x) const {
    std::vector<double> out(4);
    for (int r = 0; r < 2; ++r) {
      double h[3];
      for (int n = 0; n < 3; ++n) {
        double acc = b1[n];
        for (int k = 0; k < 4; ++k) acc += double(x[r * 4 + k]) * w1[n * 4 + k];
        h[n] = acc > 0 ? acc : 0;
      }
      double z[2];
      for (int n = 0; n < 2; ++n) {
        z[n] = b2[n];
        for (int k = 0; k < 3; ++k) z[n] += h[k] * w2[n * 3 + k];
      }
      const double mx = std::max(z[0], z[1]);
      const double e0 = std::exp(z[0] - mx), e1 = std::exp(z[1] - mx);
      out[r * 2] = e0 / (e0 + e1);
      out[r * 2 + 1] = e1 / (e0 + e1);
    }
    return out;
  }
};

TEST(EndToEnd, FloatMlpMatchesNaiveComputation) {
  FloatMlp net;
  auto model = load(net.build());
  ASSERT_TRUE(model);
  auto session = Session::create(model);
  ASSERT_TRUE(session.ok()) << session.status().to_string();
  for (uint32_t seed = 10; seed < 15; ++seed) {
    const std::vector<float> x = random_floats(8, -2, 2, seed);
    ASSERT_TRUE((*session)->set_input(0, x).ok());
    ASSERT_TRUE((*session)->run().ok());
    std::vector<float> y(4);
    ASSERT_TRUE((*session)->get_output(0, y).ok());
    const std::vector<double> ref = net.reference(x);
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], ref[i], 1e-5) << "seed " << seed << " i " << i;
  }
}

// ------------------------------------------------------- quantized CNN
// x f32 [1,5,5,2] -> Quantize -> Conv3x3 pad 1 (2->3, per-channel, bias, relu)
//   -> GlobalAveragePool -> FullyConnected (3->4, bias) -> Dequantize -> y f32 [1,4]
struct QuantCnn {
  float sx = 0.05f; int zx = 128;
  float sc = 0.04f; int zc = 7;       // conv output
  float sg = 0.03f; int zg = 11;      // pooled
  float sy = 0.06f; int zy = 131;     // fc output
  std::vector<float> sw = {0.010f, 0.020f, 0.015f};
  std::vector<float> sf = {0.011f, 0.009f, 0.013f, 0.02f};
  std::vector<int8_t> wc, wf;
  std::vector<int32_t> bc, bf;

  QuantCnn() {
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> w8(-127, 127), b32(-3000, 3000);
    wc.resize(3 * 3 * 3 * 2);
    for (auto& v : wc) v = static_cast<int8_t>(w8(rng));
    wf.resize(4 * 3);
    for (auto& v : wf) v = static_cast<int8_t>(w8(rng));
    bc = {b32(rng), b32(rng), b32(rng)};
    bf = {b32(rng), b32(rng), b32(rng), b32(rng)};
  }

  static QuantParams q(float s, int z) { return {{s}, {z}, -1, 0}; }

  ModelWriter build() const {
    ModelWriter w("test");
    const int x = w.add_tensor("x", {1, 5, 5, 2}, DType::kF32);
    const int xq = w.add_tensor("xq", {1, 5, 5, 2}, DType::kU8, q(sx, zx));
    const int cw = w.add_constant_i8("conv.w", {3, 3, 3, 2}, wc, {sw, {0, 0, 0}, 0, 0});
    std::vector<float> sb(3);
    for (int c = 0; c < 3; ++c) sb[c] = sx * sw[c];
    const int cb = w.add_constant_i32("conv.b", {3}, bc, {sb, {0, 0, 0}, 0, 0});
    const int c = w.add_tensor("conv", {1, 5, 5, 3}, DType::kU8, q(sc, zc));
    const int g = w.add_tensor("gap", {1, 1, 1, 3}, DType::kU8, q(sg, zg));
    const int fw = w.add_constant_i8("fc.w", {4, 3}, wf, {sf, {0, 0, 0, 0}, 0, 0});
    std::vector<float> sfb(4);
    for (int n = 0; n < 4; ++n) sfb[n] = sg * sf[n];
    const int fbias = w.add_constant_i32("fc.b", {4}, bf, {sfb, {0, 0, 0, 0}, 0, 0});
    const int f = w.add_tensor("fc", {1, 4}, DType::kU8, q(sy, zy));
    const int gflat = w.add_tensor("gap_flat", {1, 3}, DType::kU8, q(sg, zg));
    const int y = w.add_tensor("y", {1, 4}, DType::kF32);
    w.add_node(OpType::kQuantize, {x}, {xq}, {}, "quant");
    Opt co;
    fb::Conv2DOptionsT conv;
    conv.pad_top = conv.pad_left = conv.pad_bottom = conv.pad_right = 1;
    conv.activation = fb::Activation::RELU;
    co.Set(conv);
    w.add_node(OpType::kConv2D, {xq, cw, cb}, {c}, std::move(co), "conv", {"Conv_0"});
    w.add_node(OpType::kGlobalAveragePool, {c}, {g}, {}, "gap");
    Opt fl;
    fl.Set(fb::FlattenOptionsT{});
    w.add_node(OpType::kFlatten, {g}, {gflat}, std::move(fl), "flatten");
    w.add_node(OpType::kFullyConnected, {gflat, fw, fbias}, {f}, {}, "fc");
    w.add_node(OpType::kDequantize, {f}, {y}, {}, "dequant");
    w.set_inputs({x});
    w.set_outputs({y});
    return w;
  }

  // Independent integer computation of docs/design.md §1.
  static int requant(int64_t acc, float m, int z, int qmin, int qmax) {
    const float f = static_cast<float>(acc) * m;
    double r = std::nearbyint(static_cast<double>(f)) + z;
    return static_cast<int>(std::min<double>(qmax, std::max<double>(qmin, r)));
  }

  std::vector<float> reference(const std::vector<float>& x) const {
    std::vector<int> xqv(50);
    for (int i = 0; i < 50; ++i) {
      const double r = std::nearbyint(static_cast<double>(x[i] / sx)) + zx;
      xqv[i] = static_cast<int>(std::min(255.0, std::max(0.0, r)));
    }
    int conv[5][5][3];
    for (int oy = 0; oy < 5; ++oy)
      for (int ox = 0; ox < 5; ++ox)
        for (int co = 0; co < 3; ++co) {
          int64_t acc = bc[co];
          for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx) {
              const int iy = oy + ky - 1, ix = ox + kx - 1;
              if (iy < 0 || iy >= 5 || ix < 0 || ix >= 5) continue;  // (zx - zx) * w = 0
              for (int ci = 0; ci < 2; ++ci)
                acc += int64_t(xqv[(iy * 5 + ix) * 2 + ci] - zx) * wc[((co * 3 + ky) * 3 + kx) * 2 + ci];
            }
          const float m = (sx * sw[co]) / sc;
          conv[oy][ox][co] = requant(acc, m, zc, zc /*relu*/, 255);
        }
    int gap[3];
    for (int ch = 0; ch < 3; ++ch) {
      int64_t acc = 0;
      for (int i = 0; i < 25; ++i) acc += conv[i / 5][i % 5][ch] - zc;
      const float m = (sc / sg) / 25.0f;
      gap[ch] = requant(acc, m, zg, 0, 255);
    }
    std::vector<float> y(4);
    for (int n = 0; n < 4; ++n) {
      int64_t acc = bf[n];
      for (int k = 0; k < 3; ++k) acc += int64_t(gap[k] - zg) * wf[n * 3 + k];
      const int q = requant(acc, (sg * sf[n]) / sy, zy, 0, 255);
      y[n] = sy * static_cast<float>(q - zy);
    }
    return y;
  }
};

TEST(EndToEnd, QuantizedCnnIsBitExactWithIntegerArithmetic) {
  QuantCnn net;
  auto model = load(net.build());
  ASSERT_TRUE(model);
  auto session = Session::create(model);
  ASSERT_TRUE(session.ok()) << session.status().to_string();
  int distinct_outputs = 0;
  for (uint32_t seed = 20; seed < 40; ++seed) {
    const std::vector<float> x = random_floats(50, -6, 6, seed);
    ASSERT_TRUE((*session)->set_input(0, x).ok());
    ASSERT_TRUE((*session)->run().ok());
    std::vector<float> y(4);
    ASSERT_TRUE((*session)->get_output(0, y).ok());
    const std::vector<float> ref = net.reference(x);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(y[i], ref[i]) << "seed " << seed << " output " << i;
      if (y[i] != 0) ++distinct_outputs;
    }
  }
  EXPECT_GT(distinct_outputs, 10);  // the data exercises non-trivial values
}

TEST(EndToEnd, ModelIsSharedBySessionsOnManyThreads) {
  QuantCnn net;
  auto model = load(net.build());
  ASSERT_TRUE(model);
  constexpr int kThreads = 4;
  std::vector<std::vector<float>> results(kThreads), expected(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    expected[t] = net.reference(random_floats(50, -6, 6, 100 + t));
    threads.emplace_back([&, t] {
      auto s = Session::create(model);
      if (!s.ok()) return;
      const std::vector<float> x = random_floats(50, -6, 6, 100 + t);
      std::vector<float> y(4);
      for (int rep = 0; rep < 200; ++rep) {
        if (!(*s)->set_input(0, x).ok() || !(*s)->run().ok() || !(*s)->get_output(0, y).ok()) return;
      }
      results[t] = y;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(results[t], expected[t]) << "thread " << t;
}

// QuantCnn with its quantized tensor "xq" as the graph input (uint8) and the
// Quantize node dropped.
std::shared_ptr<const Model> quantized_input_model(const QuantCnn& net) {
  ModelWriter w = net.build();
  auto& m = w.raw();
  m.nodes.erase(m.nodes.begin());
  // The float "x" is now unused; the loader refuses activations that nothing
  // produces, so turn it into a (dead) constant.
  w.blobs().emplace_back(50 * sizeof(float), uint8_t{0});
  m.tensors[0]->buffer = static_cast<uint32_t>(w.blobs().size());
  w.set_inputs({1});
  return load(w);
}

TEST(EndToEnd, RawQuantizedBoundary) {
  // The same conv as above, but the caller passes uint8 directly.
  QuantCnn net;
  auto model = quantized_input_model(net);
  ASSERT_TRUE(model);
  auto session = Session::create(model);
  ASSERT_TRUE(session.ok()) << session.status().to_string();
  const std::vector<float> x = random_floats(50, -6, 6, 5);
  std::vector<uint8_t> xq(50);
  for (int i = 0; i < 50; ++i) {
    const double r = std::nearbyint(static_cast<double>(x[i] / net.sx)) + net.zx;
    xq[i] = static_cast<uint8_t>(std::min(255.0, std::max(0.0, r)));
  }
  EXPECT_EQ((*session)->input(0).info->dtype, DType::kU8);
  ASSERT_TRUE((*session)->set_input_raw(0, xq.data(), xq.size()).ok());
  ASSERT_TRUE((*session)->run().ok());
  std::vector<float> y(4);
  ASSERT_TRUE((*session)->get_output(0, y).ok());
  EXPECT_EQ(y, net.reference(x));
  // Wrong byte count is refused with both sizes named.
  Status bad = (*session)->set_input_raw(0, xq.data(), 49);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("49"), std::string::npos) << bad.message();
}

// The float boundary of a uint8 input, as quanta.hpp documents it: +-inf
// saturate to 255 / 0, a NaN is refused and leaves the input as it was.
TEST(EndToEnd, FloatBoundaryOfAQuantizedInput) {
  QuantCnn net;
  auto model = quantized_input_model(net);
  ASSERT_TRUE(model);
  auto session = Session::create(model);
  ASSERT_TRUE(session.ok()) << session.status().to_string();
  Session& s = **session;
  ASSERT_EQ(s.input(0).info->dtype, DType::kU8);
  std::vector<float> x(50, 0.f);
  x[0] = std::numeric_limits<float>::infinity();
  x[1] = -std::numeric_limits<float>::infinity();
  ASSERT_TRUE(s.set_input(0, x).ok());
  const auto* q = static_cast<const uint8_t*>(s.input(0).data);
  EXPECT_EQ(q[0], 255);
  EXPECT_EQ(q[1], 0);
  EXPECT_EQ(q[2], net.zx);  // 0.0 is the zero point
  x[7] = std::nanf("");
  const Status bad = s.set_input(0, x);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("element 7 is NaN"), std::string::npos) << bad.message();
  EXPECT_EQ(q[0], 255) << "a refused set_input must leave the input unchanged";
  EXPECT_EQ(q[1], 0);
}

// A tensor with a zero dimension is legal: its float boundary takes and
// gives empty spans, whose data() may be null (memcpy must never see that).
TEST(EndToEnd, EmptyTensorsCrossTheFloatBoundary) {
  ModelWriter w("test");
  const int x = w.add_tensor("x", {0, 4}, DType::kF32);
  const int y = w.add_tensor("y", {0, 4}, DType::kF32);
  w.add_node(OpType::kRelu, {x}, {y}, {}, "relu", {"Relu_0"});
  w.set_inputs({x});
  w.set_outputs({y});
  auto model = load(w);
  ASSERT_TRUE(model);
  auto session = Session::create(model);
  ASSERT_TRUE(session.ok()) << session.status().to_string();
  EXPECT_TRUE((*session)->set_input(0, std::span<const float>{}).ok());
  EXPECT_TRUE((*session)->run().ok());
  EXPECT_TRUE((*session)->get_output(0, std::span<float>{}).ok());
  EXPECT_TRUE((*session)->set_input_raw(0, nullptr, 0).ok());
}

TEST(EndToEnd, BoundaryErrorsAreReported) {
  FloatMlp net;
  auto model = load(net.build());
  ASSERT_TRUE(model);
  auto session = Session::create(model);
  ASSERT_TRUE(session.ok());
  std::vector<float> x(7, 0.f);
  Status s = (*session)->set_input(0, x);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("got 7 values"), std::string::npos) << s.message();
  x.resize(8, 0.f);
  x[3] = std::nanf("");
  s = (*session)->set_input(0, x);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("element 3 is NaN"), std::string::npos) << s.message();
  s = (*session)->set_input(1, x);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  std::vector<float> y(3);
  EXPECT_EQ((*session)->get_output(0, y).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*session)->get_output(5, y).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*session)->input(9).data, nullptr);
}

TEST(EndToEnd, ProfilingRecordsEveryNode) {
  FloatMlp net;
  auto model = load(net.build());
  ASSERT_TRUE(model);
  SessionOptions opts;
  opts.profile = true;
  auto session = Session::create(model, opts);
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE((*session)->set_input(0, random_floats(8, -1, 1, 3)).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*session)->run().ok());
  ASSERT_EQ((*session)->timings().size(), 3u);
  for (const NodeTiming& t : (*session)->timings()) {
    EXPECT_EQ(t.runs, 3);
    EXPECT_GT(t.total_ns, 0);
  }
  (*session)->reset_timings();
  EXPECT_EQ((*session)->timings()[0].runs, 0);
}

}  // namespace
}  // namespace quanta

namespace quanta {
namespace {

TEST(EndToEnd, InfiniteRequantizationMultiplierIsRefused) {
  // Each scale is valid on its own, but s_x / s_y overflows fp32.
  ModelWriter w("test");
  const int x = w.add_tensor("x", {1, 2, 2, 1}, DType::kU8, {{1e30f}, {0}, -1, 0});
  const int y = w.add_tensor("y", {1, 1, 1, 1}, DType::kU8, {{1e-30f}, {0}, -1, 0});
  w.add_node(OpType::kGlobalAveragePool, {x}, {y}, {}, "gap", {"GlobalAveragePool_7"});
  w.set_inputs({x});
  w.set_outputs({y});
  const std::vector<uint8_t> bytes = w.finish();
  auto model = Model::load_buffer(bytes.data(), bytes.size(), true);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  auto s = Session::create(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(s.status().message().find("GlobalAveragePool_7"), std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("multiplier"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace quanta
