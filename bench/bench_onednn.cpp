// The layers through the oneDNN backend (runtime/src/backends), int8
// and fp32, one thread, with a GMAC/s counter. docs/onednn.md has the figures.
//
//   ./bench_onednn --benchmark_min_time=0.3
//
// int8 variants:
//   Int8      full-range weights in [-127, 127] (what a converted model has);
//             on a CPU without VNNI the backend splits them into two exact
//             primitives (twice the MACs executed; GMAC/s counts the layer's).
//   Int8w7    weights in [-64, 64]: one primitive on every CPU (speed of
//             oneDNN's int8 kernel itself, same numbers on VNNI CPUs).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/onednn.hpp"
#include "quanta/kernels/ref.h"

namespace {

namespace k = quanta::kernels;
namespace od = quanta::detail::onednn;

// One op of a layer: a convolution (groups 1 or depthwise) or a GEMM.
struct OpSpec {
  bool gemm = false;
  int m = 0, n = 0, kk = 0;  // gemm
  k::Conv2DParams p;         // conv
  int64_t macs() const {
    if (gemm) return int64_t{m} * n * kk;
    return int64_t{p.n} * p.oh * p.ow * p.cout * p.kh * p.kw * (p.cin / p.groups);
  }
  int64_t x_size() const { return gemm ? int64_t{m} * kk : int64_t{p.n} * p.h * p.w * p.cin; }
  int64_t y_size() const { return gemm ? int64_t{m} * n : int64_t{p.n} * p.oh * p.ow * p.cout; }
  int64_t w_size() const {
    return gemm ? int64_t{n} * kk : int64_t{p.cout} * p.kh * p.kw * (p.cin / p.groups);
  }
  int rows() const { return gemm ? n : p.cout; }
};

OpSpec conv(int h, int w, int cin, int cout, int ks, int groups) {
  OpSpec o;
  o.p.h = h, o.p.w = w, o.p.cin = cin, o.p.cout = cout, o.p.kh = o.p.kw = ks;
  o.p.pad_top = o.p.pad_left = ks / 2;
  o.p.groups = groups;
  o.p.oh = h, o.p.ow = w;
  return o;
}
OpSpec gemm(int m, int n, int kk) {
  OpSpec o;
  o.gemm = true, o.m = m, o.n = n, o.kk = kk;
  return o;
}

struct Layer {
  const char* name;
  std::vector<OpSpec> ops;
};

const std::vector<Layer>& layers() {
  static const std::vector<Layer> l = {
      {"gemm_128x768x768", {gemm(128, 768, 768)}},
      {"conv3x3_64_56x56", {conv(56, 56, 64, 64, 3, 1)}},
      {"mbv2_block_56x56",
       {conv(56, 56, 24, 144, 1, 1), conv(56, 56, 144, 144, 3, 144), conv(56, 56, 144, 24, 1, 1)}},
      {"resnet8_conv16_32x32", {conv(32, 32, 16, 16, 3, 1)}},
      {"dscnn_dw3x3_64_25x5", {conv(25, 5, 64, 64, 3, 64)}},
      {"dscnn_pw64_25x5", {conv(25, 5, 64, 64, 1, 1)}},
      {"fc_1x640x128", {gemm(1, 128, 640)}},
  };
  return l;
}

enum Mode { kInt8 = 0, kInt8w7 = 1, kF32 = 2 };

// Buffers and primitives of one layer, chained (each op reads the previous
// op's output, as in a network).
struct Built {
  std::vector<std::vector<uint8_t>> u8;
  std::vector<std::vector<float>> f32;
  std::vector<std::vector<int8_t>> w8;
  std::vector<std::vector<int32_t>> b32;
  std::vector<std::vector<float>> m;
  std::vector<std::unique_ptr<od::Primitive>> prims;
  std::string info, why;
};

bool build(const Layer& layer, Mode mode, Built* b) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> u8(0, 255), s8(-127, 127), s7(-64, 64), bi(-1000, 1000);
  std::uniform_real_distribution<float> uf(-1.f, 1.f);
  const int64_t first = layer.ops.front().x_size();
  if (mode == kF32) {
    b->f32.emplace_back(first);
    for (auto& v : b->f32.back()) v = uf(rng);
  } else {
    b->u8.emplace_back(first);
    for (auto& v : b->u8.back()) v = static_cast<uint8_t>(u8(rng));
  }
  for (const OpSpec& op : layer.ops) {
    std::string why;
    std::unique_ptr<od::Primitive> prim;
    if (mode == kF32) {
      std::vector<float> w(op.w_size()), bias(op.rows());
      for (auto& v : w) v = uf(rng) * 0.1f;
      for (auto& v : bias) v = uf(rng);
      b->f32.emplace_back(op.y_size());
      const float* x = b->f32[b->f32.size() - 2].data();
      float* y = b->f32.back().data();
      if (op.gemm) {
        prim = od::make_f32_gemm({op.m, op.n, op.kk, x, w.data(), bias.data(), {0.f, 6.f}, y}, 1,
                                 &why);
      } else {
        prim = od::make_f32_conv({op.p, x, w.data(), bias.data(), {0.f, 6.f}, y}, 1, &why);
      }
    } else {
      std::vector<int8_t>& w = b->w8.emplace_back(op.w_size());
      for (auto& v : w) v = static_cast<int8_t>(mode == kInt8 ? s8(rng) : s7(rng));
      std::vector<int32_t>& bias = b->b32.emplace_back(op.rows());
      for (auto& v : bias) v = bi(rng);
      const int64_t row_len = op.w_size() / op.rows();
      // Outputs spread over the byte range (typical |acc| ~ sqrt(K) * 127 * 74).
      std::vector<float>& m = b->m.emplace_back(
          op.rows(), 60.f / (std::sqrt(static_cast<float>(row_len)) * 127.f * 74.f));
      b->u8.emplace_back(op.y_size());
      const uint8_t* x = b->u8[b->u8.size() - 2].data();
      uint8_t* y = b->u8.back().data();
      const k::QRange r{3, 255};  // ReLU with zero point 3
      if (op.gemm) {
        prim = od::make_qu8_gemm(
            {op.m, op.n, op.kk, x, 128, w.data(), bias.data(), m.data(), 3, r, y}, 1, &why);
      } else {
        prim = od::make_qu8_conv({op.p, x, 128, w.data(), bias.data(), m.data(), 3, r, y}, 1,
                                 &why);
      }
    }
    if (prim == nullptr) {
      b->why = why;
      return false;
    }
    if (!b->info.empty()) b->info += " | ";
    b->info += prim->info();
    b->prims.push_back(std::move(prim));
  }
  return true;
}

void BM_Layer(benchmark::State& state) {
  const Layer& layer = layers()[static_cast<size_t>(state.range(0))];
  const Mode mode = static_cast<Mode>(state.range(1));
  Built b;
  if (!build(layer, mode, &b)) {
    state.SkipWithError(("refused: " + b.why).c_str());
    return;
  }
  int64_t macs = 0;
  for (const OpSpec& op : layer.ops) macs += op.macs();
  for (auto _ : state) {
    for (const auto& p : b.prims) p->run();
    benchmark::ClobberMemory();
  }
  state.counters["GMAC/s"] =
      benchmark::Counter(double(state.iterations()) * double(macs) * 1e-9,
                         benchmark::Counter::kIsRate);
  static const char* const kModes[] = {"int8", "int8w7", "f32"};
  state.SetLabel(std::string(layer.name) + " " + kModes[mode] + " [" + b.info + "]");
}

void Args(benchmark::internal::Benchmark* bm) {
  bm->ArgNames({"layer", "mode"});
  for (int l = 0; l < static_cast<int>(layers().size()); ++l) {
    for (int mode : {kInt8, kInt8w7, kF32}) bm->Args({l, mode});
  }
  bm->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_Layer)->Apply(Args);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("onednn", od::describe());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
