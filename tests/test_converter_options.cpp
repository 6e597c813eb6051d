// The converter's option checks and calibration progress, through its API:
// bad options are refused before any sample is read, and the progress
// callback reports each pass with its own count.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "quanta/converter.hpp"
#include "support/onnx_builder.hpp"
#include "support/vector_source.hpp"

namespace quanta {
namespace {

namespace qc = quanta::convert;
using test::OnnxBuilder;
using test::test_values;

// Conv 'conv' -> BatchNormalization 'bn' (folded into the Conv) -> Relu
// 'relu' (fused) -> Gemm 'fc', NCHW input 1x2x4x4.
qc::FloatGraphPtr small_graph() {
  OnnxBuilder b;
  b.input("x", {1, 2, 4, 4}).output("y");
  b.initializer("w", {3, 2, 3, 3}, test_values(54, 1));
  b.initializer("gamma", {3}, {1.0f, 0.5f, 2.0f}).initializer("beta", {3}, {0.1f, 0.0f, -0.1f});
  b.initializer("mean", {3}, {0.0f, 0.1f, -0.1f}).initializer("var", {3}, {1.0f, 2.0f, 0.5f});
  b.initializer("fw", {3 * 2 * 2, 5}, test_values(60, 2));
  auto& conv = b.node("Conv", {"x", "w"}, {"c"}, "conv");
  test::attr_ints(conv, "strides", {2, 2});
  test::attr_ints(conv, "pads", {1, 1, 1, 1});
  b.node("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"n"}, "bn");
  b.node("Relu", {"n"}, {"r"}, "relu");
  b.node("Flatten", {"r"}, {"f"}, "flatten");
  b.node("MatMul", {"f", "fw"}, {"y"}, "fc");
  const std::string bytes = b.bytes();
  auto g = qc::import_onnx_bytes(bytes.data(), bytes.size());
  EXPECT_TRUE(g.ok()) << g.status().message();
  return g.ok() ? std::move(*g) : nullptr;
}

std::vector<std::vector<float>> samples(size_t n) {
  std::vector<std::vector<float>> s;
  for (size_t i = 0; i < n; ++i) s.push_back(test_values(32, 10 + static_cast<uint32_t>(i)));
  return s;
}

// Counts the samples handed out; optionally hides its size (as a source that
// cannot know it ahead).
class CountingSource : public test::VectorSource {
 public:
  CountingSource(std::vector<std::vector<float>> s, bool known_size)
      : VectorSource(std::move(s)), known_size_(known_size) {}
  int64_t size() const override { return known_size_ ? VectorSource::size() : -1; }
  Result<bool> next(std::vector<std::vector<float>>& sample) override {
    ++reads;
    return VectorSource::next(sample);
  }
  int reads = 0;

 private:
  bool known_size_;
};

using Step = std::tuple<int, int, std::string, int64_t, int64_t>;  // pass, passes, what, done, total

std::vector<Step> progress_of(qc::CalibrationMethod method, bool known_size, size_t n) {
  auto g = small_graph();
  if (!g) return {};
  CountingSource src(samples(n), known_size);
  std::vector<Step> steps;
  qc::CalibrationOptions co;
  co.method = method;
  co.progress = [&](const qc::CalibrationProgress& p) {
    steps.emplace_back(p.pass, p.passes, p.what, p.done, p.total);
  };
  auto c = qc::calibrate(*g, src, co);
  EXPECT_TRUE(c.ok()) << c.status().message();
  return steps;
}

TEST(CalibrationProgress, EachPassHasItsOwnCount) {
  const std::vector<Step> want = {
      {1, 2, "ranges", 0, 3},     {1, 2, "ranges", 1, 3},     {1, 2, "ranges", 2, 3},
      {1, 2, "ranges", 3, 3},     {2, 2, "histograms", 0, 3}, {2, 2, "histograms", 1, 3},
      {2, 2, "histograms", 2, 3}, {2, 2, "histograms", 3, 3}};
  EXPECT_EQ(progress_of(qc::CalibrationMethod::kMse, true, 3), want);
  EXPECT_EQ(progress_of(qc::CalibrationMethod::kPercentile, true, 3), want);
  const std::vector<Step> minmax = {{1, 1, "ranges", 0, 2}, {1, 1, "ranges", 1, 2}, {1, 1, "ranges", 2, 2}};
  EXPECT_EQ(progress_of(qc::CalibrationMethod::kMinMax, true, 2), minmax);
}

TEST(CalibrationProgress, UnknownSizeIsKnownOnTheSecondPass) {
  const std::vector<Step> want = {{1, 2, "ranges", 0, -1},    {1, 2, "ranges", 1, -1},
                                  {1, 2, "ranges", 2, -1},    {2, 2, "histograms", 0, 2},
                                  {2, 2, "histograms", 1, 2}, {2, 2, "histograms", 2, 2}};
  EXPECT_EQ(progress_of(qc::CalibrationMethod::kMse, false, 2), want);
}

TEST(CalibrationOptions, OutOfRangeValuesAreRefusedBeforeReadingSamples) {
  auto g = small_graph();
  ASSERT_TRUE(g);
  struct Case {
    qc::CalibrationMethod method;
    double percentile;
    int bins;
    const char* error;  // "" when accepted
  };
  const Case cases[] = {
      {qc::CalibrationMethod::kPercentile, 10.0, 2048, "calibration percentile 10: must be in [50, 100]"},
      {qc::CalibrationMethod::kPercentile, 100.5, 2048, "calibration percentile 100.5: must be in [50, 100]"},
      {qc::CalibrationMethod::kPercentile, std::nan(""), 2048, "calibration percentile nan: must be in"},
      {qc::CalibrationMethod::kMse, 99.99, 8, "calibration histogram bins 8: must be in [64, 1048576]"},
      {qc::CalibrationMethod::kPercentile, 99.9, (1 << 20) + 1, "calibration histogram bins 1048577"},
      // Values a method does not use are not checked.
      {qc::CalibrationMethod::kMse, 10.0, 2048, ""},
      {qc::CalibrationMethod::kMinMax, 10.0, 8, ""},
      {qc::CalibrationMethod::kPercentile, 50.0, 64, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << qc::calibration_method_name(c.method) << " p=" << c.percentile
                                      << " bins=" << c.bins);
    CountingSource src(samples(2), true);
    qc::CalibrationOptions co;
    co.method = c.method;
    co.percentile = c.percentile;
    co.bins = c.bins;
    auto r = qc::calibrate(*g, src, co);
    if (*c.error == '\0') {
      EXPECT_TRUE(r.ok()) << r.status().message();
      continue;
    }
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.error), std::string::npos) << r.status().message();
    EXPECT_EQ(src.reads, 0);
  }
}

TEST(QuantizeOptions, UnknownExcludeIsRefusedWithTheNodeNamesBeforeCalibration) {
  auto g = small_graph();
  ASSERT_TRUE(g);
  qc::QuantizeOptions qo;
  // Runtime node names and the ONNX nodes merged into them are accepted.
  for (const char* ok : {"conv", "bn", "relu", "fc"}) {
    qo.exclude = {ok};
    EXPECT_TRUE(qc::check_quantize_options(*g, qo).ok()) << ok;
  }
  qo.exclude = {"conv", "Conv_0"};
  const Status s = qc::check_quantize_options(*g, qo);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--exclude 'Conv_0': no node of the model has this name; its nodes are "),
            std::string::npos)
      << s.message();
  for (const char* listed : {"'conv'", "'fc'"}) {
    EXPECT_NE(s.message().find(listed), std::string::npos) << s.message();
  }
  // build_int8 applies the same check.
  CountingSource src(samples(2), true);
  auto c = qc::calibrate(*g, src, {});
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto bytes = qc::build_int8(*g, *c, qo, nullptr);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().message(), s.message());
}

TEST(QuantizeOptions, LongNodeListsAreCut) {
  OnnxBuilder b;
  b.input("x", {1, 4}).output("y");
  std::string prev = "x";
  for (int i = 0; i < 20; ++i) {
    const std::string out = i == 19 ? "y" : "t" + std::to_string(i);
    b.node(i % 2 ? "Sigmoid" : "Tanh", {prev}, {out}, "n" + std::to_string(i));
    prev = out;
  }
  const std::string bytes = b.bytes();
  auto g = qc::import_onnx_bytes(bytes.data(), bytes.size());
  ASSERT_TRUE(g.ok()) << g.status().message();
  qc::QuantizeOptions qo;
  qo.exclude = {"nope"};
  const Status s = qc::check_quantize_options(**g, qo);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'n11' and 8 more (`quanta convert --precision fp32` then `quanta inspect`"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(s.message().find("'n12'"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace quanta
