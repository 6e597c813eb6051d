// qu8 GEMM: reference (qu8_fully_connected_minmax_fp32__ref) vs the AVX2 kernel
// qu8_gemm_minmax_fp32__avx2_2x8c8, on FullyConnected / GEMM / 1x1-conv shapes.
// Arguments are {M, K, N}; packing is done once, outside the timed loop (as at
// prepare time). Reports "GMAC/s" (M*K*N multiply-accumulates per second).
//
//   ./bench_x86_gemm --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "quanta/kernels/tier.h"
#include "quanta/kernels/ref.h"
#include "quanta/kernels/x86.h"

namespace qk = quanta::kernels;

namespace {

struct Data {
  int m, k, n;
  std::vector<uint8_t> x, y;
  std::vector<int8_t> w;
  std::vector<int32_t> bias;
  std::vector<float> mul;
};

Data Make(int m, int k, int n) {
  Data d{m, k, n, {}, {}, {}, {}, {}};
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> du8(0, 255), di8(-127, 127);
  std::uniform_real_distribution<float> dm(0.5f, 2.f);
  d.x.resize(static_cast<size_t>(m) * static_cast<size_t>(k));
  for (auto& v : d.x) v = static_cast<uint8_t>(du8(rng));
  d.w.resize(static_cast<size_t>(n) * static_cast<size_t>(k));
  for (auto& v : d.w) v = static_cast<int8_t>(di8(rng));
  std::vector<int64_t> folded(static_cast<size_t>(n));
  qk::fold_bias_qs8(n, k, d.w.data(), nullptr, 128, folded.data());
  d.bias.assign(folded.begin(), folded.end());
  d.mul.resize(static_cast<size_t>(n));
  for (auto& v : d.mul) v = dm(rng) / (static_cast<float>(k) * 64.f);
  d.y.resize(static_cast<size_t>(m) * static_cast<size_t>(n));
  return d;
}

void Finish(benchmark::State& state, const Data& d) {
  const double macs = double(d.m) * double(d.k) * double(d.n);
  state.counters["GMAC/s"] =
      benchmark::Counter(double(state.iterations()) * macs * 1e-9, benchmark::Counter::kIsRate);
}

void BM_Ref(benchmark::State& state) {
  Data d = Make(int(state.range(0)), int(state.range(1)), int(state.range(2)));
  for (auto _ : state) {
    qk::qu8_fully_connected_minmax_fp32__ref(d.m, d.k, d.n, d.x.data(), d.w.data(), d.bias.data(),
                                             d.mul.data(), 128, {0, 255}, d.y.data());
    benchmark::DoNotOptimize(d.y.data());
    benchmark::ClobberMemory();
  }
  Finish(state, d);
}

using GemmFn = void (*)(int m, int n, int k, const uint8_t* x, size_t x_stride,
                        const void* packed, int32_t zy, qk::QRange r, uint8_t* y,
                        size_t y_stride);
using GemmResFn = void (*)(int m, int n, int k, const uint8_t* x, size_t x_stride,
                           const void* packed, int32_t zy, qk::QRange r, uint8_t* y,
                           size_t y_stride, const qk::QResidual* res);

// Packs with `pack` (32-byte aligned, as the runtime's arena) and times `run`.
template <typename SizeFn, typename PackFn>
void RunPacked(benchmark::State& state, SizeFn size, PackFn pack, GemmFn run) {
  if (!qk::cpu_supports(qk::Tier::kAvx2)) {
    state.SkipWithError("CPU lacks AVX2");
    return;
  }
  Data d = Make(int(state.range(0)), int(state.range(1)), int(state.range(2)));
  std::vector<unsigned char> packed(size(d.n, d.k) + 32);
  void* p = packed.data() + (32 - reinterpret_cast<uintptr_t>(packed.data()) % 32) % 32;
  pack(d.n, d.k, d.w.data(), d.bias.data(), d.mul.data(), p);
  for (auto _ : state) {
    run(d.m, d.n, d.k, d.x.data(), size_t(d.k), p, 128, {0, 255}, d.y.data(), size_t(d.n));
    benchmark::DoNotOptimize(d.y.data());
    benchmark::ClobberMemory();
  }
  Finish(state, d);
}

// The same with the fused residual Add (y = Add(gemm, skip), QResidual).
template <typename SizeFn, typename PackFn>
void RunPackedResidual(benchmark::State& state, SizeFn size, PackFn pack, GemmResFn run) {
  if (!qk::cpu_supports(qk::Tier::kAvx2)) {
    state.SkipWithError("CPU lacks AVX2");
    return;
  }
  Data d = Make(int(state.range(0)), int(state.range(1)), int(state.range(2)));
  std::vector<unsigned char> packed(size(d.n, d.k) + 32);
  void* p = packed.data() + (32 - reinterpret_cast<uintptr_t>(packed.data()) % 32) % 32;
  pack(d.n, d.k, d.w.data(), d.bias.data(), d.mul.data(), p);
  std::vector<uint8_t> skip(d.y.size());
  std::mt19937 rng(3);
  for (auto& v : skip) v = static_cast<uint8_t>(rng() & 0xFF);
  qk::QResidual res;
  res.data = skip.data();
  res.stride = size_t(d.n);
  res.add.za = 128;
  res.add.zb = 120;
  res.add.zy = 128;
  res.add.ma = 0.6f;
  res.add.mb = 0.9f;
  for (auto _ : state) {
    run(d.m, d.n, d.k, d.x.data(), size_t(d.k), p, 128, {0, 255}, d.y.data(), size_t(d.n), &res);
    benchmark::DoNotOptimize(d.y.data());
    benchmark::ClobberMemory();
  }
  Finish(state, d);
}

void BM_Avx2_3x16c2_Residual(benchmark::State& state) {
  RunPackedResidual(state, qk::qu8_gemm_16c2_packed_size, qk::qu8_gemm_16c2_pack,
                    qk::qu8_gemm_minmax_fp32__avx2_3x16c2);
}

void BM_Avx2_2x8c8(benchmark::State& state) {
  RunPacked(state, qk::qu8_gemm_8c8_packed_size, qk::qu8_gemm_8c8_pack,
            qk::qu8_gemm_minmax_fp32__avx2_2x8c8);
}

void BM_Avx2_3x16c2(benchmark::State& state) {
  RunPacked(state, qk::qu8_gemm_16c2_packed_size, qk::qu8_gemm_16c2_pack,
            qk::qu8_gemm_minmax_fp32__avx2_3x16c2);
}

void Shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N"});
  b->Args({1, 640, 128});    // FullyConnected 1x640 -> 128 (GEMV)
  b->Args({128, 768, 768});  // GEMM 128 x 768 x 768
  b->Args({3136, 24, 144});  // 1x1 conv 24 -> 144 at 56x56
  b->Args({3136, 144, 24});  // 1x1 conv 144 -> 24 at 56x56
  // more MobileNetV2-like 1x1 convs, to choose between the two kernels
  b->Args({12544, 16, 96});  // 16 -> 96 at 112x112
  b->Args({784, 192, 32});   // 192 -> 32 at 28x28
  b->Args({196, 384, 64});   // 384 -> 64 at 14x14
  b->Args({49, 960, 320});   // 960 -> 320 at 7x7
  b->Args({1, 1280, 1000});  // classifier FC
}

}  // namespace

BENCHMARK(BM_Ref)->Apply(Shapes);
BENCHMARK(BM_Avx2_2x8c8)->Apply(Shapes);
BENCHMARK(BM_Avx2_3x16c2)->Apply(Shapes);
BENCHMARK(BM_Avx2_3x16c2_Residual)->ArgNames({"M", "K", "N"})->Args({3136, 144, 24})->Args({784, 192, 32})->Args({12544, 16, 96});

BENCHMARK_MAIN();
