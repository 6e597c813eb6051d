// Memory planner: lifetimes never share bytes, chains reuse memory, reshape
// outputs alias their input, and graph inputs/outputs are never overwritten.
#include <gtest/gtest.h>

#include <cmath>

#include "planner.hpp"
#include "quanta/model_writer.hpp"

namespace quanta {
namespace {

std::shared_ptr<const Model> load(const ModelWriter& w) {
  const std::vector<uint8_t> bytes = w.finish();
  auto m = Model::load_buffer(bytes.data(), bytes.size(), /*copy=*/true);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? *m : nullptr;
}

// Independent lifetime computation: [first node touching, last node touching],
// graph inputs/outputs span the whole run.
struct Life { int first, last; };
std::vector<Life> lifetimes(const detail::ModelImpl& m) {
  const int n = static_cast<int>(m.nodes.size());
  std::vector<Life> life(m.tensors.size(), {n + 1, -2});
  auto touch = [&](int t, int i) {
    if (t < 0) return;
    life[t].first = std::min(life[t].first, i);
    life[t].last = std::max(life[t].last, i);
  };
  for (int i = 0; i < n; ++i) {
    for (int t : m.nodes[i].inputs) touch(t, i);
    for (int t : m.nodes[i].outputs) touch(t, i);
  }
  for (int t : m.inputs) touch(t, -1), touch(t, n);
  for (int t : m.outputs) touch(t, -1), touch(t, n);
  return life;
}

void expect_no_conflicts(const detail::ModelImpl& m, const detail::MemoryPlan& plan) {
  const std::vector<Life> life = lifetimes(m);
  for (size_t a = 0; a < m.tensors.size(); ++a) {
    if (m.const_data[a]) {
      EXPECT_EQ(plan.offset[a], -1);
      continue;
    }
    ASSERT_GE(plan.offset[a], 0) << m.tensors[a].name;
    EXPECT_EQ(plan.offset[a] % 64, 0);
    EXPECT_LE(static_cast<size_t>(plan.offset[a]) + m.tensors[a].num_bytes, plan.arena_bytes);
    for (size_t b = a + 1; b < m.tensors.size(); ++b) {
      if (m.const_data[b] || plan.offset[a] == plan.offset[b]) continue;  // same = alias
      const bool live_together = life[a].first <= life[b].last && life[b].first <= life[a].last;
      if (!live_together) continue;
      const int64_t a0 = plan.offset[a], a1 = a0 + static_cast<int64_t>(m.tensors[a].num_bytes);
      const int64_t b0 = plan.offset[b], b1 = b0 + static_cast<int64_t>(m.tensors[b].num_bytes);
      EXPECT_TRUE(a1 <= b0 || b1 <= a0)
          << m.tensors[a].name << " and " << m.tensors[b].name << " overlap while both live";
    }
  }
}

TEST(Planner, ChainReusesTwoBuffers) {
  ModelWriter w("test");
  const int n = 10;
  int prev = w.add_tensor("t0", {1, 1000}, DType::kF32);
  const int input = prev;
  for (int i = 1; i <= n; ++i) {
    const int t = w.add_tensor("t" + std::to_string(i), {1, 1000}, DType::kF32);
    w.add_node(OpType::kRelu, {prev}, {t}, {}, "relu" + std::to_string(i));
    prev = t;
  }
  w.set_inputs({input});
  w.set_outputs({prev});
  auto model = load(w);
  ASSERT_TRUE(model);
  const detail::MemoryPlan plan = detail::plan_memory(model->impl());
  expect_no_conflicts(model->impl(), plan);
  const size_t block = 4032;  // 4000 bytes rounded up to 64
  EXPECT_EQ(plan.unplanned_bytes, (n + 1) * block);
  // input + output dedicated, two ping-pong buffers for the intermediates.
  EXPECT_EQ(plan.arena_bytes, 4 * block);
  auto s = Session::create(model);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->arena_bytes(), plan.arena_bytes);
}

TEST(Planner, BranchesAndReshapeAlias) {
  ModelWriter w("test");
  const int x = w.add_tensor("x", {2, 8}, DType::kF32);
  const int a = w.add_tensor("a", {2, 8}, DType::kF32);
  const int b = w.add_tensor("b", {2, 8}, DType::kF32);
  const int c = w.add_tensor("c", {2, 8}, DType::kF32);
  const int d = w.add_tensor("d", {2, 8}, DType::kF32);
  const int e = w.add_tensor("e", {16}, DType::kF32);
  const int y = w.add_tensor("y", {16}, DType::kF32);
  w.add_node(OpType::kRelu, {x}, {a}, {}, "n0");
  w.add_node(OpType::kSigmoid, {a}, {b}, {}, "n1");
  w.add_node(OpType::kTanh, {a}, {c}, {}, "n2");
  w.add_node(OpType::kAdd, {b, c}, {d}, {}, "n3");
  fb::OptionsUnion r;
  fb::ReshapeOptionsT ro;
  ro.new_shape = {16};
  r.Set(ro);
  w.add_node(OpType::kReshape, {d}, {e}, std::move(r), "n4");
  w.add_node(OpType::kRelu, {e}, {y}, {}, "n5");
  w.set_inputs({x});
  w.set_outputs({y});
  auto model = load(w);
  ASSERT_TRUE(model);
  const detail::MemoryPlan plan = detail::plan_memory(model->impl());
  expect_no_conflicts(model->impl(), plan);
  EXPECT_EQ(plan.offset[d], plan.offset[e]);  // reshape output aliases its input
  EXPECT_LT(plan.arena_bytes, plan.unplanned_bytes);

  // And the plan computes the right values.
  auto s = Session::create(model);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  std::vector<float> xv(16), yv(16);
  for (int i = 0; i < 16; ++i) xv[i] = static_cast<float>(i - 8) / 4.f;
  ASSERT_TRUE((*s)->set_input(0, xv).ok());
  ASSERT_TRUE((*s)->run().ok());
  ASSERT_TRUE((*s)->get_output(0, yv).ok());
  for (int i = 0; i < 16; ++i) {
    const double av = std::max(0.0, static_cast<double>(xv[i]));
    const double ref = 1.0 / (1.0 + std::exp(-av)) + std::tanh(av);
    EXPECT_NEAR(yv[i], ref, 1e-5) << i;
  }
}

TEST(Planner, GraphOutputIsNotOverwrittenByLaterNodes) {
  // y1 is a graph output produced early; later nodes must not reuse its bytes.
  ModelWriter w("test");
  const int x = w.add_tensor("x", {64}, DType::kF32);
  const int y1 = w.add_tensor("y1", {64}, DType::kF32);
  const int t1 = w.add_tensor("t1", {64}, DType::kF32);
  const int t2 = w.add_tensor("t2", {64}, DType::kF32);
  const int y2 = w.add_tensor("y2", {64}, DType::kF32);
  w.add_node(OpType::kRelu, {x}, {y1}, {}, "n0");
  w.add_node(OpType::kSigmoid, {x}, {t1}, {}, "n1");
  w.add_node(OpType::kTanh, {t1}, {t2}, {}, "n2");
  w.add_node(OpType::kSigmoid, {t2}, {y2}, {}, "n3");
  w.set_inputs({x});
  w.set_outputs({y1, y2});
  auto model = load(w);
  ASSERT_TRUE(model);
  const detail::MemoryPlan plan = detail::plan_memory(model->impl());
  expect_no_conflicts(model->impl(), plan);
  auto s = Session::create(model);
  ASSERT_TRUE(s.ok());
  std::vector<float> xv(64, -1.5f), out(64);
  xv[5] = 2.0f;
  ASSERT_TRUE((*s)->set_input(0, xv).ok());
  ASSERT_TRUE((*s)->run().ok());
  ASSERT_TRUE((*s)->get_output(0, out).ok());
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[5], 2.0f);
}

}  // namespace
}  // namespace quanta
