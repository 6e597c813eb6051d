// The converter: ONNX import, graph rewrites (checked numerically against
// naive NCHW references), quantization (against hand computations), errors,
// and the accuracy of the committed Fashion-MNIST models.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <random>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <stb/stb_image_write.h>

#include "graph.hpp"
#include "onnx/op_table.hpp"
#include "quanta/converter.hpp"
#include "quanta/npy.hpp"
#include "support/onnx_builder.hpp"
#include "support/vector_source.hpp"

namespace quanta {
namespace {

namespace qc = quanta::convert;
using test::attr_float;
using test::attr_int;
using test::attr_ints;
using test::OnnxBuilder;
using test::test_values;

// ------------------------------------------------------------------ helpers

qc::FloatGraphPtr import_ok(const OnnxBuilder& b, const qc::ImportOptions& o = {}) {
  const std::string bytes = b.bytes();
  auto g = qc::import_onnx_bytes(bytes.data(), bytes.size(), o);
  EXPECT_TRUE(g.ok()) << g.status().message();
  if (!g.ok()) return nullptr;
  return std::move(*g);
}

Status import_error(const OnnxBuilder& b) {
  const std::string bytes = b.bytes();
  auto g = qc::import_onnx_bytes(bytes.data(), bytes.size());
  EXPECT_FALSE(g.ok());
  return g.ok() ? Status::Ok() : g.status();
}

std::vector<std::vector<float>> run_bytes(const std::vector<uint8_t>& bytes,
                                          const std::vector<std::vector<float>>& inputs) {
  auto m = Model::load_buffer(bytes.data(), bytes.size(), true);
  EXPECT_TRUE(m.ok()) << m.status().message();
  auto s = Session::create(*m);
  EXPECT_TRUE(s.ok()) << s.status().message();
  for (size_t i = 0; i < inputs.size(); ++i) EXPECT_TRUE((*s)->set_input(i, inputs[i]).ok());
  EXPECT_TRUE((*s)->run().ok());
  std::vector<std::vector<float>> outs;
  for (size_t o = 0; o < (*m)->num_outputs(); ++o) {
    outs.emplace_back(static_cast<size_t>((*m)->output(o).num_elements));
    EXPECT_TRUE((*s)->get_output(o, outs.back()).ok());
  }
  return outs;
}

std::vector<float> run_fp32(const qc::FloatGraph& g, const std::vector<float>& x) {
  auto bytes = qc::build_fp32(g);
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  return run_bytes(*bytes, {x})[0];
}

int count_op(const qc::FloatGraph& g, OpType op) {
  return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(),
                                        [op](const qc::LNode& n) { return n.op == op; }));
}

bool has_rewrite(const qc::FloatGraph& g, const std::string& text) {
  return std::any_of(g.log.rewrites.begin(), g.log.rewrites.end(),
                     [&](const std::string& r) { return r.find(text) != std::string::npos; });
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, float tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tol * std::max(1.0f, std::fabs(want[i]))) << "element " << i;
  }
}

// Naive NCHW convolution (the ONNX definition), one image.
std::vector<float> ref_conv(const std::vector<float>& x, int c, int h, int w,
                            const std::vector<float>& wt, int m, int kh, int kw,
                            const std::vector<float>& bias, int stride, int pad, int groups,
                            int* oh_out, int* ow_out) {
  const int oh = (h + 2 * pad - kh) / stride + 1, ow = (w + 2 * pad - kw) / stride + 1;
  const int cg = c / groups, mg = m / groups;
  std::vector<float> y(static_cast<size_t>(m * oh * ow));
  for (int o = 0; o < m; ++o) {
    const int grp = o / mg;
    for (int i = 0; i < oh; ++i) {
      for (int j = 0; j < ow; ++j) {
        double acc = bias.empty() ? 0.0 : bias[o];
        for (int ci = 0; ci < cg; ++ci) {
          for (int a = 0; a < kh; ++a) {
            for (int b = 0; b < kw; ++b) {
              const int yy = i * stride - pad + a, xx = j * stride - pad + b;
              if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
              acc += static_cast<double>(x[((grp * cg + ci) * h + yy) * w + xx]) *
                     wt[((o * cg + ci) * kh + a) * kw + b];
            }
          }
        }
        y[(o * oh + i) * ow + j] = static_cast<float>(acc);
      }
    }
  }
  *oh_out = oh;
  *ow_out = ow;
  return y;
}

using test::VectorSource;

// Calibrates g (default options) on n samples of `size` values in [lo, hi),
// test_values seeds seed, seed + 1, ...
Result<qc::Calibration> calibrate_on(const qc::FloatGraph& g, size_t size, uint32_t n, uint32_t seed,
                                     float lo = -1.0f, float hi = 1.0f) {
  std::vector<std::vector<float>> samples;
  for (uint32_t i = 0; i < n; ++i) samples.push_back(test_values(size, seed + i, lo, hi));
  VectorSource src(samples);
  return qc::calibrate(g, src, {});
}

// ------------------------------------------------------------------ rewrites

// Conv (no bias) -> BatchNormalization -> Relu, NCHW input 1x3x6x6.
OnnxBuilder conv_bn_relu(std::vector<float>* w, std::vector<float>* bn) {
  *w = test_values(4 * 3 * 3 * 3, 1);
  const std::vector<float> gamma = {1.5f, 0.5f, -0.7f, 2.0f}, beta = {0.1f, -0.2f, 0.3f, 0.0f},
                           mean = {0.05f, -0.1f, 0.2f, 0.0f}, var = {0.9f, 1.2f, 0.3f, 2.0f};
  bn->clear();
  for (auto* v : {&gamma, &beta, &mean, &var}) bn->insert(bn->end(), v->begin(), v->end());
  OnnxBuilder b;
  b.input("x", {1, 3, 6, 6}).output("y");
  b.initializer("w", {4, 3, 3, 3}, *w);
  b.initializer("gamma", {4}, gamma).initializer("beta", {4}, beta);
  b.initializer("mean", {4}, mean).initializer("var", {4}, var);
  auto& c = b.node("Conv", {"x", "w"}, {"c"}, "conv");
  attr_ints(c, "pads", {1, 1, 1, 1});
  attr_float(b.node("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"n"}, "bn"),
             "epsilon", 1e-3f);
  b.node("Relu", {"n"}, {"y"}, "relu");
  return b;
}

std::vector<float> ref_conv_bn_relu(const std::vector<float>& x, const std::vector<float>& w,
                                    const std::vector<float>& bn) {
  int oh = 0, ow = 0;
  std::vector<float> y = ref_conv(x, 3, 6, 6, w, 4, 3, 3, {}, 1, 1, 1, &oh, &ow);
  for (int c = 0; c < 4; ++c) {
    const double s = bn[c] / std::sqrt(static_cast<double>(bn[12 + c]) + 1e-3);
    for (int i = 0; i < oh * ow; ++i) {
      float& v = y[c * oh * ow + i];
      v = static_cast<float>(std::max(0.0, (v - bn[8 + c]) * s + bn[4 + c]));
    }
  }
  return y;
}

TEST(ConverterRewrites, BatchNormFoldedIntoConvMatchesUnfoldedReference) {
  std::vector<float> w, bn;
  auto g = import_ok(conv_bn_relu(&w, &bn));
  ASSERT_TRUE(g);
  EXPECT_TRUE(has_rewrite(*g, "folded BatchNormalization 'bn' into Conv 'conv'"));
  EXPECT_EQ(count_op(*g, OpType::kConv2D), 1);
  EXPECT_EQ(count_op(*g, OpType::kMul), 0) << "BN must not be lowered to Mul/Add when it folds";
  const std::vector<float> x = test_values(3 * 36, 2);
  expect_close(run_fp32(*g, x), ref_conv_bn_relu(x, w, bn), 1e-5f);
}

TEST(ConverterRewrites, ReluFusedIntoConv) {
  std::vector<float> w, bn;
  auto g = import_ok(conv_bn_relu(&w, &bn));
  ASSERT_TRUE(g);
  EXPECT_EQ(count_op(*g, OpType::kRelu), 0);
  for (const auto& n : g->nodes) {
    if (n.op == OpType::kConv2D) {
      EXPECT_EQ(qc::get_activation(n).kind, fb::Activation::RELU);
    }
  }
  EXPECT_TRUE(has_rewrite(*g, "fused Relu 'relu' into Conv"));
}

TEST(ConverterRewrites, StandaloneBatchNormBecomesMulAdd) {
  // BN on a graph input: nothing to fold into.
  const std::vector<float> gamma = {2.0f, -1.0f}, beta = {0.5f, 0.25f}, mean = {1.0f, -1.0f},
                           var = {4.0f, 0.25f};
  OnnxBuilder b;
  b.input("x", {1, 2, 3, 3}).output("y");
  b.initializer("g", {2}, gamma).initializer("b", {2}, beta);
  b.initializer("m", {2}, mean).initializer("v", {2}, var);
  attr_float(b.node("BatchNormalization", {"x", "g", "b", "m", "v"}, {"y"}, "bn"), "epsilon", 0.0f);
  auto g = import_ok(b);
  ASSERT_TRUE(g);
  EXPECT_EQ(count_op(*g, OpType::kMul), 1);
  EXPECT_EQ(count_op(*g, OpType::kAdd), 1);
  const std::vector<float> x = test_values(18, 3);
  std::vector<float> want(18);
  for (int c = 0; c < 2; ++c) {
    for (int i = 0; i < 9; ++i) {
      want[c * 9 + i] = (x[c * 9 + i] - mean[c]) / std::sqrt(var[c]) * gamma[c] + beta[c];
    }
  }
  expect_close(run_fp32(*g, x), want, 1e-5f);
}

TEST(ConverterRewrites, ClipZeroSixFusesAsRelu6) {
  OnnxBuilder b(11);
  b.input("x", {1, 2, 4, 4}).output("y");
  b.initializer("w", {2, 2, 1, 1}, {1.0f, 2.0f, -3.0f, 4.0f});
  b.initializer("lo", {}, {0.0f}).initializer("hi", {}, {6.0f});
  b.node("Conv", {"x", "w"}, {"c"}, "conv");
  b.node("Clip", {"c", "lo", "hi"}, {"y"}, "clip");
  auto g = import_ok(b);
  ASSERT_TRUE(g);
  ASSERT_EQ(count_op(*g, OpType::kClip), 0);
  for (const auto& n : g->nodes) {
    if (n.op == OpType::kConv2D) {
      EXPECT_EQ(qc::get_activation(n).kind, fb::Activation::RELU6);
    }
  }
  const std::vector<float> x = test_values(32, 4, -3.0f, 3.0f);
  std::vector<float> want(32);
  for (int i = 0; i < 16; ++i) {
    want[i] = std::clamp(x[i] + 2.0f * x[16 + i], 0.0f, 6.0f);
    want[16 + i] = std::clamp(-3.0f * x[i] + 4.0f * x[16 + i], 0.0f, 6.0f);
  }
  expect_close(run_fp32(*g, x), want, 1e-6f);
}

TEST(ConverterRewrites, NchwGraphRunsNhwcButKeepsOnnxInterface) {
  // Conv 3->4 stride 2 on 1x3x7x5, graph output is the 4-D conv output itself.
  const std::vector<float> w = test_values(4 * 3 * 3 * 3, 5), bias = {0.1f, 0.2f, 0.3f, 0.4f};
  OnnxBuilder b;
  b.input("image", {1, 3, 7, 5}).output("features");
  b.initializer("w", {4, 3, 3, 3}, w).initializer("b", {4}, bias);
  auto& c = b.node("Conv", {"image", "w", "b"}, {"features"}, "conv");
  attr_ints(c, "strides", {2, 2});
  attr_ints(c, "pads", {1, 1, 1, 1});
  auto g = import_ok(b);
  ASSERT_TRUE(g);
  auto bytes = qc::build_fp32(*g);
  ASSERT_TRUE(bytes.ok());
  auto m = Model::load_buffer(bytes->data(), bytes->size(), true);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->input(0).name, "image");
  EXPECT_EQ((*m)->input(0).shape, (std::vector<int64_t>{1, 3, 7, 5}));
  EXPECT_EQ((*m)->output(0).name, "features");
  EXPECT_EQ((*m)->output(0).shape, (std::vector<int64_t>{1, 4, 4, 3}));
  // Inside: the convolution reads and writes NHWC.
  for (const auto& n : g->nodes) {
    if (n.op == OpType::kConv2D) {
      EXPECT_EQ(g->tensors[n.inputs[0]].shape, (std::vector<int64_t>{1, 7, 5, 3}));
      EXPECT_EQ(g->tensors[n.inputs[1]].shape, (std::vector<int64_t>{4, 3, 3, 3}));  // OHWI
    }
  }
  EXPECT_EQ(count_op(*g, OpType::kTranspose), 2);  // in and out only
  const std::vector<float> x = test_values(3 * 35, 6);
  int oh = 0, ow = 0;
  expect_close(run_fp32(*g, x), ref_conv(x, 3, 7, 5, w, 4, 3, 3, bias, 2, 1, 1, &oh, &ow), 1e-5f);
}

TEST(ConverterRewrites, FlattenOfNhwcFeaturesPermutesGemmWeightsInsteadOfTransposing) {
  // Conv 2->3 on 4x4, Flatten (NCHW order: c, h, w), Gemm 48 -> 5.
  const std::vector<float> w = test_values(3 * 2 * 3 * 3, 7), fc = test_values(5 * 48, 8),
                           fcb = test_values(5, 9);
  OnnxBuilder b;
  b.input("x", {1, 2, 4, 4}).output("y");
  b.initializer("w", {3, 2, 3, 3}, w).initializer("fc", {5, 48}, fc).initializer("fcb", {5}, fcb);
  attr_ints(b.node("Conv", {"x", "w"}, {"c"}, "conv"), "pads", {1, 1, 1, 1});
  b.node("Flatten", {"c"}, {"f"}, "flatten");
  attr_int(b.node("Gemm", {"f", "fc", "fcb"}, {"y"}, "gemm"), "transB", 1);
  auto g = import_ok(b);
  ASSERT_TRUE(g);
  // One transpose: the 2-channel graph input into NHWC. None between the conv and the Gemm.
  EXPECT_EQ(count_op(*g, OpType::kTranspose), 1);
  EXPECT_TRUE(has_rewrite(*g, "permuted the weight columns"));
  const std::vector<float> x = test_values(32, 10);
  int oh = 0, ow = 0;
  const std::vector<float> feat = ref_conv(x, 2, 4, 4, w, 3, 3, 3, {}, 1, 1, 1, &oh, &ow);
  std::vector<float> want(5);
  for (int n = 0; n < 5; ++n) {
    double acc = fcb[n];
    for (int k = 0; k < 48; ++k) acc += static_cast<double>(feat[k]) * fc[n * 48 + k];
    want[n] = static_cast<float>(acc);
  }
  expect_close(run_fp32(*g, x), want, 1e-5f);
}

TEST(ConverterRewrites, NhwcInputTransposeCancelsAgainstTheConvLayout) {
  // An exporter's NHWC model input: Transpose(0,3,1,2) then Conv. The two
  // transposes (theirs to NCHW, ours back to NHWC) cancel: none is emitted
  // before the convolution.
  const std::vector<float> w = test_values(2 * 3 * 3 * 3, 31);
  OnnxBuilder b;
  b.input("x", {1, 5, 6, 3}).output("y");
  b.initializer("w", {2, 3, 3, 3}, w);
  attr_ints(b.node("Transpose", {"x"}, {"t"}, "to_nchw"), "perm", {0, 3, 1, 2});
  b.node("Conv", {"t", "w"}, {"c"}, "conv");
  attr_ints(b.node("Transpose", {"c"}, {"y"}, "to_nhwc"), "perm", {0, 2, 3, 1});
  auto g = import_ok(b);
  ASSERT_TRUE(g);
  EXPECT_EQ(count_op(*g, OpType::kTranspose), 0);
  ASSERT_EQ(g->nodes.size(), 1u);
  EXPECT_EQ(g->nodes[0].op, OpType::kConv2D);
  const std::vector<float> x = test_values(90, 32);
  std::vector<float> nchw(90);
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 30; ++i) nchw[c * 30 + i] = x[i * 3 + c];
  }
  int oh = 0, ow = 0;
  const std::vector<float> ref = ref_conv(nchw, 3, 5, 6, w, 2, 3, 3, {}, 1, 0, 1, &oh, &ow);
  std::vector<float> want(ref.size());
  for (int c = 0; c < 2; ++c) {
    for (int i = 0; i < oh * ow; ++i) want[i * 2 + c] = ref[c * oh * ow + i];
  }
  expect_close(run_fp32(*g, x), want, 1e-5f);
}

TEST(ConverterRewrites, DropoutAndIdentityRemoved) {
  OnnxBuilder b;
  b.input("x", {1, 8}).output("y");
  b.node("Identity", {"x"}, {"a"}, "id");
  b.node("Dropout", {"a"}, {"d"}, "drop");
  b.node("Relu", {"d"}, {"y"}, "relu");
  auto g = import_ok(b);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->nodes.size(), 1u);
  EXPECT_TRUE(has_rewrite(*g, "removed Dropout 'drop'"));
  EXPECT_TRUE(has_rewrite(*g, "removed Identity 'id'"));
  const std::vector<float> x = test_values(8, 11);
  std::vector<float> want(8);
  for (int i = 0; i < 8; ++i) want[i] = std::max(0.0f, x[i]);
  expect_close(run_fp32(*g, x), want, 0);
}

TEST(ConverterRewrites, ShapeArithmeticFoldsToOneReshape) {
  // y = Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])): x.view(x.size(0), -1)
  OnnxBuilder b;
  b.input("x", {1, 2, 3, 4}).output("y");
  b.initializer_i64("zero", {}, {0}).initializer_i64("minus1", {1}, {-1});
  b.initializer_i64("axes0", {1}, {0});
  b.node("Shape", {"x"}, {"s"});
  attr_int(b.node("Gather", {"s", "zero"}, {"n"}), "axis", 0);
  b.node("Unsqueeze", {"n", "axes0"}, {"n1"});
  attr_int(b.node("Concat", {"n1", "minus1"}, {"shape"}), "axis", 0);
  b.node("Reshape", {"x", "shape"}, {"y"});
  auto g = import_ok(b);
  ASSERT_TRUE(g);
  ASSERT_EQ(g->nodes.size(), 1u);
  EXPECT_EQ(g->nodes[0].op, OpType::kReshape);
  EXPECT_EQ(g->tensors[g->outputs[0]].shape, (std::vector<int64_t>{1, 24}));
}

TEST(ConverterImport, HardSigmoidLogSoftmaxSumAndGemmVariantsMatchTheirDefinitions) {
  // y = LogSoftmax(Sum(h, h, g)) with h = x * HardSigmoid(x) (the pre-opset-14
  // HardSwish), g = Gemm(transA=1, alpha=0.5) of x^T with an activation B.
  OnnxBuilder b(13);
  b.input("x", {1, 6}).input("xt", {6, 1}).input("bm", {6, 6}).output("y");
  auto& hs = b.node("HardSigmoid", {"x"}, {"hs"}, "hsig");
  attr_float(hs, "alpha", 0.25f);
  attr_float(hs, "beta", 0.4f);
  b.node("Mul", {"x", "hs"}, {"h"}, "mul");
  auto& gm = b.node("Gemm", {"xt", "bm"}, {"g"}, "gemm");
  attr_int(gm, "transA", 1);
  attr_float(gm, "alpha", 0.5f);
  b.node("Sum", {"h", "h", "g"}, {"s"}, "sum3");
  b.node("LogSoftmax", {"s"}, {"y"}, "lsm");
  auto g = import_ok(b);
  ASSERT_TRUE(g);
  const std::vector<float> x = test_values(6, 41, -4.0f, 4.0f), bm = test_values(36, 42);
  auto bytes = qc::build_fp32(*g);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  const auto got = run_bytes(*bytes, {x, x, bm})[0];
  std::vector<double> sv(6);
  for (int j = 0; j < 6; ++j) {
    const double hsig = std::clamp(0.25 * x[j] + 0.4, 0.0, 1.0);
    double gj = 0;
    for (int k = 0; k < 6; ++k) gj += static_cast<double>(x[k]) * bm[k * 6 + j];
    sv[j] = 2 * x[j] * hsig + 0.5 * gj;
  }
  const double mx = *std::max_element(sv.begin(), sv.end());
  double sum = 0;
  for (double v : sv) sum += std::exp(v - mx);
  std::vector<float> want(6);
  for (int j = 0; j < 6; ++j) want[j] = static_cast<float>(sv[j] - mx - std::log(sum));
  expect_close(got, want, 1e-5f);
  EXPECT_EQ(count_op(*g, OpType::kHardSigmoid), 1);
  EXPECT_EQ(count_op(*g, OpType::kLogSoftmax), 1);
  EXPECT_EQ(count_op(*g, OpType::kAdd), 2);  // Sum of three
}

// Abs (issue 12's worked example of adding an op, docs/architecture.md):
// imported as the runtime's Abs, exact in fp32, and within one output step
// of |x| in int8 (a 256-entry table).
TEST(ConverterImport, AbsIsImportedAndRunsInFloatAndInt8) {
  OnnxBuilder b(13);
  b.input("x", {1, 64}).output("y");
  b.node("Abs", {"x"}, {"y"}, "abs");
  auto g = import_ok(b);
  ASSERT_TRUE(g);
  EXPECT_EQ(count_op(*g, OpType::kAbs), 1);
  const std::vector<float> x = test_values(64, 7, -3.0f, 3.0f);
  std::vector<float> want(64);
  for (size_t i = 0; i < x.size(); ++i) want[i] = std::fabs(x[i]);
  expect_close(run_fp32(*g, x), want, 0.0f);
  auto calib = calibrate_on(*g, 64, 8, 7, -3.0f, 3.0f);
  ASSERT_TRUE(calib.ok()) << calib.status().message();
  auto bytes = qc::build_int8(*g, *calib, {}, nullptr);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  // Output range [0, 3] in 255 steps: one step is about 0.012.
  expect_close(run_bytes(*bytes, {x})[0], want, 0.02f);
}

TEST(ConverterImport, InitializersListedAsGraphInputsAreConstants) {
  OnnxBuilder b(9);
  b.input("x", {1, 3}).input("w", {2, 3}).output("y");
  b.initializer("w", {2, 3}, {1, 2, 3, 4, 5, 6});
  b.node("MatMul", {"x", "wt"}, {"y"});
  b.node("Transpose", {"w"}, {"wt"});
  // Nodes out of order on purpose: the importer sorts them.
  auto g = import_ok(b);
  ASSERT_TRUE(g);
  ASSERT_EQ(qc::graph_inputs(*g).size(), 1u);
  EXPECT_EQ(qc::graph_inputs(*g)[0].name, "x");
  expect_close(run_fp32(*g, {1, 1, 1}), {6, 15}, 0);
}

TEST(ConverterImport, DynamicBatchDefaultsToOneOtherDimsNeedAShape) {
  OnnxBuilder b;
  b.input("x", {-1, 4}).output("y");
  b.node("Relu", {"x"}, {"y"});
  auto g = import_ok(b);
  ASSERT_TRUE(g);
  EXPECT_EQ(qc::graph_inputs(*g)[0].shape, (std::vector<int64_t>{1, 4}));

  OnnxBuilder b2;
  b2.input("x", {1, 4}).output("y");
  b2.model().mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
      ->mutable_shape()->mutable_dim(1)->set_dim_param("features");
  b2.node("Relu", {"x"}, {"y"});
  Status s = import_error(b2);
  EXPECT_NE(s.message().find("dynamic dimension 1 ('features')"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--input-shape"), std::string::npos);
  qc::ImportOptions o;
  o.input_shapes["x"] = {2, 6};
  auto g2 = import_ok(b2, o);
  ASSERT_TRUE(g2);
  EXPECT_EQ(qc::graph_inputs(*g2)[0].shape, (std::vector<int64_t>{2, 6}));
  // A shape for a name that is no graph input is refused, naming it.
  o.input_shapes["nosuch"] = {1};
  const std::string bytes = b2.bytes();
  auto unknown = qc::import_onnx_bytes(bytes.data(), bytes.size(), o);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("names 'nosuch', which is not a graph input"),
            std::string::npos) << unknown.status().message();
}

TEST(ConverterErrors, UnsupportedOpNamesNodeOpAndSupportedList) {
  OnnxBuilder b;
  b.input("x", {1, 3, 4, 4}).output("y");
  b.node("LRN", {"x"}, {"y"}, "norm1");
  Status s = import_error(b);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("node 'norm1' (LRN)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("op type 'LRN' is not supported"), std::string::npos);
  EXPECT_NE(s.message().find("Supported ops: Conv, Gemm"), std::string::npos);
  EXPECT_NE(s.message().find("Supported ops: " + qc::importer::supported_ops()), std::string::npos)
      << s.message();
}

// The op table (converter/src/onnx/op_table.cpp) is the importer's one list
// of ONNX ops: the dispatch, the arity check and the supported list read it.
TEST(ConverterOpTable, OneLinePerOpAndALoweringUnlessOnlyFolded) {
  namespace qi = qc::importer;
  std::set<std::string_view> seen;
  for (const qi::OpInfo& o : qi::op_table()) {
    EXPECT_TRUE(seen.insert(o.op).second) << o.op << " has two lines";
    EXPECT_EQ(qi::find_op(o.op), &o) << o.op;
    EXPECT_EQ(o.lower == nullptr, o.kind == qi::OpKind::kFolded) << o.op;
    EXPECT_GE(o.min_in, 0) << o.op;
    EXPECT_TRUE(o.max_in < 0 || o.max_in >= o.min_in) << o.op;
    EXPECT_GE(o.min_out, 1) << o.op;
    EXPECT_TRUE(o.max_out < 0 || o.max_out >= o.min_out) << o.op;
  }
  EXPECT_EQ(qi::find_op("LRN"), nullptr);
  EXPECT_EQ(qi::find_op("conv"), nullptr);  // op types are case-sensitive
}

// docs/converter.md gives the supported list as the error messages do, and
// the fuzzers' ONNX dictionary names every op of the table.
TEST(ConverterOpTable, DocsAndFuzzDictionaryFollowTheTable) {
  auto read = [](const std::string& rel) {
    std::ifstream f(std::string(QUANTA_SOURCE_DIR) + "/" + rel);
    EXPECT_TRUE(f.good()) << rel;
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  };
  auto squash = [](const std::string& text) {  // runs of white space become one space
    std::string out;
    bool space = false;
    for (char c : text) {
      if (std::isspace(static_cast<unsigned char>(c))) {
        space = true;
        continue;
      }
      if (space && !out.empty()) out += ' ';
      space = false;
      out += c;
    }
    return out;
  };
  const std::string list = qc::importer::supported_ops();
  EXPECT_NE(squash(read("docs/converter.md")).find(squash(list)), std::string::npos)
      << "docs/converter.md must give the supported list:\n" << list;
  const std::string dict = read("fuzz/dict/onnx.dict");
  for (const qc::importer::OpInfo& o : qc::importer::op_table()) {
    EXPECT_NE(dict.find(fmt::format("\n\"{}\"\n", o.op)), std::string::npos)
        << "fuzz/dict/onnx.dict lacks \"" << o.op << "\"";
  }
}

TEST(ConverterErrors, UnsupportedAttributeNamed) {
  OnnxBuilder b;
  b.input("x", {1, 1, 4, 4}).output("y");
  b.initializer("w", {1, 1, 1, 1}, {1.0f});
  attr_int(b.node("Conv", {"x", "w"}, {"y"}, "conv"), "fancy", 1);
  Status s = import_error(b);
  EXPECT_NE(s.message().find("node 'conv' (Conv): attribute 'fancy' is not supported (supported: "
                             "auto_pad, dilations, group"),
            std::string::npos)
      << s.message();

  OnnxBuilder b2;
  b2.input("x", {1, 1, 4, 4}).output("y");
  auto& p = b2.node("MaxPool", {"x"}, {"y"}, "pool");
  attr_ints(p, "kernel_shape", {2, 2});
  attr_int(p, "storage_order", 1);
  s = import_error(b2);
  EXPECT_NE(s.message().find("node 'pool' (MaxPool): storage_order = 1 is not supported"),
            std::string::npos)
      << s.message();
}

TEST(ConverterErrors, MismatchedShapesAndNanWeightsAreNamed) {
  OnnxBuilder b;
  b.input("x", {1, 3}).output("y");
  b.initializer("w", {4, 2}, test_values(8, 1));
  b.node("MatMul", {"x", "w"}, {"y"}, "mm");
  Status s = import_error(b);
  EXPECT_NE(s.message().find("node 'mm' (MatMul): A [1, 3] and B [4, 2] do not multiply"),
            std::string::npos)
      << s.message();

  OnnxBuilder b2;
  b2.input("x", {1, 2}).output("y");
  b2.initializer("w", {2, 2}, {1.0f, NAN, 0.0f, 1.0f});
  b2.node("MatMul", {"x", "w"}, {"y"}, "mm");
  s = import_error(b2);
  EXPECT_NE(s.message().find("initializer 'w' contains nan"), std::string::npos) << s.message();
}

TEST(ConverterErrors, ExternalDataOnlyFromTheModelDirectory) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("quanta_extdata_" + std::to_string(::getpid()));
  fs::create_directories(dir / "model");
  const std::vector<float> w = {1.0f, 2.0f, 3.0f, 4.0f};
  {
    std::ofstream f(dir / "model" / "w.bin", std::ios::binary);
    f.write(reinterpret_cast<const char*>(w.data()), 16);
    std::ofstream g(dir / "outside.bin", std::ios::binary);
    g.write(reinterpret_cast<const char*>(w.data()), 16);
  }
  auto make = [&](const std::string& location) {
    OnnxBuilder b;
    b.input("x", {1, 2}).output("y").external_initializer("w", {2, 2}, location);
    b.node("MatMul", {"x", "w"}, {"y"}, "mm");
    const std::string path = (dir / "model" / "m.onnx").string();
    std::ofstream f(path, std::ios::binary);
    f << b.bytes();
    return path;
  };
  auto ok = qc::import_onnx(make("w.bin"));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  expect_close(run_fp32(**ok, {1.0f, 1.0f}), {4.0f, 6.0f}, 0);
  for (const std::string& bad : {std::string("../outside.bin"), (dir / "outside.bin").string()}) {
    auto r = qc::import_onnx(make(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("external data location"), std::string::npos)
        << r.status().message();
  }
  fs::remove_all(dir);
}

TEST(ConverterErrors, MissingAndMalformedFiles) {
  auto r = qc::import_onnx("/nonexistent/model.onnx");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/model.onnx"), std::string::npos);
  const std::string garbage = "this is not a protobuf \xff\xff\xff\xff";
  auto r2 = qc::import_onnx_bytes(garbage.data(), garbage.size());
  EXPECT_EQ(r2.status().code(), StatusCode::kInvalidModel);
}

TEST(ConverterErrors, CorruptedOnnxBytesNeverCrash) {
  // Bit flips and truncations of a real model: every outcome is a Status
  // (the sanitizer build runs this too).
  std::ifstream f(std::string(QUANTA_SOURCE_DIR) + "/models/fashion_cnn_bn.onnx", std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_GT(good.size(), 1000u);
  std::mt19937 rng(7);
  int imported = 0, refused = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string bad = good;
    if (trial % 3 == 0) {
      bad.resize(rng() % bad.size());
    } else {
      for (int k = 0; k < 1 + trial % 4; ++k) bad[rng() % bad.size()] ^= static_cast<char>(1u << (rng() % 8));
    }
    auto g = qc::import_onnx_bytes(bad.data(), bad.size());
    if (!g.ok()) {
      EXPECT_FALSE(g.status().message().empty());
      ++refused;
      continue;
    }
    ++imported;
    auto bytes = qc::build_fp32(**g);  // a damaged weight value is still a valid model
    if (bytes.ok()) {
      auto m = Model::load_buffer(bytes->data(), bytes->size(), true);
      EXPECT_TRUE(m.ok()) << m.status().message();
    }
  }
  std::cout << "corrupted ONNX files: " << imported << " imported, " << refused << " refused\n";
  EXPECT_GT(refused, 0);
}

// ------------------------------------------------------------------ quantization

// Gemm 4 -> 3 with known weights, calibrated with min-max on inputs spanning [-1, 3].
struct GemmCase {
  std::vector<float> w = {0.5f, -1.0f, 0.25f, 0.0f,   // row 0: max |w| 1.0
                          2.0f, 1.0f, -0.5f, 0.125f,  // row 1: max |w| 2.0
                          0.0f, 0.0f, 0.0f, 0.01f};   // row 2: max |w| 0.01
  std::vector<float> bias = {0.3f, -0.7f, 0.05f};
  OnnxBuilder model() const {
    OnnxBuilder b;
    b.input("x", {1, 4}).output("y");
    b.initializer("w", {3, 4}, w).initializer("b", {3}, bias);
    attr_int(b.node("Gemm", {"x", "w", "b"}, {"y"}, "fc"), "transB", 1);
    return b;
  }
  std::vector<std::vector<float>> samples() const {
    return {{-1.0f, 0.0f, 3.0f, 1.0f}, {0.5f, 2.0f, -0.5f, 0.0f}, {0.0f, 1.0f, 1.0f, 2.5f}};
  }
};

const TensorInfo* find_tensor(const Model& m, const std::string& name) {
  for (const auto& t : m.tensors()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

TEST(ConverterQuantize, PerChannelWeightScalesAndBiasMatchHandComputation) {
  GemmCase gc;
  auto g = import_ok(gc.model());
  ASSERT_TRUE(g);
  VectorSource src(gc.samples());
  qc::CalibrationOptions co;
  co.method = qc::CalibrationMethod::kMinMax;
  auto calib = qc::calibrate(*g, src, co);
  ASSERT_TRUE(calib.ok()) << calib.status().message();
  EXPECT_EQ(calib->samples, 3);
  EXPECT_FLOAT_EQ(calib->ranges.at("x").lo, -1.0f);
  EXPECT_FLOAT_EQ(calib->ranges.at("x").hi, 3.0f);
  qc::QuantizeReport report;
  auto bytes = qc::build_int8(*g, *calib, {}, &report);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto m = Model::load_buffer(bytes->data(), bytes->size(), true);
  ASSERT_TRUE(m.ok());

  // Input: s_x = 4 / 255, zero point round(1 / s_x) = 64.
  const TensorInfo* xq = find_tensor(**m, "x_q");
  ASSERT_TRUE(xq);
  const float sx = 4.0f / 255.0f;
  EXPECT_FLOAT_EQ(xq->quant.scale[0], sx);
  EXPECT_EQ(xq->quant.zero_point[0], 64);

  // Weights: s_w[c] = max|w[c]| / 127; q = round(w / s_w).
  const TensorInfo* wq = nullptr;
  const TensorInfo* bq = nullptr;
  for (const auto& t : (*m)->tensors()) {
    if (t.dtype == DType::kI8) wq = &t;
    if (t.dtype == DType::kI32) bq = &t;
  }
  ASSERT_TRUE(wq && bq);
  EXPECT_EQ(wq->quant.axis, 0);
  const std::vector<float> sw = {1.0f / 127, 2.0f / 127, 0.01f / 127};
  ASSERT_EQ(wq->quant.scale.size(), 3u);
  for (int c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(wq->quant.scale[c], sw[c]) << c;
  auto session = Session::create(*m);
  ASSERT_TRUE(session.ok());
  // Read the stored weight and bias bytes from the file image.
  const auto* fbm = fb::GetModel(bytes->data());
  auto blob = [&](const TensorInfo* t) -> const uint8_t* {
    for (size_t i = 0; i < fbm->tensors()->size(); ++i) {
      const auto* ft = fbm->tensors()->Get(static_cast<flatbuffers::uoffset_t>(i));
      if (ft->name()->str() == t->name) {
        const auto* buf = fbm->buffers()->Get(ft->buffer());
        return bytes->data() + buf->offset();
      }
    }
    return nullptr;
  };
  const auto* wbytes = reinterpret_cast<const int8_t*>(blob(wq));
  const std::vector<int> want_w = {64, -127, 32, 0, 127, 64, -32, 8, 0, 0, 0, 127};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(wbytes[i], want_w[i]) << "weight " << i;
  // Bias: s_b[c] = s_x * s_w[c] (fp32), q = round(b / s_b).
  std::vector<int32_t> bvals(3);
  std::memcpy(bvals.data(), blob(bq), 12);
  for (int c = 0; c < 3; ++c) {
    const float sb = sx * wq->quant.scale[c];
    EXPECT_FLOAT_EQ(bq->quant.scale[c], sb);
    EXPECT_EQ(bvals[c], static_cast<int32_t>(std::nearbyint(static_cast<double>(gc.bias[c]) / sb)));
  }
  // The summary says what was chosen.
  ASSERT_FALSE(report.nodes.empty());
  EXPECT_EQ(report.nodes[0].precision, "int8");
  EXPECT_NE(report.nodes[0].weights.find("per-channel x3"), std::string::npos);

  // And the int8 model computes the Gemm to within a few output steps.
  for (const auto& x : gc.samples()) {
    const auto got = run_bytes(*bytes, {x})[0];
    for (int n = 0; n < 3; ++n) {
      double want = gc.bias[n];
      for (int k = 0; k < 4; ++k) want += static_cast<double>(x[k]) * gc.w[n * 4 + k];
      EXPECT_NEAR(got[n], want, 0.05) << n;
    }
  }
}

TEST(ConverterQuantize, PerTensorOptionUsesOneScale) {
  GemmCase gc;
  auto g = import_ok(gc.model());
  ASSERT_TRUE(g);
  VectorSource src(gc.samples());
  auto calib = qc::calibrate(*g, src, {});
  ASSERT_TRUE(calib.ok());
  qc::QuantizeOptions qo;
  qo.per_channel = false;
  auto bytes = qc::build_int8(*g, *calib, qo, nullptr);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto m = Model::load_buffer(bytes->data(), bytes->size(), true);
  ASSERT_TRUE(m.ok());
  for (const auto& t : (*m)->tensors()) {
    if (t.dtype == DType::kI8) {
      ASSERT_EQ(t.quant.scale.size(), 1u);
      EXPECT_FLOAT_EQ(t.quant.scale[0], 2.0f / 127);
    }
  }
}

TEST(ConverterQuantize, ExcludedNodeStaysFloatBetweenDequantizeAndQuantize) {
  std::vector<float> w, bn;
  OnnxBuilder b = conv_bn_relu(&w, &bn);
  // Add a second conv so that the excluded one sits between quantized nodes.
  b.model().mutable_graph()->mutable_output(0)->set_name("y2");
  b.initializer("w2", {2, 4, 1, 1}, test_values(8, 12));
  b.node("Conv", {"y", "w2"}, {"y2"}, "conv2");
  auto g = import_ok(b);
  ASSERT_TRUE(g);
  auto calib = calibrate_on(*g, 108, 16, 100);
  ASSERT_TRUE(calib.ok()) << calib.status().message();
  qc::QuantizeOptions qo;
  qo.exclude = {"conv2"};
  qc::QuantizeReport report;
  auto bytes = qc::build_int8(*g, *calib, qo, &report);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto m = Model::load_buffer(bytes->data(), bytes->size(), true);
  ASSERT_TRUE(m.ok());
  std::vector<OpType> ops;
  std::string listing;
  for (const auto& n : (*m)->nodes()) {
    ops.push_back(n.op);
    listing += std::string(op_type_name(n.op)) + " " + n.name + "\n";
  }
  SCOPED_TRACE(listing);
  // quantize input -> (transpose) -> int8 conv -> dequantize -> float conv2 -> ...
  EXPECT_EQ(std::count(ops.begin(), ops.end(), OpType::kQuantize), 1);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), OpType::kDequantize), 1);
  for (const auto& n : (*m)->nodes()) {
    if (n.name == "conv2") {
      EXPECT_EQ((*m)->tensors()[n.inputs[1]].dtype, DType::kF32);
    }
    if (n.name == "conv") {
      EXPECT_EQ((*m)->tensors()[n.inputs[1]].dtype, DType::kI8);
    }
  }
  bool saw = false;
  for (const auto& n : report.nodes) {
    if (n.name == "conv2") {
      EXPECT_EQ(n.precision, "float (excluded)");
      saw = true;
    }
  }
  EXPECT_TRUE(saw);
  // Unknown names are refused.
  qo.exclude = {"no_such_node"};
  auto bad = qc::build_int8(*g, *calib, qo, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--exclude 'no_such_node'"), std::string::npos);
}

TEST(ConverterQuantize, RefusesWithoutCalibrationData) {
  GemmCase gc;
  auto g = import_ok(gc.model());
  ASSERT_TRUE(g);
  VectorSource empty({});
  auto calib = qc::calibrate(*g, empty, {});
  ASSERT_FALSE(calib.ok());
  EXPECT_NE(calib.status().message().find("no samples"), std::string::npos) << calib.status().message();
  auto bytes = qc::build_int8(*g, qc::Calibration{}, {}, nullptr);
  ASSERT_FALSE(bytes.ok());
  EXPECT_NE(bytes.status().message().find("needs calibration data"), std::string::npos);
}

TEST(ConverterQuantize, ResidualAddAndConcatRescaleToTheOutputScale) {
  // Two branches of very different ranges, added and concatenated.
  OnnxBuilder b;
  b.input("x", {1, 2, 5, 5}).output("y");
  b.initializer("wa", {2, 2, 3, 3}, test_values(36, 21, -0.2f, 0.2f));
  b.initializer("wb", {2, 2, 1, 1}, test_values(4, 22, -3.0f, 3.0f));
  attr_ints(b.node("Conv", {"x", "wa"}, {"a"}, "ca"), "pads", {1, 1, 1, 1});
  b.node("Conv", {"x", "wb"}, {"b"}, "cb");
  b.node("Add", {"a", "b"}, {"s"}, "add");
  attr_int(b.node("Concat", {"s", "a"}, {"y"}, "cat"), "axis", 1);
  auto g = import_ok(b);
  ASSERT_TRUE(g);
  auto calib = calibrate_on(*g, 50, 32, 200);
  ASSERT_TRUE(calib.ok());
  auto bytes = qc::build_int8(*g, *calib, {}, nullptr);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto fp32 = qc::build_fp32(*g);
  ASSERT_TRUE(fp32.ok());
  double sig = 0, err = 0;
  for (uint32_t i = 0; i < 8; ++i) {
    const auto x = test_values(50, 900 + i);
    const auto f = run_bytes(*fp32, {x})[0];
    const auto q = run_bytes(*bytes, {x})[0];
    for (size_t k = 0; k < f.size(); ++k) {
      sig += f[k] * f[k];
      err += (f[k] - q[k]) * (f[k] - q[k]);
    }
  }
  EXPECT_GT(10 * std::log10(sig / err), 30.0) << "SQNR of int8 against float (dB)";
}

// ------------------------------------------------------------------ weight scale floor
//
// TFLite-exported CNNs carry "dead" output channels: weights about 1e-30 (not
// exactly 0) and a non-zero bias. s_w = max|w| / 127 would make the int32 bias
// b / (s_x * s_w) overflow; the converter raises such a channel's scale to the
// floor of docs/converter.md instead, and the node stays int8.

// Kills channel c of a [cout, per] weight array: weights * 1e-30, or exactly 0.
void kill_channel(std::vector<float>& w, int64_t per, int64_t c, bool exact_zero = false) {
  for (int64_t k = 0; k < per; ++k) w[c * per + k] = exact_zero ? 0.0f : w[c * per + k] * 1e-30f;
}

struct DeadChannelCase {
  OnnxBuilder model;
  std::string node;                  // the Conv / Gemm
  std::vector<float> bias;
  std::vector<int64_t> dead;         // expected floored channels
  int64_t cout = 0, pixels = 1;      // output NCHW: [1, cout, pixels]
  size_t in_size = 0;
};

// Conv 4 -> 8, 3x3 pad 1 on 6x6 (K = 36): channels 2 and 5 are ~1e-30 with
// biases 0.5 and -3, channel 6 is exactly 0 with bias 1.5.
DeadChannelCase dead_conv() {
  DeadChannelCase d;
  std::vector<float> w = test_values(8 * 36, 41, -0.5f, 0.5f);
  kill_channel(w, 36, 2);
  kill_channel(w, 36, 5);
  kill_channel(w, 36, 6, /*exact_zero=*/true);
  d.bias = test_values(8, 42, -0.2f, 0.2f);
  d.bias[2] = 0.5f;
  d.bias[5] = -3.0f;
  d.bias[6] = 1.5f;
  d.model.input("x", {1, 4, 6, 6}).output("y");
  d.model.initializer("w", {8, 4, 3, 3}, w).initializer("b", {8}, d.bias);
  attr_ints(d.model.node("Conv", {"x", "w", "b"}, {"y"}, "conv"), "pads", {1, 1, 1, 1});
  d.node = "conv";
  d.dead = {2, 5, 6};
  d.cout = 8;
  d.pixels = 36;
  d.in_size = 4 * 36;
  return d;
}

// Gemm 16 -> 6 (K = 16): rows 1 and 4 are ~1e-30 with biases 2 and -0.75.
DeadChannelCase dead_gemm() {
  DeadChannelCase d;
  std::vector<float> w = test_values(6 * 16, 43, -0.5f, 0.5f);
  kill_channel(w, 16, 1);
  kill_channel(w, 16, 4);
  d.bias = test_values(6, 44, -0.2f, 0.2f);
  d.bias[1] = 2.0f;
  d.bias[4] = -0.75f;
  d.model.input("x", {1, 16}).output("y");
  d.model.initializer("w", {6, 16}, w).initializer("b", {6}, d.bias);
  attr_int(d.model.node("Gemm", {"x", "w", "b"}, {"y"}, "fc"), "transB", 1);
  d.node = "fc";
  d.dead = {1, 4};
  d.cout = 6;
  d.in_size = 16;
  return d;
}

struct Int8Run {
  qc::QuantizeReport report;
  double sqnr_db = 0;
  float max_dead_err = 0, out_step = 0;  // dead channels: max |int8 - bias|; one output step
};

// Calibrates on 64 samples, converts without --exclude, and compares the int8
// model with the float model on 8 other samples.
Int8Run convert_dead(const DeadChannelCase& d, const qc::QuantizeOptions& qo) {
  Int8Run r;
  auto g = import_ok(d.model);
  EXPECT_TRUE(g);
  if (!g) return r;
  auto calib = calibrate_on(*g, d.in_size, 64, 300);
  EXPECT_TRUE(calib.ok()) << calib.status().message();
  if (!calib.ok()) return r;
  auto bytes = qc::build_int8(*g, *calib, qo, &r.report);
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  if (!bytes.ok()) return r;
  auto fp32 = qc::build_fp32(*g);
  EXPECT_TRUE(fp32.ok());
  const qc::TensorRange& yr = calib->ranges.at("y");
  r.out_step = (yr.hi - yr.lo) / 255.0f;
  double sig = 0, err = 0;
  for (uint32_t i = 0; i < 8; ++i) {
    const auto x = test_values(d.in_size, 900 + i);
    const auto f = run_bytes(*fp32, {x})[0];
    const auto q = run_bytes(*bytes, {x})[0];
    EXPECT_EQ(f.size(), q.size());
    for (size_t k = 0; k < f.size() && k < q.size(); ++k) {
      sig += static_cast<double>(f[k]) * f[k];
      err += static_cast<double>(f[k] - q[k]) * (f[k] - q[k]);
    }
    for (int64_t c : d.dead) {
      for (int64_t p = 0; p < d.pixels; ++p) {
        r.max_dead_err = std::max(r.max_dead_err, std::fabs(q[c * d.pixels + p] - d.bias[c]));
      }
    }
  }
  r.sqnr_db = 10 * std::log10(sig / err);
  return r;
}

const qc::NodeSummary* summary_of(const qc::QuantizeReport& r, const std::string& node) {
  for (const auto& n : r.nodes) {
    if (n.name == node) return &n;
  }
  return nullptr;
}

class DeadChannels : public ::testing::TestWithParam<bool> {};  // true: Conv, false: Gemm

TEST_P(DeadChannels, ConvertWithoutExcludeStayInt8AndKeepTheirBias) {
  const DeadChannelCase d = GetParam() ? dead_conv() : dead_gemm();
  const Int8Run r = convert_dead(d, {});
  const qc::NodeSummary* s = summary_of(r.report, d.node);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->precision, "int8");
  EXPECT_GT(r.sqnr_db, 30.0) << "SQNR of int8 against float (dB)";
  // A dead channel computes its bias: within half an output step, plus slack
  // for the calibration's rounding of the range.
  EXPECT_LE(r.max_dead_err, 0.6f * r.out_step) << "output step " << r.out_step;
  // The summary names the floored channels and counts them.
  EXPECT_EQ(s->floored_channels, d.dead);
  EXPECT_NE(s->weights.find(fmt::format("{} floored", d.dead.size())), std::string::npos) << s->weights;
  EXPECT_TRUE(r.report.warnings.empty()) << r.report.warnings[0];
}

INSTANTIATE_TEST_SUITE_P(ConverterScaleFloor, DeadChannels, ::testing::Bool(),
                         [](const auto& i) { return std::string(i.param ? "Conv" : "Gemm"); });

TEST(ConverterScaleFloor, FlooredScaleKeepsBiasAndAccumulatorInsideInt32) {
  const DeadChannelCase d = dead_conv();
  auto g = import_ok(d.model);
  ASSERT_TRUE(g);
  auto calib = calibrate_on(*g, d.in_size, 8, 500);
  ASSERT_TRUE(calib.ok());
  auto bytes = qc::build_int8(*g, *calib, {}, nullptr);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto m = Model::load_buffer(bytes->data(), bytes->size(), true);
  ASSERT_TRUE(m.ok());
  const TensorInfo* wq = nullptr;
  const TensorInfo* bq = nullptr;
  const TensorInfo* xq = find_tensor(**m, "x_q");
  for (const auto& t : (*m)->tensors()) {
    if (t.dtype == DType::kI8) wq = &t;
    if (t.dtype == DType::kI32) bq = &t;
  }
  ASSERT_TRUE(wq && bq && xq);
  const auto* fbm = fb::GetModel(bytes->data());
  std::vector<int32_t> bvals(8);
  for (size_t i = 0; i < fbm->tensors()->size(); ++i) {
    const auto* ft = fbm->tensors()->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (ft->name()->str() == bq->name) {
      std::memcpy(bvals.data(), bytes->data() + fbm->buffers()->Get(ft->buffer())->offset(), 32);
    }
  }
  // The rule of docs/converter.md: |b_q| <= (INT32_MAX - K * 255 * 127) / 2,
  // and a dead channel's scale is exactly that floor (its bias fills the budget).
  const int64_t k = 36, budget = (INT32_MAX - k * 255 * 127) / 2;
  const float sx = xq->quant.scale[0];
  for (int64_t c : d.dead) {
    const float sw = wq->quant.scale[static_cast<size_t>(c)];
    EXPECT_LE(std::llabs(bvals[c]), budget) << c;
    EXPECT_GT(std::llabs(bvals[c]), budget - budget / 1000) << c;
    EXPECT_NEAR(sw, std::fabs(d.bias[c]) / (static_cast<double>(sx) * budget), 1e-6 * sw) << c;
  }
  // Live channels keep max|w| / 127.
  const std::vector<float> w = test_values(8 * 36, 41, -0.5f, 0.5f);
  for (int64_t c : {0, 1, 3, 4, 7}) {
    float a = 0;
    for (int64_t i = 0; i < 36; ++i) a = std::max(a, std::fabs(w[c * 36 + i]));
    EXPECT_FLOAT_EQ(wq->quant.scale[static_cast<size_t>(c)], a / 127) << c;
  }
}

TEST(ConverterScaleFloor, PerTensorWeightsOfAWhollyDeadLayerAreFloored) {
  // Every row ~1e-30: per tensor, max|w| / 127 is ~1e-32 as well.
  DeadChannelCase d = dead_gemm();
  std::vector<float> w = test_values(6 * 16, 45, -0.5f, 0.5f);
  for (int64_t c = 0; c < 6; ++c) kill_channel(w, 16, c);
  d.bias = {0.5f, 2.0f, -1.0f, 0.25f, -0.75f, 3.0f};
  d.model = OnnxBuilder();
  d.model.input("x", {1, 16}).output("y");
  d.model.initializer("w", {6, 16}, w).initializer("b", {6}, d.bias);
  attr_int(d.model.node("Gemm", {"x", "w", "b"}, {"y"}, "fc"), "transB", 1);
  d.dead = {0, 1, 2, 3, 4, 5};
  for (bool per_channel : {true, false}) {
    SCOPED_TRACE(per_channel ? "per channel" : "per tensor");
    qc::QuantizeOptions qo;
    qo.per_channel = per_channel;
    const Int8Run r = convert_dead(d, qo);
    const qc::NodeSummary* s = summary_of(r.report, "fc");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->precision, "int8");
    EXPECT_LE(r.max_dead_err, 0.6f * r.out_step);
    // Per tensor too, every channel's floor is above max|w| / 127; the one
    // scale is the largest floor (channel 5, |b| = 3).
    EXPECT_EQ(s->floored_channels, d.dead);
  }
}

TEST(ConverterScaleFloor, TinyWeightsWithoutBiasGetANormalScale) {
  // max|w| / 127 below FLT_MIN would be a denormal scale (refused by the loader).
  std::vector<float> w = test_values(4 * 8, 46, -0.5f, 0.5f);
  for (int64_t k = 0; k < 8; ++k) w[8 + k] *= 1e-37f;
  OnnxBuilder b;
  b.input("x", {1, 8}).output("y");
  b.node("MatMul", {"x", "wt"}, {"y"}, "mm");
  std::vector<float> wt(32);
  for (int r = 0; r < 4; ++r) {
    for (int k = 0; k < 8; ++k) wt[k * 4 + r] = w[r * 8 + k];
  }
  b.initializer("wt", {8, 4}, wt);
  auto g = import_ok(b);
  ASSERT_TRUE(g);
  auto calib = calibrate_on(*g, 8, 8, 600);
  ASSERT_TRUE(calib.ok());
  qc::QuantizeReport report;
  auto bytes = qc::build_int8(*g, *calib, {}, &report);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto m = Model::load_buffer(bytes->data(), bytes->size(), true);
  ASSERT_TRUE(m.ok());
  for (const auto& t : (*m)->tensors()) {
    if (t.dtype != DType::kI8) continue;
    for (float s : t.quant.scale) EXPECT_GE(s, FLT_MIN);
  }
  ASSERT_FALSE(report.nodes.empty());
  const qc::NodeSummary* s = summary_of(report, "mm");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->floored_channels, std::vector<int64_t>{1});
  // Channel 1 computes ~0; the others are unaffected.
  const auto x = test_values(8, 700);
  const auto f = run_fp32(*g, x);
  const auto q = run_bytes(*bytes, {x})[0];
  ASSERT_EQ(q.size(), 4u);
  EXPECT_NEAR(q[1], 0.0f, 1e-6f);
  for (int r = 0; r < 4; ++r) EXPECT_NEAR(q[r], f[r], 0.05f) << r;
}

TEST(ConverterScaleFloor, NearTheAccumulatorLimitAFloorThatCostsAccuracyIsAWarning) {
  // K = 66311 is the largest K with K * 255 * 127 < INT32_MAX: the bias budget
  // is (INT32_MAX - K * 255 * 127) / 2 = 956. Channel 0 has real weights and a
  // bias that needs more: its floor coarsens them (warned). Channel 1 has no
  // bias (no floor); channel 2 is dead (floored, nothing lost, no warning).
  const int64_t k = 66311;
  std::vector<float> w = test_values(static_cast<size_t>(3 * k), 47, -0.5f, 0.5f);
  kill_channel(w, k, 2);
  OnnxBuilder b;
  b.input("x", {1, k}).output("y");
  b.initializer("w", {3, k}, w).initializer("b", {3}, {1.0f, 0.0f, 2.0f});
  attr_int(b.node("Gemm", {"x", "w", "b"}, {"y"}, "fc"), "transB", 1);
  auto g = import_ok(b);
  ASSERT_TRUE(g);
  auto calib = calibrate_on(*g, static_cast<size_t>(k), 4, 800, 0.0f, 1.0f);
  ASSERT_TRUE(calib.ok());
  qc::QuantizeReport report;
  auto bytes = qc::build_int8(*g, *calib, {}, &report);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  const qc::NodeSummary* s = summary_of(report, "fc");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->precision, "int8");
  EXPECT_EQ(s->floored_channels, (std::vector<int64_t>{0, 2}));
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("node 'fc'"), std::string::npos) << report.warnings[0];
  EXPECT_NE(report.warnings[0].find("coarsens weights that matter in 1 channel(s): 0;"), std::string::npos)
      << report.warnings[0];
  EXPECT_NE(report.warnings[0].find("--exclude fc"), std::string::npos) << report.warnings[0];
}

// ------------------------------------------------------------------ committed models

struct FashionModel {
  const char* file;
};

class FashionModels : public ::testing::TestWithParam<const char*> {};

std::string model_path(const std::string& f) { return std::string(QUANTA_SOURCE_DIR) + "/models/" + f; }

npy::Array load_npy(const std::string& f) {
  auto a = npy::read_file(model_path(f));
  EXPECT_TRUE(a.ok()) << a.status().message();
  return a.ok() ? std::move(*a) : npy::Array{};
}

TEST_P(FashionModels, Int8TopOneWithinOnePointOfFloatAndFloatMatchesOnnxRuntime) {
  const std::string name = GetParam();
  auto g = qc::import_onnx(model_path(name + ".onnx"));
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto fp32 = qc::build_fp32(**g);
  ASSERT_TRUE(fp32.ok());
  auto src = qc::open_npy_samples({model_path("fashion_calib_x.npy")}, qc::graph_inputs(**g));
  ASSERT_TRUE(src.ok()) << src.status().message();
  auto calib = qc::calibrate(**g, **src, {});
  ASSERT_TRUE(calib.ok()) << calib.status().message();
  EXPECT_EQ(calib->samples, 256);
  auto int8 = qc::build_int8(**g, *calib, {}, nullptr);
  ASSERT_TRUE(int8.ok()) << int8.status().message();

  const npy::Array xs = load_npy("fashion_eval_x.npy");
  const npy::Array ys = load_npy("fashion_eval_y.npy");
  const npy::Array ref = load_npy(name + "_ref_logits.npy");
  const std::vector<float> x = npy::to_floats(xs), r = npy::to_floats(ref);
  const std::vector<float> labels = npy::to_floats(ys);
  const size_t n = labels.size(), per = 28 * 28;
  ASSERT_EQ(x.size(), n * per);
  ASSERT_EQ(r.size(), n * 10);

  auto mf = Model::load_buffer(fp32->data(), fp32->size(), true);
  auto mq = Model::load_buffer(int8->data(), int8->size(), true);
  ASSERT_TRUE(mf.ok() && mq.ok());
  auto sf = Session::create(*mf);
  auto sq = Session::create(*mq);
  ASSERT_TRUE(sf.ok() && sq.ok());
  int top1_f = 0, top1_q = 0;
  float max_err = 0, range = 0;
  std::vector<float> of(10), oq(10);
  for (size_t i = 0; i < n; ++i) {
    std::span<const float> xi(x.data() + i * per, per);
    ASSERT_TRUE((*sf)->set_input(0, xi).ok());
    ASSERT_TRUE((*sq)->set_input(0, xi).ok());
    ASSERT_TRUE((*sf)->run().ok());
    ASSERT_TRUE((*sq)->run().ok());
    ASSERT_TRUE((*sf)->get_output(0, of).ok());
    ASSERT_TRUE((*sq)->get_output(0, oq).ok());
    const float* ri = r.data() + i * 10;
    const auto [lo, hi] = std::minmax_element(ri, ri + 10);
    range = std::max(range, *hi - *lo);
    for (int k = 0; k < 10; ++k) max_err = std::max(max_err, std::fabs(of[k] - ri[k]));
    const int label = static_cast<int>(labels[i]);
    top1_f += std::max_element(of.begin(), of.end()) - of.begin() == label;
    top1_q += std::max_element(oq.begin(), oq.end()) - oq.begin() == label;
  }
  const double acc_f = 100.0 * top1_f / static_cast<double>(n);
  const double acc_q = 100.0 * top1_q / static_cast<double>(n);
  std::cout << name << ": float top-1 " << acc_f << "%, int8 top-1 " << acc_q
            << "%, float max |error| vs ONNX Runtime " << max_err << " (output range " << range << ")\n";
  EXPECT_LE(max_err, 1e-4f * range) << "float .quanta against ONNX Runtime's float outputs";
  EXPECT_GE(acc_q, acc_f - 1.0) << "int8 top-1 must stay within 1.0 percentage point of float";
  EXPECT_GT(acc_f, 85.0);
}

INSTANTIATE_TEST_SUITE_P(Committed, FashionModels,
                         ::testing::Values("fashion_cnn", "fashion_cnn_bn", "fashion_mlp"));

TEST(FashionImages, PngDirectoryWithMeanStdGivesTheNpySamples) {
  // The committed eval images written back as 8-bit PNGs, then read by the
  // image calibration source with the training normalization: the samples
  // must equal the .npy ones (to float rounding of the 8-bit pixel).
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("quanta_png_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const npy::Array xs = load_npy("fashion_eval_x.npy");
  const std::vector<float> x = npy::to_floats(xs);
  const int count = 8, per = 28 * 28;
  const float mean = 0.2860f, stdv = 0.3530f;
  for (int i = 0; i < count; ++i) {
    std::vector<uint8_t> px(per);
    for (int k = 0; k < per; ++k) {
      px[k] = static_cast<uint8_t>(std::lrint((x[i * per + k] * stdv + mean) * 255.0f));
    }
    const std::string f = (dir / ("img" + std::to_string(i) + ".png")).string();
    ASSERT_NE(stbi_write_png(f.c_str(), 28, 28, 1, px.data(), 28), 0);
  }
  qc::ImagePreprocess pre;
  pre.mean = {mean};
  pre.std = {stdv};
  auto src = qc::open_image_dir(dir.string(), {{"input", {1, 1, 28, 28}}}, pre);
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_EQ((*src)->size(), count);
  std::vector<std::vector<float>> sample;
  for (int i = 0; i < count; ++i) {
    auto more = (*src)->next(sample);
    ASSERT_TRUE(more.ok() && *more);
    ASSERT_EQ(sample[0].size(), static_cast<size_t>(per));
    for (int k = 0; k < per; ++k) ASSERT_NEAR(sample[0][k], x[i * per + k], 1e-4f) << i << "," << k;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace quanta
