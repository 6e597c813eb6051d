// Pooling, Quantize/Dequantize and dense Mul: reference vs AVX2 (x86_misc.h).
// Reports GB/s = (input + output bytes) per second, one thread.
//
//   ./bench_x86_misc --benchmark_min_time=0.3
//
// Shapes:
//   MaxPool 3x3 s2 p1, 112x112x64 -> 56x56 (ResNet stem)
//   AvgPool 3x3 s1 p1 (count_include_pad = false), 28x28x192 (Inception)
//   AvgPool 2x2 s2, 56x56x144
//   GlobalAveragePool 7x7x1280 (MobileNetV2 head), 25x5x64 (DS-CNN head)
//   Quantize / Dequantize 224x224x3 (an image input), Mul 56x56x144
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "quanta/kernels/tier.h"
#include "quanta/kernels/ref.h"
#include "quanta/kernels/x86_misc.h"

namespace qk = quanta::kernels;

namespace {

std::vector<uint8_t> RandU8(size_t n) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& e : v) e = static_cast<uint8_t>(d(rng));
  return v;
}

bool NeedAvx2(benchmark::State& state) {
  if (qk::cpu_supports(qk::Tier::kAvx2)) return true;
  state.SkipWithError("CPU lacks AVX2");
  return false;
}

void Bytes(benchmark::State& state, double bytes) {
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * bytes * 1e-9,
                                              benchmark::Counter::kIsRate);
}

struct PoolShape {
  int h, w, c, k, s, pad;
};
constexpr PoolShape kMax[] = {{112, 112, 64, 3, 2, 1}};
constexpr PoolShape kAvg[] = {{28, 28, 192, 3, 1, 1}, {56, 56, 144, 2, 2, 0}};

qk::Pool2DParams MakePool(const PoolShape& s) {
  qk::Pool2DParams p;
  p.h = s.h;
  p.w = s.w;
  p.c = s.c;
  p.kh = p.kw = s.k;
  p.stride_h = p.stride_w = s.s;
  p.pad_top = p.pad_left = s.pad;
  p.oh = static_cast<int>(qk::window_out_dim(s.h, s.k, s.s, 1, s.pad, s.pad));
  p.ow = static_cast<int>(qk::window_out_dim(s.w, s.k, s.s, 1, s.pad, s.pad));
  return p;
}

template <bool kAvx2>
void BM_MaxPool(benchmark::State& state) {
  if (kAvx2 && !NeedAvx2(state)) return;
  const qk::Pool2DParams p = MakePool(kMax[state.range(0)]);
  const auto x = RandU8(static_cast<size_t>(p.h) * p.w * p.c);
  std::vector<uint8_t> y(static_cast<size_t>(p.oh) * p.ow * p.c);
  for (auto _ : state) {
    if (kAvx2) {
      qk::u8_maxpool_minmax__avx2_c32(p, x.data(), qk::QRange{}, y.data());
    } else {
      qk::u8_maxpool_minmax__ref(p, x.data(), qk::QRange{}, y.data());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  Bytes(state, static_cast<double>(x.size() + y.size()));
}

template <bool kAvx2>
void BM_AvgPool(benchmark::State& state) {
  if (kAvx2 && !NeedAvx2(state)) return;
  const qk::Pool2DParams p = MakePool(kAvg[state.range(0)]);
  const auto x = RandU8(static_cast<size_t>(p.h) * p.w * p.c);
  std::vector<uint8_t> y(static_cast<size_t>(p.oh) * p.ow * p.c);
  for (auto _ : state) {
    if (kAvx2) {
      qk::qu8_avgpool_minmax_fp32__avx2_c32(p, x.data(), 128, 0.9f, 120, qk::QRange{}, y.data());
    } else {
      qk::qu8_avgpool_minmax_fp32__ref(p, x.data(), 128, 0.9f, 120, qk::QRange{}, y.data());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  Bytes(state, static_cast<double>(x.size() + y.size()));
}

constexpr int kGap[][2] = {{49, 1280}, {125, 64}};

template <bool kAvx2>
void BM_GlobalAvgPool(benchmark::State& state) {
  if (kAvx2 && !NeedAvx2(state)) return;
  const int64_t hw = kGap[state.range(0)][0];
  const int c = kGap[state.range(0)][1];
  const auto x = RandU8(static_cast<size_t>(hw) * c);
  std::vector<uint8_t> y(static_cast<size_t>(c));
  for (auto _ : state) {
    if (kAvx2) {
      qk::qu8_global_avgpool_minmax_fp32__avx2_c32(1, hw, c, x.data(), 3, 0.5f, 7, qk::QRange{},
                                                   y.data());
    } else {
      qk::qu8_global_avgpool_minmax_fp32__ref(1, hw, c, x.data(), 3, 0.5f, 7, qk::QRange{},
                                              y.data());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  Bytes(state, static_cast<double>(x.size() + y.size()));
}

constexpr int64_t kImage = 224 * 224 * 3;

template <bool kAvx2>
void BM_Quantize(benchmark::State& state) {
  if (kAvx2 && !NeedAvx2(state)) return;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-3.f, 3.f);
  std::vector<float> x(kImage);
  for (auto& v : x) v = d(rng);
  std::vector<uint8_t> y(kImage);
  for (auto _ : state) {
    if (kAvx2) {
      qk::qu8_quantize__avx2(kImage, x.data(), 0.0235f, 128, y.data());
    } else {
      qk::qu8_quantize__ref(kImage, x.data(), 0.0235f, 128, y.data());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  Bytes(state, static_cast<double>(kImage) * 5);
}

template <bool kAvx2>
void BM_Dequantize(benchmark::State& state) {
  if (kAvx2 && !NeedAvx2(state)) return;
  const auto x = RandU8(kImage);
  std::vector<float> y(kImage);
  for (auto _ : state) {
    if (kAvx2) {
      qk::qu8_dequantize__avx2(kImage, x.data(), 0.0235f, 128, y.data());
    } else {
      qk::qu8_dequantize__ref(kImage, x.data(), 0.0235f, 128, y.data());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  Bytes(state, static_cast<double>(kImage) * 5);
}

template <bool kAvx2>
void BM_Mul(benchmark::State& state) {
  if (kAvx2 && !NeedAvx2(state)) return;
  const int64_t n = 56 * 56 * 144;
  const auto a = RandU8(static_cast<size_t>(n));
  auto b = RandU8(static_cast<size_t>(n));
  std::reverse(b.begin(), b.end());
  std::vector<uint8_t> y(static_cast<size_t>(n));
  qk::QMulParams p;
  p.za = 128;
  p.zb = 3;
  p.zy = 100;
  p.m = 1.f / 300.f;
  const int64_t shape[1] = {n};
  qk::BroadcastShape bs;
  qk::make_broadcast(1, shape, 1, shape, &bs);
  for (auto _ : state) {
    if (kAvx2) {
      qk::qu8_vmul_minmax_fp32__avx2(n, a.data(), b.data(), p, y.data());
    } else {
      qk::qu8_mul_minmax_fp32__ref(bs, a.data(), b.data(), p, y.data());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  Bytes(state, static_cast<double>(n) * 3);
}

BENCHMARK(BM_MaxPool<false>)->Name("BM_MaxPool_Ref")->Arg(0);
BENCHMARK(BM_MaxPool<true>)->Name("BM_MaxPool_Avx2")->Arg(0);
BENCHMARK(BM_AvgPool<false>)->Name("BM_AvgPool_Ref")->Arg(0)->Arg(1);
BENCHMARK(BM_AvgPool<true>)->Name("BM_AvgPool_Avx2")->Arg(0)->Arg(1);
BENCHMARK(BM_GlobalAvgPool<false>)->Name("BM_GlobalAvgPool_Ref")->Arg(0)->Arg(1);
BENCHMARK(BM_GlobalAvgPool<true>)->Name("BM_GlobalAvgPool_Avx2")->Arg(0)->Arg(1);
BENCHMARK(BM_Quantize<false>)->Name("BM_Quantize_Ref");
BENCHMARK(BM_Quantize<true>)->Name("BM_Quantize_Avx2");
BENCHMARK(BM_Dequantize<false>)->Name("BM_Dequantize_Ref");
BENCHMARK(BM_Dequantize<true>)->Name("BM_Dequantize_Avx2");
BENCHMARK(BM_Mul<false>)->Name("BM_Mul_Ref");
BENCHMARK(BM_Mul<true>)->Name("BM_Mul_Avx2");

}  // namespace

BENCHMARK_MAIN();
