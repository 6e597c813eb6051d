// Session::run() must not allocate (docs/design.md §3): every buffer is made in
// Session::create. This binary replaces the global operator new with a
// counting one and runs the bundled demo models (which exercise Quantize,
// Conv2D incl. depthwise, MaxPool, Add, GlobalAveragePool, Flatten,
// FullyConnected, Softmax and Dequantize), plus small ModelWriter models for
// the ops those files do not contain (HardSigmoid, LogSoftmax).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <new>

#include "quanta/converter.hpp"
#include "quanta/model_writer.hpp"
#include "quanta/quanta.hpp"
#include "support/onnx_builder.hpp"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// The replacements below pair malloc with free. When GCC 12 inlines one into
// std::allocator it sees `new` on one side and `free` on the other and
// reports a mismatch that is not one.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace quanta {
namespace {

TEST(RunAllocatesNothing, BundledModels) {
  for (const char* name : {"demo_cnn_fp32.quanta", "demo_cnn_int8.quanta"}) {
    auto model = Model::load_file(std::string(QUANTA_SOURCE_DIR) + "/models/" + name);
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    for (bool profile : {false, true}) {
      SessionOptions opts;
      opts.profile = profile;
      auto s = Session::create(*model, opts);
      ASSERT_TRUE(s.ok()) << s.status().to_string();
      std::vector<float> x(16 * 16 * 3, 0.5f), y(10);
      ASSERT_TRUE((*s)->set_input(0, x).ok());
      const long before = g_allocations.load();
      for (int i = 0; i < 10; ++i) ASSERT_TRUE((*s)->run().ok());
      ASSERT_TRUE((*s)->get_output(0, y).ok());
      EXPECT_EQ(g_allocations.load() - before, 0) << name << " profile=" << profile;
      // The counter works: creating a session allocates.
      const long mark = g_allocations.load();
      auto other = Session::create(*model);
      EXPECT_GT(g_allocations.load(), mark);
    }
  }
}

// The caller-buffer run and the by-name boundary calls allocate nothing when
// they succeed either (their error messages are built only on failure).
TEST(RunAllocatesNothing, CallerBuffersAndNames) {
  auto model = Model::load_file(std::string(QUANTA_SOURCE_DIR) + "/models/demo_cnn_int8.quanta");
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  auto s = Session::create(*model);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  std::vector<float> x(16 * 16 * 3, 0.5f), y(10), y2(10);
  const InputBuffer in[] = {{"input", x.data(), x.size() * sizeof(float)}};
  const OutputBuffer out[] = {{"probs", y.data(), y.size() * sizeof(float)}};
  ASSERT_TRUE((*s)->run(in, out).ok());  // first call outside the count
  const long before = g_allocations.load();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*s)->run(in, out).ok());
  ASSERT_TRUE((*s)->set_input("input", x).ok());
  ASSERT_TRUE((*s)->run().ok());
  ASSERT_TRUE((*s)->get_output("probs", y2).ok());
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_EQ(y, y2);
  // The counter works here too: a refused binding builds its message.
  const long mark = g_allocations.load();
  const InputBuffer bad[] = {{"no_such_input", x.data(), x.size() * sizeof(float)}};
  EXPECT_FALSE((*s)->run(bad, out).ok());
  EXPECT_GT(g_allocations.load(), mark);
}

// With intra-op threads: the ops are large enough to be split, and handing
// work to the pool must not allocate either.
TEST(RunAllocatesNothing, ThreadedSession) {
  test::OnnxBuilder ob;
  ob.input("x", {2, 1024});
  ob.initializer("w", {520, 1024}, test::test_values(520 * 1024, 3, -0.1f, 0.1f));
  auto& g = ob.node("Gemm", {"x", "w"}, {"y"});
  test::attr_int(g, "transB", 1);
  ob.output("y");
  const std::string onnx = ob.bytes();
  auto graph = convert::import_onnx_bytes(onnx.data(), onnx.size());
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  auto bytes = convert::build_fp32(**graph);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto model = Model::load_buffer(bytes->data(), bytes->size(), true);
  ASSERT_TRUE(model.ok()) << model.status().message();
  SessionOptions opts;
  opts.threads = 2;
  auto s = Session::create(*model, opts);
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ((*s)->threads(), 2);
  std::vector<float> x(2 * 1024, 0.25f);
  ASSERT_TRUE((*s)->set_input(0, x).ok());
  ASSERT_TRUE((*s)->run().ok());  // first run: the workers wake up
  const long before = g_allocations.load();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*s)->run().ok());
  EXPECT_EQ(g_allocations.load() - before, 0);
}

TEST(RunAllocatesNothing, HardSigmoidAndLogSoftmax) {
  for (bool quantized : {false, true}) {
    const DType dt = quantized ? DType::kU8 : DType::kF32;
    auto q = [&](float s, int32_t z) {
      return quantized ? QuantParams{{s}, {z}, -1, 0} : QuantParams{};
    };
    ModelWriter w("test");
    const int x = w.add_tensor("x", {2, 3, 10}, dt, q(0.05f, 128));
    const int g = w.add_tensor("g", {2, 3, 10}, dt, q(1.f / 255.f, 0));
    const int y = w.add_tensor("y", {2, 3, 10}, dt, q(0.02f, 255));
    w.add_node(OpType::kHardSigmoid, {x}, {g}, {}, "hsig");
    fb::OptionsUnion u;
    fb::SoftmaxOptionsT o;
    o.axis = 1;
    u.Set(o);
    w.add_node(OpType::kLogSoftmax, {g}, {y}, std::move(u), "logsm");
    w.set_inputs({x});
    w.set_outputs({y});
    const std::vector<uint8_t> bytes = w.finish();
    auto model = Model::load_buffer(bytes.data(), bytes.size(), /*copy=*/true);
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    auto s = Session::create(*model);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    std::array<float, 60> in{}, out{};  // (not vectors: GCC 12 misreads the replaced new/delete)
    in.fill(0.25f);
    ASSERT_TRUE((*s)->set_input(0, in).ok());
    const long before = g_allocations.load();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*s)->run().ok());
    EXPECT_EQ(g_allocations.load() - before, 0) << "quantized=" << quantized;
    ASSERT_TRUE((*s)->get_output(0, out).ok());
  }
}

}  // namespace
}  // namespace quanta
