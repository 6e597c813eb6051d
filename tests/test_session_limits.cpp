// Session memory limits (SessionOptions::max_arena_bytes and
// max_prepared_bytes, docs/runtime.md "Memory limits"): checked before
// anything is allocated, so that a tiny file declaring absurd sizes is
// refused in milliseconds instead of taking gigabytes.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "quanta/model_writer.hpp"
#include "support/model_builders.hpp"

namespace quanta {
namespace {

using test::load_writer;

constexpr size_t kMiB = size_t{1} << 20;

// Peak resident memory of the process so far, in bytes.
size_t peak_rss() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<size_t>(u.ru_maxrss) * 1024;
}

// x (graph input) -> Relu -> y (graph output), both u8 of `shape`: graph
// inputs and outputs never share memory, so the arena holds both.
ModelWriter relu_writer(std::vector<int64_t> shape) {
  ModelWriter w("quanta-tests");
  const QuantParams q = test::per_tensor(0.05f, 10);
  const int x = w.add_tensor("x", shape, DType::kU8, q);
  const int y = w.add_tensor("y", shape, DType::kU8, q);
  w.add_node(OpType::kRelu, {x}, {y}, {}, "relu");
  w.set_inputs({x});
  w.set_outputs({y});
  return w;
}

// A float MatMul of two empty operands, [b, b, 0, 1] x [b, b, 1, 0]: no
// activation byte at all, but b * b batch offsets to prepare.
ModelWriter empty_batched_matmul_writer(int64_t b) {
  ModelWriter w("quanta-tests");
  const int a = w.add_tensor("a", {b, b, 0, 1}, DType::kF32);
  const int bb = w.add_tensor("b", {b, b, 1, 0}, DType::kF32);
  const int y = w.add_tensor("y", {b, b, 0, 0}, DType::kF32);
  fb::OptionsUnion o;
  o.Set(fb::MatMulOptionsT{});
  w.add_node(OpType::kMatMul, {a, bb}, {y}, std::move(o), "mm");
  w.set_inputs({a, bb});
  w.set_outputs({y});
  return w;
}

::testing::AssertionResult Exhausted(const Result<std::unique_ptr<Session>>& r,
                                     std::initializer_list<std::string> fragments) {
  if (r.ok()) return ::testing::AssertionFailure() << "Session::create succeeded";
  if (r.status().code() != StatusCode::kResourceExhausted) {
    return ::testing::AssertionFailure() << "code " << status_code_name(r.status().code()) << ": "
                                         << r.status().message();
  }
  for (const std::string& f : fragments) {
    if (r.status().message().find(f) == std::string::npos) {
      return ::testing::AssertionFailure() << "message lacks \"" << f << "\": " << r.status().message();
    }
  }
  return ::testing::AssertionSuccess() << r.status().message();
}

// A file of a few hundred bytes that declares gigabytes of activations is
// refused by the default limit (1 GiB) before the arena is allocated: the
// peak memory of the process does not grow and it takes milliseconds.
TEST(SessionLimits, AbsurdActivationsFailFastWithoutAllocating) {
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{24576, 24576}, std::vector<int64_t>{65536, 65536}}) {
    const ModelWriter w = relu_writer(shape);
    const std::vector<uint8_t> bytes = w.finish();
    EXPECT_LT(bytes.size(), 1024u);
    auto model = Model::load_buffer(bytes.data(), bytes.size(), true);
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    const size_t rss_before = peak_rss();
    const auto t0 = std::chrono::steady_clock::now();
    auto s = Session::create(*model);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const std::string need = std::to_string(2 * shape[0] * shape[1]);
    ASSERT_TRUE(Exhausted(s, {"arena", need, "max_arena_bytes", "1073741824", "QUANTA_MAX_ARENA_MB",
                              "tensor 0 ('x')"}));
    EXPECT_LT(peak_rss() - rss_before, 64 * kMiB) << "the arena was allocated";
    EXPECT_LT(ms, 1000.0);
  }
}

TEST(SessionLimits, ArenaLimitIsExactAndConfigurable) {
  auto model = load_writer(relu_writer({1, 1000}));
  ASSERT_TRUE(model.ok());
  auto s = Session::create(*model);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  const size_t arena = (*s)->arena_bytes();
  EXPECT_EQ(arena, 2u * 1024u);
  SessionOptions o;
  o.max_arena_bytes = arena;
  EXPECT_TRUE(Session::create(*model, o).ok());
  o.max_arena_bytes = arena - 1;
  EXPECT_TRUE(Exhausted(Session::create(*model, o), {"needs 2048 bytes", "max_arena_bytes = 2047 bytes"}));
}

// Prepared state (packed weights, tables, per-node state) has its own limit,
// checked before each large buffer is allocated.
TEST(SessionLimits, PreparedLimitIsExactAndConfigurable) {
  auto model = load_writer(test::make_u8_fc_writer());
  ASSERT_TRUE(model.ok());
  auto s = Session::create(*model);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  const size_t prepared = (*s)->prepared_bytes();
  EXPECT_GT(prepared, 0u);
  SessionOptions o;
  o.max_prepared_bytes = prepared;
  EXPECT_TRUE(Session::create(*model, o).ok());
  o.max_prepared_bytes = prepared - 1;
  EXPECT_TRUE(Exhausted(Session::create(*model, o),
                        {"node 0 ('fc'", "max_prepared_bytes = " + std::to_string(prepared - 1) + " bytes",
                         "QUANTA_MAX_PREPARED_MB"}));
}

// No activation byte, but 2^26 batch offsets (1.5 GiB) to prepare: refused by
// the prepared-state limit before the table is allocated.
TEST(SessionLimits, AbsurdPreparedStateFailsFastWithoutAllocating) {
  auto model = load_writer(empty_batched_matmul_writer(8192));
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const size_t rss_before = peak_rss();
  auto s = Session::create(*model);
  ASSERT_TRUE(Exhausted(s, {"node 0 ('mm')", "max_prepared_bytes", "1073741824"}));
  EXPECT_LT(peak_rss() - rss_before, 64 * kMiB);
  // Within a raised limit the same model prepares (and runs: nothing to do).
  auto small = load_writer(empty_batched_matmul_writer(64));
  ASSERT_TRUE(small.ok());
  auto ok = Session::create(*small);
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ((*ok)->arena_bytes(), 0u);
  EXPECT_TRUE((*ok)->run().ok());
}

// The environment sets the limits of sessions whose options leave them at 0
// (the converter's calibration sessions, for example); explicit options win.
TEST(SessionLimits, EnvironmentSetsTheDefaultLimits) {
  auto model = load_writer(relu_writer({1024, 1024}));  // 2 MiB arena
  ASSERT_TRUE(model.ok());
  ASSERT_EQ(setenv("QUANTA_MAX_ARENA_MB", "1", 1), 0);
  EXPECT_TRUE(Exhausted(Session::create(*model), {"max_arena_bytes = 1048576 bytes (1.0 MiB, set by QUANTA_MAX_ARENA_MB=1)"}));
  SessionOptions o;
  o.max_arena_bytes = 4 * kMiB;
  EXPECT_TRUE(Session::create(*model, o).ok());
  ASSERT_EQ(setenv("QUANTA_MAX_ARENA_MB", "2", 1), 0);
  EXPECT_TRUE(Session::create(*model).ok());
  for (const char* bad : {"abc", "-1", "0", "1.5", "99999999999999999999"}) {
    ASSERT_EQ(setenv("QUANTA_MAX_ARENA_MB", bad, 1), 0);
    auto r = Session::create(*model);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find(std::string("QUANTA_MAX_ARENA_MB='") + bad + "'"), std::string::npos)
        << r.status().message();
  }
  ASSERT_EQ(setenv("QUANTA_MAX_ARENA_MB", "", 1), 0);  // empty counts as unset
  EXPECT_TRUE(Session::create(*model).ok());
  unsetenv("QUANTA_MAX_ARENA_MB");

  auto fc = load_writer(test::make_u8_fc_writer());
  ASSERT_TRUE(fc.ok());
  ASSERT_EQ(setenv("QUANTA_MAX_PREPARED_MB", "lots", 1), 0);
  auto r = Session::create(*fc);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("QUANTA_MAX_PREPARED_MB='lots'"), std::string::npos);
  unsetenv("QUANTA_MAX_PREPARED_MB");
  EXPECT_TRUE(Session::create(*fc).ok());
}

}  // namespace
}  // namespace quanta
