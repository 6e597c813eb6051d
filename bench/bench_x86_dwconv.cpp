// Depthwise convolution, reference vs AVX2 (qu8_dwconv_minmax_fp32__avx2_c16,
// and its row-range entry point on two halves).
// GMAC/s counts kh*kw MACs per output element (padded taps included, as the
// kernels compute them).
//
//   ./bench_x86_dwconv --benchmark_min_time=0.5 --benchmark_repetitions=5
//     --benchmark_report_aggregates_only=true     (one command line)
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "quanta/kernels/tier.h"
#include "quanta/kernels/ref.h"
#include "quanta/kernels/x86.h"

namespace qk = quanta::kernels;

namespace {

struct Shape {
  int c, h, w, k, stride, pad;
};

// 0: MobileNetV2 block dw3x3, 144 channels, 56x56, stride 1, pad 1.
// 1: DS-CNN (keyword spotting) dw3x3, 64 channels, 25x5, stride 1, pad 1.
// 2: MobileNetV2 downsampling dw3x3, 144 channels, 56x56 -> 28x28, stride 2, pad (0,0,1,1).
constexpr Shape kShapes[] = {
    {144, 56, 56, 3, 1, 1},
    {64, 25, 5, 3, 1, 1},
    {144, 56, 56, 3, 2, 0},
};

struct Problem {
  qk::Conv2DParams p;
  std::vector<uint8_t> x, y;
  std::vector<int8_t> w;
  std::vector<int32_t> bias;
  std::vector<float> mul;
  std::vector<uint8_t> packed;
};

Problem Make(const Shape& s) {
  Problem pr;
  qk::Conv2DParams& p = pr.p;
  p.h = s.h;
  p.w = s.w;
  p.cin = p.cout = p.groups = s.c;
  p.kh = p.kw = s.k;
  p.stride_h = p.stride_w = s.stride;
  p.pad_top = p.pad_left = s.pad;
  // stride 2: pad only at the bottom/right (TF "SAME" for even sizes)
  const int pad_end = s.stride == 2 ? 1 : s.pad;
  p.oh = static_cast<int>(qk::window_out_dim(s.h, s.k, s.stride, 1, s.pad, pad_end));
  p.ow = static_cast<int>(qk::window_out_dim(s.w, s.k, s.stride, 1, s.pad, pad_end));
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> du8(0, 255), di8(-127, 127), db(-5000, 5000);
  pr.x.resize(static_cast<size_t>(p.h) * p.w * p.cin);
  for (auto& v : pr.x) v = static_cast<uint8_t>(du8(rng));
  pr.w.resize(static_cast<size_t>(p.cout) * p.kh * p.kw);
  for (auto& v : pr.w) v = static_cast<int8_t>(di8(rng));
  pr.bias.resize(static_cast<size_t>(p.cout));
  for (auto& v : pr.bias) v = db(rng);
  pr.mul.assign(static_cast<size_t>(p.cout), 1.f / 4096.f);
  pr.y.resize(static_cast<size_t>(p.oh) * p.ow * p.cout);
  pr.packed.resize(qk::qu8_dwconv_c16_packed_size(p.cout, p.kh, p.kw));
  qk::qu8_dwconv_c16_pack(p.cout, p.kh, p.kw, pr.w.data(), pr.bias.data(), pr.mul.data(),
                          pr.packed.data());
  return pr;
}

void Counters(benchmark::State& state, const Problem& pr) {
  const double macs = static_cast<double>(pr.p.oh) * pr.p.ow * pr.p.cout * pr.p.kh * pr.p.kw;
  const double it = static_cast<double>(state.iterations());
  state.counters["GMAC/s"] = benchmark::Counter(it * macs * 1e-9, benchmark::Counter::kIsRate);
}

void BM_DwConv_Ref(benchmark::State& state) {
  Problem pr = Make(kShapes[state.range(0)]);
  for (auto _ : state) {
    qk::qu8_conv2d_minmax_fp32__ref(pr.p, pr.x.data(), 128, pr.w.data(), pr.bias.data(),
                                    pr.mul.data(), 128, qk::QRange{}, pr.y.data());
    benchmark::DoNotOptimize(pr.y.data());
    benchmark::ClobberMemory();
  }
  Counters(state, pr);
}

void BM_DwConv_Avx2(benchmark::State& state) {
  if (!qk::cpu_supports(qk::Tier::kAvx2)) {
    state.SkipWithError("CPU lacks AVX2");
    return;
  }
  Problem pr = Make(kShapes[state.range(0)]);
  for (auto _ : state) {
    qk::qu8_dwconv_minmax_fp32__avx2_c16(pr.p, pr.x.data(), 128, pr.packed.data(), 128,
                                         qk::QRange{}, pr.y.data());
    benchmark::DoNotOptimize(pr.y.data());
    benchmark::ClobberMemory();
  }
  Counters(state, pr);
}

// The row-range entry point called on two halves of the output rows (what
// two threads would each run): shows the split costs nothing measurable.
void BM_DwConv_Avx2_RowHalves(benchmark::State& state) {
  if (!qk::cpu_supports(qk::Tier::kAvx2)) {
    state.SkipWithError("CPU lacks AVX2");
    return;
  }
  Problem pr = Make(kShapes[state.range(0)]);
  const int mid = pr.p.oh / 2;
  for (auto _ : state) {
    qk::qu8_dwconv_minmax_fp32__avx2_c16_rows(pr.p, 0, mid, pr.x.data(), 128, pr.packed.data(),
                                              128, qk::QRange{}, pr.y.data());
    qk::qu8_dwconv_minmax_fp32__avx2_c16_rows(pr.p, mid, pr.p.oh, pr.x.data(), 128,
                                              pr.packed.data(), 128, qk::QRange{}, pr.y.data());
    benchmark::DoNotOptimize(pr.y.data());
    benchmark::ClobberMemory();
  }
  Counters(state, pr);
}

void ShapeArgs(benchmark::internal::Benchmark* b) {
  b->ArgName("shape");
  for (int i = 0; i < 3; ++i) b->Arg(i);
}

BENCHMARK(BM_DwConv_Ref)->Apply(ShapeArgs);
BENCHMARK(BM_DwConv_Avx2)->Apply(ShapeArgs);
BENCHMARK(BM_DwConv_Avx2_RowHalves)->Apply(ShapeArgs);

}  // namespace

BENCHMARK_MAIN();
