// Session I/O by name and on caller-owned buffers (quanta/quanta.hpp):
// input_index / output_index, input_info / output_info, set_input and
// get_output by name, get_output_raw, and run(inputs, outputs).
//
// Every result of run(inputs, outputs) is compared byte for byte with the
// same inference done through set_input / set_input_raw + run() + get_output
// / get_output_raw on a second session. Every refusal is checked for its
// code, for a message that names the problem, and for having written
// nothing: the caller's output buffers keep a sentinel pattern and the
// session's input and output tensors keep their bytes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "quanta/model_writer.hpp"
#include "quanta/quanta.hpp"
#include "support/model_builders.hpp"

namespace quanta {
namespace {

using ::testing::HasSubstr;

constexpr uint8_t kSentinel = 0xA5;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// ------------------------------------------------------------ models

// Two inputs and four outputs, both dtypes on both sides:
//   "a"   f32 [1, 4]                                    graph input 0
//   "b"   u8  [1, 8]  scale 0.05, zero point 10         graph input 1
//   "rb"  u8  [1, 8]  = Relu(b) (b's quantization)      graph output 0
//   "fa"  f32 [1, 4]  = Relu(a)                         graph output 1
//   "qa"  u8  [1, 4]  = Quantize(a), scale 0.02, zp 128 graph output 2
//   "db"  f32 [1, 8]  = Dequantize(b)                   graph output 3
ModelWriter mixed_writer() {
  ModelWriter w("quanta-tests");
  const QuantParams qb = test::per_tensor(0.05f, 10);
  const int a = w.add_tensor("a", {1, 4}, DType::kF32);
  const int b = w.add_tensor("b", {1, 8}, DType::kU8, qb);
  const int rb = w.add_tensor("rb", {1, 8}, DType::kU8, qb);
  const int fa = w.add_tensor("fa", {1, 4}, DType::kF32);
  const int qa = w.add_tensor("qa", {1, 4}, DType::kU8, test::per_tensor(0.02f, 128));
  const int db = w.add_tensor("db", {1, 8}, DType::kF32);
  w.add_node(OpType::kRelu, {b}, {rb}, {}, "relu_b");
  w.add_node(OpType::kRelu, {a}, {fa}, {}, "relu_a");
  w.add_node(OpType::kQuantize, {a}, {qa}, {}, "quantize_a");
  w.add_node(OpType::kDequantize, {b}, {db}, {}, "dequantize_b");
  w.set_inputs({a, b});
  w.set_outputs({rb, fa, qa, db});
  return w;
}

// A graph input that is also the graph output, in a dtype without a float
// boundary (no node: the loader accepts an output that is a graph input).
ModelWriter passthrough_writer(DType dtype) {
  ModelWriter w("quanta-tests");
  const int t = w.add_tensor("t", {1, 3}, dtype);
  w.set_inputs({t});
  w.set_outputs({t});
  return w;
}

std::shared_ptr<const Model> load(const ModelWriter& w) {
  auto m = test::load_writer(w);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? *m : nullptr;
}

std::shared_ptr<const Model> load_demo() {
  auto m = Model::load_file(QUANTA_SOURCE_DIR "/models/demo_cnn_int8.quanta");
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? *m : nullptr;
}

std::unique_ptr<Session> make_session(const std::shared_ptr<const Model>& model) {
  if (!model) return nullptr;
  auto s = Session::create(model);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? std::move(*s) : nullptr;
}

// ------------------------------------------------------------ data

// Input values of the mixed model. Three distinct sets: a refused call is
// given set 2 while the session holds set 1 in its inputs and the outputs
// of set 0, so a copy (inputs change) or a run (outputs change) shows.
const std::vector<float> kA[3] = {{-1.5f, 0.25f, 2.0f, -0.04f},
                                  {0.5f, 1.0f, -2.0f, 3.0f},
                                  {0.75f, -0.5f, 1.5f, 0.1f}};
const std::vector<uint8_t> kBRaw[3] = {{0, 5, 10, 11, 40, 100, 200, 255},
                                       {255, 200, 100, 40, 11, 10, 5, 0},
                                       {1, 2, 3, 4, 5, 6, 7, 8}};
const std::vector<float> kBFloat[3] = {{-1.0f, -0.3f, 0.0f, 0.07f, 1.2f, 3.33f, 9.9f, 20.0f},
                                       {20.0f, 9.9f, 3.33f, 1.2f, 0.07f, 0.0f, -0.3f, -1.0f},
                                       {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f}};

std::vector<float> random_floats(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<uint8_t> bytes_of(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + n);
}
template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  return bytes_of(v.data(), v.size() * sizeof(T));
}

// The bytes of every graph input and output tensor in the session's arena.
struct ArenaSnapshot {
  std::vector<std::vector<uint8_t>> in, out;
  bool operator==(const ArenaSnapshot&) const = default;
};
ArenaSnapshot snapshot(Session& s) {
  ArenaSnapshot a;
  for (size_t i = 0; i < s.model().num_inputs(); ++i) {
    a.in.push_back(bytes_of(s.input(i).data, s.input(i).info->num_bytes));
  }
  for (size_t i = 0; i < s.model().num_outputs(); ++i) {
    a.out.push_back(bytes_of(s.output(i).data, s.output(i).info->num_bytes));
  }
  return a;
}

// Caller buffers filled with kSentinel, each with room to spare (so that a
// binding one byte too large still points into owned memory) and
// float-aligned.
class SentinelBuffers {
 public:
  void* get(size_t bytes) {
    storage_.emplace_back((bytes + 64) / sizeof(float) + 1);
    std::memset(storage_.back().data(), kSentinel, storage_.back().size() * sizeof(float));
    return storage_.back().data();
  }
  // Every byte of every buffer still holds the sentinel.
  ::testing::AssertionResult intact() const {
    for (size_t k = 0; k < storage_.size(); ++k) {
      const auto* p = reinterpret_cast<const uint8_t*>(storage_[k].data());
      for (size_t j = 0; j < storage_[k].size() * sizeof(float); ++j) {
        if (p[j] != kSentinel) {
          return ::testing::AssertionFailure() << "buffer " << k << " byte " << j << " was written";
        }
      }
    }
    return ::testing::AssertionSuccess();
  }

 private:
  std::deque<std::vector<float>> storage_;  // deque: get()'s pointers stay valid
};

::testing::AssertionResult StatusIs(const Status& s, StatusCode code,
                                    const std::vector<std::string>& fragments) {
  if (s.ok()) return ::testing::AssertionFailure() << "the call succeeded";
  if (s.code() != code) {
    return ::testing::AssertionFailure()
           << "code " << status_code_name(s.code()) << " instead of " << status_code_name(code)
           << ": " << s.message();
  }
  for (const std::string& f : fragments) {
    if (!::testing::Value(s.message(), HasSubstr(f))) {
      return ::testing::AssertionFailure() << "message lacks \"" << f << "\": " << s.message();
    }
  }
  return ::testing::AssertionSuccess() << s.message();
}

// ------------------------------------------------------------ mixed model fixture

class SessionIoMixed : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = load(mixed_writer());
    ASSERT_TRUE(model_);
    session_ = make_session(model_);
    ASSERT_TRUE(session_);
    ref_ = make_session(model_);
    ASSERT_TRUE(ref_);
  }

  // Session `s` after set 0 was run, with set 1 then written into its inputs
  // (not run): its outputs are set 0's, its inputs set 1's.
  void prime(Session& s) {
    ASSERT_TRUE(s.set_input(0, kA[0]).ok());
    ASSERT_TRUE(s.set_input_raw(1, kBRaw[0].data(), kBRaw[0].size()).ok());
    ASSERT_TRUE(s.run().ok());
    std::memcpy(s.input(0).data, kA[1].data(), kA[1].size() * sizeof(float));
    std::memcpy(s.input(1).data, kBRaw[1].data(), kBRaw[1].size());
  }

  // The outputs of `set` run through set_input / set_input_raw + run() on the
  // reference session: the raw bytes of each output.
  std::vector<std::vector<uint8_t>> reference_raw(int set, bool b_as_float = false) {
    EXPECT_TRUE(ref_->set_input(0, kA[set]).ok());
    if (b_as_float) {
      EXPECT_TRUE(ref_->set_input(1, kBFloat[set]).ok());
    } else {
      EXPECT_TRUE(ref_->set_input_raw(1, kBRaw[set].data(), kBRaw[set].size()).ok());
    }
    EXPECT_TRUE(ref_->run().ok());
    std::vector<std::vector<uint8_t>> out;
    for (size_t i = 0; i < model_->num_outputs(); ++i) {
      std::vector<uint8_t> o(model_->output(i).num_bytes);
      EXPECT_TRUE(ref_->get_output_raw(i, o.data(), o.size()).ok());
      out.push_back(o);
    }
    return out;
  }

  // run(inputs, outputs) on a primed session must fail with `code` and a
  // message holding every fragment, and write nothing: the caller's buffers
  // (from bufs_) keep the sentinel, the session's input and output tensors
  // their bytes.
  void expect_refused(const std::vector<InputBuffer>& in, const std::vector<OutputBuffer>& out,
                      StatusCode code, const std::vector<std::string>& fragments) {
    auto s = make_session(model_);
    ASSERT_TRUE(s);
    prime(*s);
    const ArenaSnapshot before = snapshot(*s);
    EXPECT_TRUE(StatusIs(s->run(in, out), code, fragments));
    EXPECT_TRUE(bufs_.intact());
    const ArenaSnapshot after = snapshot(*s);
    EXPECT_EQ(after.in, before.in) << "a refused run() changed the session's inputs";
    EXPECT_EQ(after.out, before.out) << "a refused run() ran the model";
  }

  // Well-formed bindings of data set 2 (a and b as float, or b raw).
  InputBuffer a_float(int set = 2) {
    return {"a", kA[set].data(), kA[set].size() * sizeof(float), DType::kF32};
  }
  InputBuffer b_raw(int set = 2) { return {"b", kBRaw[set].data(), kBRaw[set].size(), DType::kU8}; }
  InputBuffer b_float_(int set = 2) {
    return {"b", kBFloat[set].data(), kBFloat[set].size() * sizeof(float), DType::kF32};
  }
  // An output binding to a fresh sentinel buffer: the tensor's own dtype
  // (raw) or float.
  OutputBuffer out_raw(std::string_view name) {
    const TensorInfo& t = model_->output(static_cast<size_t>(model_->find_output(name)));
    return {name, bufs_.get(t.num_bytes), t.num_bytes, t.dtype};
  }
  OutputBuffer out_float(std::string_view name) {
    const TensorInfo& t = model_->output(static_cast<size_t>(model_->find_output(name)));
    const size_t bytes = static_cast<size_t>(t.num_elements) * sizeof(float);
    return {name, bufs_.get(bytes), bytes, DType::kF32};
  }
  std::vector<OutputBuffer> all_outputs_raw() {
    return {out_raw("rb"), out_raw("fa"), out_raw("qa"), out_raw("db")};
  }

  std::shared_ptr<const Model> model_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<Session> ref_;
  SentinelBuffers bufs_;
};

// The primed state the refusal checks rely on is observable: set 1 gives
// other outputs than set 0 on every output, so a run that slipped through
// would change them.
TEST_F(SessionIoMixed, PrimedSessionWouldShowARun) {
  const auto out0 = reference_raw(0);
  const auto out1 = reference_raw(1);
  const auto out2 = reference_raw(2);
  for (size_t i = 0; i < out0.size(); ++i) {
    EXPECT_NE(out0[i], out1[i]) << "output " << i;
    EXPECT_NE(out0[i], out2[i]) << "output " << i;
  }
  prime(*session_);
  const ArenaSnapshot primed = snapshot(*session_);
  EXPECT_EQ(primed.out, out0);
  EXPECT_EQ(primed.in[0], bytes_of(kA[1]));
  EXPECT_EQ(primed.in[1], kBRaw[1]);
  ASSERT_TRUE(session_->run().ok());
  EXPECT_EQ(snapshot(*session_).out, out1);
}

// ------------------------------------------------------------ index / info

TEST_F(SessionIoMixed, InputAndOutputIndexByName) {
  EXPECT_EQ(session_->input_index("a"), 0);
  EXPECT_EQ(session_->input_index("b"), 1);
  EXPECT_EQ(session_->output_index("rb"), 0);
  EXPECT_EQ(session_->output_index("fa"), 1);
  EXPECT_EQ(session_->output_index("qa"), 2);
  EXPECT_EQ(session_->output_index("db"), 3);
  // Outputs are not inputs and the reverse; no prefix or case matching.
  for (std::string_view n : {"rb", "fa", "qa", "db", "", "A", "aa", "b ", "x"}) {
    EXPECT_EQ(session_->input_index(n), -1) << n;
  }
  for (std::string_view n : {"a", "b", "", "RB", "r", "dbx"}) {
    EXPECT_EQ(session_->output_index(n), -1) << n;
  }
  for (std::string_view n : {"a", "b", "rb", "zz"}) {
    EXPECT_EQ(session_->input_index(n), model_->find_input(n)) << n;
    EXPECT_EQ(session_->output_index(n), model_->find_output(n)) << n;
  }
  // Names that are views into a larger string (no terminating NUL).
  const std::string text = "abdb";
  EXPECT_EQ(session_->input_index(std::string_view(text).substr(1, 1)), 1);
  EXPECT_EQ(session_->output_index(std::string_view(text).substr(2, 2)), 3);
}

TEST_F(SessionIoMixed, InputAndOutputInfoMatchModel) {
  ASSERT_EQ(model_->num_inputs(), 2u);
  ASSERT_EQ(model_->num_outputs(), 4u);
  for (size_t i = 0; i < model_->num_inputs(); ++i) {
    const TensorInfo* t = session_->input_info(i);
    ASSERT_NE(t, nullptr) << i;
    EXPECT_EQ(t, &model_->input(i)) << i;
    EXPECT_EQ(t->name, model_->input(i).name);
    EXPECT_EQ(t->shape, model_->input(i).shape);
    EXPECT_EQ(t->dtype, model_->input(i).dtype);
    EXPECT_EQ(t->quant.scale, model_->input(i).quant.scale);
    EXPECT_EQ(t->quant.zero_point, model_->input(i).quant.zero_point);
    EXPECT_EQ(t->num_bytes, model_->input(i).num_bytes);
    EXPECT_EQ(t, session_->input(i).info);
  }
  for (size_t i = 0; i < model_->num_outputs(); ++i) {
    const TensorInfo* t = session_->output_info(i);
    ASSERT_NE(t, nullptr) << i;
    EXPECT_EQ(t, &model_->output(i)) << i;
    EXPECT_EQ(t->name, model_->output(i).name);
    EXPECT_EQ(t->shape, model_->output(i).shape);
    EXPECT_EQ(t->dtype, model_->output(i).dtype);
    EXPECT_EQ(t->num_bytes, model_->output(i).num_bytes);
    EXPECT_EQ(t, session_->output(i).info);
  }
  // Concrete values, independent of Model.
  EXPECT_EQ(session_->input_info(1)->name, "b");
  EXPECT_EQ(session_->input_info(1)->dtype, DType::kU8);
  EXPECT_EQ(session_->input_info(1)->shape, (std::vector<int64_t>{1, 8}));
  EXPECT_EQ(session_->input_info(1)->quant.scale, std::vector<float>{0.05f});
  EXPECT_EQ(session_->input_info(1)->quant.zero_point, std::vector<int32_t>{10});
  EXPECT_EQ(session_->output_info(2)->name, "qa");
  EXPECT_EQ(session_->output_info(2)->quant.zero_point, std::vector<int32_t>{128});
  EXPECT_EQ(session_->output_info(3)->dtype, DType::kF32);
  EXPECT_EQ(session_->output_info(3)->num_bytes, 32u);
  // Out of range.
  for (size_t i : {size_t{2}, size_t{3}, size_t{1000}, std::numeric_limits<size_t>::max()}) {
    EXPECT_EQ(session_->input_info(i), nullptr) << i;
  }
  for (size_t i : {size_t{4}, size_t{5}, std::numeric_limits<size_t>::max()}) {
    EXPECT_EQ(session_->output_info(i), nullptr) << i;
  }
}

TEST(SessionIo, DemoModelInfoAndIndex) {
  auto model = load_demo();
  ASSERT_TRUE(model);
  auto s = make_session(model);
  ASSERT_TRUE(s);
  ASSERT_EQ(model->num_inputs(), 1u);
  ASSERT_EQ(model->num_outputs(), 1u);
  EXPECT_EQ(s->input_index("input"), 0);
  EXPECT_EQ(s->output_index("probs"), 0);
  EXPECT_EQ(s->input_index("probs"), -1);
  EXPECT_EQ(s->output_index("input"), -1);
  // Internal tensors are neither.
  EXPECT_EQ(s->input_index("input_q"), -1);
  EXPECT_EQ(s->output_index("logits"), -1);
  ASSERT_NE(s->input_info(0), nullptr);
  EXPECT_EQ(s->input_info(0), &model->input(0));
  EXPECT_EQ(s->input_info(0)->shape, (std::vector<int64_t>{1, 16, 16, 3}));
  EXPECT_EQ(s->input_info(0)->dtype, DType::kF32);
  ASSERT_NE(s->output_info(0), nullptr);
  EXPECT_EQ(s->output_info(0), &model->output(0));
  EXPECT_EQ(s->output_info(0)->shape, (std::vector<int64_t>{1, 10}));
  EXPECT_EQ(s->input_info(1), nullptr);
  EXPECT_EQ(s->output_info(1), nullptr);
}

// ------------------------------------------------------------ set_input / get_output by name

TEST_F(SessionIoMixed, SetInputByNameEqualsByIndex) {
  for (int set = 0; set < 3; ++set) {
    SCOPED_TRACE(set);
    ASSERT_TRUE(session_->set_input("b", kBFloat[set]).ok());
    ASSERT_TRUE(session_->set_input("a", kA[set]).ok());
    ASSERT_TRUE(ref_->set_input(0, kA[set]).ok());
    ASSERT_TRUE(ref_->set_input(1, kBFloat[set]).ok());
    EXPECT_EQ(snapshot(*session_).in, snapshot(*ref_).in);
    EXPECT_EQ(bytes_of(session_->input(0).data, 16), bytes_of(kA[set]));
    ASSERT_TRUE(session_->run().ok());
    ASSERT_TRUE(ref_->run().ok());
    EXPECT_EQ(snapshot(*session_).out, snapshot(*ref_).out);
  }
}

TEST_F(SessionIoMixed, GetOutputByNameEqualsByIndex) {
  ASSERT_TRUE(session_->set_input("a", kA[0]).ok());
  ASSERT_TRUE(session_->set_input("b", kBFloat[0]).ok());
  ASSERT_TRUE(session_->run().ok());
  for (const char* name : {"rb", "fa", "qa", "db"}) {
    SCOPED_TRACE(name);
    const int i = session_->output_index(name);
    ASSERT_GE(i, 0);
    const size_t n = static_cast<size_t>(model_->output(static_cast<size_t>(i)).num_elements);
    std::vector<float> by_name(n, -7.0f), by_index(n, -9.0f);
    ASSERT_TRUE(session_->get_output(name, by_name).ok());
    ASSERT_TRUE(session_->get_output(static_cast<size_t>(i), by_index).ok());
    EXPECT_EQ(bytes_of(by_name), bytes_of(by_index));
  }
  // Values, independently: fa = relu(a) exactly; db = dequantized b.
  std::vector<float> fa(4), db(8);
  ASSERT_TRUE(session_->get_output("fa", fa).ok());
  EXPECT_EQ(fa, (std::vector<float>{0.0f, 0.25f, 2.0f, 0.0f}));
  ASSERT_TRUE(session_->get_output("db", db).ok());
  for (size_t k = 0; k < 8; ++k) {
    const int q = std::clamp(static_cast<int>(std::lrint(kBFloat[0][k] / 0.05f)) + 10, 0, 255);
    EXPECT_NEAR(db[k], 0.05f * static_cast<float>(q - 10), 1e-6f) << k;
  }
}

TEST_F(SessionIoMixed, SetInputByNameRefusesUnknownName) {
  prime(*session_);
  const ArenaSnapshot before = snapshot(*session_);
  for (std::string_view name : {"nope", "rb", "", "A"}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(StatusIs(session_->set_input(name, kA[2]), StatusCode::kInvalidArgument,
                         {"no input named '" + std::string(name) + "'", "'a', 'b'"}));
  }
  EXPECT_EQ(snapshot(*session_), before);
}

TEST_F(SessionIoMixed, SetInputByNameRefusesWrongSizeAndNaN) {
  prime(*session_);
  const ArenaSnapshot before = snapshot(*session_);
  const std::vector<float> three = {1, 2, 3};
  const std::vector<float> five = {1, 2, 3, 4, 5};
  EXPECT_TRUE(StatusIs(session_->set_input("a", three), StatusCode::kInvalidArgument,
                       {"input 0 ('a')", "got 3 values", "has 4"}));
  EXPECT_TRUE(StatusIs(session_->set_input("a", five), StatusCode::kInvalidArgument,
                       {"input 0 ('a')", "got 5 values"}));
  std::vector<float> nan_a = kA[2];
  nan_a[2] = kNaN;
  EXPECT_TRUE(StatusIs(session_->set_input("a", nan_a), StatusCode::kInvalidArgument,
                       {"input 0 ('a')", "element 2 is NaN"}));
  std::vector<float> nan_b = kBFloat[2];
  nan_b[7] = kNaN;
  EXPECT_TRUE(StatusIs(session_->set_input("b", nan_b), StatusCode::kInvalidArgument,
                       {"input 1 ('b')", "element 7 is NaN"}));
  EXPECT_EQ(snapshot(*session_), before);
}

TEST_F(SessionIoMixed, GetOutputByNameRefusesUnknownName) {
  ASSERT_TRUE(session_->set_input("a", kA[0]).ok());
  ASSERT_TRUE(session_->set_input("b", kBFloat[0]).ok());
  ASSERT_TRUE(session_->run().ok());
  for (std::string_view name : {"a", "zz", "", "FA"}) {
    SCOPED_TRACE(name);
    auto* p = static_cast<float*>(bufs_.get(4 * sizeof(float)));
    EXPECT_TRUE(StatusIs(session_->get_output(name, std::span<float>(p, 4)),
                         StatusCode::kInvalidArgument,
                         {"no output named '" + std::string(name) + "'",
                          "'rb', 'fa', 'qa', 'db'"}));
  }
  // A known name with a wrong size is refused by the index path.
  auto* p = static_cast<float*>(bufs_.get(8 * sizeof(float)));
  EXPECT_TRUE(StatusIs(session_->get_output("fa", std::span<float>(p, 5)),
                       StatusCode::kInvalidArgument, {"output 1 ('fa')", "5 values", "has 4"}));
  EXPECT_TRUE(bufs_.intact());
}

// ------------------------------------------------------------ get_output_raw

TEST_F(SessionIoMixed, GetOutputRawCopiesStoredBytes) {
  ASSERT_TRUE(session_->set_input(0, kA[0]).ok());
  ASSERT_TRUE(session_->set_input_raw(1, kBRaw[0].data(), kBRaw[0].size()).ok());
  ASSERT_TRUE(session_->run().ok());
  for (size_t i = 0; i < model_->num_outputs(); ++i) {
    SCOPED_TRACE(i);
    const size_t n = model_->output(i).num_bytes;
    std::vector<uint8_t> got(n, kSentinel);
    ASSERT_TRUE(session_->get_output_raw(i, got.data(), n).ok());
    EXPECT_EQ(got, bytes_of(session_->output(i).data, n));
  }
  // rb = relu(b) in b's quantization: max(q, zero point 10).
  std::vector<uint8_t> rb(8);
  ASSERT_TRUE(session_->get_output_raw(0, rb.data(), rb.size()).ok());
  EXPECT_EQ(rb, (std::vector<uint8_t>{10, 10, 10, 11, 40, 100, 200, 255}));
}

TEST_F(SessionIoMixed, GetOutputRawRefusals) {
  ASSERT_TRUE(session_->set_input(0, kA[0]).ok());
  ASSERT_TRUE(session_->set_input_raw(1, kBRaw[0].data(), kBRaw[0].size()).ok());
  ASSERT_TRUE(session_->run().ok());
  const ArenaSnapshot before = snapshot(*session_);
  // Wrong size: u8 output 0 (8 bytes), f32 output 3 (32 bytes).
  for (size_t bytes : {size_t{7}, size_t{9}, size_t{0}, size_t{32}}) {
    SCOPED_TRACE(bytes);
    EXPECT_TRUE(StatusIs(session_->get_output_raw(0, bufs_.get(bytes), bytes),
                         StatusCode::kInvalidArgument,
                         {"output 0 ('rb')", "buffer holds " + std::to_string(bytes) + " bytes",
                          "the tensor has 8 (8 x u8)"}));
  }
  for (size_t bytes : {size_t{31}, size_t{33}, size_t{8}}) {
    SCOPED_TRACE(bytes);
    EXPECT_TRUE(StatusIs(session_->get_output_raw(3, bufs_.get(bytes), bytes),
                         StatusCode::kInvalidArgument,
                         {"output 3 ('db')", "buffer holds " + std::to_string(bytes) + " bytes",
                          "the tensor has 32 (8 x f32)"}));
  }
  // Null data with the right size.
  EXPECT_TRUE(StatusIs(session_->get_output_raw(2, nullptr, 4), StatusCode::kInvalidArgument,
                       {"output 2 ('qa')", "data is null"}));
  // Index out of range.
  for (size_t i : {size_t{4}, size_t{100}, std::numeric_limits<size_t>::max()}) {
    SCOPED_TRACE(i);
    EXPECT_TRUE(StatusIs(session_->get_output_raw(i, bufs_.get(8), 8),
                         StatusCode::kInvalidArgument,
                         {"output index " + std::to_string(i) + " out of range",
                          "the model has 4 output(s)"}));
  }
  EXPECT_TRUE(bufs_.intact());
  EXPECT_EQ(snapshot(*session_), before);
}

// ------------------------------------------------------------ run(inputs, outputs): results

// The bundled int8 demo CNN (float input and output): run() on float buffers
// gives exactly the bytes of set_input + run() + get_output on another
// session, run after run.
TEST(SessionIo, RunOnFloatBuffersMatchesSetInputRunGetOutput) {
  auto model = load_demo();
  ASSERT_TRUE(model);
  auto s = make_session(model);
  auto ref = make_session(model);
  ASSERT_TRUE(s && ref);
  const size_t n_in = static_cast<size_t>(model->input(0).num_elements);
  const size_t n_out = static_cast<size_t>(model->output(0).num_elements);
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    SCOPED_TRACE(seed);
    const std::vector<float> x = random_floats(n_in, -1.0f, 2.0f, seed);
    std::vector<float> y(n_out);
    std::memset(y.data(), kSentinel, n_out * sizeof(float));
    const InputBuffer in[] = {{"input", x.data(), n_in * sizeof(float), DType::kF32}};
    const OutputBuffer out[] = {{"probs", y.data(), n_out * sizeof(float), DType::kF32}};
    ASSERT_TRUE(s->run(in, out).ok());

    std::vector<float> want(n_out, -1.0f);
    ASSERT_TRUE(ref->set_input(0, x).ok());
    ASSERT_TRUE(ref->run().ok());
    ASSERT_TRUE(ref->get_output(0, want).ok());
    EXPECT_EQ(bytes_of(y), bytes_of(want));
    // A real result: probabilities summing to about 1.
    double sum = 0;
    for (float p : y) {
      EXPECT_TRUE(p >= 0.0f && p <= 1.0f) << p;
      sum += p;
    }
    EXPECT_NEAR(sum, 1.0, 0.05);
    // The session's own input tensor holds x.
    EXPECT_EQ(bytes_of(s->input(0).data, n_in * sizeof(float)), bytes_of(x));
  }
}

// A uint8-quantized model: raw u8 buffers give the bytes of set_input_raw +
// run() + get_output_raw; float buffers those of set_input + get_output.
TEST(SessionIo, RunOnRawBuffersMatchesSetInputRawGetOutputRaw) {
  auto model = load(test::make_u8_fc_writer());
  ASSERT_TRUE(model);
  ASSERT_EQ(model->input(0).dtype, DType::kU8);
  ASSERT_EQ(model->output(0).dtype, DType::kU8);
  auto s = make_session(model);
  auto ref = make_session(model);
  ASSERT_TRUE(s && ref);
  const std::vector<std::vector<uint8_t>> xs = {
      {0, 64, 128, 255}, {200, 17, 3, 128}, {255, 255, 0, 0}};
  std::vector<std::vector<uint8_t>> results;
  for (const auto& x : xs) {
    std::vector<uint8_t> y(3, kSentinel);
    const InputBuffer in[] = {{"x", x.data(), x.size(), DType::kU8}};
    const OutputBuffer out[] = {{"y", y.data(), y.size(), DType::kU8}};
    ASSERT_TRUE(s->run(in, out).ok());
    std::vector<uint8_t> want(3, 0x5A);
    ASSERT_TRUE(ref->set_input_raw(0, x.data(), x.size()).ok());
    ASSERT_TRUE(ref->run().ok());
    ASSERT_TRUE(ref->get_output_raw(0, want.data(), want.size()).ok());
    EXPECT_EQ(y, want);
    EXPECT_EQ(bytes_of(s->input(0).data, 4), x);
    results.push_back(y);
  }
  // Different inputs, different outputs: the comparison above means something.
  EXPECT_NE(results[0], results[1]);
  EXPECT_NE(results[1], results[2]);

  // Float on both sides of the same u8 model.
  for (uint32_t seed = 10; seed < 13; ++seed) {
    SCOPED_TRACE(seed);
    const std::vector<float> x = random_floats(4, -3.0f, 3.0f, seed);
    std::vector<float> y(3);
    std::memset(y.data(), kSentinel, sizeof(float) * 3);
    const InputBuffer in[] = {{"x", x.data(), 16, DType::kF32}};
    const OutputBuffer out[] = {{"y", y.data(), 12, DType::kF32}};
    ASSERT_TRUE(s->run(in, out).ok());
    std::vector<float> want(3, -1.0f);
    ASSERT_TRUE(ref->set_input(0, x).ok());
    ASSERT_TRUE(ref->run().ok());
    ASSERT_TRUE(ref->get_output(0, want).ok());
    EXPECT_EQ(bytes_of(y), bytes_of(want));
    EXPECT_EQ(snapshot(*s), snapshot(*ref));
  }
}

// Float and raw bindings mixed across inputs and outputs, every combination
// of dtype per binding, against set_input(_raw) + run() + get_output(_raw).
TEST_F(SessionIoMixed, RunMixesFloatAndRawBindings) {
  for (int combo = 0; combo < 32; ++combo) {
    SCOPED_TRACE(combo);
    const int set = combo % 3;
    // Bit 0: b bound as float or raw; bits 1..4: each output read as float
    // or in its own dtype (for the f32 outputs fa and db both are kF32).
    const bool b_float = combo & 1;
    const bool rb_float = combo & 2, qa_float = combo & 4, fa_float = combo & 8;
    const bool db_float = combo & 16;
    auto s = make_session(model_);
    ASSERT_TRUE(s);
    const std::vector<InputBuffer> in = {a_float(set), b_float ? b_float_(set) : b_raw(set)};
    std::vector<OutputBuffer> out = {rb_float ? out_float("rb") : out_raw("rb"),
                                     fa_float ? out_float("fa") : out_raw("fa"),
                                     qa_float ? out_float("qa") : out_raw("qa"),
                                     db_float ? out_float("db") : out_raw("db")};
    ASSERT_TRUE(s->run(in, out).ok());

    ASSERT_TRUE(ref_->set_input(0, kA[set]).ok());
    if (b_float) {
      ASSERT_TRUE(ref_->set_input(1, kBFloat[set]).ok());
    } else {
      ASSERT_TRUE(ref_->set_input_raw(1, kBRaw[set].data(), kBRaw[set].size()).ok());
    }
    ASSERT_TRUE(ref_->run().ok());
    for (size_t i = 0; i < 4; ++i) {
      SCOPED_TRACE(out[i].name);
      std::vector<uint8_t> want(out[i].bytes, 0x5A);
      if (out[i].dtype == DType::kF32) {
        std::vector<float> f(static_cast<size_t>(model_->output(i).num_elements));
        ASSERT_TRUE(ref_->get_output(i, f).ok());
        want = bytes_of(f);
      } else {
        ASSERT_TRUE(ref_->get_output_raw(i, want.data(), want.size()).ok());
      }
      EXPECT_EQ(bytes_of(out[i].data, out[i].bytes), want);
    }
    EXPECT_EQ(snapshot(*s), snapshot(*ref_));
  }
}

// Only the bound outputs are written, and only within their bytes; the
// unbound ones are still computed in the session.
TEST_F(SessionIoMixed, RunWritesOnlyTheBoundOutputs) {
  const auto want = reference_raw(2);
  // One block with guard bytes around each bound buffer.
  std::vector<float> block(256);
  std::memset(block.data(), kSentinel, block.size() * sizeof(float));
  auto* base = reinterpret_cast<uint8_t*>(block.data());
  uint8_t* qa = base + 64;   // 4 bytes (u8)
  uint8_t* db = base + 256;  // 32 bytes (f32)
  const std::vector<InputBuffer> in = {a_float(), b_raw()};
  const std::vector<OutputBuffer> out = {{"qa", qa, 4, DType::kU8}, {"db", db, 32, DType::kF32}};
  ASSERT_TRUE(session_->run(in, out).ok());
  EXPECT_EQ(bytes_of(qa, 4), want[2]);
  EXPECT_EQ(bytes_of(db, 32), want[3]);
  for (size_t k = 0; k < block.size() * sizeof(float); ++k) {
    const bool in_qa = base + k >= qa && base + k < qa + 4;
    const bool in_db = base + k >= db && base + k < db + 32;
    if (!in_qa && !in_db) {
      ASSERT_EQ(base[k], kSentinel) << "byte " << k << " was written";
    }
  }
  // The unbound outputs were computed too.
  EXPECT_EQ(snapshot(*session_).out, want);

  // No output at all: the inputs are copied and the model runs.
  prime(*session_);
  ASSERT_TRUE(session_->run(in, std::span<const OutputBuffer>{}).ok());
  EXPECT_EQ(snapshot(*session_).out, want);
  EXPECT_EQ(snapshot(*session_).in[0], bytes_of(kA[2]));
  EXPECT_EQ(snapshot(*session_).in[1], kBRaw[2]);
}

// Bindings in any order give the same bytes.
TEST_F(SessionIoMixed, RunBindingsInAnyOrder) {
  const auto want = reference_raw(2, /*b_as_float=*/true);
  std::vector<std::string> names = {"db", "fa", "qa", "rb"};  // sorted
  int permutations = 0;
  do {
    for (bool b_first : {false, true}) {
      SCOPED_TRACE(names[0] + names[1] + names[2] + names[3] + (b_first ? " b first" : ""));
      auto s = make_session(model_);
      ASSERT_TRUE(s);
      std::vector<InputBuffer> in = {a_float(), b_float_()};
      if (b_first) std::swap(in[0], in[1]);
      std::vector<OutputBuffer> out;
      for (const std::string& n : names) out.push_back(out_raw(n));
      ASSERT_TRUE(s->run(in, out).ok());
      for (const OutputBuffer& o : out) {
        EXPECT_EQ(bytes_of(o.data, o.bytes),
                  want[static_cast<size_t>(model_->find_output(o.name))])
            << o.name;
      }
    }
    ++permutations;
  } while (std::next_permutation(names.begin(), names.end()));
  EXPECT_EQ(permutations, 24);
}

// The same caller buffer may be an input and an output: inputs are read
// before the run, outputs written after it.
TEST_F(SessionIoMixed, RunInPlaceOnOneBuffer) {
  std::vector<float> buf = kA[0];
  const std::vector<InputBuffer> in = {{"a", buf.data(), 16, DType::kF32}, b_raw()};
  const std::vector<OutputBuffer> out = {{"fa", buf.data(), 16, DType::kF32}};
  ASSERT_TRUE(session_->run(in, out).ok());
  EXPECT_EQ(buf, (std::vector<float>{0.0f, 0.25f, 2.0f, 0.0f}));
}

// +-inf in a float binding of a quantized input saturate (as set_input);
// on a float input they are copied.
TEST_F(SessionIoMixed, RunAcceptsInfinities) {
  std::vector<float> a = {kInf, -kInf, 1.0f, -1.0f};
  std::vector<float> b = {kInf, -kInf, 0, 0, 0, 0, 0, 0};
  const std::vector<InputBuffer> in = {{"a", a.data(), 16, DType::kF32},
                                       {"b", b.data(), 32, DType::kF32}};
  std::vector<float> fa(4);
  std::vector<uint8_t> rb(8), qa(4);
  const std::vector<OutputBuffer> out = {{"fa", fa.data(), 16, DType::kF32},
                                         {"rb", rb.data(), 8, DType::kU8},
                                         {"qa", qa.data(), 4, DType::kU8}};
  ASSERT_TRUE(session_->run(in, out).ok());
  EXPECT_EQ(bytes_of(session_->input(1).data, 2), (std::vector<uint8_t>{255, 0}));
  EXPECT_EQ(fa[0], kInf);
  EXPECT_EQ(fa[1], 0.0f);
  EXPECT_EQ(rb[0], 255);
  EXPECT_EQ(rb[1], 10);  // relu(0) = the zero point
  EXPECT_EQ(qa[0], 255);
  EXPECT_EQ(qa[1], 0);
  // The same through set_input on the reference session.
  ASSERT_TRUE(ref_->set_input(0, a).ok());
  ASSERT_TRUE(ref_->set_input(1, b).ok());
  ASSERT_TRUE(ref_->run().ok());
  EXPECT_EQ(snapshot(*session_), snapshot(*ref_));
}

// ------------------------------------------------------------ run(inputs, outputs): refusals

TEST_F(SessionIoMixed, RunRefusesUnknownInputName) {
  InputBuffer bb = b_raw();
  bb.name = "bb";
  expect_refused({a_float(), bb}, all_outputs_raw(), StatusCode::kInvalidArgument,
                 {"input binding 1", "no input named 'bb'", "the model's inputs are 'a', 'b'"});
  InputBuffer out_name = a_float();
  out_name.name = "fa";  // an output's name
  expect_refused({out_name, b_raw()}, all_outputs_raw(), StatusCode::kInvalidArgument,
                 {"input binding 0", "no input named 'fa'", "'a', 'b'"});
}

TEST_F(SessionIoMixed, RunRefusesInputBoundTwice) {
  expect_refused({a_float(), b_raw(), a_float(0)}, all_outputs_raw(),
                 StatusCode::kInvalidArgument,
                 {"input 'a' is bound twice", "bindings 0 and 2"});
  expect_refused({b_raw(), a_float(), b_float_()}, {out_float("fa")},
                 StatusCode::kInvalidArgument, {"input 'b' is bound twice", "bindings 0 and 2"});
}

TEST_F(SessionIoMixed, RunRefusesUnboundInput) {
  expect_refused({b_raw()}, all_outputs_raw(), StatusCode::kInvalidArgument,
                 {"input 0 ('a') is not bound"});
  expect_refused({a_float()}, all_outputs_raw(), StatusCode::kInvalidArgument,
                 {"input 1 ('b') is not bound"});
  expect_refused({}, all_outputs_raw(), StatusCode::kInvalidArgument,
                 {"input 0 ('a') is not bound"});
}

TEST_F(SessionIoMixed, RunRefusesUnknownOutputName) {
  OutputBuffer zz = out_raw("qa");
  zz.name = "zz";
  expect_refused({a_float(), b_raw()}, {out_raw("fa"), zz}, StatusCode::kInvalidArgument,
                 {"output binding 1", "no output named 'zz'",
                  "the model's outputs are 'rb', 'fa', 'qa', 'db'"});
  OutputBuffer in_name = out_raw("db");
  in_name.name = "b";  // an input's name
  expect_refused({a_float(), b_raw()}, {in_name}, StatusCode::kInvalidArgument,
                 {"output binding 0", "no output named 'b'"});
}

TEST_F(SessionIoMixed, RunRefusesOutputBoundTwice) {
  expect_refused({a_float(), b_raw()}, {out_raw("qa"), out_raw("db"), out_float("qa")},
                 StatusCode::kInvalidArgument, {"output 'qa' is bound twice"});
}

TEST_F(SessionIoMixed, RunRefusesWrongDtype) {
  // i32 for the u8 input b (bytes right for i32).
  const std::vector<int32_t> b32(8, 1);
  expect_refused({a_float(), {"b", b32.data(), 32, DType::kI32}}, all_outputs_raw(),
                 StatusCode::kInvalidArgument,
                 {"input 1 ('b')", "buffer dtype i32 is neither float32 nor the tensor's u8"});
  // i8 for b (same byte size as u8).
  expect_refused({a_float(), {"b", kBRaw[2].data(), 8, DType::kI8}}, all_outputs_raw(),
                 StatusCode::kInvalidArgument, {"input 1 ('b')", "buffer dtype i8"});
  // u8 for the f32 input a.
  const std::vector<uint8_t> a8(4, 1), a16(16, 1);
  expect_refused({{"a", a8.data(), 4, DType::kU8}, b_raw()}, all_outputs_raw(),
                 StatusCode::kInvalidArgument,
                 {"input 0 ('a')", "buffer dtype u8 is neither float32 nor the tensor's f32"});
  expect_refused({{"a", a16.data(), 16, DType::kI32}, b_raw()}, all_outputs_raw(),
                 StatusCode::kInvalidArgument, {"input 0 ('a')", "buffer dtype i32"});
  // Outputs: i32 for u8 rb, u8 for f32 db, i8 for u8 qa.
  OutputBuffer rb = out_raw("rb");
  rb.dtype = DType::kI32;
  rb.bytes = 32;
  expect_refused({a_float(), b_raw()}, {out_raw("fa"), rb}, StatusCode::kInvalidArgument,
                 {"output 0 ('rb')", "buffer dtype i32 is neither float32 nor the tensor's u8"});
  OutputBuffer db = out_raw("db");
  db.dtype = DType::kU8;
  db.bytes = 8;
  expect_refused({a_float(), b_raw()}, {db}, StatusCode::kInvalidArgument,
                 {"output 3 ('db')", "buffer dtype u8 is neither float32 nor the tensor's f32"});
  OutputBuffer qa = out_raw("qa");
  qa.dtype = DType::kI8;
  expect_refused({a_float(), b_raw()}, {qa}, StatusCode::kInvalidArgument,
                 {"output 2 ('qa')", "buffer dtype i8"});
}

TEST_F(SessionIoMixed, RunRefusesWrongByteSize) {
  for (int delta : {-1, +1}) {
    SCOPED_TRACE(delta);
    const auto d = [&](size_t n) { return static_cast<size_t>(static_cast<int>(n) + delta); };
    const std::string sz32 = std::to_string(d(32)), sz16 = std::to_string(d(16));
    const std::string sz8 = std::to_string(d(8)), sz4 = std::to_string(d(4));
    // Float binding of the u8 input b: 8 x 4 bytes.
    InputBuffer b = b_float_();
    b.bytes = d(32);
    expect_refused({a_float(), b}, all_outputs_raw(), StatusCode::kInvalidArgument,
                   {"input 1 ('b')", "buffer holds " + sz32 + " bytes",
                    "the tensor needs 32 (8 x f32)"});
    // Raw binding of b: 8 bytes.
    b = b_raw();
    b.bytes = d(8);
    expect_refused({a_float(), b}, all_outputs_raw(), StatusCode::kInvalidArgument,
                   {"input 1 ('b')", "buffer holds " + sz8 + " bytes",
                    "the tensor needs 8 (8 x u8)"});
    // The f32 input a: 16 bytes.
    InputBuffer a = a_float();
    a.bytes = d(16);
    expect_refused({a, b_raw()}, all_outputs_raw(), StatusCode::kInvalidArgument,
                   {"input 0 ('a')", "buffer holds " + sz16 + " bytes",
                    "the tensor needs 16 (4 x f32)"});
    // Outputs: qa raw (4), qa float (16), db (32).
    OutputBuffer qa = out_raw("qa");
    qa.bytes = d(4);
    expect_refused({a_float(), b_raw()}, {out_raw("rb"), qa}, StatusCode::kInvalidArgument,
                   {"output 2 ('qa')", "buffer holds " + sz4 + " bytes",
                    "the tensor needs 4 (4 x u8)"});
    qa = out_float("qa");
    qa.bytes = d(16);
    expect_refused({a_float(), b_raw()}, {qa}, StatusCode::kInvalidArgument,
                   {"output 2 ('qa')", "buffer holds " + sz16 + " bytes",
                    "the tensor needs 16 (4 x f32)"});
    OutputBuffer db = out_raw("db");
    db.bytes = d(32);
    expect_refused({a_float(), b_raw()}, {out_raw("fa"), db}, StatusCode::kInvalidArgument,
                   {"output 3 ('db')", "buffer holds " + sz32 + " bytes",
                    "the tensor needs 32 (8 x f32)"});
  }
  // Zero bytes with null data is a size problem too, not a null one.
  expect_refused({a_float(), {"b", nullptr, 0, DType::kU8}}, all_outputs_raw(),
                 StatusCode::kInvalidArgument,
                 {"input 1 ('b')", "buffer holds 0 bytes", "needs 8"});
}

TEST_F(SessionIoMixed, RunRefusesNullData) {
  expect_refused({a_float(), {"b", nullptr, 8, DType::kU8}}, all_outputs_raw(),
                 StatusCode::kInvalidArgument, {"input 1 ('b')", "data is null"});
  expect_refused({{"a", nullptr, 16, DType::kF32}, b_raw()}, all_outputs_raw(),
                 StatusCode::kInvalidArgument, {"input 0 ('a')", "data is null"});
  expect_refused({a_float(), b_raw()}, {out_raw("rb"), {"qa", nullptr, 4, DType::kU8}},
                 StatusCode::kInvalidArgument, {"output 2 ('qa')", "data is null"});
  expect_refused({a_float(), b_raw()}, {{"db", nullptr, 32, DType::kF32}, out_raw("fa")},
                 StatusCode::kInvalidArgument, {"output 3 ('db')", "data is null"});
}

TEST_F(SessionIoMixed, RunRefusesNaNInFloatInput) {
  std::vector<float> a = kA[2];
  a[2] = kNaN;
  expect_refused({{"a", a.data(), 16, DType::kF32}, b_raw()}, all_outputs_raw(),
                 StatusCode::kInvalidArgument, {"input 0 ('a')", "element 2 is NaN"});
  // On the quantized input b, bound as float, in its last element.
  std::vector<float> b = kBFloat[2];
  b[7] = -kNaN;
  expect_refused({a_float(), {"b", b.data(), 32, DType::kF32}}, all_outputs_raw(),
                 StatusCode::kInvalidArgument, {"input 1 ('b')", "element 7 is NaN"});
}

// The first problem found is the one reported, and problems in outputs are
// found before anything is written even when the inputs are fine.
TEST_F(SessionIoMixed, RunChecksEveryBindingBeforeCopying) {
  std::vector<float> b = kBFloat[2];
  b[0] = kNaN;
  // A valid a first, then b with NaN: a must not have been copied.
  expect_refused({a_float(), {"b", b.data(), 32, DType::kF32}}, all_outputs_raw(),
                 StatusCode::kInvalidArgument, {"input 1 ('b')", "element 0 is NaN"});
  // Valid inputs, a bad last output: inputs not copied, nothing run.
  OutputBuffer db = out_raw("db");
  db.bytes = 31;
  expect_refused({a_float(), b_raw()}, {out_raw("rb"), out_raw("fa"), out_raw("qa"), db},
                 StatusCode::kInvalidArgument, {"output 3 ('db')", "buffer holds 31 bytes"});
  // An input problem is reported before an output problem.
  InputBuffer bb = b_raw();
  bb.name = "bb";
  expect_refused({a_float(), bb}, {db}, StatusCode::kInvalidArgument, {"no input named 'bb'"});
}

// A dtype without a float boundary: a float binding is kUnsupported, the
// tensor's own dtype passes through.
TEST(SessionIo, RunFloatBindingOfNonFloatDtypeIsUnsupported) {
  for (DType dt : {DType::kI32, DType::kI8}) {
    SCOPED_TRACE(dtype_name(dt));
    auto model = load(passthrough_writer(dt));
    ASSERT_TRUE(model);
    auto s = make_session(model);
    ASSERT_TRUE(s);
    const size_t nb = model->input(0).num_bytes;
    ASSERT_EQ(nb, 3 * dtype_size(dt));
    const std::vector<float> xf = {1, 2, 3};
    std::vector<uint8_t> raw(nb);
    for (size_t k = 0; k < nb; ++k) raw[k] = static_cast<uint8_t>(k * 7 + 3);
    std::vector<uint8_t> y(nb, kSentinel);
    std::vector<float> yf(3);
    std::memset(yf.data(), kSentinel, sizeof(float) * 3);
    const std::vector<uint8_t> before = bytes_of(s->input(0).data, nb);

    const std::vector<InputBuffer> in_f = {{"t", xf.data(), 12, DType::kF32}};
    const std::vector<OutputBuffer> out_raw = {{"t", y.data(), nb, dt}};
    EXPECT_TRUE(StatusIs(s->run(in_f, out_raw), StatusCode::kUnsupported,
                         {"input 0 ('t')", "has no float boundary",
                          std::string("pass its own dtype ") + dtype_name(dt)}));
    EXPECT_EQ(y, std::vector<uint8_t>(nb, kSentinel));
    EXPECT_EQ(bytes_of(s->input(0).data, nb), before);

    const std::vector<InputBuffer> in_raw = {{"t", raw.data(), nb, dt}};
    const std::vector<OutputBuffer> out_f = {{"t", yf.data(), 12, DType::kF32}};
    EXPECT_TRUE(StatusIs(s->run(in_raw, out_f), StatusCode::kUnsupported,
                         {"output 0 ('t')", "has no float boundary"}));
    EXPECT_EQ(bytes_of(s->input(0).data, nb), before);
    for (float v : yf) {
      uint32_t bits = 0;
      std::memcpy(&bits, &v, 4);
      EXPECT_EQ(bits, 0xA5A5A5A5u);
    }

    // The by-name float calls refuse it the same way.
    EXPECT_TRUE(StatusIs(s->set_input("t", xf), StatusCode::kUnsupported,
                         {"input 0 ('t')", "cannot be set from float"}));
    EXPECT_EQ(bytes_of(s->input(0).data, nb), before);
    EXPECT_TRUE(StatusIs(s->get_output("t", yf), StatusCode::kUnsupported,
                         {"output 0 ('t')", "cannot be read as float"}));

    // Raw in, raw out: the bytes pass through.
    ASSERT_TRUE(s->run(in_raw, out_raw).ok());
    EXPECT_EQ(y, raw);
    std::vector<uint8_t> y2(nb);
    ASSERT_TRUE(s->get_output_raw(0, y2.data(), nb).ok());
    EXPECT_EQ(y2, raw);
  }
}

// Empty tensors (zero elements): null data with zero bytes is accepted on
// every path, float or raw.
TEST(SessionIo, EmptyTensorsAcceptNullDataWithZeroBytes) {
  for (DType dt : {DType::kF32, DType::kU8}) {
    SCOPED_TRACE(dtype_name(dt));
    ModelWriter w("quanta-tests");
    const QuantParams q = dt == DType::kU8 ? test::per_tensor(0.1f, 3) : QuantParams{};
    const int a = w.add_tensor("a", {1, 0}, dt, q);
    const int y = w.add_tensor("y", {1, 0}, dt, q);
    w.add_node(OpType::kRelu, {a}, {y}, {}, "relu");
    w.set_inputs({a});
    w.set_outputs({y});
    auto model = load(w);
    ASSERT_TRUE(model);
    auto s = make_session(model);
    ASSERT_TRUE(s);
    const InputBuffer in_f[] = {{"a", nullptr, 0, DType::kF32}};
    const OutputBuffer out_f[] = {{"y", nullptr, 0, DType::kF32}};
    EXPECT_TRUE(s->run(in_f, out_f).ok());
    const InputBuffer in_r[] = {{"a", nullptr, 0, dt}};
    const OutputBuffer out_r[] = {{"y", nullptr, 0, dt}};
    EXPECT_TRUE(s->run(in_r, out_r).ok());
    EXPECT_TRUE(s->get_output_raw(0, nullptr, 0).ok());
    EXPECT_TRUE(s->set_input("a", std::span<const float>{}).ok());
    EXPECT_TRUE(s->get_output("y", std::span<float>{}).ok());
    // One byte is still one too many.
    uint8_t one = kSentinel;
    const InputBuffer in_1[] = {{"a", &one, 1, dt}};
    EXPECT_TRUE(StatusIs(s->run(in_1, out_r), StatusCode::kInvalidArgument,
                         {"input 0 ('a')", "buffer holds 1 bytes", "needs 0"}));
    EXPECT_TRUE(StatusIs(s->get_output_raw(0, &one, 1), StatusCode::kInvalidArgument,
                         {"output 0 ('y')", "buffer holds 1 bytes"}));
    EXPECT_EQ(one, kSentinel);
  }
}

}  // namespace
}  // namespace quanta
