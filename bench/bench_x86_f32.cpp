// fp32 kernels: references (f32_fully_connected__ref, f32_conv2d__ref) vs the
// AVX2+FMA kernels f32_gemm_minmax__avx2_6x16 and f32_dwconv_minmax__avx2_c16,
// on the float baselines of the int8 benches: FC 1x640->128, GEMM 128x768x768,
// 1x1 conv 24->144 and 144->24 at 56x56, depthwise 3x3 144 ch at 56x56
// (stride 1, pad 1). Packing is done once, outside the timed loop (as at
// prepare). Reports "GMAC/s" (multiply-accumulates per second), one thread.
//
//   taskset -c 1 build/bench_x86_f32 --benchmark_min_time=0.5 --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "quanta/kernels/tier.h"
#include "quanta/kernels/ref.h"
#include "quanta/kernels/x86.h"

namespace qk = quanta::kernels;

namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& f : v) f = d(rng);
  return v;
}

const qk::FRange kRelu6{0.f, 6.f};

void SetRate(benchmark::State& state, double macs) {
  state.counters["GMAC/s"] =
      benchmark::Counter(double(state.iterations()) * macs * 1e-9, benchmark::Counter::kIsRate);
}

// ------------------------------------------------- GEMM: args {M, K, N}
void BM_GemmRef(benchmark::State& state) {
  const int m = int(state.range(0)), k = int(state.range(1)), n = int(state.range(2));
  const auto x = Random(size_t(m) * size_t(k), 1), w = Random(size_t(n) * size_t(k), 2),
             b = Random(size_t(n), 3);
  std::vector<float> y(size_t(m) * size_t(n));
  for (auto _ : state) {
    qk::f32_fully_connected__ref(m, k, n, x.data(), w.data(), b.data(), kRelu6, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetRate(state, double(m) * k * n);
}

void BM_GemmAvx2_6x16(benchmark::State& state) {
  if (!qk::cpu_supports(qk::Tier::kAvx2)) {
    state.SkipWithError("no AVX2");
    return;
  }
  const int m = int(state.range(0)), k = int(state.range(1)), n = int(state.range(2));
  const auto x = Random(size_t(m) * size_t(k), 1), w = Random(size_t(n) * size_t(k), 2),
             b = Random(size_t(n), 3);
  std::vector<float> packed(qk::f32_gemm_16_packed_size(n, k) / sizeof(float));
  qk::f32_gemm_16_pack(n, k, w.data(), b.data(), packed.data());
  std::vector<float> y(size_t(m) * size_t(n));
  for (auto _ : state) {
    qk::f32_gemm_minmax__avx2_6x16(m, n, k, x.data(), size_t(k), packed.data(), kRelu6, y.data(),
                                   size_t(n));
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetRate(state, double(m) * k * n);
}

void GemmArgs(benchmark::internal::Benchmark* b) {
  b->Args({1, 640, 128});       // FC 1x640 -> 128
  b->Args({128, 768, 768});     // GEMM
  b->Args({56 * 56, 24, 144});  // 1x1 conv 24 -> 144 at 56x56
  b->Args({56 * 56, 144, 24});  // 1x1 conv 144 -> 24 at 56x56
  b->ArgNames({"M", "K", "N"});
}
BENCHMARK(BM_GemmRef)->Apply(GemmArgs);
BENCHMARK(BM_GemmAvx2_6x16)->Apply(GemmArgs);

// ------------------------------------- depthwise: args {C, H=W, k}, pad k/2
qk::Conv2DParams DwParams(benchmark::State& state) {
  qk::Conv2DParams p;
  p.cin = p.cout = p.groups = int(state.range(0));
  p.h = p.w = int(state.range(1));
  p.kh = p.kw = int(state.range(2));
  p.pad_top = p.pad_left = p.kh / 2;
  p.oh = int(qk::window_out_dim(p.h, p.kh, 1, 1, p.kh / 2, p.kh / 2));
  p.ow = int(qk::window_out_dim(p.w, p.kw, 1, 1, p.kw / 2, p.kw / 2));
  return p;
}

double DwMacs(const qk::Conv2DParams& p) {
  return double(p.oh) * p.ow * p.cout * p.kh * p.kw;
}

void BM_DwRef(benchmark::State& state) {
  const qk::Conv2DParams p = DwParams(state);
  const auto x = Random(size_t(p.h) * size_t(p.w) * size_t(p.cin), 1);
  const auto w = Random(size_t(p.cout) * size_t(p.kh) * size_t(p.kw), 2);
  const auto b = Random(size_t(p.cout), 3);
  std::vector<float> y(size_t(p.oh) * size_t(p.ow) * size_t(p.cout));
  for (auto _ : state) {
    qk::f32_conv2d__ref(p, x.data(), w.data(), b.data(), kRelu6, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetRate(state, DwMacs(p));
}

void BM_DwAvx2_c16(benchmark::State& state) {
  if (!qk::cpu_supports(qk::Tier::kAvx2)) {
    state.SkipWithError("no AVX2");
    return;
  }
  const qk::Conv2DParams p = DwParams(state);
  const auto x = Random(size_t(p.h) * size_t(p.w) * size_t(p.cin), 1);
  const auto w = Random(size_t(p.cout) * size_t(p.kh) * size_t(p.kw), 2);
  const auto b = Random(size_t(p.cout), 3);
  std::vector<float> packed(qk::f32_dwconv_c16_packed_size(p.cout, p.kh, p.kw) / sizeof(float));
  qk::f32_dwconv_c16_pack(p.cout, p.kh, p.kw, w.data(), b.data(), packed.data());
  std::vector<float> y(size_t(p.oh) * size_t(p.ow) * size_t(p.cout));
  for (auto _ : state) {
    qk::f32_dwconv_minmax__avx2_c16(p, x.data(), packed.data(), kRelu6, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetRate(state, DwMacs(p));
}

void DwArgs(benchmark::internal::Benchmark* b) {
  b->Args({144, 56, 3});  // dw 3x3, 144 channels, 56x56
  b->Args({144, 14, 3});  // same, 14x14 (working set in L2)
  b->Args({576, 14, 3});  // dw 3x3, 576 channels (multiple of 64), 14x14
  b->ArgNames({"C", "HW", "k"});
}
BENCHMARK(BM_DwRef)->Apply(DwArgs);
BENCHMARK(BM_DwAvx2_c16)->Apply(DwArgs);

// ------------- general conv (implicit GEMM): args {Cin, Cout, H=W, k, stride}, pad k/2
qk::Conv2DParams ConvParams(benchmark::State& state) {
  qk::Conv2DParams p;
  p.cin = int(state.range(0));
  p.cout = int(state.range(1));
  p.h = p.w = int(state.range(2));
  p.kh = p.kw = int(state.range(3));
  p.stride_h = p.stride_w = int(state.range(4));
  p.pad_top = p.pad_left = p.kh / 2;
  p.oh = int(qk::window_out_dim(p.h, p.kh, p.stride_h, 1, p.kh / 2, p.kh / 2));
  p.ow = int(qk::window_out_dim(p.w, p.kw, p.stride_w, 1, p.kw / 2, p.kw / 2));
  return p;
}

double ConvMacs(const qk::Conv2DParams& p) {
  return double(p.oh) * p.ow * p.cout * p.kh * p.kw * p.cin;
}

void BM_ConvRef(benchmark::State& state) {
  const qk::Conv2DParams p = ConvParams(state);
  const auto x = Random(size_t(p.h) * size_t(p.w) * size_t(p.cin), 1);
  const auto w = Random(size_t(p.cout) * size_t(p.kh) * size_t(p.kw) * size_t(p.cin), 2);
  const auto b = Random(size_t(p.cout), 3);
  std::vector<float> y(size_t(p.oh) * size_t(p.ow) * size_t(p.cout));
  for (auto _ : state) {
    qk::f32_conv2d__ref(p, x.data(), w.data(), b.data(), kRelu6, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetRate(state, ConvMacs(p));
}

void BM_ConvAvx2_igemm6x16(benchmark::State& state) {
  if (!qk::cpu_supports(qk::Tier::kAvx2)) {
    state.SkipWithError("no AVX2");
    return;
  }
  const qk::Conv2DParams p = ConvParams(state);
  const auto x = Random(size_t(p.h) * size_t(p.w) * size_t(p.cin), 1);
  const auto w = Random(size_t(p.cout) * size_t(p.kh) * size_t(p.kw) * size_t(p.cin), 2);
  const auto b = Random(size_t(p.cout), 3);
  const int taps = p.kh * p.kw;
  std::vector<float> packed(qk::f32_gemm_16_packed_size(p.cout, taps * p.cin) / sizeof(float));
  qk::f32_gemm_16_pack(p.cout, taps * p.cin, w.data(), b.data(), packed.data());
  std::vector<int64_t> table(qk::f32_igemm_indirection_count(p));
  qk::f32_igemm_indirection_build(p, table.data());
  const std::vector<float> zero(size_t(p.cin), 0.f);
  const int m = p.n * p.oh * p.ow;
  std::vector<float> y(size_t(m) * size_t(p.cout));
  for (auto _ : state) {
    qk::f32_igemm_minmax__avx2_6x16(m, p.cout, taps, p.cin, x.data(), table.data(), zero.data(),
                                    packed.data(), kRelu6, y.data(), size_t(p.cout));
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetRate(state, ConvMacs(p));
}

void ConvArgs(benchmark::internal::Benchmark* b) {
  b->Args({3, 16, 112, 3, 2});   // stem 3x3 s2 3 -> 16 at 224 -> 112 (input 112 here)
  b->Args({32, 32, 28, 3, 1});   // 3x3 s1 32 -> 32 at 28x28
  b->Args({64, 64, 14, 3, 1});   // 3x3 s1 64 -> 64 at 14x14
  b->ArgNames({"Cin", "Cout", "HW", "k", "s"});
}
BENCHMARK(BM_ConvRef)->Apply(ConvArgs);
BENCHMARK(BM_ConvAvx2_igemm6x16)->Apply(ConvArgs);

}  // namespace

BENCHMARK_MAIN();
