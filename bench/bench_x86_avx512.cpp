// AVX-512 VNNI kernels (x86_avx512.h) on the layer shapes, plus the
// vpdpbusd peak. Counters: GMAC/s (multiply-accumulates per second / 1e9).
// Every benchmark reports an error (SkipWithError) on a CPU without AVX-512
// VNNI. Run: bench_x86_avx512 --benchmark_repetitions=10 --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdint>
#include <random>
#include <vector>

#include "quanta/kernels/tier.h"
#include "quanta/kernels/ref.h"
#include "quanta/kernels/x86.h"
#include "quanta/kernels/x86_avx512.h"

namespace qk = quanta::kernels;

namespace {

bool Unsupported(benchmark::State& state) {
  if (qk::cpu_supports(qk::Tier::kAvx512Vnni)) return false;
  state.SkipWithError("no AVX-512 VNNI on this CPU");
  return true;
}

void SetGmacs(benchmark::State& state, double macs_per_iter) {
  state.counters["GMAC/s"] = benchmark::Counter(macs_per_iter * 1e-9 * state.iterations(),
                                                benchmark::Counter::kIsRate);
}

// 16 independent vpdpbusd chains (64 MACs each per instruction).
__attribute__((target("avx512f,avx512vnni"))) void RunPeak(int64_t iters, int32_t* out) {
  __m512i a[16];
  for (int i = 0; i < 16; ++i) a[i] = _mm512_set1_epi32(i);
  const __m512i x = _mm512_set1_epi32(0x01010101), w = _mm512_set1_epi32(0x02020202);
  for (int64_t it = 0; it < iters; ++it) {
    for (int i = 0; i < 16; ++i) a[i] = _mm512_dpbusd_epi32(a[i], x, w);
    for (int i = 0; i < 16; ++i) __asm__ volatile("" : "+v"(a[i]));
  }
  __m512i s = a[0];
  for (int i = 1; i < 16; ++i) s = _mm512_add_epi32(s, a[i]);
  _mm512_storeu_si512(out, s);
}

void BM_VnniPeak(benchmark::State& state) {
  if (Unsupported(state)) return;
  const int64_t iters = 1 << 16;
  alignas(64) int32_t out[16];
  for (auto _ : state) {
    RunPeak(iters, out);
    benchmark::DoNotOptimize(out);
  }
  SetGmacs(state, static_cast<double>(iters) * 16 * 64);
}
BENCHMARK(BM_VnniPeak);

// GEMM m x n x k (FullyConnected / 1x1 conv).
void BM_Gemm(benchmark::State& state) {
  if (Unsupported(state)) return;
  const int m = static_cast<int>(state.range(0)), n = static_cast<int>(state.range(1)),
            k = static_cast<int>(state.range(2));
  std::mt19937 rng(1);
  std::vector<uint8_t> x(static_cast<size_t>(m) * k);
  std::vector<int8_t> w(static_cast<size_t>(n) * k);
  for (auto& v : x) v = static_cast<uint8_t>(rng());
  for (auto& v : w) v = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  std::vector<int32_t> bias(n, 100);
  std::vector<float> mul(n, 1e-4f);
  std::vector<unsigned char> packed(qk::qu8_gemm_16c4_packed_size(n, k));
  qk::qu8_gemm_16c4_pack(n, k, w.data(), bias.data(), mul.data(), packed.data());
  std::vector<uint8_t> y(static_cast<size_t>(m) * n);
  for (auto _ : state) {
    qk::qu8_gemm_minmax_fp32__avx512vnni_8x32c4(m, n, k, x.data(), k, packed.data(), 128,
                                                {0, 255}, y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  SetGmacs(state, double(m) * n * k);
}
BENCHMARK(BM_Gemm)->Args({128, 768, 768})->Args({1, 128, 640})->ArgNames({"m", "n", "k"});

// conv kh x kw, cin -> cout at h x w, stride 1, same padding.
void BM_Igemm(benchmark::State& state) {
  if (Unsupported(state)) return;
  qk::Conv2DParams p;
  p.h = p.w = static_cast<int>(state.range(0));
  p.cin = static_cast<int>(state.range(1));
  p.cout = static_cast<int>(state.range(2));
  p.kh = p.kw = static_cast<int>(state.range(3));
  p.pad_top = p.pad_left = p.kh / 2;
  p.oh = static_cast<int>(qk::window_out_dim(p.h, p.kh, 1, 1, p.kh / 2, p.kh / 2));
  p.ow = static_cast<int>(qk::window_out_dim(p.w, p.kw, 1, 1, p.kw / 2, p.kw / 2));
  std::mt19937 rng(2);
  std::vector<uint8_t> x(static_cast<size_t>(p.h) * p.w * p.cin);
  std::vector<int8_t> w(static_cast<size_t>(p.cout) * p.kh * p.kw * p.cin);
  for (auto& v : x) v = static_cast<uint8_t>(rng());
  for (auto& v : w) v = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  std::vector<int32_t> bias(p.cout, 100);
  std::vector<float> mul(p.cout, 1e-4f);
  std::vector<int32_t> table(qk::qu8_conv_indirection_size(p));
  qk::qu8_conv_indirection_build(p, table.data());
  std::vector<unsigned char> packed(qk::qu8_igemm_16c4_packed_size(p.cout, p.kh, p.kw, p.cin));
  qk::qu8_igemm_16c4_pack(p.cout, p.kh, p.kw, p.cin, w.data(), bias.data(), mul.data(), 128,
                          packed.data());
  const int64_t pixels = int64_t{p.oh} * p.ow;
  std::vector<uint8_t> y(static_cast<size_t>(pixels) * p.cout);
  for (auto _ : state) {
    qk::qu8_igemm_minmax_fp32__avx512vnni_8x32c4(p, x.data(), table.data(), packed.data(), 3,
                                                 {0, 255}, y.data(), 0, pixels);
    benchmark::DoNotOptimize(y.data());
  }
  SetGmacs(state, double(pixels) * p.cout * p.kh * p.kw * p.cin);
}
BENCHMARK(BM_Igemm)
    ->Args({56, 64, 64, 3})
    ->Args({224, 3, 32, 3})
    ->ArgNames({"hw", "cin", "cout", "k"});

// ------------------------------------------------------------ depthwise qu8
// Depthwise kh x kw, C channels at h x w, stride s, same padding.
qk::Conv2DParams DwGeometry(int h, int w, int c, int k, int s) {
  qk::Conv2DParams p;
  p.h = h;
  p.w = w;
  p.cin = p.cout = p.groups = c;
  p.kh = p.kw = k;
  p.stride_h = p.stride_w = s;
  p.pad_top = p.pad_left = k / 2;
  p.oh = static_cast<int>(qk::window_out_dim(h, k, s, 1, k / 2, k / 2));
  p.ow = static_cast<int>(qk::window_out_dim(w, k, s, 1, k / 2, k / 2));
  return p;
}

void BM_DwconvQu8(benchmark::State& state) {
  if (Unsupported(state)) return;
  const qk::Conv2DParams p =
      DwGeometry(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                 static_cast<int>(state.range(2)), static_cast<int>(state.range(3)),
                 static_cast<int>(state.range(4)));
  std::mt19937 rng(3);
  std::vector<uint8_t> x(static_cast<size_t>(p.h) * p.w * p.cin);
  std::vector<int8_t> w(static_cast<size_t>(p.cout) * p.kh * p.kw);
  for (auto& v : x) v = static_cast<uint8_t>(rng());
  for (auto& v : w) v = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  std::vector<int32_t> bias(p.cout, 100);
  std::vector<float> mul(p.cout, 1e-3f);
  std::vector<unsigned char> packed(qk::qu8_dwconv_c16_packed_size(p.cout, p.kh, p.kw));
  qk::qu8_dwconv_c16_pack(p.cout, p.kh, p.kw, w.data(), bias.data(), mul.data(), packed.data());
  std::vector<uint8_t> y(static_cast<size_t>(p.oh) * p.ow * p.cout);
  for (auto _ : state) {
    qk::qu8_dwconv_minmax_fp32__avx512_c16(p, x.data(), 128, packed.data(), 3, {0, 255},
                                           y.data());
    benchmark::DoNotOptimize(y.data());
  }
  SetGmacs(state, double(p.oh) * p.ow * p.cout * p.kh * p.kw);
}
// 144 ch 56x56 3x3 (MobileNetV2; issue target 120 GMAC/s on Zen 5), DS-CNN
// 64 ch 25x5, stride 2, 5x5.
BENCHMARK(BM_DwconvQu8)
    ->Args({56, 56, 144, 3, 1})
    ->Args({25, 5, 64, 3, 1})
    ->Args({56, 56, 144, 3, 2})
    ->Args({28, 28, 96, 5, 1})
    ->ArgNames({"h", "w", "c", "k", "s"});

// ------------------------------------------------------------ f32 kernels
void BM_GemmF32(benchmark::State& state) {
  if (Unsupported(state)) return;
  const int m = static_cast<int>(state.range(0)), n = static_cast<int>(state.range(1)),
            k = static_cast<int>(state.range(2));
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> x(static_cast<size_t>(m) * k), w(static_cast<size_t>(n) * k), bias(n);
  for (auto& v : x) v = d(rng);
  for (auto& v : w) v = d(rng);
  for (auto& v : bias) v = d(rng);
  std::vector<float> packed(qk::f32_gemm_16_packed_size(n, k) / sizeof(float));
  qk::f32_gemm_16_pack(n, k, w.data(), bias.data(), packed.data());
  std::vector<float> y(static_cast<size_t>(m) * n);
  for (auto _ : state) {
    qk::f32_gemm_minmax__avx512_8x32(m, n, k, x.data(), k, packed.data(), {}, y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  SetGmacs(state, double(m) * n * k);
}
BENCHMARK(BM_GemmF32)->Args({128, 768, 768})->Args({1, 128, 640})->ArgNames({"m", "n", "k"});

// f32 conv 3x3 cin -> cout at hw x hw, stride 1, same padding (implicit GEMM).
void BM_IgemmF32(benchmark::State& state) {
  if (Unsupported(state)) return;
  qk::Conv2DParams p;
  p.h = p.w = static_cast<int>(state.range(0));
  p.cin = static_cast<int>(state.range(1));
  p.cout = static_cast<int>(state.range(2));
  p.kh = p.kw = 3;
  p.pad_top = p.pad_left = 1;
  p.oh = p.h;
  p.ow = p.w;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> x(static_cast<size_t>(p.h) * p.w * p.cin);
  std::vector<float> w(static_cast<size_t>(p.cout) * 9 * p.cin), bias(p.cout);
  for (auto& v : x) v = d(rng);
  for (auto& v : w) v = d(rng);
  for (auto& v : bias) v = d(rng);
  std::vector<int64_t> table(qk::f32_igemm_indirection_count(p));
  qk::f32_igemm_indirection_build(p, table.data());
  std::vector<float> packed(qk::f32_gemm_16_packed_size(p.cout, 9 * p.cin) / sizeof(float));
  qk::f32_gemm_16_pack(p.cout, 9 * p.cin, w.data(), bias.data(), packed.data());
  std::vector<float> zero(p.cin, 0.f);
  const int m = p.oh * p.ow;
  std::vector<float> y(static_cast<size_t>(m) * p.cout);
  for (auto _ : state) {
    qk::f32_igemm_minmax__avx512_8x32(m, p.cout, 9, p.cin, x.data(), table.data(), zero.data(),
                                      packed.data(), {}, y.data(), p.cout);
    benchmark::DoNotOptimize(y.data());
  }
  SetGmacs(state, double(m) * p.cout * 9 * p.cin);
}
BENCHMARK(BM_IgemmF32)->Args({56, 64, 64})->ArgNames({"hw", "cin", "cout"});

void BM_DwconvF32(benchmark::State& state) {
  if (Unsupported(state)) return;
  const qk::Conv2DParams p =
      DwGeometry(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                 static_cast<int>(state.range(2)), 3, 1);
  std::mt19937 rng(6);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> x(static_cast<size_t>(p.h) * p.w * p.cin), w(static_cast<size_t>(p.cout) * 9),
      bias(p.cout);
  for (auto& v : x) v = d(rng);
  for (auto& v : w) v = d(rng);
  for (auto& v : bias) v = d(rng);
  std::vector<float> packed(qk::f32_dwconv_c16_packed_size(p.cout, 3, 3) / sizeof(float));
  qk::f32_dwconv_c16_pack(p.cout, 3, 3, w.data(), bias.data(), packed.data());
  std::vector<float> y(static_cast<size_t>(p.oh) * p.ow * p.cout);
  for (auto _ : state) {
    qk::f32_dwconv_minmax__avx512_c16(p, x.data(), packed.data(), {}, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  SetGmacs(state, double(p.oh) * p.ow * p.cout * 9);
}
BENCHMARK(BM_DwconvF32)->Args({56, 56, 144})->Args({25, 5, 64})->ArgNames({"h", "w", "c"});

}  // namespace

BENCHMARK_MAIN();
