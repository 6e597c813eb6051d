// Operators through the public API: each test builds a one-node (or tiny)
// model with ModelWriter, loads it, runs it in a Session and compares with a
// result computed here with plain loops (float: double arithmetic; quantized:
// integer accumulators and the fp32 requantization rule of docs/design.md §1, exact,
// or within 1 LSB of the float op where exactness is not the point).
// The second half checks that wrong or unsupported nodes are refused at load
// with a Status naming the node.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <random>

#include "quanta/model_writer.hpp"
#include "quanta/quanta.hpp"

namespace quanta {
namespace {

using Opt = fb::OptionsUnion;
using Bytes = std::vector<uint8_t>;

QuantParams qp(float s, int z) { return {{s}, {z}, -1, 0}; }
QuantParams qaxis(std::vector<float> s, int axis) {
  QuantParams q;
  q.scale = std::move(s);
  q.zero_point.assign(q.scale.size(), 0);
  q.axis = axis;
  return q;
}

template <class T>
Bytes bytes_of(const std::vector<T>& v) {
  Bytes b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::vector<float> floats_of(const Bytes& b) {
  std::vector<float> v(b.size() / sizeof(float));
  if (!v.empty()) std::memcpy(v.data(), b.data(), b.size());
  return v;
}

std::vector<float> rand_f(size_t n, uint32_t seed, float lo = -2.f, float hi = 2.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<uint8_t> rand_u8(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(d(rng));
  return v;
}

std::vector<int8_t> rand_i8(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-127, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(d(rng));
  return v;
}

std::vector<int32_t> rand_i32(size_t n, uint32_t seed, int lo, int hi) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// docs/design.md §1 requantization, written independently of the kernels:
// f = float(acc) * m (one fp32 multiply); round half to even; + zy; clamp.
int requant(int64_t acc, float m, int zy, int qmin = 0, int qmax = 255) {
  const float f = static_cast<float>(acc) * m;
  const double r = std::nearbyint(static_cast<double>(f)) + zy;
  return static_cast<int>(std::min<double>(qmax, std::max<double>(qmin, r)));
}
int requant_f(float f, int zy, int qmin = 0, int qmax = 255) {
  const double r = std::nearbyint(static_cast<double>(f)) + zy;
  return static_cast<int>(std::min<double>(qmax, std::max<double>(qmin, r)));
}
int quant(double x, float s, int z) {
  const double r = std::nearbyint(x / s) + z;
  return static_cast<int>(std::min(255.0, std::max(0.0, r)));
}
double dequant(int q, float s, int z) { return double(s) * (q - z); }

fb::SqueezeOptionsT squeeze_axes(std::vector<int32_t> axes) {
  fb::SqueezeOptionsT o;
  o.axes = std::move(axes);
  return o;
}
fb::TransposeOptionsT perm_options(std::vector<int32_t> perm) {
  fb::TransposeOptionsT o;
  o.perm = std::move(perm);
  return o;
}

Result<std::shared_ptr<const Model>> load_status(const ModelWriter& w) {
  const Bytes bytes = w.finish();
  return Model::load_buffer(bytes.data(), bytes.size(), /*copy=*/true);
}

// Loads, creates a session, sets the raw inputs, runs, and returns the raw
// bytes of output `out`; nullopt (with a test failure) on any error.
std::optional<Bytes> run_raw(const ModelWriter& w, const std::vector<Bytes>& inputs,
                             size_t out = 0) {
  auto model = load_status(w);
  if (!model.ok()) {
    ADD_FAILURE() << "load: " << model.status().to_string();
    return std::nullopt;
  }
  auto session = Session::create(*model);
  if (!session.ok()) {
    ADD_FAILURE() << "session: " << session.status().to_string();
    return std::nullopt;
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    Status s = (*session)->set_input_raw(i, inputs[i].data(), inputs[i].size());
    if (!s.ok()) {
      ADD_FAILURE() << "set_input_raw " << i << ": " << s.to_string();
      return std::nullopt;
    }
  }
  if (Status s = (*session)->run(); !s.ok()) {
    ADD_FAILURE() << "run: " << s.to_string();
    return std::nullopt;
  }
  const TensorView v = (*session)->output(out);
  const auto* p = v.as<const uint8_t>();
  // Run twice: prepared state must be reusable and give the same bytes.
  Bytes first(p, p + v.info->num_bytes);
  if (Status s = (*session)->run(); !s.ok()) {
    ADD_FAILURE() << "second run: " << s.to_string();
    return std::nullopt;
  }
  Bytes second(p, p + v.info->num_bytes);
  EXPECT_EQ(first, second) << "second run differs";
  return first;
}

void expect_near(const std::vector<float>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::fabs(want[i]))) << "index " << i;
  }
}

void expect_u8_eq(const Bytes& got, const std::vector<int>& want) {
  ASSERT_EQ(got.size(), want.size());
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i] && bad++ < 10) {
      ADD_FAILURE() << "index " << i << ": got " << int(got[i]) << ", want " << want[i];
    }
  }
  EXPECT_EQ(bad, 0);
}

void expect_u8_within1(const Bytes& got, const std::vector<int>& want) {
  ASSERT_EQ(got.size(), want.size());
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::abs(int(got[i]) - want[i]) > 1 && bad++ < 10) {
      ADD_FAILURE() << "index " << i << ": got " << int(got[i]) << ", want " << want[i]
                    << " (+-1)";
    }
  }
  EXPECT_EQ(bad, 0);
}

// ============================================================== Conv2D

struct ConvGeom {
  int n = 2, h = 7, w = 6, cin = 4, cout = 6, kh = 3, kw = 2;
  int sh = 2, sw = 1, dh = 1, dw = 2;
  int pt = 1, pl = 0, pb = 2, pr = 1;
  int groups = 2;
  int oh() const { return (h + pt + pb - dh * (kh - 1) - 1) / sh + 1; }
  int ow() const { return (w + pl + pr - dw * (kw - 1) - 1) / sw + 1; }
  int cin_g() const { return cin / groups; }
  fb::Conv2DOptionsT options() const {
    fb::Conv2DOptionsT o;
    o.stride_h = sh; o.stride_w = sw; o.dilation_h = dh; o.dilation_w = dw;
    o.pad_top = pt; o.pad_left = pl; o.pad_bottom = pb; o.pad_right = pr;
    o.groups = groups;
    return o;
  }
  // Calls f(n, oy, ox, co, [tap -> (inside, x index, w index)]) style loops.
  template <class F>
  void for_each_tap(int n_, int oy, int ox, int co, F f) const {
    const int g = co / (cout / groups);
    for (int ky = 0; ky < kh; ++ky)
      for (int kx = 0; kx < kw; ++kx) {
        const int iy = oy * sh - pt + ky * dh, ix = ox * sw - pl + kx * dw;
        const bool inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
        for (int ci = 0; ci < cin_g(); ++ci) {
          const int xi = inside ? ((n_ * h + iy) * w + ix) * cin + g * cin_g() + ci : -1;
          const int wi = ((co * kh + ky) * kw + kx) * cin_g() + ci;
          f(xi, wi);
        }
      }
  }
};

TEST(OpsConv2D, FloatGroupedStridedDilatedPaddedWithClip) {
  ConvGeom g;
  const auto x = rand_f(size_t(g.n) * g.h * g.w * g.cin, 1);
  const auto wt = rand_f(size_t(g.cout) * g.kh * g.kw * g.cin_g(), 2, -1, 1);
  const auto b = rand_f(g.cout, 3, -0.5, 0.5);
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {g.n, g.h, g.w, g.cin}, DType::kF32);
  const int tw = w.add_constant_f32("w", {g.cout, g.kh, g.kw, g.cin_g()}, wt);
  const int tb = w.add_constant_f32("b", {g.cout}, b);
  const int ty = w.add_tensor("y", {g.n, g.oh(), g.ow(), g.cout}, DType::kF32);
  auto o = g.options();
  o.activation = fb::Activation::CLIP;
  o.clip_min = -1.f;
  o.clip_max = 1.5f;
  Opt u;
  u.Set(o);
  w.add_node(OpType::kConv2D, {tx, tw, tb}, {ty}, std::move(u), "conv", {"Conv_0"});
  w.set_inputs({tx});
  w.set_outputs({ty});

  auto model = load_status(w);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  EXPECT_EQ((*model)->nodes()[0].macs,
            int64_t(g.n) * g.oh() * g.ow() * g.cout * g.kh * g.kw * g.cin_g());

  auto out = run_raw(w, {bytes_of(x)});
  ASSERT_TRUE(out);
  std::vector<double> want;
  for (int n = 0; n < g.n; ++n)
    for (int oy = 0; oy < g.oh(); ++oy)
      for (int ox = 0; ox < g.ow(); ++ox)
        for (int co = 0; co < g.cout; ++co) {
          double acc = b[co];
          g.for_each_tap(n, oy, ox, co, [&](int xi, int wi) {
            if (xi >= 0) acc += double(x[xi]) * wt[wi];
          });
          want.push_back(std::min(1.5, std::max(-1.0, acc)));
        }
  expect_near(floats_of(*out), want, 1e-5);
}

struct QConvCase {
  ConvGeom g;
  bool per_channel = true;
  bool bias = true;
  fb::Activation act = fb::Activation::RELU;
  float sx = 0.03f, sy = 0.05f;
  int zx = 120, zy = 30;
};

void run_qconv(const QConvCase& c, uint32_t seed) {
  const ConvGeom& g = c.g;
  const auto x = rand_u8(size_t(g.n) * g.h * g.w * g.cin, seed);
  const auto wt = rand_i8(size_t(g.cout) * g.kh * g.kw * g.cin_g(), seed + 1);
  const auto b = rand_i32(g.cout, seed + 2, -5000, 5000);
  std::vector<float> sw(c.per_channel ? g.cout : 1);
  for (size_t i = 0; i < sw.size(); ++i) sw[i] = 0.004f + 0.001f * float(i);
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {g.n, g.h, g.w, g.cin}, DType::kU8, qp(c.sx, c.zx));
  const int tw = w.add_constant_i8("w", {g.cout, g.kh, g.kw, g.cin_g()}, wt,
                                   c.per_channel ? qaxis(sw, 0) : qaxis(sw, -1));
  int tb = -1;
  if (c.bias) {
    std::vector<float> sb(g.cout);
    for (int co = 0; co < g.cout; ++co) sb[co] = c.sx * sw[c.per_channel ? co : 0];
    tb = w.add_constant_i32("b", {g.cout}, b, qaxis(sb, 0));
  }
  const int ty = w.add_tensor("y", {g.n, g.oh(), g.ow(), g.cout}, DType::kU8, qp(c.sy, c.zy));
  auto o = g.options();
  o.activation = c.act;
  Opt u;
  u.Set(o);
  std::vector<int> ins = {tx, tw};
  if (c.bias) ins.push_back(tb);
  w.add_node(OpType::kConv2D, ins, {ty}, std::move(u), "qconv", {"Conv_0"});
  w.set_inputs({tx});
  w.set_outputs({ty});
  auto out = run_raw(w, {x});
  ASSERT_TRUE(out);
  const int qmin = c.act == fb::Activation::NONE ? 0 : c.zy;
  int qmax = 255;
  if (c.act == fb::Activation::RELU6) {
    qmax = std::min(255, c.zy + int(std::nearbyint(6.0f / c.sy)));
  }
  std::vector<int> want;
  for (int n = 0; n < g.n; ++n)
    for (int oy = 0; oy < g.oh(); ++oy)
      for (int ox = 0; ox < g.ow(); ++ox)
        for (int co = 0; co < g.cout; ++co) {
          int64_t acc = c.bias ? b[co] : 0;
          g.for_each_tap(n, oy, ox, co, [&](int xi, int wi) {
            if (xi >= 0) acc += int64_t(x[xi] - c.zx) * wt[wi];
          });
          const float m = (c.sx * sw[c.per_channel ? co : 0]) / c.sy;
          want.push_back(requant(acc, m, c.zy, qmin, qmax));
        }
  expect_u8_eq(*out, want);
}

TEST(OpsConv2D, QuantizedPerChannelBiasReluIsExact) { run_qconv(QConvCase{}, 10); }

TEST(OpsConv2D, QuantizedPerTensorNoBiasRelu6IsExact) {
  QConvCase c;
  c.per_channel = false;
  c.bias = false;
  c.act = fb::Activation::RELU6;
  c.g.groups = 1;
  c.g.cin = 3;
  c.zx = 0;
  run_qconv(c, 20);
}

TEST(OpsConv2D, QuantizedDepthwiseIsExact) {
  QConvCase c;
  c.g.cin = 5;
  c.g.cout = 5;
  c.g.groups = 5;
  c.g.kh = c.g.kw = 3;
  c.g.sh = c.g.sw = 1;
  c.g.dh = c.g.dw = 1;
  c.g.pt = c.g.pl = c.g.pb = c.g.pr = 1;
  c.act = fb::Activation::NONE;
  c.zx = 255;
  run_qconv(c, 30);
}

// ====================================================== FullyConnected

TEST(OpsFullyConnected, FloatRank3InputFlattensRows) {
  const auto x = rand_f(2 * 3 * 5, 40);
  const auto wt = rand_f(4 * 5, 41);
  const auto b = rand_f(4, 42);
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {2, 3, 5}, DType::kF32);
  const int tw = w.add_constant_f32("w", {4, 5}, wt);
  const int tb = w.add_constant_f32("b", {4}, b);
  const int ty = w.add_tensor("y", {2, 3, 4}, DType::kF32);
  fb::FullyConnectedOptionsT o;
  o.activation = fb::Activation::RELU;
  Opt u;
  u.Set(o);
  w.add_node(OpType::kFullyConnected, {tx, tw, tb}, {ty}, std::move(u), "fc", {"Gemm_0"});
  w.set_inputs({tx});
  w.set_outputs({ty});
  auto model = load_status(w);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  EXPECT_EQ((*model)->nodes()[0].macs, 6 * 5 * 4);
  auto out = run_raw(w, {bytes_of(x)});
  ASSERT_TRUE(out);
  std::vector<double> want;
  for (int r = 0; r < 6; ++r)
    for (int n = 0; n < 4; ++n) {
      double acc = b[n];
      for (int k = 0; k < 5; ++k) acc += double(x[r * 5 + k]) * wt[n * 5 + k];
      want.push_back(std::max(0.0, acc));
    }
  expect_near(floats_of(*out), want, 1e-5);
}

TEST(OpsFullyConnected, QuantizedPerChannelBiasIsExact) {
  const int m = 3, k = 37, n = 5;
  const float sx = 0.02f, sy = 0.07f;
  const int zx = 131, zy = 90;
  const auto x = rand_u8(m * k, 50);
  const auto wt = rand_i8(n * k, 51);
  const auto b = rand_i32(n, 52, -20000, 20000);
  std::vector<float> sw = {0.01f, 0.02f, 0.005f, 0.0123f, 0.03f};
  std::vector<float> sb(n);
  for (int i = 0; i < n; ++i) sb[i] = sx * sw[i];
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {m, k}, DType::kU8, qp(sx, zx));
  const int tw = w.add_constant_i8("w", {n, k}, wt, qaxis(sw, 0));
  const int tb = w.add_constant_i32("b", {n}, b, qaxis(sb, 0));
  const int ty = w.add_tensor("y", {m, n}, DType::kU8, qp(sy, zy));
  w.add_node(OpType::kFullyConnected, {tx, tw, tb}, {ty}, {}, "fc", {"Gemm_0"});
  w.set_inputs({tx});
  w.set_outputs({ty});
  auto out = run_raw(w, {x});
  ASSERT_TRUE(out);
  std::vector<int> want;
  for (int r = 0; r < m; ++r)
    for (int c = 0; c < n; ++c) {
      int64_t acc = b[c];
      for (int i = 0; i < k; ++i) acc += int64_t(x[r * k + i] - zx) * wt[c * k + i];
      want.push_back(requant(acc, (sx * sw[c]) / sy, zy));
    }
  expect_u8_eq(*out, want);
}

TEST(OpsFullyConnected, QuantizedPerTensorNoBiasClipIsExact) {
  const int m = 4, k = 9, n = 3;
  const float sx = 0.05f, sy = 0.02f, sw = 0.011f;
  const int zx = 7, zy = 128;
  const auto x = rand_u8(m * k, 60);
  const auto wt = rand_i8(n * k, 61);
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {m, k}, DType::kU8, qp(sx, zx));
  const int tw = w.add_constant_i8("w", {n, k}, wt, qaxis({sw}, -1));
  const int ty = w.add_tensor("y", {m, n}, DType::kU8, qp(sy, zy));
  fb::FullyConnectedOptionsT o;
  o.activation = fb::Activation::CLIP;
  o.clip_min = -0.5f;
  o.clip_max = 1.0f;
  Opt u;
  u.Set(o);
  w.add_node(OpType::kFullyConnected, {tx, tw, -1}, {ty}, std::move(u), "fc");
  w.set_inputs({tx});
  w.set_outputs({ty});
  auto out = run_raw(w, {x});
  ASSERT_TRUE(out);
  const int qmin = zy + int(std::nearbyint(-0.5f / sy));  // 103
  const int qmax = zy + int(std::nearbyint(1.0f / sy));   // 178
  std::vector<int> want;
  for (int r = 0; r < m; ++r)
    for (int c = 0; c < n; ++c) {
      int64_t acc = 0;
      for (int i = 0; i < k; ++i) acc += int64_t(x[r * k + i] - zx) * wt[c * k + i];
      want.push_back(requant(acc, (sx * sw) / sy, zy, qmin, qmax));
    }
  expect_u8_eq(*out, want);
}

// ============================================================== MatMul

TEST(OpsMatMul, FloatBroadcastBatches) {
  // a [2,1,3,4] x b [3,4,5] -> [2,3,3,5]
  const auto a = rand_f(2 * 1 * 3 * 4, 70);
  const auto b = rand_f(3 * 4 * 5, 71);
  ModelWriter w("test");
  const int ta = w.add_tensor("a", {2, 1, 3, 4}, DType::kF32);
  const int tb = w.add_tensor("b", {3, 4, 5}, DType::kF32);
  const int ty = w.add_tensor("y", {2, 3, 3, 5}, DType::kF32);
  w.add_node(OpType::kMatMul, {ta, tb}, {ty}, {}, "mm", {"MatMul_0"});
  w.set_inputs({ta, tb});
  w.set_outputs({ty});
  auto model = load_status(w);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  EXPECT_EQ((*model)->nodes()[0].macs, 6 * 3 * 4 * 5);
  auto out = run_raw(w, {bytes_of(a), bytes_of(b)});
  ASSERT_TRUE(out);
  std::vector<double> want;
  for (int i0 = 0; i0 < 2; ++i0)
    for (int i1 = 0; i1 < 3; ++i1)
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 5; ++c) {
          double acc = 0;
          for (int k = 0; k < 4; ++k) acc += double(a[(i0 * 3 + r) * 4 + k]) * b[(i1 * 4 + k) * 5 + c];
          want.push_back(acc);
        }
  expect_near(floats_of(*out), want, 1e-5);
}

TEST(OpsMatMul, FloatConstantMatrixAndVector) {
  // a [2,3,4] x const b [4] -> [2,3]
  const auto a = rand_f(24, 72);
  const auto b = rand_f(4, 73);
  ModelWriter w("test");
  const int ta = w.add_tensor("a", {2, 3, 4}, DType::kF32);
  const int tb = w.add_constant_f32("b", {4}, b);
  const int ty = w.add_tensor("y", {2, 3}, DType::kF32);
  w.add_node(OpType::kMatMul, {ta, tb}, {ty}, {}, "mv");
  w.set_inputs({ta});
  w.set_outputs({ty});
  auto out = run_raw(w, {bytes_of(a)});
  ASSERT_TRUE(out);
  std::vector<double> want;
  for (int r = 0; r < 6; ++r) {
    double acc = 0;
    for (int k = 0; k < 4; ++k) acc += double(a[r * 4 + k]) * b[k];
    want.push_back(acc);
  }
  expect_near(floats_of(*out), want, 1e-5);
}

TEST(OpsMatMul, QuantizedU8xU8BatchedIsExact) {
  // a [3,2,6] x b [1,6,4] -> [3,2,4], relu
  const float sa = 0.02f, sb = 0.03f, sy = 0.1f;
  const int za = 100, zb = 140, zy = 60;
  const auto a = rand_u8(3 * 2 * 6, 80);
  const auto b = rand_u8(6 * 4, 81);
  ModelWriter w("test");
  const int ta = w.add_tensor("a", {3, 2, 6}, DType::kU8, qp(sa, za));
  const int tb = w.add_tensor("b", {1, 6, 4}, DType::kU8, qp(sb, zb));
  const int ty = w.add_tensor("y", {3, 2, 4}, DType::kU8, qp(sy, zy));
  fb::MatMulOptionsT o;
  o.activation = fb::Activation::RELU;
  Opt u;
  u.Set(o);
  w.add_node(OpType::kMatMul, {ta, tb}, {ty}, std::move(u), "mm");
  w.set_inputs({ta, tb});
  w.set_outputs({ty});
  auto out = run_raw(w, {a, b});
  ASSERT_TRUE(out);
  std::vector<int> want;
  for (int bt = 0; bt < 3; ++bt)
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 4; ++c) {
        int64_t acc = 0;
        for (int k = 0; k < 6; ++k) acc += int64_t(a[(bt * 2 + r) * 6 + k] - za) * (b[k * 4 + c] - zb);
        want.push_back(requant(acc, (sa * sb) / sy, zy, zy, 255));
      }
  expect_u8_eq(*out, want);
}

TEST(OpsMatMul, QuantizedConstantInt8RunsAsFullyConnectedExactly) {
  // a [2,3,7] u8 x b [7,5] i8 per output column (axis 1) -> [2,3,5]
  const float sa = 0.04f, sy = 0.09f;
  const int za = 77, zy = 120;
  std::vector<float> sw = {0.01f, 0.012f, 0.008f, 0.02f, 0.015f};
  const auto a = rand_u8(2 * 3 * 7, 90);
  const auto b = rand_i8(7 * 5, 91);
  ModelWriter w("test");
  const int ta = w.add_tensor("a", {2, 3, 7}, DType::kU8, qp(sa, za));
  const int tb = w.add_constant_i8("b", {7, 5}, b, qaxis(sw, 1));
  const int ty = w.add_tensor("y", {2, 3, 5}, DType::kU8, qp(sy, zy));
  w.add_node(OpType::kMatMul, {ta, tb}, {ty}, {}, "mm");
  w.set_inputs({ta});
  w.set_outputs({ty});
  auto out = run_raw(w, {a});
  ASSERT_TRUE(out);
  std::vector<int> want;
  for (int r = 0; r < 6; ++r)
    for (int c = 0; c < 5; ++c) {
      int64_t acc = 0;
      for (int k = 0; k < 7; ++k) acc += int64_t(a[r * 7 + k] - za) * b[k * 5 + c];
      want.push_back(requant(acc, (sa * sw[c]) / sy, zy));
    }
  expect_u8_eq(*out, want);
}

// ============================================================ Add, Mul

TEST(OpsBinary, FloatAddAndMulBroadcastWithConstant) {
  for (OpType op : {OpType::kAdd, OpType::kMul}) {
    const auto a = rand_f(2 * 3 * 4, 100);
    const auto c = rand_f(3, 101);
    ModelWriter w("test");
    const int ta = w.add_tensor("a", {2, 3, 4}, DType::kF32);
    const int tc = w.add_constant_f32("c", {3, 1}, c);
    const int ty = w.add_tensor("y", {2, 3, 4}, DType::kF32);
    fb::ElementwiseOptionsT o;
    o.activation = fb::Activation::RELU;
    Opt u;
    u.Set(o);
    w.add_node(op, {ta, tc}, {ty}, std::move(u), "bin");
    w.set_inputs({ta});
    w.set_outputs({ty});
    auto out = run_raw(w, {bytes_of(a)});
    ASSERT_TRUE(out);
    std::vector<double> want;
    for (int i = 0; i < 24; ++i) {
      const double cv = c[(i / 4) % 3];
      const double r = op == OpType::kAdd ? a[i] + cv : double(a[i]) * cv;
      want.push_back(std::max(0.0, r));
    }
    expect_near(floats_of(*out), want, 1e-6);
  }
}

TEST(OpsBinary, QuantizedAddBroadcastIsExact) {
  const float sa = 0.05f, sb = 0.02f, sy = 0.06f;
  const int za = 128, zb = 3, zy = 100;
  const auto a = rand_u8(2 * 5, 110);
  const auto b = rand_u8(5, 111);
  ModelWriter w("test");
  const int ta = w.add_tensor("a", {2, 5}, DType::kU8, qp(sa, za));
  const int tb = w.add_tensor("b", {5}, DType::kU8, qp(sb, zb));
  const int ty = w.add_tensor("y", {2, 5}, DType::kU8, qp(sy, zy));
  w.add_node(OpType::kAdd, {ta, tb}, {ty}, {}, "add");
  w.set_inputs({ta, tb});
  w.set_outputs({ty});
  auto out = run_raw(w, {a, b});
  ASSERT_TRUE(out);
  const float ma = sa / sy, mb = sb / sy;
  std::vector<int> want;
  for (int i = 0; i < 10; ++i) {
    const float f = float(a[i] - za) * ma + float(b[i % 5] - zb) * mb;
    want.push_back(requant_f(f, zy));
  }
  expect_u8_eq(*out, want);
}

TEST(OpsBinary, QuantizedMulWithConstantIsExact) {
  const float sa = 0.05f, sb = 0.01f, sy = 0.02f;
  const int za = 120, zb = 0, zy = 128;
  const auto a = rand_u8(3 * 4, 120);
  const std::vector<uint8_t> b = {7, 200, 100, 50};
  ModelWriter w("test");
  const int ta = w.add_tensor("a", {3, 4}, DType::kU8, qp(sa, za));
  const int tb = w.add_constant("b", {1, 4}, DType::kU8, b.data(), b.size(), qp(sb, zb));
  const int ty = w.add_tensor("y", {3, 4}, DType::kU8, qp(sy, zy));
  w.add_node(OpType::kMul, {ta, tb}, {ty}, {}, "mul");
  w.set_inputs({ta});
  w.set_outputs({ty});
  auto out = run_raw(w, {a});
  ASSERT_TRUE(out);
  const float m = (sa * sb) / sy;
  std::vector<int> want;
  for (int i = 0; i < 12; ++i) {
    want.push_back(requant_f(float((a[i] - za) * (b[i % 4] - zb)) * m, zy));
  }
  expect_u8_eq(*out, want);
}

// ============================================================== Concat

TEST(OpsConcat, FloatNegativeAxisThreeInputs) {
  const auto a = rand_f(2 * 3 * 1, 130), b = rand_f(2 * 3 * 2, 131), c = rand_f(2 * 3 * 3, 132);
  ModelWriter w("test");
  const int ta = w.add_tensor("a", {2, 3, 1}, DType::kF32);
  const int tb = w.add_tensor("b", {2, 3, 2}, DType::kF32);
  const int tc = w.add_constant_f32("c", {2, 3, 3}, c);
  const int ty = w.add_tensor("y", {2, 3, 6}, DType::kF32);
  fb::ConcatOptionsT o;
  o.axis = -1;
  Opt u;
  u.Set(o);
  w.add_node(OpType::kConcat, {ta, tb, tc}, {ty}, std::move(u), "cat");
  w.set_inputs({ta, tb});
  w.set_outputs({ty});
  auto out = run_raw(w, {bytes_of(a), bytes_of(b)});
  ASSERT_TRUE(out);
  std::vector<double> want;
  for (int r = 0; r < 6; ++r) {
    want.push_back(a[r]);
    for (int i = 0; i < 2; ++i) want.push_back(b[r * 2 + i]);
    for (int i = 0; i < 3; ++i) want.push_back(c[r * 3 + i]);
  }
  expect_near(floats_of(*out), want, 0);
}

TEST(OpsConcat, QuantizedDifferentScalesRequantizeExactly) {
  const float sa = 0.1f, sb = 0.025f, sy = 0.05f;
  const int za = 10, zb = 200, zy = 128;
  const auto a = rand_u8(2 * 2, 140), b = rand_u8(3 * 2, 141);
  ModelWriter w("test");
  const int ta = w.add_tensor("a", {2, 2}, DType::kU8, qp(sa, za));
  const int tb = w.add_tensor("b", {3, 2}, DType::kU8, qp(sb, zb));
  const int ty = w.add_tensor("y", {5, 2}, DType::kU8, qp(sy, zy));
  Opt u;
  u.Set(fb::ConcatOptionsT{});  // axis 0
  w.add_node(OpType::kConcat, {ta, tb}, {ty}, std::move(u), "cat");
  w.set_inputs({ta, tb});
  w.set_outputs({ty});
  auto out = run_raw(w, {a, b});
  ASSERT_TRUE(out);
  std::vector<int> want;
  for (int i = 0; i < 4; ++i) want.push_back(requant_f(float(a[i] - za) * (sa / sy), zy));
  for (int i = 0; i < 6; ++i) want.push_back(requant_f(float(b[i] - zb) * (sb / sy), zy));
  expect_u8_eq(*out, want);
}

// ============================================================= Pooling

struct PoolCase {
  int n = 1, h = 6, w = 5, c = 3, kh = 3, kw = 2, sh = 2, sw = 1, pt = 1, pl = 1, pb = 1, pr = 0;
  bool include_pad = false;
  int oh() const { return (h + pt + pb - kh) / sh + 1; }
  int ow() const { return (w + pl + pr - kw) / sw + 1; }
  fb::PoolOptionsT options() const {
    fb::PoolOptionsT o;
    o.kernel_h = kh; o.kernel_w = kw; o.stride_h = sh; o.stride_w = sw;
    o.pad_top = pt; o.pad_left = pl; o.pad_bottom = pb; o.pad_right = pr;
    o.count_include_pad = include_pad;
    return o;
  }
  // The one-node model x [n, h, w, c] -> op -> y [n, oh, ow, c].
  ModelWriter model(OpType op, DType dtype, const QuantParams& qx, const QuantParams& qy,
                    fb::PoolOptionsT o, const char* name) const {
    ModelWriter mw("test");
    const int tx = mw.add_tensor("x", {n, h, w, c}, dtype, qx);
    const int ty = mw.add_tensor("y", {n, oh(), ow(), c}, dtype, qy);
    Opt u;
    u.Set(std::move(o));
    mw.add_node(op, {tx}, {ty}, std::move(u), name);
    mw.set_inputs({tx});
    mw.set_outputs({ty});
    return mw;
  }
  // f(list of input indices inside the window)
  template <class F>
  void each_window(F f) const {
    for (int b = 0; b < n; ++b)
      for (int oy = 0; oy < oh(); ++oy)
        for (int ox = 0; ox < ow(); ++ox)
          for (int ch = 0; ch < c; ++ch) {
            std::vector<int> idx;
            for (int ky = 0; ky < kh; ++ky)
              for (int kx = 0; kx < kw; ++kx) {
                const int iy = oy * sh - pt + ky, ix = ox * sw - pl + kx;
                if (iy >= 0 && iy < h && ix >= 0 && ix < w) idx.push_back(((b * h + iy) * w + ix) * c + ch);
              }
            f(idx);
          }
  }
};

TEST(OpsPool, FloatMaxAndAveragePools) {
  for (OpType op : {OpType::kMaxPool, OpType::kAveragePool}) {
    for (bool include_pad : {false, true}) {
      PoolCase p;
      p.include_pad = include_pad;
      const auto x = rand_f(size_t(p.n) * p.h * p.w * p.c, 150);
      const ModelWriter w = p.model(op, DType::kF32, {}, {}, p.options(), "pool");
      auto out = run_raw(w, {bytes_of(x)});
      ASSERT_TRUE(out);
      std::vector<double> want;
      p.each_window([&](const std::vector<int>& idx) {
        if (op == OpType::kMaxPool) {
          double m = -1e30;
          for (int i : idx) m = std::max(m, double(x[i]));
          want.push_back(m);
        } else {
          double s = 0;
          for (int i : idx) s += x[i];
          want.push_back(s / (include_pad ? p.kh * p.kw : int(idx.size())));
        }
      });
      expect_near(floats_of(*out), want, 1e-6);
    }
  }
}

TEST(OpsPool, QuantizedMaxPoolKeepsQuantizationWithRelu) {
  PoolCase p;
  const float s = 0.1f;
  const int z = 100;
  const auto x = rand_u8(size_t(p.n) * p.h * p.w * p.c, 160);
  auto o = p.options();
  o.activation = fb::Activation::RELU;
  const ModelWriter w = p.model(OpType::kMaxPool, DType::kU8, qp(s, z), qp(s, z), o, "maxpool");
  auto out = run_raw(w, {x});
  ASSERT_TRUE(out);
  std::vector<int> want;
  p.each_window([&](const std::vector<int>& idx) {
    int m = 0;
    for (int i : idx) m = std::max(m, int(x[i]));
    want.push_back(std::max(m, z));
  });
  expect_u8_eq(*out, want);
}

TEST(OpsPool, QuantizedAveragePoolRescalesExactly) {
  for (bool include_pad : {false, true}) {
    PoolCase p;
    p.include_pad = include_pad;
    const float sx = 0.05f, sy = 0.03f;
    const int zx = 90, zy = 140;
    const auto x = rand_u8(size_t(p.n) * p.h * p.w * p.c, 170);
    const ModelWriter w =
        p.model(OpType::kAveragePool, DType::kU8, qp(sx, zx), qp(sy, zy), p.options(), "avgpool");
    auto out = run_raw(w, {x});
    ASSERT_TRUE(out);
    std::vector<int> want;
    p.each_window([&](const std::vector<int>& idx) {
      int64_t acc = 0;
      for (int i : idx) acc += x[i] - zx;
      const int count = include_pad ? p.kh * p.kw : int(idx.size());
      want.push_back(requant(acc, (sx / sy) / float(count), zy));
    });
    expect_u8_eq(*out, want);
  }
}

TEST(OpsPool, GlobalAveragePoolFloatAndQuantized) {
  const int n = 2, h = 3, wd = 4, c = 5;
  {
    const auto x = rand_f(n * h * wd * c, 180);
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {n, h, wd, c}, DType::kF32);
    const int ty = w.add_tensor("y", {n, 1, 1, c}, DType::kF32);
    w.add_node(OpType::kGlobalAveragePool, {tx}, {ty}, {}, "gap");
    w.set_inputs({tx});
    w.set_outputs({ty});
    auto out = run_raw(w, {bytes_of(x)});
    ASSERT_TRUE(out);
    std::vector<double> want;
    for (int b = 0; b < n; ++b)
      for (int ch = 0; ch < c; ++ch) {
        double s = 0;
        for (int i = 0; i < h * wd; ++i) s += x[(b * h * wd + i) * c + ch];
        want.push_back(s / (h * wd));
      }
    expect_near(floats_of(*out), want, 1e-6);
  }
  {
    const float sx = 0.02f, sy = 0.01f;
    const int zx = 128, zy = 128;
    const auto x = rand_u8(n * h * wd * c, 181);
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {n, h, wd, c}, DType::kU8, qp(sx, zx));
    const int ty = w.add_tensor("y", {n, 1, 1, c}, DType::kU8, qp(sy, zy));
    w.add_node(OpType::kGlobalAveragePool, {tx}, {ty}, {}, "gap");
    w.set_inputs({tx});
    w.set_outputs({ty});
    auto out = run_raw(w, {x});
    ASSERT_TRUE(out);
    std::vector<int> want;
    for (int b = 0; b < n; ++b)
      for (int ch = 0; ch < c; ++ch) {
        int64_t acc = 0;
        for (int i = 0; i < h * wd; ++i) acc += x[(b * h * wd + i) * c + ch] - zx;
        want.push_back(requant(acc, (sx / sy) / float(h * wd), zy));
      }
    expect_u8_eq(*out, want);
  }
}

// =============================================================== Unary

struct UnaryCase {
  OpType op;
  Opt (*options)();
  double (*f)(double);
};

double ref_relu(double x) { return x < 0 ? 0 : x; }
double ref_relu6(double x) { return std::min(6.0, std::max(0.0, x)); }
double ref_clip(double x) { return std::min(0.75, std::max(-1.25, x)); }
double ref_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double ref_tanh(double x) { return std::tanh(x); }
double ref_hswish(double x) { return x * std::min(1.0, std::max(0.0, x / 6.0 + 0.5)); }
double ref_leaky(double x) { return x < 0 ? 0.2 * x : x; }
double ref_gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double ref_gelu_tanh(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}
double ref_hsigmoid(double x) { return std::min(1.0, std::max(0.0, 0.25 * x + 0.375)); }
// The schema defaults (alpha 0.2, beta 0.5) when the node has no options.
double ref_hsigmoid_default(double x) { return std::min(1.0, std::max(0.0, 0.2 * x + 0.5)); }

Opt no_options() { return {}; }
Opt clip_options() {
  fb::ClipOptionsT o;
  o.min = -1.25f;
  o.max = 0.75f;
  Opt u;
  u.Set(o);
  return u;
}
Opt leaky_options() {
  fb::LeakyReluOptionsT o;
  o.alpha = 0.2f;
  Opt u;
  u.Set(o);
  return u;
}
Opt gelu_options() {
  Opt u;
  u.Set(fb::GeluOptionsT{});
  return u;
}
Opt hard_sigmoid_options() {
  fb::HardSigmoidOptionsT o;
  o.alpha = 0.25f;
  o.beta = 0.375f;
  Opt u;
  u.Set(o);
  return u;
}
Opt gelu_tanh_options() {
  fb::GeluOptionsT o;
  o.approximate = true;
  Opt u;
  u.Set(o);
  return u;
}

const UnaryCase kUnaryCases[] = {
    {OpType::kRelu, no_options, ref_relu},
    {OpType::kRelu6, no_options, ref_relu6},
    {OpType::kClip, clip_options, ref_clip},
    {OpType::kSigmoid, no_options, ref_sigmoid},
    {OpType::kTanh, no_options, ref_tanh},
    {OpType::kHardSwish, no_options, ref_hswish},
    {OpType::kLeakyRelu, leaky_options, ref_leaky},
    {OpType::kGelu, gelu_options, ref_gelu},
    {OpType::kGelu, gelu_tanh_options, ref_gelu_tanh},
    {OpType::kHardSigmoid, hard_sigmoid_options, ref_hsigmoid},
    {OpType::kHardSigmoid, no_options, ref_hsigmoid_default},
};

TEST(OpsUnary, FloatMatchesDefinitions) {
  for (const UnaryCase& c : kUnaryCases) {
    SCOPED_TRACE(op_type_name(c.op));
    const auto x = rand_f(3 * 40, 190, -8, 8);
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {3, 40}, DType::kF32);
    const int ty = w.add_tensor("y", {3, 40}, DType::kF32);
    w.add_node(c.op, {tx}, {ty}, c.options(), "unary");
    w.set_inputs({tx});
    w.set_outputs({ty});
    auto out = run_raw(w, {bytes_of(x)});
    ASSERT_TRUE(out);
    std::vector<double> want;
    for (float v : x) want.push_back(c.f(v));
    expect_near(floats_of(*out), want, 1e-5);
  }
}

TEST(OpsUnary, QuantizedLutWithinOneLsbOfFloatOnAll256Codes) {
  const float sx = 0.04f, sy = 0.02f;
  const int zx = 130, zy = 100;
  std::vector<uint8_t> x(256);
  for (int i = 0; i < 256; ++i) x[i] = static_cast<uint8_t>(i);
  for (const UnaryCase& c : kUnaryCases) {
    SCOPED_TRACE(op_type_name(c.op));
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {1, 256}, DType::kU8, qp(sx, zx));
    const int ty = w.add_tensor("y", {1, 256}, DType::kU8, qp(sy, zy));
    w.add_node(c.op, {tx}, {ty}, c.options(), "unary");
    w.set_inputs({tx});
    w.set_outputs({ty});
    auto out = run_raw(w, {x});
    ASSERT_TRUE(out);
    std::vector<int> want;
    for (int q = 0; q < 256; ++q) want.push_back(quant(c.f(dequant(q, sx, zx)), sy, zy));
    expect_u8_within1(*out, want);
  }
}

// ============================================================= Softmax

TEST(OpsSoftmax, FloatMiddleAxisWithBeta) {
  const auto x = rand_f(2 * 3 * 4, 200, -3, 3);
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {2, 3, 4}, DType::kF32);
  const int ty = w.add_tensor("y", {2, 3, 4}, DType::kF32);
  fb::SoftmaxOptionsT o;
  o.axis = 1;
  o.beta = 0.5f;
  Opt u;
  u.Set(o);
  w.add_node(OpType::kSoftmax, {tx}, {ty}, std::move(u), "softmax");
  w.set_inputs({tx});
  w.set_outputs({ty});
  auto out = run_raw(w, {bytes_of(x)});
  ASSERT_TRUE(out);
  std::vector<double> want(24);
  for (int o0 = 0; o0 < 2; ++o0)
    for (int in = 0; in < 4; ++in) {
      double sum = 0;
      for (int a = 0; a < 3; ++a) sum += std::exp(0.5 * x[(o0 * 3 + a) * 4 + in]);
      for (int a = 0; a < 3; ++a) {
        want[(o0 * 3 + a) * 4 + in] = std::exp(0.5 * x[(o0 * 3 + a) * 4 + in]) / sum;
      }
    }
  expect_near(floats_of(*out), want, 1e-5);
}

TEST(OpsSoftmax, QuantizedLastAxisWithinOneLsb) {
  const float sx = 0.1f, sy = 1.0f / 256.0f;
  const int zx = 128, zy = 0;
  const auto x = rand_u8(4 * 10, 210);
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {4, 10}, DType::kU8, qp(sx, zx));
  const int ty = w.add_tensor("y", {4, 10}, DType::kU8, qp(sy, zy));
  Opt u;
  u.Set(fb::SoftmaxOptionsT{});
  w.add_node(OpType::kSoftmax, {tx}, {ty}, std::move(u), "softmax");
  w.set_inputs({tx});
  w.set_outputs({ty});
  auto out = run_raw(w, {x});
  ASSERT_TRUE(out);
  std::vector<int> want;
  for (int r = 0; r < 4; ++r) {
    double sum = 0;
    for (int a = 0; a < 10; ++a) sum += std::exp(dequant(x[r * 10 + a], sx, zx));
    for (int a = 0; a < 10; ++a) want.push_back(quant(std::exp(dequant(x[r * 10 + a], sx, zx)) / sum, sy, zy));
  }
  expect_u8_within1(*out, want);
}

// ========================================================== LogSoftmax

// Double-precision log-softmax of x viewed as [outer, len, inner] along the middle axis.
std::vector<double> ref_log_softmax(const std::vector<double>& x, int outer, int len, int inner) {
  std::vector<double> y(x.size());
  for (int o = 0; o < outer; ++o)
    for (int i = 0; i < inner; ++i) {
      auto at = [&](int a) { return static_cast<size_t>((o * len + a) * inner + i); };
      double mx = -INFINITY;
      for (int a = 0; a < len; ++a) mx = std::max(mx, x[at(a)]);
      double sum = 0;
      for (int a = 0; a < len; ++a) sum += std::exp(x[at(a)] - mx);
      for (int a = 0; a < len; ++a) y[at(a)] = x[at(a)] - mx - std::log(sum);
    }
  return y;
}

TEST(OpsLogSoftmax, FloatMiddleAndNegativeAxis) {
  for (int axis : {1, -2, -1}) {
    SCOPED_TRACE(axis);
    auto x = rand_f(2 * 3 * 4, 230, -30, 30);
    x[5] = 2e4f;  // a line where softmax underflows: log-softmax stays finite
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {2, 3, 4}, DType::kF32);
    const int ty = w.add_tensor("y", {2, 3, 4}, DType::kF32);
    fb::SoftmaxOptionsT o;
    o.axis = axis;
    Opt u;
    u.Set(o);
    w.add_node(OpType::kLogSoftmax, {tx}, {ty}, std::move(u), "log_softmax");
    w.set_inputs({tx});
    w.set_outputs({ty});
    auto out = run_raw(w, {bytes_of(x)});
    ASSERT_TRUE(out);
    const std::vector<double> xd(x.begin(), x.end());
    const std::vector<double> want = axis == -1 ? ref_log_softmax(xd, 6, 4, 1)
                                                : ref_log_softmax(xd, 2, 3, 4);
    const std::vector<float> got = floats_of(*out);
    expect_near(got, want, 1e-6);
    for (float v : got) EXPECT_TRUE(std::isfinite(v));
  }
}

TEST(OpsLogSoftmax, AbsentOptionsMeanLastAxisAndNoMacs) {
  const auto x = rand_f(3 * 5, 231, -4, 4);
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {3, 5}, DType::kF32);
  const int ty = w.add_tensor("y", {3, 5}, DType::kF32);
  w.add_node(OpType::kLogSoftmax, {tx}, {ty}, {}, "log_softmax", {"LogSoftmax_0"});
  w.set_inputs({tx});
  w.set_outputs({ty});
  auto m = load_status(w);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ((*m)->nodes()[0].macs, 0);
  EXPECT_STREQ(op_type_name((*m)->nodes()[0].op), "LogSoftmax");
  auto out = run_raw(w, {bytes_of(x)});
  ASSERT_TRUE(out);
  expect_near(floats_of(*out), ref_log_softmax({x.begin(), x.end()}, 3, 5, 1), 1e-6);
}

// The quantized op is log-softmax of the dequantized input, quantized with the
// output's own scale and zero point (a calibrated range [min, 0]: zero point 255).
TEST(OpsLogSoftmax, QuantizedWithinOneLsbOfDequantizeReferenceQuantize) {
  struct Case {
    float sx;
    int zx;
    float sy;
    int zy;
    int outer, len, inner;
  };
  const float full10 = (0.1f * 255.f + std::log(10.f)) / 255.f;
  for (const Case& c : {Case{0.1f, 128, full10, 255, 4, 10, 1}, Case{0.05f, 3, 0.04f, 255, 2, 7, 3},
                        Case{0.2f, 250, 0.1f, 230, 1, 1, 5}}) {
    SCOPED_TRACE(c.sx);
    const int n = c.outer * c.len * c.inner;
    const auto x = rand_u8(n, 232);
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {c.outer, c.len, c.inner}, DType::kU8, qp(c.sx, c.zx));
    const int ty = w.add_tensor("y", {c.outer, c.len, c.inner}, DType::kU8, qp(c.sy, c.zy));
    fb::SoftmaxOptionsT o;
    o.axis = 1;
    Opt u;
    u.Set(o);
    w.add_node(OpType::kLogSoftmax, {tx}, {ty}, std::move(u), "log_softmax");
    w.set_inputs({tx});
    w.set_outputs({ty});
    auto out = run_raw(w, {x});
    ASSERT_TRUE(out);
    std::vector<double> xd;
    for (uint8_t q : x) xd.push_back(dequant(q, c.sx, c.zx));
    std::vector<int> want;
    for (double v : ref_log_softmax(xd, c.outer, c.len, c.inner)) {
      want.push_back(quant(v, c.sy, c.zy));
    }
    expect_u8_within1(*out, want);
    int exact = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      exact += (*out)[i] == want[i];
      EXPECT_LE((*out)[i], c.zy) << "log-probabilities are <= 0";
    }
    EXPECT_GE(exact, int(want.size()) * 9 / 10);
  }
}

// ===================================================== Reshape family

TEST(OpsReshape, AliasedChainBetweenNodesAndCopyAtGraphBoundary) {
  // x [2,3,4] -relu-> a -reshape-> b [6,4] -flatten-> c [6,4] -unsqueeze-> d [1,6,4]
  //   -squeeze-> e [6,4] -relu-> y ; plus a direct reshape of x to a graph output.
  const auto x = rand_f(24, 220);
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {2, 3, 4}, DType::kF32);
  const int ta = w.add_tensor("a", {2, 3, 4}, DType::kF32);
  const int tb = w.add_tensor("b", {6, 4}, DType::kF32);
  const int tc = w.add_tensor("c", {6, 4}, DType::kF32);
  const int td = w.add_tensor("d", {1, 6, 4}, DType::kF32);
  const int te = w.add_tensor("e", {6, 4}, DType::kF32);
  const int ty = w.add_tensor("y", {6, 4}, DType::kF32);
  const int tz = w.add_tensor("z", {24}, DType::kF32);
  const std::vector<int32_t> shape_bytes = {6, 4};
  const int tshape = w.add_constant("shape", {2}, DType::kI32, shape_bytes.data(), 8);
  w.add_node(OpType::kRelu, {tx}, {ta}, {}, "relu0");
  Opt r;
  fb::ReshapeOptionsT ro;
  ro.new_shape = {6, 4};
  r.Set(ro);
  w.add_node(OpType::kReshape, {ta, tshape}, {tb}, std::move(r), "reshape");
  Opt f;
  f.Set(fb::FlattenOptionsT{});
  w.add_node(OpType::kFlatten, {tb}, {tc}, std::move(f), "flatten");
  Opt uq;
  uq.Set(squeeze_axes({0}));
  w.add_node(OpType::kUnsqueeze, {tc}, {td}, std::move(uq), "unsqueeze");
  Opt sq;
  sq.Set(squeeze_axes({0}));
  w.add_node(OpType::kSqueeze, {td}, {te}, std::move(sq), "squeeze");
  w.add_node(OpType::kRelu, {te}, {ty}, {}, "relu1");
  w.add_node(OpType::kReshape, {tx}, {tz}, {}, "reshape_out");
  w.set_inputs({tx});
  w.set_outputs({ty, tz});
  auto out_y = run_raw(w, {bytes_of(x)}, 0);
  auto out_z = run_raw(w, {bytes_of(x)}, 1);
  ASSERT_TRUE(out_y && out_z);
  std::vector<double> want_y, want_z;
  for (float v : x) {
    want_y.push_back(std::max(0.f, v));
    want_z.push_back(v);
  }
  expect_near(floats_of(*out_y), want_y, 0);
  expect_near(floats_of(*out_z), want_z, 0);
  EXPECT_EQ((*load_status(w))->nodes()[1].macs, 0);
}

TEST(OpsReshape, QuantizedReshapeKeepsBytes) {
  const auto x = rand_u8(12, 230);
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {3, 4}, DType::kU8, qp(0.1f, 5));
  const int ty = w.add_tensor("y", {2, 2, 3}, DType::kU8, qp(0.1f, 5));
  w.add_node(OpType::kReshape, {tx}, {ty}, {}, "reshape");
  w.set_inputs({tx});
  w.set_outputs({ty});
  auto out = run_raw(w, {x});
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, x);
}

// ============================================================ Transpose

TEST(OpsTranspose, FloatPermAndQuantizedDefaultReverse) {
  {
    const auto x = rand_f(2 * 3 * 4, 240);
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {2, 3, 4}, DType::kF32);
    const int ty = w.add_tensor("y", {4, 2, 3}, DType::kF32);
    Opt u;
    u.Set(perm_options({2, 0, 1}));
    w.add_node(OpType::kTranspose, {tx}, {ty}, std::move(u), "transpose");
    w.set_inputs({tx});
    w.set_outputs({ty});
    auto out = run_raw(w, {bytes_of(x)});
    ASSERT_TRUE(out);
    std::vector<double> want;
    for (int k = 0; k < 4; ++k)
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j) want.push_back(x[(i * 3 + j) * 4 + k]);
    expect_near(floats_of(*out), want, 0);
  }
  {
    const auto x = rand_u8(2 * 3 * 4, 241);
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {2, 3, 4}, DType::kU8, qp(0.5f, 1));
    const int ty = w.add_tensor("y", {4, 3, 2}, DType::kU8, qp(0.5f, 1));
    Opt u;
    u.Set(fb::TransposeOptionsT{});
    w.add_node(OpType::kTranspose, {tx}, {ty}, std::move(u), "transpose");
    w.set_inputs({tx});
    w.set_outputs({ty});
    auto out = run_raw(w, {x});
    ASSERT_TRUE(out);
    std::vector<int> want;
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < 3; ++j)
        for (int i = 0; i < 2; ++i) want.push_back(x[(i * 3 + j) * 4 + k]);
    expect_u8_eq(*out, want);
  }
}

// ================================================================= Pad

TEST(OpsPad, FloatConstantReflectEdge) {
  const int h = 3, wd = 4;
  const auto x = rand_f(h * wd, 250);
  const std::vector<int64_t> pads = {1, 2, 2, 1};  // begins (h, w), ends (h, w)
  for (fb::PadMode mode : {fb::PadMode::CONSTANT, fb::PadMode::REFLECT, fb::PadMode::EDGE}) {
    SCOPED_TRACE(fb::EnumNamePadMode(mode));
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {h, wd}, DType::kF32);
    const int oh = h + 3, ow = wd + 3;
    const int ty = w.add_tensor("y", {oh, ow}, DType::kF32);
    fb::PadOptionsT o;
    o.pads = pads;
    o.mode = mode;
    o.value = 2.5f;
    Opt u;
    u.Set(o);
    w.add_node(OpType::kPad, {tx}, {ty}, std::move(u), "pad");
    w.set_inputs({tx});
    w.set_outputs({ty});
    auto out = run_raw(w, {bytes_of(x)});
    ASSERT_TRUE(out);
    auto src = [&](int i, int dim) {
      if (mode == fb::PadMode::REFLECT) {
        if (i < 0) return -i;
        if (i >= dim) return 2 * (dim - 1) - i;
        return i;
      }
      return std::min(std::max(i, 0), dim - 1);
    };
    std::vector<double> want;
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        const int si = i - 1, sj = j - 2;
        const bool inside = si >= 0 && si < h && sj >= 0 && sj < wd;
        if (!inside && mode == fb::PadMode::CONSTANT) {
          want.push_back(2.5);
        } else {
          want.push_back(x[src(si, h) * wd + src(sj, wd)]);
        }
      }
    expect_near(floats_of(*out), want, 0);
  }
}

TEST(OpsPad, QuantizedConstantValueIsQuantized) {
  const auto x = rand_u8(2 * 2, 260);
  const float s = 0.25f;
  const int z = 10;
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {2, 2}, DType::kU8, qp(s, z));
  const int ty = w.add_tensor("y", {3, 4}, DType::kU8, qp(s, z));
  fb::PadOptionsT o;
  o.pads = {0, 1, 1, 1};
  o.value = 1.3f;  // 1.3 / 0.25 = 5.2 -> 5, + 10 = 15
  Opt u;
  u.Set(o);
  w.add_node(OpType::kPad, {tx}, {ty}, std::move(u), "pad");
  w.set_inputs({tx});
  w.set_outputs({ty});
  auto out = run_raw(w, {x});
  ASSERT_TRUE(out);
  const std::vector<int> want = {15, x[0], x[1], 15, 15, x[2], x[3], 15, 15, 15, 15, 15};
  expect_u8_eq(*out, want);
}

// ================================================ Quantize, Dequantize

TEST(OpsQuantize, QuantizeThenDequantize) {
  const float s = 0.05f;
  const int z = 100;
  std::vector<float> x = rand_f(30, 270, -8, 8);
  x[0] = 1e9f;   // saturates to 255
  x[1] = -1e9f;  // saturates to 0
  x[2] = 0.025f; // 0.5 -> half to even: 0 -> z
  x[3] = 0.075f; // 1.5 -> 2
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {30}, DType::kF32);
  const int tq = w.add_tensor("q", {30}, DType::kU8, qp(s, z));
  const int ty = w.add_tensor("y", {30}, DType::kF32);
  w.add_node(OpType::kQuantize, {tx}, {tq}, {}, "quant");
  w.add_node(OpType::kDequantize, {tq}, {ty}, {}, "dequant");
  w.set_inputs({tx});
  w.set_outputs({tq, ty});
  auto q = run_raw(w, {bytes_of(x)}, 0);
  auto y = run_raw(w, {bytes_of(x)}, 1);
  ASSERT_TRUE(q && y);
  std::vector<int> want_q;
  std::vector<double> want_y;
  for (float v : x) {
    const int qv = requant_f(v / s, z);
    want_q.push_back(qv);
    want_y.push_back(double(s * float(qv - z)));
  }
  EXPECT_EQ(want_q[0], 255);
  EXPECT_EQ(want_q[1], 0);
  EXPECT_EQ(want_q[2], z);
  EXPECT_EQ(want_q[3], z + 2);
  expect_u8_eq(*q, want_q);
  expect_near(floats_of(*y), want_y, 0);
}

// ====================================================== negative tests

// Loads `w` and expects failure with `code` and every fragment in the message.
::testing::AssertionResult fails_with(const ModelWriter& w, StatusCode code,
                                      std::vector<std::string> fragments) {
  auto r = load_status(w);
  if (r.ok()) return ::testing::AssertionFailure() << "the model loaded";
  const Status& s = r.status();
  if (s.code() != code) {
    return ::testing::AssertionFailure() << "code " << status_code_name(s.code()) << ", expected "
                                         << status_code_name(code) << "; message: " << s.message();
  }
  for (const std::string& f : fragments) {
    if (s.message().find(f) == std::string::npos) {
      return ::testing::AssertionFailure() << "message lacks \"" << f << "\": " << s.message();
    }
  }
  return ::testing::AssertionSuccess() << s.message();
}

// A float conv x [1,16,16,8] -> 16 channels, 3x3, pad 1 (output [1,16,16,16]).
ModelWriter float_conv(std::vector<int64_t> y_shape, int groups = 1, int cin = 8) {
  ModelWriter w("test");
  // Node 3 in the message: three Relu nodes come first.
  const int tx = w.add_tensor("x", {1, 16, 16, cin}, DType::kF32);
  int prev = tx;
  for (int i = 0; i < 3; ++i) {
    static const char* const kNames[] = {"relu0", "relu1", "relu2"};
    const int t = w.add_tensor(std::string(kNames[i]) + "_out", {1, 16, 16, cin}, DType::kF32);
    w.add_node(OpType::kRelu, {prev}, {t}, {}, kNames[i]);
    prev = t;
  }
  const int cin_g = groups > 0 && cin % groups == 0 ? cin / groups : cin;
  const int tw = w.add_constant_f32("w", {16, 3, 3, cin_g}, std::vector<float>(16 * 9 * cin_g, 0.1f));
  const int ty = w.add_tensor("y", std::move(y_shape), DType::kF32);
  fb::Conv2DOptionsT o;
  o.pad_top = o.pad_left = o.pad_bottom = o.pad_right = 1;
  o.groups = groups;
  Opt u;
  u.Set(o);
  w.add_node(OpType::kConv2D, {prev, tw, -1}, {ty}, std::move(u), "conv1", {"Conv_0"});
  w.set_inputs({tx});
  w.set_outputs({ty});
  return w;
}

TEST(OpsErrors, ControlModelsLoad) {
  // The builders of the negative tests produce valid models when unmodified.
  auto r = load_status(float_conv({1, 16, 16, 16}));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)->nodes()[3].macs, int64_t(16) * 16 * 16 * 9 * 8);
}

TEST(OpsErrors, WrongStoredOutputShape) {
  EXPECT_TRUE(fails_with(float_conv({1, 8, 8, 16}), StatusCode::kInvalidModel,
                         {"node 3 ('conv1', from ONNX 'Conv_0'): output shape [1,8,8,16] stored, "
                          "inferred [1,16,16,16]"}));
}

TEST(OpsErrors, GroupsDoNotDivideChannels) {
  EXPECT_TRUE(fails_with(float_conv({1, 16, 16, 16}, 3), StatusCode::kInvalidModel,
                         {"node 3 ('conv1', from ONNX 'Conv_0')", "groups = 3",
                          "8 input channels"}));
  EXPECT_TRUE(fails_with(float_conv({1, 16, 16, 16}, 0), StatusCode::kInvalidModel,
                         {"node 3 ('conv1'", "groups = 0 must be >= 1"}));
}

// Quantized FC: x [1,k] -> [1,n], per-tensor weights, optional bias.
ModelWriter qfc(int64_t k, int n, std::vector<int32_t> bias, float bias_scale_factor = 1.f,
                int channel_to_break = -1) {
  const float sx = 0.02f;
  const std::vector<float> sw = {0.01f, 0.02f};
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {1, k}, DType::kU8, qp(sx, 128));
  const int tw = w.add_constant_i8("w", {n, k}, std::vector<int8_t>(size_t(n * k), 1),
                                   qaxis({sw.begin(), sw.begin() + n}, 0));
  int tb = -1;
  if (!bias.empty()) {
    std::vector<float> sb(n);
    for (int c = 0; c < n; ++c) sb[c] = sx * sw[c] * (c == channel_to_break ? bias_scale_factor : 1.f);
    tb = w.add_constant_i32("b", {n}, bias, qaxis(sb, 0));
  }
  const int ty = w.add_tensor("y", {1, n}, DType::kU8, qp(0.05f, 100));
  w.add_node(OpType::kFullyConnected, {tx, tw, tb}, {ty}, {}, "fc", {"Gemm_7"});
  w.set_inputs({tx});
  w.set_outputs({ty});
  return w;
}

TEST(OpsErrors, AccumulatorOverflow) {
  // Control: a small K and bias load.
  EXPECT_TRUE(load_status(qfc(16, 2, {5, -5})).ok());
  // 66,000 * 255 * 127 = 2,137,410,000 fits; 70,000 does not.
  EXPECT_TRUE(load_status(qfc(66000, 1, {})).ok());
  EXPECT_TRUE(fails_with(qfc(70000, 1, {}), StatusCode::kUnsupported,
                         {"node 0 ('fc', from ONNX 'Gemm_7')", "K = 70000", "accumulator"}));
  // Huge bias with a tiny K.
  EXPECT_TRUE(fails_with(qfc(4, 2, {0, INT32_MAX - 1000}), StatusCode::kUnsupported,
                         {"node 0 ('fc'", "max|bias| = 2147482647"}));
}

TEST(OpsErrors, BiasScaleMismatchNamesChannelAndValues) {
  // 1e-7 relative is accepted, 1e-4 is not.
  EXPECT_TRUE(load_status(qfc(8, 2, {1, 2}, 1.0000001f, 1)).ok());
  EXPECT_TRUE(fails_with(qfc(8, 2, {1, 2}, 1.0001f, 1), StatusCode::kInvalidModel,
                         {"node 0 ('fc', from ONNX 'Gemm_7')", "channel 1", "0.0004",
                          "0.02 x weight scale 0.02"}));
}

TEST(OpsErrors, UnsupportedDtypeCombinations) {
  {  // i8 activation into a conv
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {1, 4, 4, 2}, DType::kI8, qp(0.1f, 0));
    const int tw = w.add_constant_i8("w", {2, 1, 1, 2}, {1, 2, 3, 4}, qaxis({0.1f}, -1));
    const int ty = w.add_tensor("y", {1, 4, 4, 2}, DType::kU8, qp(0.1f, 0));
    w.add_node(OpType::kConv2D, {tx, tw}, {ty}, {}, "conv_i8");
    w.set_inputs({tx});
    w.set_outputs({ty});
    EXPECT_TRUE(fails_with(w, StatusCode::kUnsupported, {"node 0 ('conv_i8')", "dtype i8"}));
  }
  {  // f32 + u8
    ModelWriter w("test");
    const int ta = w.add_tensor("a", {4}, DType::kF32);
    const int tb = w.add_tensor("b", {4}, DType::kU8, qp(0.1f, 0));
    const int ty = w.add_tensor("y", {4}, DType::kF32);
    w.add_node(OpType::kAdd, {ta, tb}, {ty}, {}, "mixed_add");
    w.set_inputs({ta, tb});
    w.set_outputs({ty});
    EXPECT_TRUE(fails_with(w, StatusCode::kUnsupported, {"node 0 ('mixed_add')", "'b'", "u8"}));
  }
  {  // float conv with int8 weights
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {1, 4, 4, 2}, DType::kF32);
    const int tw = w.add_constant_i8("w", {2, 1, 1, 2}, {1, 2, 3, 4}, qaxis({0.1f}, -1));
    const int ty = w.add_tensor("y", {1, 4, 4, 2}, DType::kF32);
    w.add_node(OpType::kConv2D, {tx, tw}, {ty}, {}, "conv_mixed");
    w.set_inputs({tx});
    w.set_outputs({ty});
    EXPECT_TRUE(fails_with(w, StatusCode::kUnsupported, {"node 0 ('conv_mixed')", "weights"}));
  }
  {  // quantized relu whose output lacks quantization
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {4}, DType::kU8, qp(0.1f, 0));
    const int ty = w.add_tensor("y", {4}, DType::kU8);
    w.add_node(OpType::kRelu, {tx}, {ty}, {}, "relu_noq");
    w.set_inputs({tx});
    w.set_outputs({ty});
    EXPECT_TRUE(fails_with(w, StatusCode::kInvalidModel,
                           {"node 0 ('relu_noq')", "without quantization parameters"}));
  }
  {  // per-axis quantized activation
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {2, 3}, DType::kU8, {{0.1f, 0.2f}, {0, 0}, 0, 0});
    const int ty = w.add_tensor("y", {2, 3}, DType::kU8, qp(0.1f, 0));
    w.add_node(OpType::kSigmoid, {tx}, {ty}, {}, "sig");
    w.set_inputs({tx});
    w.set_outputs({ty});
    EXPECT_TRUE(fails_with(w, StatusCode::kUnsupported, {"node 0 ('sig')", "per tensor"}));
  }
  {  // quantized matmul with an int32 B
    ModelWriter w("test");
    const int ta = w.add_tensor("a", {2, 3}, DType::kU8, qp(0.1f, 0));
    const int tb = w.add_constant_i32("b", {3, 2}, {1, 2, 3, 4, 5, 6});
    const int ty = w.add_tensor("y", {2, 2}, DType::kU8, qp(0.1f, 0));
    w.add_node(OpType::kMatMul, {ta, tb}, {ty}, {}, "mm_i32");
    w.set_inputs({ta});
    w.set_outputs({ty});
    EXPECT_TRUE(fails_with(w, StatusCode::kUnsupported, {"node 0 ('mm_i32')", "i32"}));
  }
  {  // Quantize into f32
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {4}, DType::kF32);
    const int ty = w.add_tensor("y", {4}, DType::kF32);
    w.add_node(OpType::kQuantize, {tx}, {ty}, {}, "q");
    w.set_inputs({tx});
    w.set_outputs({ty});
    EXPECT_TRUE(fails_with(w, StatusCode::kUnsupported, {"node 0 ('q')", "expected u8"}));
  }
}

// One-input node x -> y with the given shapes/dtypes and options.
ModelWriter single(OpType op, std::vector<int64_t> xs, std::vector<int64_t> ys, Opt options,
                   DType dt = DType::kF32, QuantParams qx = {}, QuantParams qy = {}) {
  ModelWriter w("test");
  const int tx = w.add_tensor("x", std::move(xs), dt, qx);
  const int ty = w.add_tensor("y", std::move(ys), dt, qy);
  w.add_node(op, {tx}, {ty}, std::move(options), "n", {"Src_0"});
  w.set_inputs({tx});
  w.set_outputs({ty});
  return w;
}

template <class T>
Opt opt(T t) {
  Opt u;
  u.Set(std::move(t));
  return u;
}

TEST(OpsErrors, OptionValuesAndShapes) {
  const std::string node = "node 0 ('n', from ONNX 'Src_0')";
  // Options of the wrong type.
  EXPECT_TRUE(fails_with(single(OpType::kRelu, {4}, {4}, opt(fb::ClipOptionsT{})),
                         StatusCode::kInvalidModel, {node, "takes no options", "ClipOptions"}));
  EXPECT_TRUE(fails_with(single(OpType::kSoftmax, {4}, {4}, opt(fb::ConcatOptionsT{})),
                         StatusCode::kInvalidModel, {node, "SoftmaxOptions", "ConcatOptions"}));
  // Pool: pad >= kernel extent; stride 0; control.
  fb::PoolOptionsT p;
  p.kernel_h = p.kernel_w = 2;
  EXPECT_TRUE(load_status(single(OpType::kMaxPool, {1, 4, 4, 1}, {1, 3, 3, 1}, opt(p))).ok());
  fb::PoolOptionsT bad_pad = p;
  bad_pad.pad_top = 2;
  EXPECT_TRUE(fails_with(single(OpType::kMaxPool, {1, 4, 4, 1}, {1, 5, 3, 1}, opt(bad_pad)),
                         StatusCode::kInvalidModel, {node, "pad_top = 2", "kernel extent 2"}));
  fb::PoolOptionsT bad_stride = p;
  bad_stride.stride_w = 0;
  EXPECT_TRUE(fails_with(single(OpType::kAveragePool, {1, 4, 4, 1}, {1, 3, 3, 1}, opt(bad_stride)),
                         StatusCode::kInvalidModel, {node, "stride_w = 0"}));
  // Quantized max pool must keep the quantization.
  EXPECT_TRUE(fails_with(single(OpType::kMaxPool, {1, 4, 4, 1}, {1, 3, 3, 1}, opt(p), DType::kU8,
                                qp(0.1f, 3), qp(0.2f, 3)),
                         StatusCode::kUnsupported, {node, "MaxPool", "scale 0.2"}));
  // Softmax axis, beta.
  fb::SoftmaxOptionsT sm;
  sm.axis = 2;
  EXPECT_TRUE(fails_with(single(OpType::kSoftmax, {2, 3}, {2, 3}, opt(sm)),
                         StatusCode::kInvalidModel, {node, "axis 2"}));
  // Transpose perm.
  EXPECT_TRUE(fails_with(single(OpType::kTranspose, {2, 3, 4}, {4, 3, 2},
                                opt(perm_options({0, 0, 1}))),
                         StatusCode::kInvalidModel, {node, "not a permutation"}));
  EXPECT_TRUE(fails_with(single(OpType::kTranspose, {2, 3, 4}, {2, 3, 4},
                                opt(perm_options({2, 1, 0}))),
                         StatusCode::kInvalidModel, {node, "stored, inferred [4,3,2]"}));
  // Reshape element count.
  EXPECT_TRUE(fails_with(single(OpType::kReshape, {2, 3}, {7}, {}), StatusCode::kInvalidModel,
                         {node, "7 elements", "6 elements"}));
  // Reshape must not change the quantization.
  EXPECT_TRUE(fails_with(single(OpType::kFlatten, {2, 3}, {6}, {}, DType::kU8, qp(0.1f, 3),
                                qp(0.1f, 4)),
                         StatusCode::kUnsupported, {node, "zero point 4"}));
  // Pad: wrong count, negative, reflect too large.
  fb::PadOptionsT pd;
  pd.pads = {1, 1, 1};
  EXPECT_TRUE(fails_with(single(OpType::kPad, {2, 3}, {4, 5}, opt(pd)), StatusCode::kInvalidModel,
                         {node, "3 pads"}));
  pd.pads = {0, -1, 0, 0};
  EXPECT_TRUE(fails_with(single(OpType::kPad, {2, 3}, {2, 2}, opt(pd)), StatusCode::kUnsupported,
                         {node, "negative pads"}));
  pd.pads = {2, 0, 0, 0};
  pd.mode = fb::PadMode::REFLECT;
  EXPECT_TRUE(fails_with(single(OpType::kPad, {2, 3}, {4, 3}, opt(pd)), StatusCode::kInvalidModel,
                         {node, "reflect"}));
  // Concat axis.
  fb::ConcatOptionsT co;
  co.axis = 3;
  EXPECT_TRUE(fails_with(single(OpType::kConcat, {2, 3}, {2, 3}, opt(co)),
                         StatusCode::kInvalidModel, {node, "axis 3"}));
  // Unary shape mismatch.
  EXPECT_TRUE(fails_with(single(OpType::kTanh, {2, 3}, {3, 2}, {}), StatusCode::kInvalidModel,
                         {node, "output shape [3,2] stored, inferred [2,3]"}));
  // Wrong number of inputs.
  {
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {4}, DType::kF32);
    const int ty = w.add_tensor("y", {4}, DType::kF32);
    w.add_node(OpType::kAdd, {tx}, {ty}, {}, "add1");
    w.set_inputs({tx});
    w.set_outputs({ty});
    EXPECT_TRUE(fails_with(w, StatusCode::kInvalidModel, {"node 0 ('add1')", "1 inputs"}));
  }
}

TEST(OpsErrors, MatMulAndBroadcastShapes) {
  {
    ModelWriter w("test");
    const int ta = w.add_tensor("a", {2, 3}, DType::kF32);
    const int tb = w.add_tensor("b", {4, 5}, DType::kF32);
    const int ty = w.add_tensor("y", {2, 5}, DType::kF32);
    w.add_node(OpType::kMatMul, {ta, tb}, {ty}, {}, "mm");
    w.set_inputs({ta, tb});
    w.set_outputs({ty});
    EXPECT_TRUE(fails_with(w, StatusCode::kInvalidModel, {"node 0 ('mm')", "K = 3", "K = 4"}));
  }
  {
    ModelWriter w("test");
    const int ta = w.add_tensor("a", {2, 3}, DType::kF32);
    const int tb = w.add_tensor("b", {4, 3}, DType::kF32);
    const int ty = w.add_tensor("y", {4, 3}, DType::kF32);
    w.add_node(OpType::kMul, {ta, tb}, {ty}, {}, "mul");
    w.set_inputs({ta, tb});
    w.set_outputs({ty});
    EXPECT_TRUE(fails_with(w, StatusCode::kInvalidModel, {"node 0 ('mul')", "do not broadcast"}));
  }
  {  // conv weights don't match input channels
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {1, 4, 4, 3}, DType::kF32);
    const int tw = w.add_constant_f32("w", {2, 1, 1, 2}, {1, 2, 3, 4});
    const int ty = w.add_tensor("y", {1, 4, 4, 2}, DType::kF32);
    w.add_node(OpType::kConv2D, {tx, tw}, {ty}, {}, "conv");
    w.set_inputs({tx});
    w.set_outputs({ty});
    EXPECT_TRUE(fails_with(w, StatusCode::kInvalidModel,
                           {"node 0 ('conv')", "2 input channels per group", "3 channels"}));
  }
}

TEST(OpsErrors, WindowsOfOnlyPaddingAndKernelsThatDoNotFit) {
  const std::string node = "node 0 ('n', from ONNX 'Src_0')";
  // H = 1, kernel 2 with dilation 3, pads 2: the first window's taps are rows
  // -2 and 1, neither inside. (pads < extent 4, so only the window check sees it.)
  fb::PoolOptionsT p;
  p.kernel_h = 2;
  p.dilation_h = 3;
  p.pad_top = 2;
  p.pad_bottom = 2;
  EXPECT_TRUE(fails_with(single(OpType::kMaxPool, {1, 1, 3, 1}, {1, 2, 3, 1}, opt(p)),
                         StatusCode::kInvalidModel, {node, "window at output row 0", "padding"}));
  // Control: without dilation the same pads are fine ([1,1+2+2-2+1] = 4 rows).
  p.dilation_h = 1;
  p.pad_top = p.pad_bottom = 1;
  EXPECT_TRUE(load_status(single(OpType::kMaxPool, {1, 1, 3, 1}, {1, 2, 3, 1}, opt(p))).ok());
  // A conv kernel larger than the padded input.
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {1, 2, 2, 1}, DType::kF32);
  const int tw = w.add_constant_f32("w", {1, 3, 3, 1}, std::vector<float>(9, 1.f));
  const int ty = w.add_tensor("y", {1, 0, 0, 1}, DType::kF32);
  w.add_node(OpType::kConv2D, {tx, tw}, {ty}, {}, "conv");
  w.set_inputs({tx});
  w.set_outputs({ty});
  EXPECT_TRUE(fails_with(w, StatusCode::kInvalidModel, {"node 0 ('conv')", "does not fit"}));
}

TEST(OpsErrors, QuantizedMatMulInt8WeightsOnTheWrongAxis) {
  ModelWriter w("test");
  const int ta = w.add_tensor("a", {2, 3}, DType::kU8, qp(0.1f, 0));
  // Per-axis along K (axis 0) instead of N (axis 1).
  const int tb = w.add_constant_i8("b", {3, 2}, {1, 2, 3, 4, 5, 6}, qaxis({0.1f, 0.2f, 0.3f}, 0));
  const int ty = w.add_tensor("y", {2, 2}, DType::kU8, qp(0.1f, 0));
  w.add_node(OpType::kMatMul, {ta, tb}, {ty}, {}, "mm");
  w.set_inputs({ta});
  w.set_outputs({ty});
  EXPECT_TRUE(fails_with(w, StatusCode::kUnsupported, {"node 0 ('mm')", "axis 0", "axis 1"}));
}

TEST(OpsConv2D, AbsentOptionsMeanDefaults) {
  // 1x1 conv, stride 1, no padding, one group, no activation.
  const auto x = rand_f(1 * 3 * 3 * 2, 280);
  const std::vector<float> wt = {1.f, -2.f, 0.5f, 0.25f, -1.f, 3.f};  // [3,1,1,2]
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {1, 3, 3, 2}, DType::kF32);
  const int tw = w.add_constant_f32("w", {3, 1, 1, 2}, wt);
  const int ty = w.add_tensor("y", {1, 3, 3, 3}, DType::kF32);
  w.add_node(OpType::kConv2D, {tx, tw}, {ty}, {}, "conv");
  w.set_inputs({tx});
  w.set_outputs({ty});
  auto out = run_raw(w, {bytes_of(x)});
  ASSERT_TRUE(out);
  std::vector<double> want;
  for (int p = 0; p < 9; ++p)
    for (int c = 0; c < 3; ++c) want.push_back(double(x[p * 2]) * wt[c * 2] + double(x[p * 2 + 1]) * wt[c * 2 + 1]);
  expect_near(floats_of(*out), want, 1e-6);
}

TEST(OpsErrors, LogSoftmaxAndHardSigmoidOptions) {
  const std::string node = "node 0 ('n', from ONNX 'Src_0')";
  // Controls: valid options load, and neither op counts MACs.
  fb::SoftmaxOptionsT sm;
  sm.axis = -2;
  {
    auto r = load_status(single(OpType::kLogSoftmax, {2, 3}, {2, 3}, opt(sm)));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ((*r)->nodes()[0].macs, 0);
  }
  fb::HardSigmoidOptionsT hs;
  hs.alpha = -1e30f;  // any finite slope and offset
  hs.beta = 7.f;
  {
    auto r = load_status(single(OpType::kHardSigmoid, {2, 3}, {2, 3}, opt(hs)));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ((*r)->nodes()[0].macs, 0);
  }
  // LogSoftmax: axis out of range on either side.
  sm.axis = 2;
  EXPECT_TRUE(fails_with(single(OpType::kLogSoftmax, {2, 3}, {2, 3}, opt(sm)),
                         StatusCode::kInvalidModel, {node, "LogSoftmax axis 2", "[2,3]"}));
  sm.axis = -3;
  EXPECT_TRUE(fails_with(single(OpType::kLogSoftmax, {2, 3}, {2, 3}, opt(sm)),
                         StatusCode::kInvalidModel, {node, "LogSoftmax axis -3"}));
  EXPECT_TRUE(fails_with(single(OpType::kLogSoftmax, {}, {}, {}), StatusCode::kInvalidModel,
                         {node, "LogSoftmax axis -1", "shape []"}));
  // LogSoftmax: beta other than 1 (shared SoftmaxOptions) is unsupported.
  sm.axis = -1;
  for (float beta : {2.f, 0.5f, NAN, INFINITY}) {
    sm.beta = beta;
    EXPECT_TRUE(fails_with(single(OpType::kLogSoftmax, {2, 3}, {2, 3}, opt(sm)),
                           StatusCode::kUnsupported, {node, "LogSoftmax beta", "beta = 1 only"}))
        << beta;
  }
  // Options of the wrong type, both ways.
  EXPECT_TRUE(fails_with(single(OpType::kLogSoftmax, {4}, {4}, opt(hs)), StatusCode::kInvalidModel,
                         {node, "LogSoftmax needs SoftmaxOptions", "HardSigmoidOptions"}));
  EXPECT_TRUE(fails_with(single(OpType::kHardSigmoid, {4}, {4}, opt(fb::LeakyReluOptionsT{})),
                         StatusCode::kInvalidModel,
                         {node, "HardSigmoid needs HardSigmoidOptions", "LeakyReluOptions"}));
  EXPECT_TRUE(fails_with(single(OpType::kSigmoid, {4}, {4}, opt(fb::HardSigmoidOptionsT{})),
                         StatusCode::kInvalidModel,
                         {node, "takes no options", "HardSigmoidOptions"}));
  // HardSigmoid: alpha and beta must be finite.
  hs.alpha = NAN;
  hs.beta = 0.5f;
  EXPECT_TRUE(fails_with(single(OpType::kHardSigmoid, {4}, {4}, opt(hs)), StatusCode::kInvalidModel,
                         {node, "HardSigmoid alpha = nan", "finite"}));
  hs.alpha = 0.2f;
  hs.beta = -INFINITY;
  EXPECT_TRUE(fails_with(single(OpType::kHardSigmoid, {4}, {4}, opt(hs)), StatusCode::kInvalidModel,
                         {node, "beta = -inf", "finite"}));
  // Shapes and output quantization (each writes its own: a calibrated activation).
  EXPECT_TRUE(fails_with(single(OpType::kLogSoftmax, {2, 3}, {3, 2}, {}), StatusCode::kInvalidModel,
                         {node, "output shape [3,2] stored, inferred [2,3]"}));
  EXPECT_TRUE(fails_with(single(OpType::kHardSigmoid, {4}, {4}, {}, DType::kU8, qp(0.1f, 3), {}),
                         StatusCode::kInvalidModel, {node, "without quantization parameters"}));
  EXPECT_TRUE(fails_with(single(OpType::kLogSoftmax, {4}, {4}, {}, DType::kU8, qp(0.1f, 3),
                                {{0.1f, 0.2f, 0.3f, 0.4f}, {0, 0, 0, 0}, 0, 0}),
                         StatusCode::kUnsupported, {node, "output", "per tensor"}));
  {
    ModelWriter w("test");
    const int tx = w.add_tensor("x", {4}, DType::kU8, qp(0.1f, 3));
    const int ty = w.add_tensor("y", {4}, DType::kF32);
    w.add_node(OpType::kLogSoftmax, {tx}, {ty}, {}, "n", {"Src_0"});
    w.set_inputs({tx});
    w.set_outputs({ty});
    EXPECT_TRUE(fails_with(w, StatusCode::kUnsupported, {node, "output", "f32", "expected u8"}));
  }
  // Output parameters differ from the input's: fine for both (not data movement).
  EXPECT_TRUE(load_status(single(OpType::kHardSigmoid, {4}, {4}, {}, DType::kU8, qp(0.1f, 3),
                                 qp(1.f / 255.f, 0)))
                  .ok());
  EXPECT_TRUE(load_status(single(OpType::kLogSoftmax, {4}, {4}, {}, DType::kU8, qp(0.1f, 3),
                                 qp(0.05f, 255)))
                  .ok());
}

// ===================================================== small end-to-end models

// The tail of a classifier (PyTorch's MNIST example ends in log_softmax):
// f32 x -> Quantize -> FullyConnected (u8 x i8) -> LogSoftmax (u8) -> Dequantize.
TEST(OpsEndToEnd, QuantizedClassifierWithLogSoftmax) {
  const int m = 3, k = 16, n = 10;
  const float sx = 0.03f, sl = 0.08f;
  const int zx = 120, zl = 128;
  const auto x = rand_f(m * k, 240, -3.5f, 3.5f);
  const auto wt = rand_i8(n * k, 241);
  const auto b = rand_i32(n, 242, -3000, 3000);
  std::vector<float> sw(n), sb(n);
  for (int c = 0; c < n; ++c) {
    sw[c] = 0.004f + 0.0005f * c;
    sb[c] = sx * sw[c];
  }
  // Output range [-(255 * sl + log n), 0], zero point 255.
  const float sy = (255.f * sl + std::log(float(n))) / 255.f;
  const int zy = 255;
  ModelWriter w("test");
  const int tx = w.add_tensor("x", {m, k}, DType::kF32);
  const int txq = w.add_tensor("x_q", {m, k}, DType::kU8, qp(sx, zx));
  const int tw = w.add_constant_i8("w", {n, k}, wt, qaxis(sw, 0));
  const int tb = w.add_constant_i32("b", {n}, b, qaxis(sb, 0));
  const int tl = w.add_tensor("logits", {m, n}, DType::kU8, qp(sl, zl));
  const int tyq = w.add_tensor("log_probs_q", {m, n}, DType::kU8, qp(sy, zy));
  const int ty = w.add_tensor("log_probs", {m, n}, DType::kF32);
  w.add_node(OpType::kQuantize, {tx}, {txq}, {}, "quantize");
  w.add_node(OpType::kFullyConnected, {txq, tw, tb}, {tl}, {}, "fc", {"Gemm_0"});
  Opt u;
  u.Set(fb::SoftmaxOptionsT{});
  w.add_node(OpType::kLogSoftmax, {tl}, {tyq}, std::move(u), "log_softmax", {"LogSoftmax_1"});
  w.add_node(OpType::kDequantize, {tyq}, {ty}, {}, "dequantize");
  w.set_inputs({tx});
  w.set_outputs({ty});

  // Expected: exact integer stages, then log-softmax within one output LSB.
  std::vector<double> logits;
  for (int r = 0; r < m; ++r)
    for (int c = 0; c < n; ++c) {
      int64_t acc = b[c];
      for (int i = 0; i < k; ++i) acc += int64_t(quant(x[r * k + i], sx, zx) - zx) * wt[c * k + i];
      logits.push_back(dequant(requant(acc, (sx * sw[c]) / sl, zl), sl, zl));
    }
  const std::vector<double> want = ref_log_softmax(logits, m, n, 1);

  auto model = load_status(w);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  auto session = Session::create(*model);
  ASSERT_TRUE(session.ok()) << session.status().to_string();
  ASSERT_TRUE((*session)->set_input(0, x).ok());
  ASSERT_TRUE((*session)->run().ok());
  std::vector<float> got(m * n);
  ASSERT_TRUE((*session)->get_output(0, got).ok());
  for (int r = 0; r < m; ++r) {
    double prob_sum = 0;
    for (int c = 0; c < n; ++c) {
      const size_t i = static_cast<size_t>(r * n + c);
      EXPECT_NEAR(got[i], want[i], 1.0001 * sy) << "row " << r << " class " << c;
      EXPECT_LE(got[i], 0.f);
      prob_sum += std::exp(double(got[i]));
    }
    EXPECT_NEAR(prob_sum, 1.0, 0.1) << "row " << r;
    // The predicted class is the logits' argmax.
    const auto row = got.begin() + r * n;
    const auto lrow = logits.begin() + r * n;
    EXPECT_EQ(*std::max_element(lrow, lrow + n), lrow[std::max_element(row, row + n) - row]);
  }
}

// A squeeze-excitation style gate (MobileNetV3): y = x * HardSigmoid(x), in
// float and quantized (HardSigmoid output calibrated to [0, 1]).
TEST(OpsEndToEnd, HardSigmoidGateFloatAndQuantized) {
  const std::vector<int64_t> shape = {1, 4, 4, 8};
  const int n = 4 * 4 * 8;
  const auto x = rand_f(n, 250, -6.f, 6.f);
  auto gate = [](double v) { return std::min(1.0, std::max(0.0, v / 6.0 + 0.5)); };
  auto build = [&](DType dt, QuantParams qx, QuantParams qg, QuantParams qy) {
    ModelWriter w("test");
    const int tx = w.add_tensor("x", shape, dt, qx);
    const int tg = w.add_tensor("gate", shape, dt, qg);
    const int ty = w.add_tensor("y", shape, dt, qy);
    fb::HardSigmoidOptionsT o;
    o.alpha = 1.f / 6.f;
    o.beta = 0.5f;
    Opt u;
    u.Set(o);
    w.add_node(OpType::kHardSigmoid, {tx}, {tg}, std::move(u), "hsigmoid", {"HardSigmoid_0"});
    w.add_node(OpType::kMul, {tx, tg}, {ty}, {}, "gate_mul", {"Mul_1"});
    w.set_inputs({tx});
    w.set_outputs({ty});
    return w;
  };
  {
    auto out = run_raw(build(DType::kF32, {}, {}, {}), {bytes_of(x)});
    ASSERT_TRUE(out);
    std::vector<double> want;
    for (float v : x) want.push_back(v * gate(v));
    expect_near(floats_of(*out), want, 1e-6);
  }
  {
    const float sx = 0.05f, sg = 1.f / 255.f, sy = 0.03f;
    const int zx = 120, zg = 0, zy = 13;
    ModelWriter w = build(DType::kU8, qp(sx, zx), qp(sg, zg), qp(sy, zy));
    std::vector<uint8_t> xq;
    for (float v : x) xq.push_back(static_cast<uint8_t>(quant(v, sx, zx)));
    auto out = run_raw(w, {xq});
    ASSERT_TRUE(out);
    for (int i = 0; i < n; ++i) {
      const double xv = dequant(xq[i], sx, zx);
      // The gate is within one LSB (1/255), then Mul rounds once more.
      const double tol = std::fabs(xv) * sg + 0.5001 * sy;
      const double want =
          std::min(dequant(255, sy, zy), std::max(dequant(0, sy, zy), xv * gate(xv)));
      EXPECT_NEAR(dequant((*out)[i], sy, zy), want, tol) << "x=" << xv;
    }
  }
}

}  // namespace
}  // namespace quanta
