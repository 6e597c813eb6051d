// Single layers as a user sees them: each layer is a small model built with
// ModelWriter, loaded with Model::load_buffer and run through a Session, so
// prepare-time packing and the runtime's dispatch are included. Every layer
// is measured in int8 (u8 activations with per-tensor parameters, i8
// per-channel weights, i32 bias with scale s_x * s_w[c]) and in fp32, for each
// kernel tier this CPU supports (force_tier() before Session::create, since
// kernels are chosen at prepare).
//
// Counters: GMAC/s (rate over real time), pct_peak = GMAC/s / peak * 100,
// where the peak is measured at start-up in this process by a tight loop:
//   int8 rows:  independent vpmaddwd ymm + vpaddd (16 MAC per vpmaddwd),
//               12 accumulators (AVX2 tiers), or vpdpbusd zmm (64 MAC each)
//               when the CPU has AVX-512 VNNI and the tier is avx512vnni;
//   fp32 rows:  independent vfmadd231ps ymm (8 MAC each), 12 accumulators
//               (zmm, 16 MAC, on the avx512vnni tier).
// The peak loops are also registered as benchmarks ("Peak/...") so they are
// printed. Also p50/p90/p99/min microseconds per run and pct_peak_p50 (from
// the median run, robust to preemption on a shared machine).
//
// Rows: <int8|fp32>/<layer>/<tier> on one thread for every tier this CPU
// has; .../<best tier>/2t with SessionOptions::threads = 2 (pct_peak is then
// against twice the one-core peak); .../onednn and .../onednn/2t with the
// oneDNN backend (SessionOptions::backend; every node must be taken by oneDNN,
// else the row fails). On CPUs without VNNI oneDNN's exact int8 path runs two
// primitives per node (docs/onednn.md); MMAC counts the layer's own MACs.
//
//   ./bench_layers --benchmark_min_time=0.3
//   ./bench_layers --benchmark_filter='int8/.*/avx2'
//   (Google Benchmark >= 1.8 also accepts "0.3s")
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "quanta/kernels/tier.h"
#include "quanta/model_writer.hpp"
#include "quanta/quanta.hpp"

namespace {

using quanta::DType;
using quanta::Model;
using quanta::ModelWriter;
using quanta::OpType;
using quanta::QuantParams;
using quanta::Session;
namespace fb = quanta::fb;
namespace qk = quanta::kernels;

// ================================================================ peak loops

volatile int g_sink;  // keeps the accumulators alive

// Every peak loop runs 12 independent accumulators. The loop body is one asm
// statement so the compiler can neither spill the accumulators nor fold,
// hoist or merge the (constant-operand) multiplies; set-up and reduction are
// intrinsics.
#define QUANTA_ACC_OPERANDS(C)                                                        \
  [c0] "+" C(c0), [c1] "+" C(c1), [c2] "+" C(c2), [c3] "+" C(c3), [c4] "+" C(c4),   \
      [c5] "+" C(c5), [c6] "+" C(c6), [c7] "+" C(c7), [c8] "+" C(c8), [c9] "+" C(c9), \
      [c10] "+" C(c10), [c11] "+" C(c11)
#define QUANTA_12(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)

constexpr int kPeakAcc = 12;

// 12 x (vpmaddwd ymm + vpaddd ymm) per iteration: 12 * 16 int16 MACs.
__attribute__((target("avx2,fma"), noinline)) void PeakMaddwdLoop(int64_t iters) {
  const __m256i a = _mm256_set1_epi16(3), b = _mm256_set1_epi16(5);
  __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
          c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
  __m256i t0, t1;
  for (int64_t i = 0; i < iters; ++i) {
    // two temporaries, alternating, so consecutive steps do not share one
    asm volatile(
        "vpmaddwd %[b], %[a], %[t0]\n\tvpaddd %[t0], %[c0], %[c0]\n\t"
        "vpmaddwd %[b], %[a], %[t1]\n\tvpaddd %[t1], %[c1], %[c1]\n\t"
        "vpmaddwd %[b], %[a], %[t0]\n\tvpaddd %[t0], %[c2], %[c2]\n\t"
        "vpmaddwd %[b], %[a], %[t1]\n\tvpaddd %[t1], %[c3], %[c3]\n\t"
        "vpmaddwd %[b], %[a], %[t0]\n\tvpaddd %[t0], %[c4], %[c4]\n\t"
        "vpmaddwd %[b], %[a], %[t1]\n\tvpaddd %[t1], %[c5], %[c5]\n\t"
        "vpmaddwd %[b], %[a], %[t0]\n\tvpaddd %[t0], %[c6], %[c6]\n\t"
        "vpmaddwd %[b], %[a], %[t1]\n\tvpaddd %[t1], %[c7], %[c7]\n\t"
        "vpmaddwd %[b], %[a], %[t0]\n\tvpaddd %[t0], %[c8], %[c8]\n\t"
        "vpmaddwd %[b], %[a], %[t1]\n\tvpaddd %[t1], %[c9], %[c9]\n\t"
        "vpmaddwd %[b], %[a], %[t0]\n\tvpaddd %[t0], %[c10], %[c10]\n\t"
        "vpmaddwd %[b], %[a], %[t1]\n\tvpaddd %[t1], %[c11], %[c11]\n\t"
        : QUANTA_ACC_OPERANDS("x"), [t0] "=&x"(t0), [t1] "=&x"(t1)
        : [a] "x"(a), [b] "x"(b));
  }
  c0 = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                        _mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7)));
  c0 = _mm256_add_epi32(c0, _mm256_add_epi32(_mm256_add_epi32(c8, c9), _mm256_add_epi32(c10, c11)));
  g_sink = _mm256_extract_epi32(c0, 0);
}

#define QUANTA_FMA_STEP(j) "vfmadd231ps %[b], %[a], %[c" #j "]\n\t"
#define QUANTA_DP_STEP(j) "vpdpbusd %[b], %[a], %[c" #j "]\n\t"

// 12 x vfmadd231ps ymm per iteration: 12 * 8 fp32 MACs.
__attribute__((target("avx2,fma"), noinline)) void PeakFmaLoop(int64_t iters) {
  const __m256 a = _mm256_set1_ps(1.0f), b = _mm256_set1_ps(1e-9f);
  __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
         c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
  for (int64_t i = 0; i < iters; ++i) {
    asm volatile(QUANTA_12(QUANTA_FMA_STEP) : QUANTA_ACC_OPERANDS("x") : [a] "x"(a), [b] "x"(b));
  }
  c0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                     _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
  c0 = _mm256_add_ps(c0, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
  g_sink = static_cast<int>(_mm256_cvtss_f32(c0));
}

// 12 x vpdpbusd zmm per iteration: 12 * 64 u8 x i8 MACs (AVX-512 VNNI only).
__attribute__((target("avx512f,avx512bw,avx512vnni"), noinline)) void PeakVnniLoop(
    int64_t iters) {
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(5);
  __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
          c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
  for (int64_t i = 0; i < iters; ++i) {
    asm volatile(QUANTA_12(QUANTA_DP_STEP) : QUANTA_ACC_OPERANDS("v") : [a] "v"(a), [b] "v"(b));
  }
  c0 = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)),
                        _mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7)));
  c0 = _mm512_add_epi32(c0, _mm512_add_epi32(_mm512_add_epi32(c8, c9), _mm512_add_epi32(c10, c11)));
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, c0);
  g_sink = lanes[0];
}

// 12 x vfmadd231ps zmm per iteration: 12 * 16 fp32 MACs (AVX-512 tier rows).
__attribute__((target("avx512f"), noinline)) void PeakFma512Loop(int64_t iters) {
  const __m512 a = _mm512_set1_ps(1.0f), b = _mm512_set1_ps(1e-9f);
  __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
         c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
  for (int64_t i = 0; i < iters; ++i) {
    asm volatile(QUANTA_12(QUANTA_FMA_STEP) : QUANTA_ACC_OPERANDS("v") : [a] "v"(a), [b] "v"(b));
  }
  c0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                     _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
  c0 = _mm512_add_ps(c0, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, c0);
  g_sink = static_cast<int>(lanes[0]);
}

struct PeakKind {
  const char* name;
  void (*loop)(int64_t);
  double macs_per_iter;
  qk::Tier needs;
};

const PeakKind kPeakMaddwd{"int16_vpmaddwd_ymm", PeakMaddwdLoop, kPeakAcc * 16.0, qk::Tier::kAvx2};
const PeakKind kPeakFma{"fp32_vfmadd231ps_ymm", PeakFmaLoop, kPeakAcc * 8.0, qk::Tier::kAvx2};
const PeakKind kPeakVnni{"int8_vpdpbusd_zmm", PeakVnniLoop, kPeakAcc * 64.0, qk::Tier::kAvx512Vnni};
const PeakKind kPeakFma512{"fp32_vfmadd231ps_zmm", PeakFma512Loop, kPeakAcc * 16.0,
                           qk::Tier::kAvx512Vnni};

// GMAC/s of `k`: the best of 10 windows of ~5 ms (~50 ms in all); short
// windows so that one preemption on a shared machine spoils only one.
double MeasurePeak(const PeakKind& k) {
  if (!qk::cpu_supports(k.needs)) return 0;
  constexpr int64_t kChunk = 1 << 14;
  k.loop(kChunk * 8);  // warm-up (clock ramp, AVX power state)
  double best = 0;
  for (int w = 0; w < 10; ++w) {
    int64_t iters = 0;
    const auto t0 = std::chrono::steady_clock::now();
    double s = 0;
    do {
      k.loop(kChunk);
      iters += kChunk;
      s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (s < 0.005);
    best = std::max(best, static_cast<double>(iters) * k.macs_per_iter / s * 1e-9);
  }
  return best;
}

struct Peaks {
  double maddwd = 0, fma = 0, vnni = 0, fma512 = 0;
};
Peaks g_peaks;

void BM_Peak(benchmark::State& state, const PeakKind* k) {
  if (!qk::cpu_supports(k->needs)) {
    state.SkipWithError("CPU lacks the instructions");
    return;
  }
  constexpr int64_t kIters = 1 << 18;
  for (auto _ : state) k->loop(kIters);
  state.counters["GMAC/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(kIters) * k->macs_per_iter *
          1e-9,
      benchmark::Counter::kIsRate);
}

// ================================================================ layer models

enum class Act { kNone, kRelu6 };

// One Conv2D (NHWC, filter OHWI) or FullyConnected node; FC when fc_m > 0.
struct NodeSpec {
  int fc_m = 0, fc_k = 0, fc_n = 0;
  int h = 0, w = 0, cin = 0, cout = 0, kernel = 1, pad = 0, groups = 1;
  Act act = Act::kNone;

  bool fc() const { return fc_m > 0; }
  int dot_len() const { return fc() ? fc_k : kernel * kernel * (cin / groups); }
  int outputs() const { return fc() ? fc_n : cout; }  // output channels
  int oh() const { return h + 2 * pad - kernel + 1; }
  int ow() const { return w + 2 * pad - kernel + 1; }
  double macs() const {
    if (fc()) return double(fc_m) * fc_k * fc_n;
    return double(oh()) * ow() * cout * dot_len();
  }
  std::vector<int64_t> in_shape() const {
    if (fc()) return {fc_m, fc_k};
    return {1, h, w, cin};
  }
  std::vector<int64_t> out_shape() const {
    if (fc()) return {fc_m, fc_n};
    return {1, oh(), ow(), cout};
  }
  std::vector<int64_t> w_shape() const {
    if (fc()) return {fc_n, fc_k};
    return {cout, kernel, kernel, cin / groups};
  }
};

struct LayerSpec {
  std::string name;
  std::vector<NodeSpec> nodes;  // a chain: each node feeds the next
  double macs() const {
    double m = 0;
    for (const auto& n : nodes) m += n.macs();
    return m;
  }
};

NodeSpec Fc(int m, int k, int n) {
  NodeSpec s;
  s.fc_m = m;
  s.fc_k = k;
  s.fc_n = n;
  return s;
}

NodeSpec Conv(int h, int w, int cin, int cout, int kernel, int pad, int groups,
              Act act = Act::kNone) {
  NodeSpec s;
  s.h = h;
  s.w = w;
  s.cin = cin;
  s.cout = cout;
  s.kernel = kernel;
  s.pad = pad;
  s.groups = groups;
  s.act = act;
  return s;
}

std::vector<LayerSpec> Layers() {
  return {
      {"gemm_128x768x768", {Fc(128, 768, 768)}},
      {"conv3x3_64to64_56x56", {Conv(56, 56, 64, 64, 3, 1, 1)}},
      {"mbv2_block_56x56_24_144_24",
       {Conv(56, 56, 24, 144, 1, 0, 1, Act::kRelu6), Conv(56, 56, 144, 144, 3, 1, 144, Act::kRelu6),
        Conv(56, 56, 144, 24, 1, 0, 1)}},
      {"resnet8_conv3x3_16to16_32x32", {Conv(32, 32, 16, 16, 3, 1, 1)}},
      {"dscnn_dw3x3_64_25x5", {Conv(25, 5, 64, 64, 3, 1, 64)}},
      {"dscnn_pw_64to64_25x5", {Conv(25, 5, 64, 64, 1, 0, 1)}},
      {"fc_1x640to128", {Fc(1, 640, 128)}},
  };
}

QuantParams PerTensor(float scale, int32_t zp) {
  QuantParams q;
  q.scale = {scale};
  q.zero_point = {zp};
  q.axis = -1;
  return q;
}

// Every activation: real range [-4, 4).
constexpr float kActScale = 1.0f / 32.0f;
constexpr int32_t kActZp = 128;

std::vector<uint8_t> BuildModel(const LayerSpec& layer, bool quantized) {
  ModelWriter w("bench_layers");
  std::mt19937 rng(1234);
  const DType act_t = quantized ? DType::kU8 : DType::kF32;
  const QuantParams act_q = quantized ? PerTensor(kActScale, kActZp) : QuantParams{};
  const int x = w.add_tensor("x", layer.nodes.front().in_shape(), act_t, act_q);
  int prev = x;
  for (size_t i = 0; i < layer.nodes.size(); ++i) {
    const NodeSpec& n = layer.nodes[i];
    const std::string id = std::to_string(i);
    const int oc = n.outputs();
    const size_t wcount = static_cast<size_t>(oc) * static_cast<size_t>(n.dot_len());
    // Weights of real std ~ 1/sqrt(dot_len): outputs keep the input's range.
    const float wstd = 1.0f / std::sqrt(static_cast<float>(n.dot_len()));
    int wt = 0, b = 0;
    if (quantized) {
      std::uniform_int_distribution<int> di8(-127, 127), dbias(-2000, 2000);
      std::vector<int8_t> wv(wcount);
      for (auto& v : wv) v = static_cast<int8_t>(di8(rng));
      QuantParams qw, qb;
      qw.axis = 0;
      qb.axis = 0;
      for (int c = 0; c < oc; ++c) {
        // int8 uniform std is ~73; vary the scale per channel.
        const float s = wstd / 73.0f * (0.75f + 0.5f * static_cast<float>(c) / oc);
        qw.scale.push_back(s);
        qw.zero_point.push_back(0);
        qb.scale.push_back(kActScale * s);
        qb.zero_point.push_back(0);
      }
      std::vector<int32_t> bv(static_cast<size_t>(oc));
      for (auto& v : bv) v = dbias(rng);
      wt = w.add_constant_i8("w" + id, n.w_shape(), wv, qw);
      b = w.add_constant_i32("b" + id, {oc}, bv, qb);
    } else {
      std::normal_distribution<float> dw(0.0f, wstd), db(0.0f, 0.1f);
      std::vector<float> wv(wcount), bv(static_cast<size_t>(oc));
      for (auto& v : wv) v = dw(rng);
      for (auto& v : bv) v = db(rng);
      wt = w.add_constant_f32("w" + id, n.w_shape(), wv);
      b = w.add_constant_f32("b" + id, {oc}, bv);
    }
    const int y = w.add_tensor("y" + id, n.out_shape(), act_t, act_q);
    fb::OptionsUnion opts;
    const fb::Activation act = n.act == Act::kRelu6 ? fb::Activation::RELU6 : fb::Activation::NONE;
    if (n.fc()) {
      fb::FullyConnectedOptionsT o;
      o.activation = act;
      opts.Set(std::move(o));
      w.add_node(OpType::kFullyConnected, {prev, wt, b}, {y}, std::move(opts), "fc" + id);
    } else {
      fb::Conv2DOptionsT o;
      o.pad_top = o.pad_left = o.pad_bottom = o.pad_right = n.pad;
      o.groups = n.groups;
      o.activation = act;
      opts.Set(std::move(o));
      w.add_node(OpType::kConv2D, {prev, wt, b}, {y}, std::move(opts), "conv" + id);
    }
    prev = y;
  }
  w.set_inputs({x});
  w.set_outputs({prev});
  w.set_description(layer.name);
  return w.finish();
}

// ================================================================ benchmarks

std::vector<std::string> g_failures;

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

struct Case {
  LayerSpec layer;
  bool quantized;
  qk::Tier tier;
  std::string label;
  int threads = 1;
  bool onednn = false;
};

double PeakFor(const Case& c) {
  const bool z = c.tier == qk::Tier::kAvx512Vnni;
  if (c.quantized) return z ? g_peaks.vnni : g_peaks.maddwd;
  return z ? g_peaks.fma512 : g_peaks.fma;
}

void Fail(benchmark::State& state, const Case& c, const std::string& what) {
  const std::string msg = what;
  g_failures.push_back(c.label + ": " + msg);
  state.SkipWithError(msg.c_str());
}

void BM_Layer(benchmark::State& state, const Case* c) {
  if (!qk::force_tier(c->tier)) {
    Fail(state, *c, std::string("force_tier(") + qk::tier_name(c->tier) + ") refused");
    return;
  }
  const std::vector<uint8_t> bytes = BuildModel(c->layer, c->quantized);
  auto model = Model::load_buffer(bytes.data(), bytes.size(), /*copy=*/true);
  if (!model) {
    Fail(state, *c, "load_buffer: " + model.status().to_string());
    return;
  }
  quanta::SessionOptions options;
  options.threads = c->threads;
  options.backend = c->onednn ? quanta::Backend::kOnednn : quanta::Backend::kOwn;
  auto session = Session::create(*model, options);
  if (!session) {
    Fail(state, *c, "Session::create: " + session.status().to_string());
    return;
  }
  Session& s = **session;
  if (c->onednn && s.onednn_nodes() != static_cast<int>(c->layer.nodes.size())) {
    Fail(state, *c,
         "oneDNN took " + std::to_string(s.onednn_nodes()) + " of " +
             std::to_string(c->layer.nodes.size()) + " nodes");
    return;
  }
  // Input: uniform over the activation range.
  const size_t n_in = static_cast<size_t>((*model)->input(0).num_elements);
  std::vector<float> in(n_in);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> du(-4.0f, 4.0f);
  for (auto& v : in) v = du(rng);
  if (auto st = s.set_input(0, in); !st.ok()) {
    Fail(state, *c, "set_input: " + st.to_string());
    return;
  }
  for (int i = 0; i < 3; ++i) {
    if (auto st = s.run(); !st.ok()) {
      Fail(state, *c, "run: " + st.to_string());
      return;
    }
  }
  std::vector<double> ns;
  ns.reserve(1 << 16);
  double total_ns = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const quanta::Status st = s.run();
    const auto t1 = std::chrono::steady_clock::now();
    if (!st.ok()) {
      Fail(state, *c, "run: " + st.to_string());
      break;
    }
    const double t = std::chrono::duration<double, std::nano>(t1 - t0).count();
    total_ns += t;
    if (ns.size() < ns.capacity()) ns.push_back(t);
  }
  qk::force_tier(qk::best_tier());
  const double macs = c->layer.macs();
  const double iters = static_cast<double>(state.iterations());
  state.counters["GMAC/s"] = benchmark::Counter(iters * macs * 1e-9, benchmark::Counter::kIsRate);
  const double peak = PeakFor(*c);
  if (peak > 0 && total_ns > 0) {
    const double cores_peak = peak * c->threads;
    state.counters["pct_peak"] = (iters * macs / total_ns) / cores_peak * 100.0;
    // the same from the median run: robust to preemption on a shared machine
    const double p50 = Percentile(ns, 0.50);
    if (p50 > 0) state.counters["pct_peak_p50"] = (macs / p50) / cores_peak * 100.0;
  }
  state.counters["MMAC"] = macs * 1e-6;
  state.counters["p50_us"] = Percentile(ns, 0.50) * 1e-3;
  state.counters["p90_us"] = Percentile(ns, 0.90) * 1e-3;
  state.counters["p99_us"] = Percentile(ns, 0.99) * 1e-3;
  state.counters["min_us"] = ns.empty() ? 0 : *std::min_element(ns.begin(), ns.end()) * 1e-3;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  g_peaks.maddwd = MeasurePeak(kPeakMaddwd);
  g_peaks.fma = MeasurePeak(kPeakFma);
  g_peaks.vnni = MeasurePeak(kPeakVnni);
  g_peaks.fma512 = MeasurePeak(kPeakFma512);
  std::fprintf(stderr,
               "best tier: %s; start-up peaks (GMAC/s, 1 thread): vpmaddwd ymm %.1f, "
               "vfmadd231ps ymm %.1f, vpdpbusd zmm %.1f, vfmadd231ps zmm %.1f (0 = unsupported)\n",
               qk::tier_name(qk::best_tier()), g_peaks.maddwd, g_peaks.fma, g_peaks.vnni,
               g_peaks.fma512);

  for (const PeakKind* k : {&kPeakMaddwd, &kPeakFma, &kPeakVnni, &kPeakFma512}) {
    if (!qk::cpu_supports(k->needs)) continue;
    benchmark::RegisterBenchmark((std::string("Peak/") + k->name).c_str(), BM_Peak, k)
        ->UseRealTime();
  }

  static std::vector<Case> cases;  // addresses must stay valid while running
  const std::vector<LayerSpec> layers = Layers();
  const qk::Tier best = qk::best_tier();
  for (const bool quantized : {true, false}) {
    for (const LayerSpec& l : layers) {
      const std::string base = std::string(quantized ? "int8/" : "fp32/") + l.name + "/";
      for (const qk::Tier tier : qk::kAllTiers) {
        if (!qk::cpu_supports(tier)) continue;
        cases.push_back({l, quantized, tier, base + qk::tier_name(tier)});
      }
      cases.push_back({l, quantized, best, base + qk::tier_name(best) + "/2t", 2});
      cases.push_back({l, quantized, best, base + "onednn", 1, true});
      cases.push_back({l, quantized, best, base + "onednn/2t", 2, true});
    }
  }
  for (const Case& c : cases) {
    benchmark::RegisterBenchmark(c.label.c_str(), BM_Layer, &c)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (const auto& f : g_failures) std::fprintf(stderr, "FAILED %s\n", f.c_str());
  return 0;
}
