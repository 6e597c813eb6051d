// General Conv2D (groups == 1), reference vs AVX2 indirect GEMM
// (qu8_igemm_minmax_fp32__avx2_4x16c2). GMAC/s counts oh*ow*cout*kh*kw*cin
// MACs per image (padded taps included, as the kernels compute them).
// Packing and the indirection table are built once, outside the timed loop
// (they belong to prepare). BM_ConvAdd_*: the ResNet-8 residual tail,
// Add(conv, skip) fused into the conv's epilogue vs conv + separate vadd
// (Zen 3 dev host, best of 5: fused 55.8, separate 56.2 GMAC/s, plain conv
// 62.0: with everything in L1 the fused epilogue costs about what the vadd
// pass does; the fusion saves the temporary's traffic and a dispatch).
// First layers (Zen 3 dev host, best of 3, GMAC/s), gather mode -> row mode
// (cin < 8, kw*cin in [8, 32]: filter rows read in place, 8-wide blocks for
// cout <= 8): MobileNetV1 3->8 s2 (shape 4) 10.7 -> 25.2, ResNet-8 3->16
// (shape 3) 22.3 -> 28.5 (39.3 unpadded, shape 5: the border tiles, whose cut
// rows are assembled on the stack, cost the rest); DS-CNN 1->64 10x4 (shape
// 2, kw*cin = 4) keeps the gather mode (34-36).
//
//   ./bench_x86_conv --benchmark_min_time=0.5 --benchmark_repetitions=5
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
  int cin, cout, h, w, kh, kw, stride, pt, pl, pb, pr;
};

// 0: ResNet-8 (MLPerf Tiny) conv 16->16 3x3, 32x32, stride 1, pad 1.
// 1: conv3x3 64->64, 56x56, stride 1, pad 1 (ResNet-18 stage 1).
// 2: DS-CNN (keyword spotting) first layer: 49x10x1 -> 25x5x64, 10x4, stride 2,
//    TF "SAME" padding (4, 1, 5, 1).
// 3: ResNet-8 first layer: 32x32x3 -> 32x32x16, 3x3, stride 1, pad 1.
// 4: MobileNetV1 (0.25, 96x96) first layer: 96x96x3 -> 48x48x8, 3x3, stride 2,
//    TF "SAME" padding (0, 0, 1, 1).
// 5: shape 3 without padding (34x34 -> 32x32): every tile dense in the row
//    mode, the ceiling for 3 with its border tiles.
constexpr Shape kShapes[] = {
    {16, 16, 32, 32, 3, 3, 1, 1, 1, 1, 1},
    {64, 64, 56, 56, 3, 3, 1, 1, 1, 1, 1},
    {1, 64, 49, 10, 10, 4, 2, 4, 1, 5, 1},
    {3, 16, 32, 32, 3, 3, 1, 1, 1, 1, 1},
    {3, 8, 96, 96, 3, 3, 2, 0, 0, 1, 1},
    {3, 16, 34, 34, 3, 3, 1, 0, 0, 0, 0},
};
constexpr int kNumShapes = static_cast<int>(sizeof(kShapes) / sizeof(kShapes[0]));

struct Problem {
  qk::Conv2DParams p;
  std::vector<uint8_t> x, y;
  std::vector<int8_t> w;
  std::vector<int32_t> bias;
  std::vector<float> mul;
  std::vector<uint8_t> packed;
  std::vector<int32_t> ind;
};

Problem Make(const Shape& s) {
  Problem pr;
  qk::Conv2DParams& p = pr.p;
  p.h = s.h;
  p.w = s.w;
  p.cin = s.cin;
  p.cout = s.cout;
  p.kh = s.kh;
  p.kw = s.kw;
  p.stride_h = p.stride_w = s.stride;
  p.pad_top = s.pt;
  p.pad_left = s.pl;
  p.oh = static_cast<int>(qk::window_out_dim(s.h, s.kh, s.stride, 1, s.pt, s.pb));
  p.ow = static_cast<int>(qk::window_out_dim(s.w, s.kw, s.stride, 1, s.pl, s.pr));
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> du8(0, 255), di8(-127, 127), db(-5000, 5000);
  pr.x.resize(static_cast<size_t>(p.h) * p.w * p.cin);
  for (auto& v : pr.x) v = static_cast<uint8_t>(du8(rng));
  pr.w.resize(static_cast<size_t>(p.cout) * p.kh * p.kw * p.cin);
  for (auto& v : pr.w) v = static_cast<int8_t>(di8(rng));
  pr.bias.resize(static_cast<size_t>(p.cout));
  for (auto& v : pr.bias) v = db(rng);
  pr.mul.assign(static_cast<size_t>(p.cout), 1.f / 65536.f);
  pr.y.resize(static_cast<size_t>(p.oh) * p.ow * p.cout);
  pr.packed.resize(qk::qu8_igemm_16c2_packed_size(p.cout, p.kh, p.kw, p.cin));
  qk::qu8_igemm_16c2_pack(p.cout, p.kh, p.kw, p.cin, pr.w.data(), pr.bias.data(), pr.mul.data(),
                          128, pr.packed.data());
  pr.ind.resize(qk::qu8_conv_indirection_size(p));
  qk::qu8_conv_indirection_build(p, pr.ind.data());
  return pr;
}

void Counters(benchmark::State& state, const Problem& pr) {
  const double macs =
      static_cast<double>(pr.p.oh) * pr.p.ow * pr.p.cout * pr.p.kh * pr.p.kw * pr.p.cin;
  const double it = static_cast<double>(state.iterations());
  state.counters["GMAC/s"] = benchmark::Counter(it * macs * 1e-9, benchmark::Counter::kIsRate);
}

void BM_Conv_Ref(benchmark::State& state) {
  Problem pr = Make(kShapes[state.range(0)]);
  for (auto _ : state) {
    qk::qu8_conv2d_minmax_fp32__ref(pr.p, pr.x.data(), 128, pr.w.data(), pr.bias.data(),
                                    pr.mul.data(), 128, qk::QRange{}, pr.y.data());
    benchmark::DoNotOptimize(pr.y.data());
    benchmark::ClobberMemory();
  }
  Counters(state, pr);
}

void BM_Conv_Avx2_4x16c2(benchmark::State& state) {
  if (!qk::cpu_supports(qk::Tier::kAvx2)) {
    state.SkipWithError("CPU lacks AVX2");
    return;
  }
  Problem pr = Make(kShapes[state.range(0)]);
  for (auto _ : state) {
    qk::qu8_igemm_minmax_fp32__avx2_4x16c2(pr.p, pr.x.data(), pr.ind.data(), pr.packed.data(),
                                           128, qk::QRange{}, pr.y.data());
    benchmark::DoNotOptimize(pr.y.data());
    benchmark::ClobberMemory();
  }
  Counters(state, pr);
}

// Residual block tail of ResNet-8 (shape 0): y = Add(conv(x), skip), either
// fused into the conv's epilogue (QResidual) or as the conv into a temporary
// followed by qu8_vadd_minmax_fp32__avx2. Same MAC count as the plain conv.
qk::QResidual MakeResidual(const Problem& pr, const std::vector<uint8_t>& skip) {
  qk::QResidual res;
  res.data = skip.data();
  res.stride = static_cast<size_t>(pr.p.cout);
  res.add.za = 128;
  res.add.zb = 120;
  res.add.zy = 0;
  res.add.ma = 0.6f;
  res.add.mb = 0.9f;
  res.add.r = {0, 255};  // Add + ReLU
  return res;
}

std::vector<uint8_t> Skip(const Problem& pr) {
  std::vector<uint8_t> s(pr.y.size());
  std::mt19937 rng(7);
  for (auto& v : s) v = static_cast<uint8_t>(rng() & 0xFF);
  return s;
}

void BM_ConvAdd_Avx2_Fused(benchmark::State& state) {
  if (!qk::cpu_supports(qk::Tier::kAvx2)) {
    state.SkipWithError("CPU lacks AVX2");
    return;
  }
  Problem pr = Make(kShapes[state.range(0)]);
  const std::vector<uint8_t> skip = Skip(pr);
  const qk::QResidual res = MakeResidual(pr, skip);
  const int64_t total = int64_t{pr.p.n} * pr.p.oh * pr.p.ow;
  for (auto _ : state) {
    qk::qu8_igemm_minmax_fp32__avx2_4x16c2(pr.p, pr.x.data(), pr.ind.data(), pr.packed.data(),
                                           128, qk::QRange{}, pr.y.data(), 0, total, &res);
    benchmark::DoNotOptimize(pr.y.data());
    benchmark::ClobberMemory();
  }
  Counters(state, pr);
}

void BM_ConvAdd_Avx2_Separate(benchmark::State& state) {
  if (!qk::cpu_supports(qk::Tier::kAvx2)) {
    state.SkipWithError("CPU lacks AVX2");
    return;
  }
  Problem pr = Make(kShapes[state.range(0)]);
  const std::vector<uint8_t> skip = Skip(pr);
  const qk::QResidual res = MakeResidual(pr, skip);
  std::vector<uint8_t> tmp(pr.y.size());
  for (auto _ : state) {
    qk::qu8_igemm_minmax_fp32__avx2_4x16c2(pr.p, pr.x.data(), pr.ind.data(), pr.packed.data(),
                                           128, qk::QRange{}, tmp.data());
    qk::qu8_vadd_minmax_fp32__avx2(static_cast<int64_t>(tmp.size()), tmp.data(), skip.data(),
                                   res.add, pr.y.data());
    benchmark::DoNotOptimize(pr.y.data());
    benchmark::ClobberMemory();
  }
  Counters(state, pr);
}

void ShapeArgs(benchmark::internal::Benchmark* b) {
  b->ArgName("shape");
  for (int i = 0; i < kNumShapes; ++i) b->Arg(i);
}

BENCHMARK(BM_Conv_Ref)->Apply(ShapeArgs);
BENCHMARK(BM_Conv_Avx2_4x16c2)->Apply(ShapeArgs);
BENCHMARK(BM_ConvAdd_Avx2_Fused)->ArgName("shape")->Arg(0);
BENCHMARK(BM_ConvAdd_Avx2_Separate)->ArgName("shape")->Arg(0);

}  // namespace

BENCHMARK_MAIN();
