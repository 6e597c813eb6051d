// Data files of `quanta run`, `compare` and `eval`, through the binary
// ($QUANTA_BIN): batched .npy files for a model of batch 1 or 2, several
// inputs, classifier outputs with size-1 axes ([N, C, 1, 1]), top-k, a float
// .onnx model as the reference, directories and unknown input names given
// as files. Expected values come from the C++ API on the same data.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quanta/converter.hpp"
#include "quanta/npy.hpp"
#include "quanta/quanta.hpp"
#include "support/cli_runner.hpp"
#include "support/model_builders.hpp"
#include "support/onnx_builder.hpp"

namespace quanta {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using Outcome = test::CliOutcome;
using test::int64_array;
using test::line_starting;
using test::percent_count;
using test::write_npy;

std::string quote(const std::string& s) { return test::shell_quote(s); }

// Output 0 of `model_path` for every run of `inputs` (one float vector per
// graph input, each holding whole runs), concatenated: what `quanta run`
// must write for the batched file.
std::vector<float> api_outputs(const std::string& model_path, const std::vector<std::vector<float>>& inputs) {
  auto model = Model::load_file(model_path);
  EXPECT_TRUE(model.ok()) << model.status().to_string();
  if (!model.ok()) return {};
  auto session = Session::create(*model);
  EXPECT_TRUE(session.ok()) << session.status().to_string();
  if (!session.ok()) return {};
  const auto in_elems = static_cast<size_t>((*model)->input(0).num_elements);
  std::vector<float> y(static_cast<size_t>((*model)->output(0).num_elements));
  std::vector<float> all;
  for (size_t first = 0; first + in_elems <= inputs[0].size(); first += in_elems) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      EXPECT_TRUE((*session)->set_input(i, std::span<const float>(inputs[i].data() + first, in_elems)).ok());
    }
    EXPECT_TRUE((*session)->run().ok());
    EXPECT_TRUE((*session)->get_output(0, y).ok());
    all.insert(all.end(), y.begin(), y.end());
  }
  return all;
}

// Classes ranked by score, highest first (ties: lower index first).
std::vector<size_t> ranking(const float* scores, size_t n) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  return idx;
}

// A float ONNX model as .quanta bytes, fp32 or int8 (calibrated on `calib`).
std::vector<uint8_t> convert_onnx(const std::string& onnx_bytes, const std::string& calib = "") {
  auto g = convert::import_onnx_bytes(onnx_bytes.data(), onnx_bytes.size());
  EXPECT_TRUE(g.ok()) << g.status().to_string();
  if (!g.ok()) return {};
  if (calib.empty()) {
    auto b = convert::build_fp32(**g);
    EXPECT_TRUE(b.ok()) << b.status().to_string();
    return b.ok() ? *b : std::vector<uint8_t>{};
  }
  auto src = convert::open_npy_samples({calib}, convert::graph_inputs(**g));
  EXPECT_TRUE(src.ok()) << src.status().to_string();
  if (!src.ok()) return {};
  auto cal = convert::calibrate(**g, **src, {});
  EXPECT_TRUE(cal.ok()) << cal.status().to_string();
  if (!cal.ok()) return {};
  auto b = convert::build_int8(**g, *cal, {}, nullptr);
  EXPECT_TRUE(b.ok()) << b.status().to_string();
  return b.ok() ? *b : std::vector<uint8_t>{};
}

void write_file(const std::string& path, const void* data, size_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  ASSERT_TRUE(f.good()) << path;
}

constexpr int64_t kDemoSamples = 5;
constexpr size_t kDemoElems = 16 * 16 * 3;
constexpr int64_t kClsSamples = 20;
constexpr size_t kClasses = 12;
constexpr size_t kClsElems = 3 * 4 * 4;

class CliData : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (test::quanta_bin().empty()) return;
    dir_ = test::temp_path("cli_data");
    std::filesystem::create_directories(dir_ + "/a_directory");
    demo_fp32_ = std::string(QUANTA_SOURCE_DIR) + "/models/demo_cnn_fp32.quanta";
    demo_int8_ = std::string(QUANTA_SOURCE_DIR) + "/models/demo_cnn_int8.quanta";

    // The demo models (batch 1, input [1, 16, 16, 3]): 5 samples in a file.
    demo_x_ = test::test_values(kDemoSamples * kDemoElems, 11);
    write_npy(p("demo_x5.npy"), npy::from_floats({kDemoSamples, 16, 16, 3}, demo_x_));
    write_npy(p("demo_nobatch.npy"),
              npy::from_floats({16, 16, 3}, std::span<const float>(demo_x_.data(), kDemoElems)));

    // A batch-2 FullyConnected (input [2, 4]): 6 samples are 3 runs, 5 are refused.
    fc2_ = p("fc2.quanta");
    ASSERT_TRUE(test::make_float_fc_batch2_writer().write_file(fc2_).ok());
    fc_x_ = test::test_values(6 * 4, 12);
    write_npy(p("fc_x6.npy"), npy::from_floats({6, 4}, fc_x_));
    write_npy(p("fc_x5.npy"), npy::from_floats({5, 4}, std::span<const float>(fc_x_.data(), 20)));

    // Two inputs: c = a + b, inputs [1, 4].
    {
      test::OnnxBuilder b;
      b.input("a", {-1, 4}).input("b", {-1, 4}).output("c");
      b.node("Add", {"a", "b"}, {"c"}, "add");
      const auto bytes = convert_onnx(b.bytes());
      write_file(p("add2.quanta"), bytes.data(), bytes.size());
    }
    add_a_ = test::test_values(3 * 4, 13);
    add_b_ = test::test_values(3 * 4, 14);
    write_npy(p("add_a3.npy"), npy::from_floats({3, 4}, add_a_));
    write_npy(p("add_b3.npy"), npy::from_floats({3, 4}, add_b_));
    write_npy(p("add_b2.npy"), npy::from_floats({2, 4}, std::span<const float>(add_b_.data(), 8)));

    // A classifier whose output is [1, 12, 1, 1] per sample (a 4x4 Conv over
    // a 4x4 input), as .onnx, fp32 and int8; and one whose samples are
    // [6, 2, 2] (not class scores).
    {
      test::OnnxBuilder b;
      b.input("x", {-1, 3, 4, 4}).output("y");
      b.initializer("w", {static_cast<int64_t>(kClasses), 3, 4, 4}, test::test_values(kClasses * kClsElems, 21));
      b.initializer("bias", {static_cast<int64_t>(kClasses)}, test::test_values(kClasses, 22, -0.1f, 0.1f));
      b.node("Conv", {"x", "w", "bias"}, {"y"}, "head");
      cls_onnx_ = p("cls.onnx");
      const std::string bytes = b.bytes();
      write_file(cls_onnx_, bytes.data(), bytes.size());
      cls_x_ = test::test_values(kClsSamples * kClsElems, 23);
      write_npy(p("cls_x.npy"), npy::from_floats({kClsSamples, 3, 4, 4}, cls_x_));
      const auto fp32 = convert_onnx(bytes);
      write_file(p("cls_fp32.quanta"), fp32.data(), fp32.size());
      const auto int8 = convert_onnx(bytes, p("cls_x.npy"));
      write_file(p("cls_int8.quanta"), int8.data(), int8.size());
    }
    {
      test::OnnxBuilder b;
      b.input("x", {-1, 3, 4, 4}).output("y");
      b.initializer("w", {6, 3, 3, 3}, test::test_values(6 * 27, 24));
      b.node("Conv", {"x", "w"}, {"y"}, "spatial");
      const auto fp32 = convert_onnx(b.bytes());
      write_file(p("spatial.quanta"), fp32.data(), fp32.size());
    }
    // Labels: the float model's best class for even samples and its
    // second best for odd ones, so top-1 is 50% and top-2 is 100%.
    const std::vector<float> scores = api_outputs(p("cls_fp32.quanta"), {cls_x_});
    ASSERT_EQ(scores.size(), kClsSamples * kClasses);
    for (int64_t s = 0; s < kClsSamples; ++s) {
      const auto r = ranking(scores.data() + static_cast<size_t>(s) * kClasses, kClasses);
      cls_labels_.push_back(static_cast<int64_t>(r[static_cast<size_t>(s % 2)]));
    }
    write_npy(p("cls_y.npy"), int64_array(cls_labels_));
  }

  static void TearDownTestSuite() {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void SetUp() override {
    if (test::quanta_bin().empty()) FAIL() << "QUANTA_BIN is not set (run the tests through ctest)";
  }

  static std::string p(const std::string& name) { return dir_ + "/" + name; }
  static std::string q(const std::string& name) { return quote(p(name)); }

  // Top-1 and top-k correct counts of `model` on the classifier data.
  static std::pair<int64_t, int64_t> cls_correct(const std::string& model, size_t k) {
    const std::vector<float> scores = api_outputs(model, {cls_x_});
    int64_t top1 = 0, topk = 0;
    for (int64_t s = 0; s < kClsSamples; ++s) {
      const auto r = ranking(scores.data() + static_cast<size_t>(s) * kClasses, kClasses);
      const auto label = static_cast<size_t>(cls_labels_[static_cast<size_t>(s)]);
      top1 += r[0] == label ? 1 : 0;
      topk += std::find(r.begin(), r.begin() + static_cast<long>(k), label) != r.begin() + static_cast<long>(k) ? 1 : 0;
    }
    return {top1, topk};
  }

  static inline std::string dir_, demo_fp32_, demo_int8_, fc2_, cls_onnx_;
  static inline std::vector<float> demo_x_, fc_x_, add_a_, add_b_, cls_x_;
  static inline std::vector<int64_t> cls_labels_;
};

// ---------------------------------------------------------------- run

TEST_F(CliData, RunSplitsABatchedFileIntoRunsAndWritesOneBatchedOutput) {
  const std::string out = p("demo_y5.npy");
  const Outcome o = test::run_quanta("run " + quote(demo_fp32_) + " -i " + q("demo_x5.npy") + " -o " + quote(out));
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, HasSubstr("[5, 10] -> " + out));
  auto y = npy::read_file(out);
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  EXPECT_EQ(y->shape, (std::vector<int64_t>{kDemoSamples, 10}));
  EXPECT_EQ(npy::to_floats(*y), api_outputs(demo_fp32_, {demo_x_}));

  // The summary speaks of samples.
  const Outcome s = test::run_quanta("run " + quote(demo_int8_) + " -i " + q("demo_x5.npy"));
  EXPECT_EXIT_CODE(s, 0);
  EXPECT_THAT(s.output, AllOf(HasSubstr("'probs' f32 [5, 10]: 5 samples in 5 runs of [1, 10]"),
                              HasSubstr("argmax, sample 3:"), HasSubstr("... (1 more sample)\n")));
}

TEST_F(CliData, RunBatchedFileOnABatch2Model) {
  const std::string out = p("fc_y6.npy");
  Outcome o = test::run_quanta("run " + quote(fc2_) + " -i " + q("fc_x6.npy") + " -o " + quote(out));
  EXPECT_EXIT_CODE(o, 0);
  auto y = npy::read_file(out);
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  EXPECT_EQ(y->shape, (std::vector<int64_t>{6, 3}));
  EXPECT_EQ(npy::to_floats(*y), api_outputs(fc2_, {fc_x_}));

  // 5 samples are not whole runs of batch 2.
  o = test::run_quanta("run " + quote(fc2_) + " -i " + q("fc_x5.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, AllOf(HasSubstr("fc_x5.npy: 5 samples"), HasSubstr("multiple of the model's batch 2")));
}

TEST_F(CliData, RunRawBatchedFile) {
  const std::string model = p("relu_u8.quanta");
  ASSERT_TRUE(test::make_u8_relu_writer().write_file(model).ok());
  std::vector<uint8_t> x(3 * 8);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>(i * 11);
  write_npy(p("relu_x3.npy"), npy::from_bytes(npy::ElementType::kU8, {3, 8}, x.data(), x.size()));
  const Outcome o = test::run_quanta("run --raw " + quote(model) + " -i " + q("relu_x3.npy") + " -o " + q("relu_y3.npy"));
  EXPECT_EXIT_CODE(o, 0);
  auto y = npy::read_file(p("relu_y3.npy"));
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  EXPECT_EQ(y->type, npy::ElementType::kU8);
  EXPECT_EQ(y->shape, (std::vector<int64_t>{3, 8}));
  std::vector<uint8_t> expected(x);
  for (uint8_t& v : expected) v = std::max<uint8_t>(v, 10);  // Relu with zero point 10
  EXPECT_EQ(y->data, expected);
}

TEST_F(CliData, MissingBatchAxisIsStillAnErrorNamingTheExpectedShapes) {
  const Outcome o = test::run_quanta("run " + quote(demo_fp32_) + " -i " + q("demo_nobatch.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, AllOf(HasSubstr("demo_nobatch.npy: shape [16, 16, 3]"), HasSubstr("expects [1, 16, 16, 3]"),
                              HasSubstr("or [N, 16, 16, 3] for N samples"), HasSubstr("no batch axis")));
}

TEST_F(CliData, SeveralInputsNeedTheSameNumberOfSamples) {
  const std::string out = p("add_c3.npy");
  Outcome o = test::run_quanta("run " + q("add2.quanta") + " -i " + q("add_a3.npy") + " -i b=" + q("add_b3.npy") +
                               " -o " + quote(out));
  EXPECT_EXIT_CODE(o, 0);
  auto c = npy::read_file(out);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->shape, (std::vector<int64_t>{3, 4}));
  const std::vector<float> got = npy::to_floats(*c);
  ASSERT_EQ(got.size(), add_a_.size());
  for (size_t k = 0; k < got.size(); ++k) EXPECT_FLOAT_EQ(got[k], add_a_[k] + add_b_[k]) << k;

  o = test::run_quanta("run " + q("add2.quanta") + " -i " + q("add_a3.npy") + " -i " + q("add_b2.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, AllOf(HasSubstr("add_b2.npy holds 2 samples"), HasSubstr("add_a3.npy holds 3"),
                              HasSubstr("same number of samples")));
  o = test::run_quanta("compare " + q("add2.quanta") + " " + q("add2.quanta") + " -i " + q("add_a3.npy") + " -i " +
                       q("add_b2.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, HasSubstr("same number of samples"));
}

// ---------------------------------------------------------------- compare

TEST_F(CliData, CompareOnABatchedFile) {
  Outcome o = test::run_quanta("compare " + quote(demo_fp32_) + " " + quote(demo_int8_) + " -i " + q("demo_x5.npy") +
                               " --json");
  EXPECT_EXIT_CODE(o, 0);
  auto j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  EXPECT_EQ(j["samples"], kDemoSamples);
  EXPECT_EQ(j["outputs"][0]["rows"], kDemoSamples);
  // Agreement counted from the C++ API outputs of both models.
  const auto r = api_outputs(demo_fp32_, {demo_x_});
  const auto c = api_outputs(demo_int8_, {demo_x_});
  int64_t agree = 0;
  for (size_t s = 0; s < static_cast<size_t>(kDemoSamples); ++s) {
    agree += ranking(r.data() + s * 10, 10)[0] == ranking(c.data() + s * 10, 10)[0] ? 1 : 0;
  }
  EXPECT_EQ(j["outputs"][0]["top1_matches"], agree);
  o = test::run_quanta("compare " + quote(demo_fp32_) + " " + quote(demo_int8_) + " -i " + q("demo_x5.npy"));
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, HasSubstr("samples    5 from " + p("demo_x5.npy")));
}

TEST_F(CliData, CompareCountsAgreementPerSampleOfSize1AxesOutputs) {
  // [1, 12, 1, 1]: one row of 12 classes per sample, not 12 rows of 1.
  const Outcome o = test::run_quanta("compare " + q("cls_fp32.quanta") + " " + q("cls_int8.quanta") + " -i " +
                                     q("cls_x.npy") + " --json");
  EXPECT_EXIT_CODE(o, 0);
  auto j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  EXPECT_EQ(j["outputs"][0]["rows"], kClsSamples);
}

// ---------------------------------------------------------------- eval

TEST_F(CliData, EvalClassifierWithSize1AxesAndTopK) {
  const auto [f1, f2] = cls_correct(p("cls_fp32.quanta"), 2);
  const auto [i1, i2] = cls_correct(p("cls_int8.quanta"), 2);
  EXPECT_EQ(f1, kClsSamples / 2);
  EXPECT_EQ(f2, kClsSamples);
  const std::string args = q("cls_fp32.quanta") + " " + q("cls_int8.quanta") + " --data " + q("cls_x.npy") +
                           " --labels " + q("cls_y.npy");
  Outcome o = test::run_quanta("eval " + args);
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(line_starting(o.output, p("cls_fp32.quanta")), HasSubstr(percent_count(f1, kClsSamples)));
  EXPECT_THAT(line_starting(o.output, p("cls_int8.quanta")), HasSubstr(percent_count(i1, kClsSamples)));
  EXPECT_THAT(o.output, Not(HasSubstr("top-2")));

  o = test::run_quanta("eval " + args + " --top-k 2");
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, HasSubstr("top-2 accuracy"));
  EXPECT_THAT(line_starting(o.output, p("cls_fp32.quanta")),
              AllOf(HasSubstr(percent_count(f1, kClsSamples)), HasSubstr(percent_count(f2, kClsSamples))));
  EXPECT_THAT(line_starting(o.output, p("cls_int8.quanta")), HasSubstr(percent_count(i2, kClsSamples)));

  o = test::run_quanta("eval " + args + " --top-k 2 --json", true);
  EXPECT_EXIT_CODE(o, 0);
  auto j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  EXPECT_EQ(j["top_k"], 2);
  EXPECT_EQ(j["predictions"], kClsSamples);
  EXPECT_EQ(j["models"][0]["top1_correct"], f1);
  EXPECT_EQ(j["models"][0]["top_k_correct"], f2);
  EXPECT_EQ(j["models"][1]["top1_correct"], i1);
  EXPECT_EQ(j["models"][1]["top_k_correct"], i2);
  // Agreement is per sample too.
  const auto r = api_outputs(p("cls_fp32.quanta"), {cls_x_});
  const auto c = api_outputs(p("cls_int8.quanta"), {cls_x_});
  int64_t agree = 0;
  for (size_t s = 0; s < static_cast<size_t>(kClsSamples); ++s) {
    agree += ranking(r.data() + s * kClasses, kClasses)[0] == ranking(c.data() + s * kClasses, kClasses)[0] ? 1 : 0;
  }
  EXPECT_EQ(j["models"][1]["top1_matches"], agree);
  EXPECT_GT(j["models"][1]["outputs"][0]["sqnr_db"].get<double>(), 15.0);
}

TEST_F(CliData, EvalTopKUsage) {
  const std::string args = q("cls_fp32.quanta") + " --data " + q("cls_x.npy");
  Outcome o = test::run_quanta("eval " + args + " --top-k 2");
  EXPECT_EXIT_CODE(o, 2);
  EXPECT_THAT(o.output, HasSubstr("--top-k needs --labels"));
  o = test::run_quanta("eval " + args + " --labels " + q("cls_y.npy") + " --top-k 13");
  EXPECT_EXIT_CODE(o, 2);
  EXPECT_THAT(o.output, HasSubstr("--top-k 13 is more than the 12 classes"));
  o = test::run_quanta("eval " + args + " --labels " + q("cls_y.npy") + " --top-k 0");
  EXPECT_EXIT_CODE(o, 2);
}

TEST_F(CliData, EvalRefusesLabelsForOutputsThatAreNotClassScores) {
  const Outcome o = test::run_quanta("eval " + q("spatial.quanta") + " --data " + q("cls_x.npy") + " --labels " +
                                     q("cls_y.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, AllOf(HasSubstr("spatial.quanta"), HasSubstr("[1, 6, 2, 2]"), HasSubstr("[6, 2, 2]"),
                              HasSubstr("not a vector of class scores")));
  // Without labels the per-output statistics still work.
  const Outcome s = test::run_quanta("eval " + q("spatial.quanta") + " " + q("spatial.quanta") + " --data " +
                                     q("cls_x.npy"));
  EXPECT_EXIT_CODE(s, 0);
  EXPECT_THAT(s.output, AllOf(HasSubstr("SQNR dB"), HasSubstr("note: no top-1 agreement")));
}

TEST_F(CliData, EvalAndCompareTakeTheFloatOnnxAsReference) {
  const auto [f1, f2] = cls_correct(p("cls_fp32.quanta"), 2);
  const auto [i1, i2] = cls_correct(p("cls_int8.quanta"), 2);
  Outcome o = test::run_quanta("eval " + quote(cls_onnx_) + " " + q("cls_int8.quanta") + " --data " + q("cls_x.npy") +
                                   " --labels " + q("cls_y.npy") + " --top-k 2 --json",
                               true);
  EXPECT_EXIT_CODE(o, 0);
  auto j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  EXPECT_EQ(j["models"][0]["path"], cls_onnx_);
  EXPECT_EQ(j["models"][0]["top1_correct"], f1);
  EXPECT_EQ(j["models"][0]["top_k_correct"], f2);
  EXPECT_EQ(j["models"][1]["top1_correct"], i1);
  EXPECT_EQ(j["models"][1]["top_k_correct"], i2);

  // The in-memory conversion is the fp32 model: identical outputs.
  o = test::run_quanta("eval " + quote(cls_onnx_) + " " + q("cls_fp32.quanta") + " --data " + q("cls_x.npy"));
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, AllOf(HasSubstr("converted to fp32 in memory"), HasSubstr(" inf "),
                              HasSubstr(percent_count(kClsSamples, kClsSamples))));
  o = test::run_quanta("compare " + quote(cls_onnx_) + " " + q("cls_fp32.quanta") + " -i " + q("cls_x.npy") +
                       " --json");
  EXPECT_EXIT_CODE(o, 0);
  j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  EXPECT_EQ(j["outputs"][0]["identical"], true);

  // A malformed .onnx is an error naming it.
  write_file(p("broken.onnx"), "not a model", 11);
  o = test::run_quanta("eval " + q("broken.onnx") + " --data " + q("cls_x.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, HasSubstr("broken.onnx"));
}

// ---------------------------------------------------------------- bad file arguments

TEST_F(CliData, DirectoriesGivenAsDataFilesAreNamed) {
  const std::string d = p("a_directory");
  const std::string want = d + ": is a directory, expected a .npy file";
  for (const std::string& args :
       {"run " + quote(demo_fp32_) + " -i " + quote(d), "eval " + quote(demo_fp32_) + " --data " + quote(d),
        "eval " + q("cls_fp32.quanta") + " --data " + q("cls_x.npy") + " --labels " + quote(d),
        "compare " + quote(demo_fp32_) + " " + quote(demo_int8_) + " -i " + quote(d)}) {
    SCOPED_TRACE(args);
    const Outcome o = test::run_quanta(args);
    EXPECT_EXIT_CODE(o, 1);
    EXPECT_THAT(o.output, HasSubstr(want));
    EXPECT_THAT(o.output, Not(HasSubstr("out of memory")));
  }
}

TEST_F(CliData, UnknownInputNamesAreNamedBeforeLookingForTheFile) {
  for (const std::string& args : {"run " + quote(demo_fp32_) + " -i wrongname=x.npy",
                                  "eval " + quote(demo_fp32_) + " --data wrongname=x.npy",
                                  "compare " + quote(demo_fp32_) + " " + quote(demo_int8_) + " -i wrongname=x.npy"}) {
    SCOPED_TRACE(args);
    const Outcome o = test::run_quanta(args);
    EXPECT_EXIT_CODE(o, 2);
    EXPECT_THAT(o.output, AllOf(HasSubstr("no input named 'wrongname' (inputs: 'input')"), Not(HasSubstr("cannot open"))));
  }
  const Outcome several = test::run_quanta("run " + q("add2.quanta") + " -i c=" + q("add_a3.npy"));
  EXPECT_EXIT_CODE(several, 2);
  EXPECT_THAT(several.output, HasSubstr("no input named 'c' (inputs: 'a', 'b')"));
  const Outcome out = test::run_quanta("run " + quote(demo_fp32_) + " -i " + q("demo_x5.npy") + " -o wrong=y.npy");
  EXPECT_EXIT_CODE(out, 2);
  EXPECT_THAT(out.output, HasSubstr("no output named 'wrong' (outputs: 'probs')"));
  // A path with '=' in it still works when it is plainly a path.
  std::filesystem::copy_file(p("demo_x5.npy"), p("with=sign.npy"),
                             std::filesystem::copy_options::overwrite_existing);
  const Outcome path = test::run_quanta("run " + quote(demo_fp32_) + " -i " + q("with=sign.npy"));
  EXPECT_EXIT_CODE(path, 0);
}

}  // namespace
}  // namespace quanta
