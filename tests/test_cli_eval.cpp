// `quanta eval`, run as a separate process (path from $QUANTA_BIN) on the
// bundled demo models (models/demo_cnn_{fp32,int8}.quanta) and on a small
// batch-2 FullyConnected model, with .npy data generated into a temporary
// directory. Expected accuracies are computed here through the C++ API.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "quanta/model_writer.hpp"
#include "quanta/npy.hpp"
#include "quanta/quanta.hpp"
#include "support/cli_runner.hpp"
#include "support/model_builders.hpp"

namespace quanta {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// ---------------------------------------------------------------- running the binary

using Outcome = test::CliOutcome;
using test::int64_array;
using test::line_starting;
using test::percent_count;
using test::quanta_bin;
using test::write_npy;
std::string quote(const std::string& s) { return test::shell_quote(s); }

// Runs `quanta eval <args>`; stderr joins stdout unless `stdout_only`.
Outcome eval(const std::string& args, bool stdout_only = false) {
  return test::run_quanta("eval " + args, stdout_only);
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

// ---------------------------------------------------------------- data

size_t argmax(const std::vector<float>& v, size_t first, size_t n) {
  size_t best = 0;
  for (size_t k = 1; k < n; ++k) {
    if (v[first + k] > v[first + best]) best = k;
  }
  return best;
}

// Top-1 of every sample through the C++ API: `x` holds `runs` inputs of
// `run_elems` floats; the output 0 rows have `classes` columns.
std::vector<int64_t> predict(const std::string& model_path, const std::vector<float>& x, size_t run_elems) {
  auto model = Model::load_file(model_path);
  EXPECT_TRUE(model.ok()) << model.status().to_string();
  if (!model.ok()) return {};
  auto session = Session::create(*model);
  EXPECT_TRUE(session.ok()) << session.status().to_string();
  if (!session.ok()) return {};
  const TensorInfo& out = (*model)->output(0);
  const auto classes = static_cast<size_t>(out.shape.back());
  std::vector<float> y(static_cast<size_t>(out.num_elements));
  std::vector<int64_t> preds;
  for (size_t first = 0; first + run_elems <= x.size(); first += run_elems) {
    EXPECT_TRUE((*session)->set_input(0, std::span<const float>(x.data() + first, run_elems)).ok());
    EXPECT_TRUE((*session)->run().ok());
    EXPECT_TRUE((*session)->get_output(0, y).ok());
    for (size_t row = 0; row + classes <= y.size(); row += classes) {
      preds.push_back(static_cast<int64_t>(argmax(y, row, classes)));
    }
  }
  return preds;
}

constexpr int64_t kSamples = 48;
constexpr size_t kSampleElems = 16 * 16 * 3;

class CliEval : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (quanta_bin().empty()) return;
    dir_ = test::temp_path("cli_eval");
    std::filesystem::create_directories(dir_);
    fp32_ = std::string(QUANTA_SOURCE_DIR) + "/models/demo_cnn_fp32.quanta";
    int8_ = std::string(QUANTA_SOURCE_DIR) + "/models/demo_cnn_int8.quanta";

    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    x_.resize(static_cast<size_t>(kSamples) * kSampleElems);
    for (float& v : x_) v = uni(rng);
    write_npy(p("x.npy"), npy::from_floats({kSamples, 16, 16, 3}, x_));
    std::vector<double> xd(x_.begin(), x_.end());
    write_npy(p("x_f64.npy"), npy::from_bytes(npy::ElementType::kF64, {kSamples, 16, 16, 3}, xd.data(), xd.size() * 8));
    std::vector<uint8_t> xu(x_.size());
    for (size_t i = 0; i < xu.size(); ++i) xu[i] = static_cast<uint8_t>(i % 2);
    write_npy(p("x_u8.npy"), npy::from_bytes(npy::ElementType::kU8, {kSamples, 16, 16, 3}, xu.data(), xu.size()));
    write_npy(p("x_one.npy"), npy::from_floats({1, 16, 16, 3}, std::span<const float>(x_.data(), kSampleElems)));
    write_npy(p("x_flat.npy"), npy::from_floats({kSamples, 768}, x_));
    std::vector<float> xn(x_);
    xn[5 * kSampleElems + 17] = std::nanf("");
    write_npy(p("x_nan.npy"), npy::from_floats({kSamples, 16, 16, 3}, xn));

    fp32_pred_ = predict(fp32_, x_, kSampleElems);
    int8_pred_ = predict(int8_, x_, kSampleElems);
    ASSERT_EQ(fp32_pred_.size(), static_cast<size_t>(kSamples));
    ASSERT_EQ(int8_pred_.size(), static_cast<size_t>(kSamples));
    write_npy(p("y_self.npy"), int64_array(fp32_pred_));
    std::vector<int64_t> short_labels(fp32_pred_.begin(), fp32_pred_.end() - 1);
    write_npy(p("y_short.npy"), int64_array(short_labels));
    std::vector<float> yf(fp32_pred_.begin(), fp32_pred_.end());
    write_npy(p("y_float.npy"), npy::from_floats({kSamples}, yf));
    std::vector<int32_t> yi(fp32_pred_.begin(), fp32_pred_.end());
    write_npy(p("y_i32.npy"), npy::from_bytes(npy::ElementType::kI32, {kSamples}, yi.data(), yi.size() * 4));
    std::vector<int64_t> bad(fp32_pred_);
    bad[3] = 10;
    write_npy(p("y_range.npy"), int64_array(bad));
    // Labels unrelated to either model, so both accuracies are informative.
    rand_labels_.resize(static_cast<size_t>(kSamples));
    for (auto& v : rand_labels_) v = static_cast<int64_t>(rng() % 10);
    // Make sure some of them hit.
    for (size_t i = 0; i < rand_labels_.size(); i += 3) rand_labels_[i] = int8_pred_[i];
    std::vector<uint8_t> yu(rand_labels_.begin(), rand_labels_.end());
    write_npy(p("y_rand_u8.npy"), npy::from_bytes(npy::ElementType::kU8, {kSamples}, yu.data(), yu.size()));

    // The batch-2 model: 6 samples = 3 runs.
    fc2_ = p("fc2.quanta");
    const Status st = test::make_float_fc_batch2_writer().write_file(fc2_);
    ASSERT_TRUE(st.ok()) << st.to_string();
    fc_x_.resize(6 * 4);
    for (float& v : fc_x_) v = uni(rng);
    write_npy(p("fc_x.npy"), npy::from_floats({6, 4}, fc_x_));
    write_npy(p("fc_x5.npy"), npy::from_floats({5, 4}, std::span<const float>(fc_x_.data(), 20)));
    fc_pred_ = predict(fc2_, fc_x_, 8);
    ASSERT_EQ(fc_pred_.size(), 6u);
    fc_labels_ = {0, 1, 2, 0, 1, 2};
    write_npy(p("fc_y.npy"), int64_array(fc_labels_));
  }

  static void TearDownTestSuite() {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void SetUp() override {
    if (quanta_bin().empty()) FAIL() << "QUANTA_BIN is not set (run the tests through ctest)";
  }

  static std::string p(const std::string& name) { return dir_ + "/" + name; }
  static std::string q(const std::string& name) { return quote(p(name)); }

  static int64_t count_equal(const std::vector<int64_t>& a, const std::vector<int64_t>& b, size_t n) {
    int64_t k = 0;
    for (size_t i = 0; i < n; ++i) k += a[i] == b[i] ? 1 : 0;
    return k;
  }

  static inline std::string dir_, fp32_, int8_, fc2_;
  static inline std::vector<float> x_, fc_x_;
  static inline std::vector<int64_t> fp32_pred_, int8_pred_, rand_labels_, fc_pred_, fc_labels_;
};

TEST_F(CliEval, SelfLabelsGiveFullFloatAccuracyAndAgreementEqualsInt8Accuracy) {
  const Outcome o = eval(quote(fp32_) + " " + quote(int8_) + " --data " + q("x.npy") + " --labels " + q("y_self.npy"));
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, HasSubstr("samples    48\n"));
  const std::string ref_row = line_starting(o.output, fp32_);
  EXPECT_THAT(ref_row, HasSubstr("100.00% (48/48)"));
  const int64_t k = count_equal(int8_pred_, fp32_pred_, kSamples);
  const std::string cand_row = line_starting(o.output, int8_);
  // The labels are the reference's predictions: accuracy == agreement.
  EXPECT_EQ(count_of(cand_row, percent_count(k, kSamples)), 2u) << o.output;
  EXPECT_THAT(cand_row, HasSubstr(fmt::format("{:+.2f} pp", 100.0 * static_cast<double>(k - kSamples) / kSamples)));
  EXPECT_THAT(o.output, HasSubstr("SQNR dB"));
  EXPECT_THAT(o.output, HasSubstr("0 'probs'"));
}

TEST_F(CliEval, Top1MatchesTheCppApi) {
  const Outcome o = eval(quote(fp32_) + " " + quote(int8_) + " --data " + q("x.npy") + " --labels " +
                         q("y_rand_u8.npy") + " --json", true);
  EXPECT_EXIT_CODE(o, 0);
  const auto j = nlohmann::json::parse(o.output);
  const int64_t k_fp32 = count_equal(fp32_pred_, rand_labels_, kSamples);
  const int64_t k_int8 = count_equal(int8_pred_, rand_labels_, kSamples);
  EXPECT_EQ(j["models"][0]["top1_correct"].get<int64_t>(), k_fp32);
  EXPECT_EQ(j["models"][1]["top1_correct"].get<int64_t>(), k_int8);
  EXPECT_EQ(j["models"][1]["top1_matches"].get<int64_t>(), count_equal(int8_pred_, fp32_pred_, kSamples));
  EXPECT_NEAR(j["models"][1]["accuracy_delta_pp"].get<double>(),
              100.0 * static_cast<double>(k_int8 - k_fp32) / kSamples, 1e-9);

  const Outcome t = eval(quote(fp32_) + " " + quote(int8_) + " --data " + q("x.npy") + " --labels " +
                         q("y_rand_u8.npy"));
  EXPECT_EXIT_CODE(t, 0);
  EXPECT_THAT(line_starting(t.output, fp32_), HasSubstr(percent_count(k_fp32, kSamples)));
  EXPECT_THAT(line_starting(t.output, int8_), HasSubstr(percent_count(k_int8, kSamples)));
}

TEST_F(CliEval, ModelAgainstItself) {
  const Outcome o = eval(quote(fp32_) + " " + quote(fp32_) + " --data " + q("x.npy"));
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, HasSubstr("100.00% (48/48)"));
  EXPECT_THAT(o.output, HasSubstr(" inf "));
  EXPECT_THAT(o.output, HasSubstr("1.000000"));
  EXPECT_THAT(o.output, Not(HasSubstr("accuracy")));

  const Outcome j = eval(quote(fp32_) + " " + quote(fp32_) + " --data " + q("x.npy") + " --json", true);
  EXPECT_EXIT_CODE(j, 0);
  const auto doc = nlohmann::json::parse(j.output);
  const auto& out0 = doc["models"][1]["outputs"][0];
  EXPECT_TRUE(out0["sqnr_db"].is_null());
  EXPECT_TRUE(out0["identical"].get<bool>());
  EXPECT_EQ(out0["max_abs_error"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(doc["models"][1]["top1_agreement"].get<double>(), 1.0);
}

TEST_F(CliEval, WithoutLabelsOnlyComparison) {
  const Outcome o = eval(quote(fp32_) + " " + quote(int8_) + " --data " + q("x.npy"));
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, Not(HasSubstr("accuracy")));
  EXPECT_THAT(o.output, HasSubstr("top-1 agreement"));
  EXPECT_THAT(o.output, HasSubstr("SQNR dB"));
  EXPECT_THAT(o.output, HasSubstr("cosine"));
  EXPECT_THAT(line_starting(o.output, int8_), HasSubstr(percent_count(count_equal(int8_pred_, fp32_pred_, kSamples), kSamples)));
}

TEST_F(CliEval, SingleModelWithLabelsShowsItsAccuracy) {
  const Outcome o = eval(quote(fp32_) + " --data " + q("x.npy") + " --labels " + q("y_i32.npy"));
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, HasSubstr("top-1 accuracy"));
  EXPECT_THAT(line_starting(o.output, fp32_), HasSubstr("100.00% (48/48)"));
  EXPECT_THAT(o.output, Not(HasSubstr("agreement")));
  EXPECT_THAT(o.output, Not(HasSubstr("SQNR")));
}

TEST_F(CliEval, JsonHasTheFields) {
  const Outcome o = eval(quote(fp32_) + " " + quote(int8_) + " --data " + q("x.npy") + " --labels " +
                         q("y_self.npy") + " --json", true);
  EXPECT_EXIT_CODE(o, 0);
  const auto j = nlohmann::json::parse(o.output);
  EXPECT_EQ(j["samples"].get<int64_t>(), kSamples);
  EXPECT_EQ(j["runs"].get<int64_t>(), kSamples);
  EXPECT_EQ(j["batch"].get<int64_t>(), 1);
  EXPECT_EQ(j["reference"].get<std::string>(), fp32_);
  EXPECT_EQ(j["labels"].get<std::string>(), p("y_self.npy"));
  ASSERT_EQ(j["models"].size(), 2u);
  const auto& ref = j["models"][0];
  EXPECT_TRUE(ref["reference"].get<bool>());
  EXPECT_DOUBLE_EQ(ref["top1_accuracy"].get<double>(), 1.0);
  EXPECT_EQ(ref["top1_correct"].get<int64_t>(), kSamples);
  EXPECT_TRUE(ref["accuracy_delta_pp"].is_null());
  EXPECT_TRUE(ref["top1_agreement"].is_null());
  EXPECT_TRUE(ref["outputs"].empty());
  const auto& cand = j["models"][1];
  EXPECT_EQ(cand["path"].get<std::string>(), int8_);
  EXPECT_FALSE(cand["reference"].get<bool>());
  EXPECT_DOUBLE_EQ(cand["top1_agreement"].get<double>(), cand["top1_accuracy"].get<double>());
  for (const char* key : {"top1_correct", "top1_accuracy", "accuracy_delta_pp", "top1_agreement", "top1_matches",
                          "seconds", "ms_per_run", "samples_per_second", "outputs"}) {
    EXPECT_TRUE(cand.contains(key)) << key;
  }
  ASSERT_EQ(cand["outputs"].size(), 1u);
  const auto& out0 = cand["outputs"][0];
  EXPECT_EQ(out0["name"].get<std::string>(), "probs");
  EXPECT_EQ(out0["shape"], nlohmann::json::parse("[1, 10]"));
  ASSERT_TRUE(out0["sqnr_db"].is_number());
  EXPECT_GT(out0["sqnr_db"].get<double>(), 10.0);
  EXPECT_GT(out0["cosine"].get<double>(), 0.9);
  EXPECT_GT(out0["max_abs_error"].get<double>(), 0.0);
  EXPECT_FALSE(out0["identical"].get<bool>());
}

TEST_F(CliEval, LimitIsRespected) {
  const Outcome o = eval(quote(fp32_) + " " + quote(int8_) + " --data " + q("x.npy") + " --labels " +
                         q("y_self.npy") + " --limit 10");
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, HasSubstr("samples    10, the first of 48 (--limit 10)"));
  EXPECT_THAT(line_starting(o.output, fp32_), HasSubstr("100.00% (10/10)"));
  const int64_t k = count_equal(int8_pred_, fp32_pred_, 10);
  EXPECT_THAT(line_starting(o.output, int8_), HasSubstr(percent_count(k, 10)));

  const Outcome j = eval(quote(fp32_) + " --data " + q("x.npy") + " --limit 7 --json", true);
  EXPECT_EXIT_CODE(j, 0);
  const auto doc = nlohmann::json::parse(j.output);
  EXPECT_EQ(doc["samples"].get<int64_t>(), 7);
  EXPECT_EQ(doc["samples_in_data"].get<int64_t>(), kSamples);

  // A limit above the data size evaluates everything.
  const Outcome all = eval(quote(fp32_) + " --data " + q("x.npy") + " --limit 1000");
  EXPECT_EXIT_CODE(all, 0);
  EXPECT_THAT(all.output, HasSubstr("samples    48\n"));
}

TEST_F(CliEval, OtherDataTypesAndBindings) {
  // float64 data converts to the same floats: the labels still match 100%.
  Outcome o = eval(quote(fp32_) + " --data " + q("x_f64.npy") + " --labels " + q("y_self.npy"));
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, HasSubstr("100.00% (48/48)"));
  // uint8 data is accepted (converted to float).
  o = eval(quote(fp32_) + " " + quote(int8_) + " --data " + q("x_u8.npy"));
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, HasSubstr("samples    48\n"));
  // NAME=file binding, and a file of exactly the input shape (one sample).
  o = eval(quote(fp32_) + " --data input=" + q("x_one.npy") + " --labels " + q("y_self.npy") + " --limit 1");
  EXPECT_EXIT_CODE(o, 1);  // 48 labels for 1 sample
  EXPECT_THAT(o.output, HasSubstr("48 labels"));
  o = eval(quote(fp32_) + " --data input=" + q("x_one.npy"));
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, HasSubstr("samples    1\n"));
}

TEST_F(CliEval, BatchedModel) {
  // [6, 4] for an input [2, 4]: 3 runs, 6 samples, 6 predictions.
  const Outcome o = eval(quote(fc2_) + " " + quote(fc2_) + " --data " + q("fc_x.npy") + " --labels " + q("fc_y.npy"));
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, HasSubstr("samples    6 (3 runs of batch 2)"));
  const int64_t k = count_equal(fc_pred_, fc_labels_, 6);
  EXPECT_THAT(line_starting(o.output, fc2_), HasSubstr(percent_count(k, 6)));
  EXPECT_THAT(o.output, HasSubstr("100.00% (6/6)"));  // agreement with itself

  // --limit rounds down to whole batches.
  const Outcome l = eval(quote(fc2_) + " --data " + q("fc_x.npy") + " --limit 3 --json", true);
  EXPECT_EXIT_CODE(l, 0);
  EXPECT_EQ(nlohmann::json::parse(l.output)["samples"].get<int64_t>(), 2);

  // 5 rows are not a whole number of batches.
  const Outcome bad = eval(quote(fc2_) + " --data " + q("fc_x5.npy"));
  EXPECT_EXIT_CODE(bad, 1);
  EXPECT_THAT(bad.output, HasSubstr("fc_x5.npy"));
  EXPECT_THAT(bad.output, HasSubstr("multiple of the model's batch 2"));
}

TEST_F(CliEval, LabelCountMismatch) {
  const Outcome o = eval(quote(fp32_) + " " + quote(int8_) + " --data " + q("x.npy") + " --labels " + q("y_short.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, HasSubstr("quanta: error:"));
  EXPECT_THAT(o.output, HasSubstr("y_short.npy"));
  EXPECT_THAT(o.output, HasSubstr("47 labels"));
  EXPECT_THAT(o.output, HasSubstr("48 predictions"));
}

TEST_F(CliEval, BadLabels) {
  Outcome o = eval(quote(fp32_) + " --data " + q("x.npy") + " --labels " + q("y_float.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, HasSubstr("y_float.npy"));
  EXPECT_THAT(o.output, HasSubstr("must be integers"));
  EXPECT_THAT(o.output, HasSubstr("float32"));
  o = eval(quote(fp32_) + " --data " + q("x.npy") + " --labels " + q("y_range.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, HasSubstr("label 10 of sample 3"));
}

TEST_F(CliEval, MissingFiles) {
  Outcome o = eval(q("nope.quanta") + " --data " + q("x.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, HasSubstr("nope.quanta"));
  o = eval(quote(fp32_) + " " + q("nope2.quanta") + " --data " + q("x.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, HasSubstr("nope2.quanta"));
  o = eval(quote(fp32_) + " --data " + q("missing.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, HasSubstr("missing.npy"));
  // A prefix that is not an input name, in an argument that is not an
  // existing file, is an unknown input name.
  o = eval(quote(fp32_) + " --data bogus=" + q("x.npy"));
  EXPECT_EXIT_CODE(o, 2);
  EXPECT_THAT(o.output, HasSubstr("no input named 'bogus' (inputs: 'input')"));
  o = eval(quote(fp32_) + " --data " + q("x.npy") + " --labels " + q("missing_y.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, HasSubstr("missing_y.npy"));
}

TEST_F(CliEval, ShapeMismatches) {
  Outcome o = eval(quote(fp32_) + " --data " + q("x_flat.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, HasSubstr("x_flat.npy"));
  EXPECT_THAT(o.output, HasSubstr("[48, 768]"));
  EXPECT_THAT(o.output, HasSubstr("[1, 16, 16, 3]"));
  // Models with different inputs: both files and both shapes are named.
  o = eval(quote(fp32_) + " " + quote(fc2_) + " --data " + q("x.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, HasSubstr(fp32_));
  EXPECT_THAT(o.output, HasSubstr(fc2_));
  EXPECT_THAT(o.output, HasSubstr("[1, 16, 16, 3]"));
  EXPECT_THAT(o.output, HasSubstr("[2, 4]"));
}

TEST_F(CliEval, NaNInDataNamesFileAndSample) {
  const Outcome o = eval(quote(fp32_) + " --data " + q("x_nan.npy"));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, HasSubstr("x_nan.npy"));
  EXPECT_THAT(o.output, HasSubstr("sample 5"));
  EXPECT_THAT(o.output, HasSubstr("NaN"));
}

TEST_F(CliEval, WrongNumberOfDataFilesIsAUsageError) {
  Outcome o = eval(quote(fp32_) + " --data " + q("x.npy") + " --data " + q("x.npy"));
  EXPECT_EXIT_CODE(o, 2);
  EXPECT_THAT(o.output, HasSubstr("too many --data"));
  o = eval(quote(fp32_) + " --data input=" + q("x.npy") + " --data input=" + q("x.npy"));
  EXPECT_EXIT_CODE(o, 2);
  o = eval(quote(fp32_));
  EXPECT_EXIT_CODE(o, 2);
}

}  // namespace
}  // namespace quanta
