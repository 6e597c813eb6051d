// `quanta convert` through the binary: success output, exit codes and messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "quanta/npy.hpp"
#include "quanta/quanta.hpp"
#include "support/cli_runner.hpp"
#include "support/onnx_builder.hpp"

namespace quanta {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using test::run_quanta;
using test::shell_quote;

class CliConvert : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(test::quanta_bin().empty()) << "QUANTA_BIN is not set (run the tests through ctest)";
    dir_ = std::filesystem::temp_directory_path() /
           ("quanta_cli_convert_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& f) const { return (dir_ / f).string(); }
  // Writes the model `b` to path(f).
  void write_onnx(const test::OnnxBuilder& b, const std::string& f) const {
    std::ofstream(path(f), std::ios::binary) << b.bytes();
  }
  static std::string models(const std::string& f) { return std::string(QUANTA_SOURCE_DIR) + "/models/" + f; }
  std::filesystem::path dir_;
};

TEST_F(CliConvert, Int8ConversionPrintsRewritesSummaryAndWritesALoadableModel) {
  const std::string out = path("cnn.quanta");
  auto o = run_quanta("convert " + shell_quote(models("fashion_cnn_bn.onnx")) + " -o " + shell_quote(out) +
                      " --calib " + shell_quote(models("fashion_calib_x.npy")) + " --calib-limit 32");
  ASSERT_TRUE(o.exited && o.code == 0) << o.output;
  EXPECT_THAT(o.output, HasSubstr("ONNX opset 13"));
  EXPECT_THAT(o.output, HasSubstr("rewrite: folded BatchNormalization '/bn1/BatchNormalization' into Conv"));
  EXPECT_THAT(o.output, HasSubstr("calibrated"));
  EXPECT_THAT(o.output, HasSubstr("on 32 samples (mse"));
  EXPECT_THAT(o.output, HasSubstr("i8 per-channel x16"));
  EXPECT_THAT(o.output, HasSubstr("wrote " + out));
  auto m = Model::load_file(out);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ((*m)->input(0).name, "input");
  EXPECT_EQ((*m)->input(0).shape, (std::vector<int64_t>{1, 1, 28, 28}));
  EXPECT_EQ((*m)->output(0).name, "logits");
}

TEST_F(CliConvert, JsonSummaryParses) {
  auto o = run_quanta("convert " + shell_quote(models("fashion_mlp.onnx")) + " -o " + shell_quote(path("m.quanta")) +
                          " --calib " + shell_quote(models("fashion_calib_x.npy")) +
                          " --calib-limit 16 --method percentile --per-tensor --json",
                      /*discard_stderr=*/true);
  ASSERT_EQ(o.code, 0) << o.output;
  const auto j = nlohmann::json::parse(o.output);
  EXPECT_EQ(j["precision"], "int8");
  EXPECT_EQ(j["calibration"]["method"], "percentile");
  EXPECT_EQ(j["calibration"]["samples"], 16);
  ASSERT_FALSE(j["nodes"].empty());
  bool per_tensor = false;
  for (const auto& n : j["nodes"]) per_tensor = per_tensor || n["weights"].get<std::string>().find("per-tensor") != std::string::npos;
  EXPECT_TRUE(per_tensor);
}

TEST_F(CliConvert, Int8WithoutCalibrationDataIsAUsageErrorThatSaysWhy) {
  auto o = run_quanta("convert " + shell_quote(models("fashion_mlp.onnx")) + " -o " + shell_quote(path("m.quanta")));
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_THAT(o.output, HasSubstr("int8 conversion needs calibration data"));
  EXPECT_THAT(o.output, HasSubstr("--precision fp32"));
  EXPECT_FALSE(std::filesystem::exists(path("m.quanta")));
}

TEST_F(CliConvert, UnsupportedOpIsAnErrorNamingTheNode) {
  test::OnnxBuilder b;
  b.input("x", {1, 3, 8, 8}).output("y");
  b.node("LRN", {"x"}, {"y"}, "lrn1");
  write_onnx(b, "lrn.onnx");
  auto o = run_quanta("convert " + shell_quote(path("lrn.onnx")) + " -o " + shell_quote(path("o.quanta")) + " --precision fp32");
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.code, 1) << o.output;
  EXPECT_THAT(o.output, HasSubstr("node 'lrn1' (LRN): op type 'LRN' is not supported"));
}

// --max-arena-mb / --max-prepared-mb reach the calibration session: a Relu
// over a 1x4x256x256 float input (1 MiB in, 1 MiB out, both kept for
// observation) does not fit a 1 MiB arena, and fits the default. With
// --precision fp32 no session is made, so the options are a usage error.
TEST_F(CliConvert, MemoryLimitsReachTheCalibrationSession) {
  test::OnnxBuilder b;
  b.input("x", {1, 4, 256, 256}).output("y");
  b.node("Relu", {"x"}, {"y"}, "relu");
  write_onnx(b, "relu.onnx");
  ASSERT_TRUE(npy::write_file(path("x.npy"), npy::from_floats({2, 4, 256, 256},
                                                               test::test_values(2 * 4 * 256 * 256, 7)))
                  .ok());
  const std::string cmd = "convert " + shell_quote(path("relu.onnx")) + " -o " + shell_quote(path("o.quanta")) +
                          " --calib " + shell_quote(path("x.npy")) + " -q";
  auto o = run_quanta(cmd + " --max-arena-mb 1");
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.code, 1) << o.output;
  EXPECT_THAT(o.output, HasSubstr("the float model cannot be prepared for calibration"));
  EXPECT_THAT(o.output, HasSubstr("max_arena_bytes = 1048576 bytes"));
  EXPECT_FALSE(std::filesystem::exists(path("o.quanta")));
  o = run_quanta(cmd);
  EXPECT_EQ(o.code, 0) << o.output;
  o = run_quanta("convert " + shell_quote(path("relu.onnx")) + " -o " + shell_quote(path("f.quanta")) +
                 " --precision fp32 --max-arena-mb 4");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_THAT(o.output, HasSubstr("--max-arena-mb"));
}

TEST_F(CliConvert, MissingFileAndWrongCalibrationShapeAreErrors) {
  auto o = run_quanta("convert " + shell_quote(path("nope.onnx")) + " -o " + shell_quote(path("o.quanta")) + " --precision fp32");
  EXPECT_EQ(o.code, 1) << o.output;
  EXPECT_THAT(o.output, HasSubstr("nope.onnx: no such file"));
  // Labels are [1000] integers: not samples of a [1, 1, 28, 28] input.
  auto o2 = run_quanta("convert " + shell_quote(models("fashion_mlp.onnx")) + " -o " + shell_quote(path("o.quanta")) +
                       " --calib " + shell_quote(models("fashion_eval_y.npy")));
  EXPECT_EQ(o2.code, 1) << o2.output;
  EXPECT_THAT(o2.output, HasSubstr("fashion_eval_y.npy"));
}

// The demo conversion's arguments, with `extra` appended.
std::string demo_convert(const std::string& out, const std::string& extra) {
  return "convert " + shell_quote(std::string(QUANTA_SOURCE_DIR) + "/models/fashion_cnn_bn.onnx") + " -o " +
         shell_quote(out) + " --calib " + shell_quote(std::string(QUANTA_SOURCE_DIR) + "/models/fashion_calib_x.npy") +
         " " + extra;
}

// A bad --exclude is found before calibrating: nothing about calibration is
// printed, and the error lists the model's node names.
TEST_F(CliConvert, ExcludeUnknownNodeFailsBeforeCalibration) {
  auto o = run_quanta(demo_convert(path("m.quanta"), "--exclude nosuch"));
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.code, 1) << o.output;
  EXPECT_THAT(o.output, HasSubstr("quanta: error: cannot quantize: invalid argument: --exclude 'nosuch': no node "
                                  "of the model has this name; its nodes are '/conv1/Conv/reshape', "
                                  "'/conv1/Conv', '/MaxPool', "));
  EXPECT_THAT(o.output, Not(HasSubstr("calibrat")));
  EXPECT_FALSE(std::filesystem::exists(path("m.quanta")));
  // A name merged into a runtime node (a folded BatchNormalization) is accepted.
  auto ok = run_quanta(demo_convert(path("m.quanta"), "--calib-limit 8 -q --exclude /bn2/BatchNormalization"));
  EXPECT_EQ(ok.code, 0) << ok.output;
}

// An output that cannot be written is found before anything slow, with the
// OS's reason; an existing output is left alone when the conversion fails.
TEST_F(CliConvert, UnwritableOutputFailsBeforeCalibration) {
  const std::string missing_dir = path("no_such_dir") + "/m.quanta";
  auto o = run_quanta(demo_convert(missing_dir, ""));
  EXPECT_EQ(o.code, 1) << o.output;
  EXPECT_THAT(o.output, HasSubstr("quanta: error: " + missing_dir + ": cannot write the output file: No such file "
                                  "or directory (the directory " + path("no_such_dir") + " does not exist)"));
  EXPECT_THAT(o.output, Not(HasSubstr("calibrat")));
  EXPECT_THAT(o.output, Not(HasSubstr("ONNX opset")));

  auto d = run_quanta(demo_convert(dir_.string(), ""));
  EXPECT_EQ(d.code, 1) << d.output;
  EXPECT_THAT(d.output, HasSubstr(dir_.string() + ": cannot write the output file: Is a directory"));
  EXPECT_THAT(d.output, Not(HasSubstr("calibrat")));

  {
    std::ofstream f(path("keep.quanta"));
    f << "old contents";
  }
  auto late = run_quanta(demo_convert(path("keep.quanta"), "--exclude nosuch"));
  EXPECT_EQ(late.code, 1) << late.output;
  std::ifstream f(path("keep.quanta"));
  std::string kept((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, "old contents");
}

// -q: nothing is printed on success (no header, rewrites, progress, table or
// result line); errors still are.
TEST_F(CliConvert, QuietPrintsNothingOnSuccessButErrors) {
  auto o = run_quanta(demo_convert(path("m.quanta"), "--calib-limit 16 -q"));
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_EQ(o.output, "");
  EXPECT_TRUE(Model::load_file(path("m.quanta")).ok());
  auto f = run_quanta("convert " + shell_quote(models("fashion_cnn_bn.onnx")) + " -o " + shell_quote(path("f.quanta")) +
                      " --precision fp32 -q");
  EXPECT_EQ(f.code, 0) << f.output;
  EXPECT_EQ(f.output, "");
  auto e = run_quanta(demo_convert(path("m.quanta"), "--calib-limit 16 -q --exclude nosuch"));
  EXPECT_EQ(e.code, 1);
  EXPECT_THAT(e.output, ::testing::StartsWith("quanta: error: cannot quantize: invalid argument: --exclude 'nosuch'"));
}

// Without a terminal, each calibration pass is one plain line with its own
// count (256 samples each, not 512 for both).
TEST_F(CliConvert, CalibrationPassesAreReportedOnePlainLineEach) {
  auto o = run_quanta(demo_convert(path("m.quanta"), ""));
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_THAT(o.output, HasSubstr("\ncalibration pass 1/2 (ranges): 256 samples in "));
  EXPECT_THAT(o.output, HasSubstr("\ncalibration pass 2/2 (histograms): 256 samples in "));
  EXPECT_THAT(o.output, Not(HasSubstr("\r")));
  EXPECT_THAT(o.output, Not(HasSubstr("512")));
  // The log reads in order: the rewrites, then the passes, then the result.
  EXPECT_LT(o.output.find("rewrite: "), o.output.find("calibration pass 1/2"));
  auto m = run_quanta(demo_convert(path("m.quanta"), "--method minmax --calib-limit 10"));
  EXPECT_EQ(m.code, 0) << m.output;
  EXPECT_THAT(m.output, HasSubstr("\ncalibration pass 1/1 (ranges): 10 samples in "));
}

// An option that the others make meaningless is a usage error (exit 2) that
// says why, not silently ignored; nothing is written.
TEST_F(CliConvert, OptionsThatWouldBeIgnoredAreUsageErrors) {
  const std::string fp32 = "convert " + shell_quote(models("fashion_cnn_bn.onnx")) + " -o " +
                           shell_quote(path("m.quanta")) + " --precision fp32 ";
  const std::string int8 = demo_convert(path("m.quanta"), "");
  const std::pair<std::string, std::string> cases[] = {
      {int8 + "--percentile 99.9", "--percentile is only used by --method percentile (the method is mse)"},
      {int8 + "--method minmax --percentile 99.9",
       "--percentile is only used by --method percentile (the method is minmax)"},
      {int8 + "--method minmax --bins 512", "--bins is only used by --method percentile and mse"},
      {fp32 + "--calib x.npy", "--calib is only for --precision int8"},
      {fp32 + "--method minmax --per-tensor --exclude a --calib-limit 5",
       "--calib-limit, --method, --per-tensor, --exclude are only for --precision int8: a float conversion "
       "is neither calibrated nor quantized"},
      {fp32 + "--mean 0.5", "--mean is only for --precision int8"},
      {int8 + "--mean 0.5 --std 0.2 --bgr",
       "--mean, --std, --bgr are only for --calib-dir images (--calib .npy samples are used as they are)"},
      {int8 + "--layout nhwc", "--layout is only for --calib-dir images"},
      {"convert " + shell_quote(models("fashion_cnn_bn.onnx")) + " -o " + shell_quote(path("m.quanta")) +
           " --calib-dir " + shell_quote(dir_.string()) + " --no-crop --resize 32",
       "--resize is not used with --no-crop"},
  };
  for (const auto& [args, message] : cases) {
    SCOPED_TRACE(args);
    auto o = run_quanta(args);
    EXPECT_TRUE(o.exited);
    EXPECT_EQ(o.code, 2) << o.output;
    EXPECT_THAT(o.output, HasSubstr("quanta: error: " + message));
    EXPECT_FALSE(std::filesystem::exists(path("m.quanta")));
  }
  // Given where they are used, the same options are fine.
  auto ok = run_quanta(int8 + "--method percentile --percentile 99.9 --bins 512 --calib-limit 8 -q");
  EXPECT_EQ(ok.code, 0) << ok.output;
}

// A TFLite-style Conv with dead channels (weights ~1e-30, non-zero bias)
// converts without --exclude, and the summary names the floored channels.
TEST_F(CliConvert, DeadChannelsAreFlooredAndListedInTheSummary) {
  std::vector<float> w = test::test_values(8 * 36, 41, -0.5f, 0.5f);
  std::vector<float> bias = test::test_values(8, 42, -0.2f, 0.2f);
  for (int c : {2, 5, 6}) {
    for (int k = 0; k < 36; ++k) w[c * 36 + k] *= 1e-30f;
    bias[c] = c == 5 ? -3.0f : 1.5f;
  }
  test::OnnxBuilder b;
  b.input("x", {1, 4, 6, 6}).output("y");
  b.initializer("w", {8, 4, 3, 3}, w).initializer("b", {8}, bias);
  test::attr_ints(b.node("Conv", {"x", "w", "b"}, {"y"}, "conv"), "pads", {1, 1, 1, 1});
  write_onnx(b, "dead.onnx");
  const std::vector<float> x = test::test_values(16 * 144, 43);
  ASSERT_TRUE(npy::write_file(path("calib.npy"), npy::from_floats({16, 4, 6, 6}, x)).ok());
  const std::string cmd = "convert " + shell_quote(path("dead.onnx")) + " -o " + shell_quote(path("dead.quanta")) +
                          " --calib " + shell_quote(path("calib.npy"));
  auto o = run_quanta(cmd);
  ASSERT_TRUE(o.exited && o.code == 0) << o.output;
  EXPECT_THAT(o.output, HasSubstr("; 3 floored: 2, 5, 6"));
  auto j = run_quanta(cmd + " --json", /*discard_stderr=*/true);
  ASSERT_EQ(j.code, 0) << j.output;
  const auto js = nlohmann::json::parse(j.output);
  int seen = 0;
  for (const auto& n : js["nodes"]) {
    if (n["name"] != "conv") {
      EXPECT_TRUE(n["floored_channels"].empty()) << n.dump();
      continue;
    }
    ++seen;
    EXPECT_EQ(n["precision"], "int8");
    EXPECT_EQ(n["floored_channels"], nlohmann::json::array({2, 5, 6}));
  }
  EXPECT_EQ(seen, 1) << j.output;
}

}  // namespace
}  // namespace quanta
