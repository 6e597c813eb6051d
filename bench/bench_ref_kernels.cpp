// Baseline throughput of the reference kernels (plain scalar C++). Optimized
// kernels are measured against these numbers. Every benchmark reports
// items/s (output elements), bytes/s (input + weight + output bytes touched
// once) and, for ops with multiply-accumulates, a "GMAC/s" rate.
//
//   ./bench_ref_kernels --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "quanta/kernels/ref.h"

namespace qk = quanta::kernels;

namespace {

std::vector<uint8_t> RandU8(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& e : v) e = static_cast<uint8_t>(d(rng));
  return v;
}

std::vector<int8_t> RandI8(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-127, 127);
  std::vector<int8_t> v(n);
  for (auto& e : v) e = static_cast<int8_t>(d(rng));
  return v;
}

std::vector<float> RandF(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& e : v) e = d(rng);
  return v;
}

void SetCounters(benchmark::State& state, double outputs, double bytes, double macs) {
  const double it = static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<int64_t>(it * outputs));
  state.SetBytesProcessed(static_cast<int64_t>(it * bytes));
  if (macs > 0)
    state.counters["GMAC/s"] = benchmark::Counter(it * macs * 1e-9, benchmark::Counter::kIsRate);
}

qk::Conv2DParams ConvParams(int hw, int cin, int cout, int groups) {
  qk::Conv2DParams p;
  p.h = p.w = hw;
  p.cin = cin;
  p.cout = cout;
  p.kh = p.kw = 3;
  p.pad_top = p.pad_left = 1;
  p.groups = groups;
  p.oh = p.ow = hw;
  return p;
}

// args: spatial size, cin, cout, groups
void BM_qu8_conv2d_3x3(benchmark::State& state) {
  const qk::Conv2DParams p =
      ConvParams(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                 static_cast<int>(state.range(2)), static_cast<int>(state.range(3)));
  const size_t nx = size_t(p.h) * p.w * p.cin, nw = size_t(p.cout) * 9 * (p.cin / p.groups),
               ny = size_t(p.oh) * p.ow * p.cout;
  const auto x = RandU8(nx, 1);
  const auto w = RandI8(nw, 2);
  std::vector<int32_t> bias(size_t(p.cout), 100);
  std::vector<float> m(size_t(p.cout), 1e-3f);
  std::vector<uint8_t> y(ny);
  for (auto _ : state) {
    qk::qu8_conv2d_minmax_fp32__ref(p, x.data(), 128, w.data(), bias.data(), m.data(), 128,
                                    qk::QRange{}, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, double(ny), double(nx + nw + ny), double(ny) * 9 * (p.cin / p.groups));
}
BENCHMARK(BM_qu8_conv2d_3x3)
    ->ArgNames({"hw", "cin", "cout", "groups"})
    ->Args({32, 16, 16, 1})
    ->Args({56, 144, 144, 144})
    ->Args({28, 144, 144, 144});

void BM_f32_conv2d_3x3(benchmark::State& state) {
  const qk::Conv2DParams p =
      ConvParams(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                 static_cast<int>(state.range(2)), static_cast<int>(state.range(3)));
  const size_t nx = size_t(p.h) * p.w * p.cin, nw = size_t(p.cout) * 9 * (p.cin / p.groups),
               ny = size_t(p.oh) * p.ow * p.cout;
  const auto x = RandF(nx, 1);
  const auto w = RandF(nw, 2);
  const auto b = RandF(size_t(p.cout), 3);
  std::vector<float> y(ny);
  for (auto _ : state) {
    qk::f32_conv2d__ref(p, x.data(), w.data(), b.data(), qk::FRange{}, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, double(ny), 4.0 * double(nx + nw + ny), double(ny) * 9 * (p.cin / p.groups));
}
BENCHMARK(BM_f32_conv2d_3x3)
    ->ArgNames({"hw", "cin", "cout", "groups"})
    ->Args({32, 16, 16, 1})
    ->Args({56, 144, 144, 144});

// args: m, k, n
void BM_qu8_fully_connected(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0)), k = static_cast<int>(state.range(1)),
            n = static_cast<int>(state.range(2));
  const auto x = RandU8(size_t(m) * k, 1);
  const auto w = RandI8(size_t(n) * k, 2);
  std::vector<int32_t> bias(size_t(n), -1000);
  std::vector<float> mult(size_t(n), 1e-3f);
  std::vector<uint8_t> y(size_t(m) * n);
  for (auto _ : state) {
    qk::qu8_fully_connected_minmax_fp32__ref(m, k, n, x.data(), w.data(), bias.data(), mult.data(),
                                             0, qk::QRange{}, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, double(m) * n, double(m) * k + double(n) * k + double(m) * n,
              double(m) * k * n);
}
BENCHMARK(BM_qu8_fully_connected)
    ->ArgNames({"m", "k", "n"})
    ->Args({1, 640, 128})
    ->Args({16, 640, 128});

void BM_f32_fully_connected(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0)), k = static_cast<int>(state.range(1)),
            n = static_cast<int>(state.range(2));
  const auto x = RandF(size_t(m) * k, 1);
  const auto w = RandF(size_t(n) * k, 2);
  const auto b = RandF(size_t(n), 3);
  std::vector<float> y(size_t(m) * n);
  for (auto _ : state) {
    qk::f32_fully_connected__ref(m, k, n, x.data(), w.data(), b.data(), qk::FRange{}, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, double(m) * n, 4.0 * (double(m) * k + double(n) * k + double(m) * n),
              double(m) * k * n);
}
BENCHMARK(BM_f32_fully_connected)->ArgNames({"m", "k", "n"})->Args({1, 640, 128});

void BM_qu8_matmul(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0)), k = static_cast<int>(state.range(1)),
            n = static_cast<int>(state.range(2));
  const auto a = RandU8(size_t(m) * k, 1);
  const auto b = RandU8(size_t(k) * n, 2);
  std::vector<uint8_t> y(size_t(m) * n);
  for (auto _ : state) {
    qk::qu8_matmul_minmax_fp32__ref(m, k, n, a.data(), 128, b.data(), 128, 1e-4f, 128, qk::QRange{},
                                    y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, double(m) * n, double(m) * k + double(k) * n + double(m) * n,
              double(m) * k * n);
}
BENCHMARK(BM_qu8_matmul)->ArgNames({"m", "k", "n"})->Args({64, 64, 64})->Args({128, 64, 128});

void BM_f32_matmul(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0)), k = static_cast<int>(state.range(1)),
            n = static_cast<int>(state.range(2));
  const auto a = RandF(size_t(m) * k, 1);
  const auto b = RandF(size_t(k) * n, 2);
  std::vector<float> y(size_t(m) * n);
  for (auto _ : state) {
    qk::f32_matmul__ref(m, k, n, a.data(), b.data(), qk::FRange{}, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, double(m) * n, 4.0 * (double(m) * k + double(k) * n + double(m) * n),
              double(m) * k * n);
}
BENCHMARK(BM_f32_matmul)->ArgNames({"m", "k", "n"})->Args({64, 64, 64});

// arg: number of elements; second arg 1 = broadcast a row of 64 channels
void BM_qu8_add(benchmark::State& state) {
  const int64_t n = state.range(0);
  const bool row = state.range(1) != 0;
  const int64_t a_shape[2] = {n / 64, 64};
  const int64_t b_full[2] = {n / 64, 64};
  const int64_t b_row[1] = {64};
  qk::BroadcastShape s;
  if (!qk::make_broadcast(2, a_shape, row ? 1 : 2, row ? b_row : b_full, &s)) {
    state.SkipWithError("broadcast");
    return;
  }
  const auto a = RandU8(size_t(n), 1);
  const auto b = RandU8(size_t(row ? 64 : n), 2);
  qk::QAddParams p;
  p.za = 128;
  p.zb = 100;
  p.zy = 120;
  p.ma = 0.7f;
  p.mb = 0.4f;
  std::vector<uint8_t> y(static_cast<size_t>(n));
  for (auto _ : state) {
    qk::qu8_add_minmax_fp32__ref(s, a.data(), b.data(), p, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, double(n), double(n) * 2 + double(b.size()), 0);
}
BENCHMARK(BM_qu8_add)->ArgNames({"n", "row"})->Args({64 * 1024, 0})->Args({64 * 1024, 1});

void BM_f32_add(benchmark::State& state) {
  const int64_t n = state.range(0);
  const int64_t shape[1] = {n};
  qk::BroadcastShape s;
  qk::make_broadcast(1, shape, 1, shape, &s);
  const auto a = RandF(size_t(n), 1);
  const auto b = RandF(size_t(n), 2);
  std::vector<float> y(static_cast<size_t>(n));
  for (auto _ : state) {
    qk::f32_add__ref(s, a.data(), b.data(), qk::FRange{}, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, double(n), 12.0 * double(n), 0);
}
BENCHMARK(BM_f32_add)->Arg(64 * 1024);

void BM_qu8_avgpool_3x3(benchmark::State& state) {
  qk::Pool2DParams p;
  p.h = p.w = static_cast<int>(state.range(0));
  p.c = static_cast<int>(state.range(1));
  p.kh = p.kw = 3;
  p.pad_top = p.pad_left = 1;
  p.oh = p.ow = p.h;
  const size_t n = size_t(p.h) * p.w * p.c;
  const auto x = RandU8(n, 1);
  std::vector<uint8_t> y(n);
  for (auto _ : state) {
    qk::qu8_avgpool_minmax_fp32__ref(p, x.data(), 128, 1.f, 128, qk::QRange{}, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, double(n), 2.0 * double(n), 9.0 * double(n));
}
BENCHMARK(BM_qu8_avgpool_3x3)->ArgNames({"hw", "c"})->Args({32, 32});

void BM_qu8_global_avgpool(benchmark::State& state) {
  const int64_t hw = state.range(0);
  const int c = static_cast<int>(state.range(1));
  const auto x = RandU8(size_t(hw) * c, 1);
  std::vector<uint8_t> y(static_cast<size_t>(c));
  for (auto _ : state) {
    qk::qu8_global_avgpool_minmax_fp32__ref(1, hw, c, x.data(), 128, 1.f, 128, qk::QRange{},
                                            y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, double(c), double(hw) * c + c, double(hw) * c);
}
BENCHMARK(BM_qu8_global_avgpool)->ArgNames({"hw", "c"})->Args({49, 1280});

void BM_u8_lut(benchmark::State& state) {
  const int64_t n = state.range(0);
  qk::UnaryParams up;
  up.op = qk::UnaryOp::kSigmoid;
  uint8_t lut[256];
  qk::build_lut_u8(up, 0.05f, 128, 1.f / 256.f, 0, lut);
  const auto x = RandU8(size_t(n), 1);
  std::vector<uint8_t> y(static_cast<size_t>(n));
  for (auto _ : state) {
    qk::u8_lut__ref(n, x.data(), lut, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, double(n), 2.0 * double(n), 0);
}
BENCHMARK(BM_u8_lut)->Arg(64 * 1024);

void BM_build_lut_u8_gelu(benchmark::State& state) {
  qk::UnaryParams up;
  up.op = qk::UnaryOp::kGelu;
  uint8_t lut[256];
  for (auto _ : state) {
    qk::build_lut_u8(up, 0.05f, 128, 0.03f, 20, lut);
    benchmark::DoNotOptimize(lut);
  }
  SetCounters(state, 256.0, 256.0, 0);
}
BENCHMARK(BM_build_lut_u8_gelu);

// args: outer, axis length
void BM_qu8_softmax(benchmark::State& state) {
  const int64_t outer = state.range(0), axis = state.range(1);
  float table[256];
  qk::build_softmax_exp_table(1.f, 0.1f, table);
  const auto x = RandU8(size_t(outer * axis), 1);
  std::vector<uint8_t> y(x.size());
  for (auto _ : state) {
    qk::qu8_softmax__ref(outer, axis, 1, x.data(), table, 1.f / 256.f, 0, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, double(x.size()), 2.0 * double(x.size()), 0);
}
BENCHMARK(BM_qu8_softmax)->ArgNames({"outer", "axis"})->Args({16, 1000})->Args({1024, 16});

void BM_f32_softmax(benchmark::State& state) {
  const int64_t outer = state.range(0), axis = state.range(1);
  const auto x = RandF(size_t(outer * axis), 1);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    qk::f32_softmax__ref(outer, axis, 1, 1.f, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, double(x.size()), 8.0 * double(x.size()), 0);
}
BENCHMARK(BM_f32_softmax)->ArgNames({"outer", "axis"})->Args({16, 1000});

}  // namespace

BENCHMARK_MAIN();
