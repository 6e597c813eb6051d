// Intra-op threading: the pool runs every task exactly once, the `threads`
// option is validated, and a session gives the same bytes for every thread
// count on every kernel tier, float and int8, on models whose ops are large
// enough to be split (each split path: GEMM rows, GEMM channel blocks for few
// rows, implicit-GEMM conv pixels, depthwise rows, the first-layer conv).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "quanta/converter.hpp"
#include "quanta/kernels/tier.h"
#include "quanta/quanta.hpp"
#include "support/onnx_builder.hpp"
#include "support/vector_source.hpp"
#include "thread_pool.hpp"

namespace quanta {
namespace {

namespace qc = quanta::convert;
namespace k = quanta::kernels;
using test::attr_int;
using test::attr_ints;
using test::OnnxBuilder;
using test::test_values;

// ------------------------------------------------------------------ pool
// Tasks as short as possible (one plain increment of their own slot), task
// counts that go up and down between consecutive jobs (1 runs inline), and
// one context object reused by every job: a worker late from one job that
// claimed a task of the next would show up as a slot counted twice (this is
// how an earlier version of the pool was caught).
struct Job {
  std::vector<int>* hits;
  int offset;
};
void count_task(const void* ctx, int t) {
  const Job& j = *static_cast<const Job*>(ctx);
  (*j.hits)[static_cast<size_t>(j.offset + t)] += 1;
}

TEST(ThreadPool, EveryTaskOfEveryJobRunsExactlyOnce) {
  for (int threads : {2, 3, 5}) {
    for (int rep = 0; rep < 30; ++rep) {
      detail::ThreadPool pool(threads);
      EXPECT_EQ(pool.threads(), threads);
      constexpr int kJobs = 4000;
      std::vector<int> hits(kJobs * 9, 0);
      Job job{&hits, 0};
      for (int j = 0; j < kJobs; ++j) {
        const int tasks = 1 + (j * 7) % 9;
        pool.run(tasks, &count_task, &job);
        // run() returns only when the job is complete.
        for (int t = 0; t < tasks; ++t) {
          ASSERT_EQ(hits[static_cast<size_t>(job.offset + t)], 1)
              << "threads " << threads << " job " << j << " task " << t << " of " << tasks;
        }
        job.offset += tasks;
        // Now and then let the workers fall asleep, so both the spinning and
        // the wake-up paths are exercised.
        if (rep == 0 && j % 1000 == 999) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  }
}

TEST(ThreadPool, ZeroTasksDoNothingAndAnIdlePoolShutsDown) {
  std::vector<int> hits(1, 0);
  Job job{&hits, 0};
  {
    detail::ThreadPool pool(2);
    pool.run(0, &count_task, &job);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // workers asleep
  }
  EXPECT_EQ(hits[0], 0);
  // Destroyed before the workers may even have started: must not hang.
  for (int i = 0; i < 200; ++i) detail::ThreadPool pool(3);
}

// ------------------------------------------------------------ sessions
using test::VectorSource;

struct Built {
  std::vector<uint8_t> fp32, int8;
  std::vector<std::vector<float>> inputs;
};

Built build(const std::string& onnx, size_t input_size) {
  Built b;
  auto g = qc::import_onnx_bytes(onnx.data(), onnx.size());
  EXPECT_TRUE(g.ok()) << g.status().message();
  if (!g.ok()) return b;
  for (uint32_t i = 0; i < 4; ++i) b.inputs.push_back(test_values(input_size, 100 + i));
  auto f = qc::build_fp32(**g);
  EXPECT_TRUE(f.ok()) << f.status().message();
  VectorSource src(b.inputs);
  qc::CalibrationOptions co;
  co.method = qc::CalibrationMethod::kMinMax;
  auto calib = qc::calibrate(**g, src, co);
  EXPECT_TRUE(calib.ok()) << calib.status().message();
  if (!f.ok() || !calib.ok()) return b;
  auto q = qc::build_int8(**g, *calib, {}, nullptr);
  EXPECT_TRUE(q.ok()) << q.status().message();
  if (!q.ok()) return b;
  b.fp32 = std::move(*f);
  b.int8 = std::move(*q);
  return b;
}

// The raw output bytes of every input, run by one session.
std::vector<uint8_t> run_bytes(const std::vector<uint8_t>& model_bytes,
                               const std::vector<std::vector<float>>& inputs,
                               const SessionOptions& o) {
  auto m = Model::load_buffer(model_bytes.data(), model_bytes.size(), true);
  EXPECT_TRUE(m.ok()) << m.status().message();
  if (!m.ok()) return {};
  auto s = Session::create(*m, o);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return {};
  std::vector<uint8_t> all;
  for (const auto& x : inputs) {
    EXPECT_TRUE((*s)->set_input(0, x).ok());
    EXPECT_TRUE((*s)->run().ok());
    const TensorView out = (*s)->output(0);
    const auto* p = static_cast<const uint8_t*>(out.data);
    all.insert(all.end(), p, p + out.info->num_bytes);
  }
  return all;
}

// The API's name of a kernels tier (both spell it alike).
KernelTier api_tier(k::Tier t) {
  KernelTier tier = KernelTier::kAuto;
  EXPECT_TRUE(parse_kernel_tier(k::tier_name(t), &tier)) << k::tier_name(t);
  return tier;
}

void expect_same_for_every_thread_count(const Built& b, const char* what) {
  ASSERT_FALSE(b.int8.empty());
  for (k::Tier t : k::kAllTiers) {
    if (!k::cpu_supports(t)) continue;
    const KernelTier tier = api_tier(t);
    for (const auto* model : {&b.fp32, &b.int8}) {
      SessionOptions o;
      o.tier = tier;
      const std::vector<uint8_t> want = run_bytes(*model, b.inputs, o);
      ASSERT_FALSE(want.empty());
      for (int threads : {2, 3, 4, 0}) {
        o.threads = threads;
        const std::vector<uint8_t> got = run_bytes(*model, b.inputs, o);
        ASSERT_EQ(got.size(), want.size());
        EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size()), 0)
            << what << (model == &b.fp32 ? " fp32" : " int8") << ", tier "
            << kernel_tier_name(tier) << ", threads " << threads
            << ": differs from the single-threaded result";
      }
    }
  }
}

onnx::NodeProto& conv(OnnxBuilder& ob, const std::string& x, const std::string& y, int cin,
                      int cout, int kernel, int stride, int group, uint32_t seed) {
  const std::string w = y + "_w", bias = y + "_b";
  ob.initializer(w, {cout, cin / group, kernel, kernel},
                 test_values(static_cast<size_t>(cout * (cin / group) * kernel * kernel), seed,
                             -0.3f, 0.3f));
  ob.initializer(bias, {cout}, test_values(static_cast<size_t>(cout), seed + 1, -0.1f, 0.1f));
  auto& n = ob.node("Conv", {x, w, bias}, {y});
  attr_ints(n, "kernel_shape", {kernel, kernel});
  attr_ints(n, "strides", {stride, stride});
  const int pad = kernel / 2;
  attr_ints(n, "pads", {pad, pad, pad, pad});
  attr_int(n, "group", group);
  return n;
}

TEST(Threads, ConvNetGivesTheSameBytesForEveryThreadCount) {
  // First-layer conv (cin 3, stride 2), 3x3 conv, depthwise, 1x1 conv: each
  // above the split threshold.
  OnnxBuilder ob;
  ob.input("x", {1, 3, 64, 64});
  conv(ob, "x", "c1", 3, 16, 3, 2, 1, 1);
  ob.node("Relu", {"c1"}, {"r1"});
  conv(ob, "r1", "c2", 16, 32, 3, 1, 1, 3);
  ob.node("Relu", {"c2"}, {"r2"});
  conv(ob, "r2", "c3", 32, 32, 3, 1, 32, 5);
  ob.node("Relu", {"c3"}, {"r3"});
  conv(ob, "r3", "c4", 32, 48, 1, 1, 1, 7);
  ob.node("Relu", {"c4"}, {"y"});
  ob.output("y");
  expect_same_for_every_thread_count(build(ob.bytes(), 3 * 64 * 64), "convnet");
}

TEST(Threads, GemmsGiveTheSameBytesForEveryThreadCount) {
  // Two rows (split over channel blocks), then 40 rows (split over rows).
  {
    OnnxBuilder ob;
    ob.input("x", {2, 1024});
    ob.initializer("w1", {520, 1024}, test_values(520 * 1024, 11, -0.1f, 0.1f));
    ob.initializer("b1", {520}, test_values(520, 12));
    auto& g = ob.node("Gemm", {"x", "w1", "b1"}, {"h"});
    attr_int(g, "transB", 1);
    ob.node("Relu", {"h"}, {"y"});
    ob.output("y");
    expect_same_for_every_thread_count(build(ob.bytes(), 2 * 1024), "gemv");
  }
  {
    OnnxBuilder ob;
    ob.input("x", {40, 256});
    ob.initializer("w1", {256, 200}, test_values(256 * 200, 21, -0.1f, 0.1f));
    ob.node("MatMul", {"x", "w1"}, {"y"});
    ob.output("y");
    expect_same_for_every_thread_count(build(ob.bytes(), 40 * 256), "matmul");
  }
}

// Attention-style MatMul of two activations (B = a transposed activation):
// the optimized tiers pack B at run time; every tier must give the
// reference's bytes, with any thread count.
TEST(Threads, ActivationMatMulGivesTheReferenceBytes) {
  OnnxBuilder ob;
  ob.input("x", {3, 24, 40});
  ob.node("Relu", {"x"}, {"h"});
  auto& t = ob.node("Transpose", {"h"}, {"ht"});
  attr_ints(t, "perm", {0, 2, 1});
  ob.node("MatMul", {"x", "ht"}, {"y"});
  ob.output("y");
  const Built b = build(ob.bytes(), 3 * 24 * 40);
  ASSERT_FALSE(b.int8.empty());
  SessionOptions ref;
  ref.tier = KernelTier::kRef;
  const std::vector<uint8_t> want = run_bytes(b.int8, b.inputs, ref);
  for (k::Tier kt : {k::Tier::kAvx2, k::Tier::kAvx512Vnni}) {
    if (!k::cpu_supports(kt)) continue;
    const KernelTier tier = api_tier(kt);
    for (int threads : {1, 2}) {
      SessionOptions o;
      o.tier = tier;
      o.threads = threads;
      EXPECT_EQ(run_bytes(b.int8, b.inputs, o), want)
          << kernel_tier_name(tier) << ", threads " << threads;
    }
  }
}

// Both kinds of concurrency at once (what scripts/tsan.sh runs under
// ThreadSanitizer): three threads each create and run their own session, with
// two intra-op workers, on one shared Model; every session gives the bytes of
// a single-threaded session.
TEST(Threads, SessionsWithWorkersShareOneModelAcrossThreads) {
  OnnxBuilder ob;
  ob.input("x", {1, 3, 32, 32});
  conv(ob, "x", "c1", 3, 32, 3, 1, 1, 31);
  ob.node("Relu", {"c1"}, {"r1"});
  conv(ob, "r1", "c2", 32, 32, 3, 1, 32, 33);
  ob.node("Relu", {"c2"}, {"r2"});
  conv(ob, "r2", "y", 32, 64, 1, 1, 1, 35);
  ob.output("y");
  const Built b = build(ob.bytes(), 3 * 32 * 32);
  ASSERT_FALSE(b.int8.empty());
  for (const auto* bytes : {&b.fp32, &b.int8}) {
    auto model = Model::load_buffer(bytes->data(), bytes->size(), true);
    ASSERT_TRUE(model.ok()) << model.status().message();
    const std::vector<uint8_t> want = run_bytes(*bytes, b.inputs, {});
    ASSERT_FALSE(want.empty());
    constexpr int kSessions = 3;
    std::vector<std::vector<uint8_t>> got(kSessions);
    std::vector<std::thread> threads;
    for (int t = 0; t < kSessions; ++t) {
      threads.emplace_back([&, t] {
        SessionOptions o;
        o.threads = 2;
        auto s = Session::create(*model, o);
        if (!s.ok()) return;
        for (int rep = 0; rep < 3; ++rep) {
          got[static_cast<size_t>(t)].clear();
          for (const auto& x : b.inputs) {
            if (!(*s)->set_input(0, x).ok() || !(*s)->run().ok()) return;
            const TensorView out = (*s)->output(0);
            const auto* p = static_cast<const uint8_t*>(out.data);
            got[static_cast<size_t>(t)].insert(got[static_cast<size_t>(t)].end(), p,
                                               p + out.info->num_bytes);
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kSessions; ++t) {
      EXPECT_EQ(got[static_cast<size_t>(t)], want)
          << (bytes == &b.fp32 ? "fp32" : "int8") << ", session " << t;
    }
  }
}

TEST(Threads, OutOfRangeCountsAreRefused) {
  OnnxBuilder ob;
  ob.input("x", {1, 4});
  ob.node("Relu", {"x"}, {"y"});
  ob.output("y");
  const std::string onnx = ob.bytes();
  auto g = qc::import_onnx_bytes(onnx.data(), onnx.size());
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto f = qc::build_fp32(**g);
  ASSERT_TRUE(f.ok());
  auto m = Model::load_buffer(f->data(), f->size(), true);
  ASSERT_TRUE(m.ok());
  for (int bad : {-1, 257, 100000}) {
    SessionOptions o;
    o.threads = bad;
    auto s = Session::create(*m, o);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find("threads = " + std::to_string(bad)), std::string::npos)
        << s.status().message();
  }
  SessionOptions o;
  o.threads = 0;
  EXPECT_TRUE(Session::create(*m, o).ok());
}

}  // namespace
}  // namespace quanta
