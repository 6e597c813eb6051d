// Fixed cost of Session::run(): the per-run floor and the cost of one tiny op.
//
// Every model is built in memory with ModelWriter, loaded with
// Model::load_buffer and run through a Session, exactly as a user would:
//   * Floor/*         the smallest valid models: one f32 Reshape [1,4] -> [4],
//                     one u8 Relu [1,8];
//   * Chain/<op>/N    N tiny ops in a row on [1,8] tensors (u8 or f32 Relu, or
//                     u8 / f32 Add with the graph input, so every node reads
//                     two tensors), N = 1, 10, 100;
//   * Slope/<op>      runs the 10- and the 100-op chain of the same kind
//                     alternately in batches and reports
//                     ns_per_op = (t100 - t10) / 90 with t10_ns / t100_ns
//                     (medians of the per-batch mean run time).
// The Time column is ns per run (Slope: per pair of batches, see counters).
// Every benchmark also reports p50/p90/p99/min (ns per run) over batches of
// kBatch runs, since one run is too short to time alone. Single thread.
//
//   ./bench_overhead --benchmark_min_time=0.3
//   (Google Benchmark >= 1.8 also accepts "0.3s")
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

constexpr int kBatch = 64;  // runs per timed batch (percentiles)

QuantParams PerTensor(float scale, int32_t zp) {
  QuantParams q;
  q.scale = {scale};
  q.zero_point = {zp};
  q.axis = -1;
  return q;
}

enum class Kind { kReluU8, kReluF32, kAddU8, kAddF32 };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kReluU8: return "relu_u8";
    case Kind::kReluF32: return "relu_f32";
    case Kind::kAddU8: return "add_u8";
    case Kind::kAddF32: return "add_f32";
  }
  return "?";
}

std::vector<uint8_t> ChainModel(Kind kind, int n) {
  ModelWriter w("bench_overhead");
  const bool u8 = kind == Kind::kReluU8 || kind == Kind::kAddU8;
  const bool add = kind == Kind::kAddU8 || kind == Kind::kAddF32;
  const DType dt = u8 ? DType::kU8 : DType::kF32;
  const QuantParams q = u8 ? PerTensor(0.05f, 10) : QuantParams{};
  const int x = w.add_tensor("x", {1, 8}, dt, q);
  int prev = x;
  for (int i = 0; i < n; ++i) {
    const int y = w.add_tensor("t" + std::to_string(i), {1, 8}, dt, q);
    if (add) {
      fb::OptionsUnion opts;
      opts.Set(fb::ElementwiseOptionsT{});
      w.add_node(OpType::kAdd, {prev, x}, {y}, std::move(opts), "add" + std::to_string(i));
    } else {
      w.add_node(OpType::kRelu, {prev}, {y}, {}, "relu" + std::to_string(i));
    }
    prev = y;
  }
  w.set_inputs({x});
  w.set_outputs({prev});
  return w.finish();
}

std::vector<uint8_t> ReshapeModel() {
  ModelWriter w("bench_overhead");
  const int x = w.add_tensor("x", {1, 4}, DType::kF32);
  const int y = w.add_tensor("y", {4}, DType::kF32);
  fb::ReshapeOptionsT ro;
  ro.new_shape = {4};
  fb::OptionsUnion opts;
  opts.Set(std::move(ro));
  w.add_node(OpType::kReshape, {x}, {y}, std::move(opts), "reshape");
  w.set_inputs({x});
  w.set_outputs({y});
  return w.finish();
}

// A loaded model and a session ready to run, or the Status text that stopped it.
struct Prepared {
  std::shared_ptr<const Model> model;
  std::unique_ptr<Session> session;
  std::string error;
};

Prepared Prepare(const std::vector<uint8_t>& bytes) {
  Prepared p;
  auto m = Model::load_buffer(bytes.data(), bytes.size(), /*copy=*/true);
  if (!m) {
    p.error = "load: " + m.status().to_string();
    return p;
  }
  p.model = *m;
  auto s = Session::create(p.model);
  if (!s) {
    p.error = "create: " + s.status().to_string();
    return p;
  }
  p.session = std::move(*s);
  const size_t n = p.model->input(0).num_elements > 0
                       ? static_cast<size_t>(p.model->input(0).num_elements)
                       : 0;
  std::vector<float> in(n);
  for (size_t i = 0; i < n; ++i) in[i] = 0.1f * static_cast<float>(i) - 0.3f;
  if (auto st = p.session->set_input(0, in); !st.ok()) p.error = "set_input: " + st.to_string();
  return p;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  return v[i];
}

void SetPercentiles(benchmark::State& state, const std::vector<double>& ns) {
  state.counters["p50_ns"] = Percentile(ns, 0.50);
  state.counters["p90_ns"] = Percentile(ns, 0.90);
  state.counters["p99_ns"] = Percentile(ns, 0.99);
  state.counters["min_ns"] = ns.empty() ? 0 : *std::min_element(ns.begin(), ns.end());
}

// Mean ns per run over one batch of kBatch runs; false if a run failed.
bool TimeBatch(Session& s, double* ns) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kBatch; ++i) {
    if (!s.run().ok()) return false;
  }
  const auto t1 = std::chrono::steady_clock::now();
  *ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / kBatch;
  return true;
}

// One benchmark iteration = one run (the Time column is ns per run); the clock
// is read once every kBatch runs for the percentiles.
void RunModel(benchmark::State& state, const std::vector<uint8_t>& bytes, int nodes) {
  Prepared p = Prepare(bytes);
  if (!p.error.empty()) {
    state.SkipWithError(p.error.c_str());
    return;
  }
  for (int i = 0; i < 100; ++i) (void)p.session->run();  // warm-up
  std::vector<double> ns;
  ns.reserve(1 << 16);
  Session& s = *p.session;
  int in_batch = 0;
  auto last = std::chrono::steady_clock::now();
  for (auto _ : state) {
    if (!s.run().ok()) {
      state.SkipWithError("run() failed");
      return;
    }
    if (++in_batch == kBatch) {
      const auto now = std::chrono::steady_clock::now();
      if (ns.size() < ns.capacity())
        ns.push_back(std::chrono::duration<double, std::nano>(now - last).count() / kBatch);
      last = now;
      in_batch = 0;
    }
  }
  SetPercentiles(state, ns);
  state.counters["ns_per_node"] = Percentile(ns, 0.5) / nodes;
}

void BM_FloorReshape(benchmark::State& state) { RunModel(state, ReshapeModel(), 1); }
void BM_FloorReluU8(benchmark::State& state) { RunModel(state, ChainModel(Kind::kReluU8, 1), 1); }

void BM_Chain(benchmark::State& state, Kind kind) {
  const int n = static_cast<int>(state.range(0));
  RunModel(state, ChainModel(kind, n), n);
}

// Alternates batches of the 10-op and the 100-op chain so both see the same
// machine state, then reports the slope.
void BM_Slope(benchmark::State& state, Kind kind) {
  Prepared p10 = Prepare(ChainModel(kind, 10));
  Prepared p100 = Prepare(ChainModel(kind, 100));
  for (Prepared* p : {&p10, &p100}) {
    if (!p->error.empty()) {
      state.SkipWithError(p->error.c_str());
      return;
    }
    for (int i = 0; i < 100; ++i) (void)p->session->run();
  }
  std::vector<double> a, b;
  a.reserve(1 << 15);
  b.reserve(1 << 15);
  for (auto _ : state) {
    double t10 = 0, t100 = 0;
    if (!TimeBatch(*p10.session, &t10) || !TimeBatch(*p100.session, &t100)) {
      state.SkipWithError("run() failed");
      return;
    }
    if (a.size() < a.capacity()) {
      a.push_back(t10);
      b.push_back(t100);
    }
  }
  const double m10 = Percentile(a, 0.5), m100 = Percentile(b, 0.5);
  state.counters["t10_ns"] = m10;
  state.counters["t100_ns"] = m100;
  state.counters["ns_per_op"] = (m100 - m10) / 90.0;
  state.counters["floor_ns"] = m10 - 10.0 * (m100 - m10) / 90.0;  // extrapolated to 0 ops
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RegisterBenchmark("Floor/reshape_f32_1x4", BM_FloorReshape);
  benchmark::RegisterBenchmark("Floor/relu_u8_1x8", BM_FloorReluU8);
  for (Kind k : {Kind::kReluU8, Kind::kReluF32, Kind::kAddU8, Kind::kAddF32}) {
    benchmark::RegisterBenchmark((std::string("Chain/") + KindName(k)).c_str(), BM_Chain, k)
        ->ArgName("ops")
        ->Arg(1)
        ->Arg(10)
        ->Arg(100);
  }
  for (Kind k : {Kind::kReluU8, Kind::kReluF32, Kind::kAddU8, Kind::kAddF32}) {
    benchmark::RegisterBenchmark((std::string("Slope/") + KindName(k)).c_str(), BM_Slope, k);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
