// Admission of oneDNN implementations (backends/onednn.hpp, docs/onednn.md
// "Admission"): the pure decision on synthetic candidates, which runs the
// same on every CPU, and a Session that injects the name of oneDNN's AMX
// convolution to check that a refused node falls back to Quanta's kernels
// with the reference bytes and says why (Session::backend_notes()).
//
// tests/test_onednn.cpp has the measurements: the enforced sweeps (every
// admitted case byte-exact) and the raw sweeps (every wrong case refused).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/onednn.hpp"
#include "quanta/model_writer.hpp"
#include "quanta/quanta.hpp"
#include "support/cli_runner.hpp"
#include "support/model_builders.hpp"

namespace quanta {
namespace {

namespace od = quanta::detail::onednn;

constexpr const char* kAmxConv = "jit:avx512_core_amx_int8";
constexpr const char* kAmxGemm = "brg:avx512_core_amx_int8";

// A 2-D convolution candidate with "same" padding (ks / 2 * dil per side).
od::Candidate conv(const char* impl, int ks, int stride, int dil, bool pad, int32_t zx,
                   od::PrimKind kind = od::PrimKind::kQu8Conv) {
  od::Candidate c;
  c.kind = kind;
  c.impl = impl;
  c.kh = c.kw = ks;
  c.stride_h = c.stride_w = stride;
  c.dil_h = c.dil_w = dil;
  const int p = pad ? ks / 2 * dil : 0;
  c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = p;
  c.zx = zx;
  return c;
}

bool refused_because(const od::Admission& a, const char* part) {
  return !a.admitted && a.reason.rfind(od::kAdmissionPrefix, 0) == 0 &&
         a.reason.find(part) != std::string::npos;
}

// The failing class of the Sapphire Rapids report: oneDNN's AMX int8
// convolution, 5x5, dilation 2, padding 4, source zero point 128 or 255.
TEST(OneDnnAdmission, AmxPaddedConvWithSourceZeroPointIsRefused) {
  for (int32_t zx : {128, 255, 1}) {
    const od::Admission a = od::admit(conv(kAmxConv, 5, 1, 2, true, zx));
    EXPECT_TRUE(refused_because(a, "AMX")) << a.reason;
    EXPECT_NE(a.reason.find("zero point"), std::string::npos) << a.reason;
  }
  // The rest of the class the evidence cannot clear: undilated, strided,
  // depthwise, padding on one side only (implied by the output size), and
  // any AMX convolution implementation, not only the one measured.
  EXPECT_TRUE(refused_because(od::admit(conv(kAmxConv, 3, 1, 1, true, 128)), "AMX"));
  EXPECT_TRUE(refused_because(od::admit(conv(kAmxConv, 5, 2, 2, true, 128)), "AMX"));
  EXPECT_TRUE(refused_because(
      od::admit(conv(kAmxConv, 3, 1, 1, true, 128, od::PrimKind::kQu8Depthwise)), "AMX"));
  od::Candidate bottom_only = conv(kAmxConv, 3, 1, 1, false, 128);
  bottom_only.pad_bottom = 1;
  EXPECT_TRUE(refused_because(od::admit(bottom_only), "AMX"));
  EXPECT_TRUE(
      refused_because(od::admit(conv("brgconv:avx512_core_amx", 3, 1, 1, true, 128)), "AMX"));
}

TEST(OneDnnAdmission, AmxConvWithoutPaddedCompensationIsAdmitted) {
  // No source zero point: padding reads real zeros, no compensation.
  EXPECT_TRUE(od::admit(conv(kAmxConv, 5, 1, 2, true, 0)).admitted);
  EXPECT_TRUE(od::admit(conv(kAmxConv, 3, 1, 1, true, 0)).admitted);
  // No padding: the compensation is the same for every output pixel.
  EXPECT_TRUE(od::admit(conv(kAmxConv, 5, 1, 2, false, 128)).admitted);
  EXPECT_TRUE(od::admit(conv(kAmxConv, 1, 1, 1, false, 255)).admitted);
  // A negative implied bottom padding (the stride skips the last rows) is
  // no padding.
  od::Candidate skip = conv(kAmxConv, 3, 2, 1, false, 128);
  skip.pad_bottom = -1;
  EXPECT_TRUE(od::admit(skip).admitted);
  // The AMX matmul has no padding: admitted with any zero point.
  od::Candidate g;
  g.kind = od::PrimKind::kQu8Gemm;
  g.impl = kAmxGemm;
  g.zx = 128;
  EXPECT_TRUE(od::admit(g).admitted) << od::admit(g).reason;
}

TEST(OneDnnAdmission, UnverifiedInt8ImplementationIsRefused) {
  const char* kNotVerified = "not verified";
  EXPECT_TRUE(refused_because(od::admit(conv("jit:avx10_2_future", 3, 1, 1, false, 0)),
                              kNotVerified));
  // A verified name counts for the kind it was verified on only.
  EXPECT_TRUE(refused_because(od::admit(conv("brg:avx512_core_vnni", 3, 1, 1, false, 0)),
                              kNotVerified));
  EXPECT_TRUE(refused_because(
      od::admit(conv("brgconv:avx512_core_vnni", 3, 1, 1, false, 0, od::PrimKind::kQu8GroupedConv)),
      kNotVerified));
  od::Candidate g;
  g.kind = od::PrimKind::kQu8Gemm;
  g.impl = "gemm:acl";
  EXPECT_TRUE(refused_because(od::admit(g), kNotVerified));
  EXPECT_NE(od::admit(g).reason.find("gemm:acl"), std::string::npos);
}

// The allow-list admits an implementation only as far as the sweeps ran it:
// with a source zero point, and with one on padded windows.
TEST(OneDnnAdmission, ZeroPointCompensationOnlyWhereVerified) {
  // oneDNN picked brdgmm_dw only for zero-point-free depthwise cases here.
  const char* dw = "brdgmm_dw:avx512_core_vnni";
  EXPECT_TRUE(od::admit(conv(dw, 3, 1, 1, true, 0, od::PrimKind::kQu8Depthwise)).admitted);
  EXPECT_TRUE(refused_because(
      od::admit(conv(dw, 3, 1, 1, false, 128, od::PrimKind::kQu8Depthwise)),
      "only without a source zero point"));
  // brgconv ran zero points on unpadded windows only (padded ones went to jit_int8).
  const char* brg = "brgconv:avx512_core_vnni";
  EXPECT_TRUE(od::admit(conv(brg, 3, 1, 1, false, 128)).admitted);
  EXPECT_TRUE(od::admit(conv(brg, 3, 1, 1, true, 0)).admitted);
  EXPECT_TRUE(refused_because(od::admit(conv(brg, 3, 1, 1, true, 128)), "unpadded windows"));
  EXPECT_TRUE(od::admit(conv("jit_int8:avx512_core_vnni", 5, 1, 2, true, 255)).admitted);
}

TEST(OneDnnAdmission, VerifiedInt8ImplementationsAreAdmitted) {
  const std::pair<od::PrimKind, const char*> verified[] = {
      {od::PrimKind::kQu8Conv, "brgconv:avx512_core_vnni"},
      {od::PrimKind::kQu8Conv, "brgconv_1x1:avx512_core_vnni"},
      {od::PrimKind::kQu8Conv, "jit_int8:avx512_core_vnni"},
      {od::PrimKind::kQu8Depthwise, "jit_int8:avx512_core_vnni"},
      {od::PrimKind::kQu8Depthwise, "brdgmm_dw:avx512_core_vnni"},
      {od::PrimKind::kQu8GroupedConv, "x64:gemm_s8u8s32:jit"},
      {od::PrimKind::kQu8Conv, "jit_int8:avx512_core"},
      {od::PrimKind::kQu8Conv, "jit_uni_int8:avx2"},
      {od::PrimKind::kQu8Conv, "jit_uni_int8_1x1:avx2"},
      {od::PrimKind::kQu8Depthwise, "jit_uni_int8:avx2"},
      {od::PrimKind::kQu8GroupedConv, "ref_int8:any"},
      {od::PrimKind::kQu8Conv, kAmxConv},
  };
  for (const auto& [kind, impl] : verified) {
    for (bool pad : {false, true}) {
      EXPECT_TRUE(od::admit(conv(impl, 3, 1, 2, pad, 0, kind)).admitted) << impl;
    }
  }
  for (const char* impl : {"brg:avx512_core_vnni", "gemm:jit", kAmxGemm}) {
    od::Candidate g;
    g.kind = od::PrimKind::kQu8Gemm;
    g.impl = impl;
    g.zx = 255;
    g.split = std::string(impl) == "gemm:jit";
    EXPECT_TRUE(od::admit(g).admitted) << impl;
  }
}

// fp32 has a tolerance contract and no zero point: no allow-list.
TEST(OneDnnAdmission, Fp32IsAdmittedWhateverTheImplementation) {
  EXPECT_TRUE(od::admit(conv("jit:avx512_core_amx", 5, 1, 2, true, 0, od::PrimKind::kF32Conv))
                  .admitted);
  od::Candidate g;
  g.kind = od::PrimKind::kF32Gemm;
  g.impl = "never:seen";
  EXPECT_TRUE(od::admit(g).admitted);
}

TEST(OneDnnAdmission, GeometryClassNamesWhatAdmissionLooksAt) {
  EXPECT_EQ(od::geometry_class(conv(kAmxConv, 5, 1, 2, true, 128)),
            "int8 conv k5x5 s1 d2 pad zx!=0");
  od::Candidate g;
  g.kind = od::PrimKind::kQu8Gemm;
  g.split = true;
  EXPECT_EQ(od::geometry_class(g), "int8 matmul zx=0 split");
}

// ------------------------------------------------------------------ Session
// Symmetric per-output-channel quantization (axis 0) with these scales.
QuantParams per_channel(std::vector<float> scales) {
  QuantParams q;
  q.scale = std::move(scales);
  q.zero_point.assign(q.scale.size(), 0);
  q.axis = 0;
  return q;
}

// A quantized model: x [1, 9, 7, 3] (zero point 128) -> "dilated": 5x5 conv,
// dilation 2, padding 4 (the reported AMX geometry) -> y1 [1, 9, 7, 8]
// (zero point 100) -> "pointwise": 1x1 conv, no padding -> y [1, 9, 7, 4].
std::vector<uint8_t> dilated_model() {
  std::mt19937 rng(31);
  std::uniform_int_distribution<int> s8(-127, 127), b32(-3000, 3000);
  auto weights = [&](size_t n) {
    std::vector<int8_t> w(n);
    for (auto& v : w) v = static_cast<int8_t>(s8(rng));
    return w;
  };
  const float sx = 0.02f, s1 = 0.2f, sy = 0.1f;
  const std::vector<float> sw1(8, 0.003f), sw2(4, 0.01f);
  std::vector<float> sb1;
  for (float s : sw1) sb1.push_back(sx * s);
  std::vector<int32_t> b1(8);
  for (auto& v : b1) v = b32(rng);

  ModelWriter w("quanta-tests");
  const int x = w.add_tensor("x", {1, 9, 7, 3}, DType::kU8, test::per_tensor(sx, 128));
  const int w1 = w.add_constant_i8("w1", {8, 5, 5, 3}, weights(8 * 25 * 3), per_channel(sw1));
  const int tb1 = w.add_constant_i32("b1", {8}, b1, per_channel(sb1));
  const int y1 = w.add_tensor("y1", {1, 9, 7, 8}, DType::kU8, test::per_tensor(s1, 100));
  const int w2 = w.add_constant_i8("w2", {4, 1, 1, 8}, weights(4 * 8), per_channel(sw2));
  const int y = w.add_tensor("y", {1, 9, 7, 4}, DType::kU8, test::per_tensor(sy, 90));
  fb::Conv2DOptionsT dil;
  dil.dilation_h = dil.dilation_w = 2;
  dil.pad_top = dil.pad_left = dil.pad_bottom = dil.pad_right = 4;
  fb::OptionsUnion o1;
  o1.Set(dil);
  w.add_node(OpType::kConv2D, {x, w1, tb1}, {y1}, std::move(o1), "dilated", {"Conv_0"});
  fb::OptionsUnion o2;
  o2.Set(fb::Conv2DOptionsT{});
  w.add_node(OpType::kConv2D, {y1, w2, -1}, {y}, std::move(o2), "pointwise", {"Conv_1"});
  w.set_inputs({x});
  w.set_outputs({y});
  return test::to_bytes(w);
}

// The output bytes of one run on fixed random input bytes.
std::vector<uint8_t> run_bytes(Session& s) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> u8(0, 255);
  std::vector<uint8_t> x(9 * 7 * 3);
  for (auto& v : x) v = static_cast<uint8_t>(u8(rng));
  EXPECT_TRUE(s.set_input_raw(0, x.data(), x.size()).ok());
  EXPECT_TRUE(s.run().ok());
  const TensorView out = s.output(0);
  const auto* p = static_cast<const uint8_t*>(out.data);
  return std::vector<uint8_t>(p, p + out.info->num_bytes);
}

// Every int8 convolution "is" oneDNN's AMX convolution for admission.
std::string pretend_amx(const od::Candidate& c) {
  return c.kind == od::PrimKind::kQu8Conv ? kAmxConv : c.impl;
}

class AdmissionSession : public ::testing::Test {
 protected:
  void TearDown() override { od::set_impl_name_override_for_tests(nullptr); }
};

TEST_F(AdmissionSession, RefusedNodeKeepsOwnKernelsReferenceBytesAndSaysWhy) {
  auto m = test::load_bytes(dilated_model());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  SessionOptions ref;
  ref.tier = KernelTier::kRef;
  auto r = Session::create(*m, ref);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const std::vector<uint8_t> want = run_bytes(**r);
  EXPECT_TRUE((*r)->backend_notes().empty()) << "the own backend offers nothing to oneDNN";

  od::set_impl_name_override_for_tests(&pretend_amx);
  SessionOptions o;
  o.backend = Backend::kOnednn;
  auto s = Session::create(*m, o);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(run_bytes(**s), want);
  EXPECT_EQ((*s)->onednn_nodes(), 1);
  const std::vector<BackendNote> notes = (*s)->backend_notes();
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].node, 0);
  EXPECT_FALSE(notes[0].onednn);
  EXPECT_EQ(notes[0].detail.rfind(od::kAdmissionPrefix, 0), 0u) << notes[0].detail;
  EXPECT_NE(notes[0].detail.find(kAmxConv), std::string::npos) << notes[0].detail;
  EXPECT_NE(notes[0].detail.find("k5x5 s1 d2 pad zx!=0"), std::string::npos) << notes[0].detail;
  EXPECT_EQ(notes[1].node, 1);  // unpadded: the compensation is uniform, admitted
  EXPECT_TRUE(notes[1].onednn);
  // The note names what oneDNN really runs (the injected name only fools admission).
  EXPECT_FALSE(notes[1].detail.empty());
  EXPECT_EQ(notes[1].detail.find(od::kAdmissionPrefix), std::string::npos) << notes[1].detail;
}

// Without the injected name, this CPU's own implementations are verified:
// both nodes run on oneDNN, with the reference bytes, and the notes name
// the implementations.
TEST_F(AdmissionSession, VerifiedImplementationsRunOnOnednnWithReferenceBytes) {
  auto m = test::load_bytes(dilated_model());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  SessionOptions ref;
  ref.tier = KernelTier::kRef;
  auto r = Session::create(*m, ref);
  ASSERT_TRUE(r.ok());
  const std::vector<uint8_t> want = run_bytes(**r);
  SessionOptions o;
  o.backend = Backend::kOnednn;
  auto s = Session::create(*m, o);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(run_bytes(**s), want);
  const std::vector<BackendNote> notes = (*s)->backend_notes();
  ASSERT_EQ(notes.size(), 2u);
  int on_onednn = 0;
  for (const BackendNote& n : notes) {
    std::printf("[onednn] node %d: %s %s\n", n.node, n.onednn ? "onednn" : "own kernels",
                n.detail.c_str());
    on_onednn += n.onednn ? 1 : 0;
    if (!n.onednn) {  // only admission may refuse these small convolutions
      EXPECT_EQ(n.detail.rfind(od::kAdmissionPrefix, 0), 0u) << n.detail;
    }
  }
  EXPECT_EQ((*s)->onednn_nodes(), on_onednn);
}

// ------------------------------------------------------------------ CLI
// A FullyConnected that oneDNN must refuse on every CPU: 1100 inputs with
// zero point 128 against weights of 127 can reach 1100 * 127 * 128 > 2^24,
// beyond the exact range of oneDNN's fp32 bias addition (onednn.hpp).
std::vector<uint8_t> wide_fc_model() {
  ModelWriter w("quanta-tests");
  const int64_t k = 1100;
  const int x = w.add_tensor("x", {1, k}, DType::kU8, test::per_tensor(0.02f, 128));
  const int wt = w.add_constant_i8("w", {2, k}, std::vector<int8_t>(2 * k, 127),
                                   per_channel({0.001f, 0.001f}));
  const int y = w.add_tensor("y", {1, 2}, DType::kU8, test::per_tensor(50.f, 0));
  fb::OptionsUnion opts;
  opts.Set(fb::FullyConnectedOptionsT{});
  w.add_node(OpType::kFullyConnected, {x, wt, -1}, {y}, std::move(opts), "wide", {"Gemm_0"});
  w.set_inputs({x});
  w.set_outputs({y});
  return test::to_bytes(w);
}

std::string write_model(const std::string& name, const std::vector<uint8_t>& bytes) {
  const std::string path = test::temp_path(name);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

nlohmann::json json_of(const test::CliOutcome& o) {
  EXPECT_TRUE(o.exited && o.code == 0) << o.output;
  auto j = nlohmann::json::parse(o.output, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << o.output;
  return j;
}

TEST(OneDnnAdmissionCli, InspectAndBenchReportEveryOfferedNode) {
  if (test::quanta_bin().empty()) GTEST_FAIL() << "QUANTA_BIN is not set (run through ctest)";
  using ::testing::HasSubstr;
  const std::string dilated = write_model("admission_dilated.quanta", dilated_model());
  const std::string wide = write_model("admission_wide_fc.quanta", wide_fc_model());
  const std::string q_dilated = test::shell_quote(dilated), q_wide = test::shell_quote(wide);

  // inspect: the session's per-node backend, text and JSON.
  test::CliOutcome o = test::run_quanta("inspect --brief --backend onednn " + q_dilated);
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_THAT(o.output, HasSubstr("backend      onednn: 2 of 2 offered nodes on oneDNN"));
  EXPECT_THAT(o.output, HasSubstr("dilated"));
  nlohmann::json j = json_of(test::run_quanta("inspect --json --backend onednn " + q_dilated));
  EXPECT_EQ(j["backend"], "onednn");
  EXPECT_EQ(j["onednn_nodes"], 2);
  ASSERT_EQ(j["backend_notes"].size(), 2u);
  EXPECT_EQ(j["backend_notes"][0]["name"], "dilated");
  EXPECT_EQ(j["backend_notes"][0]["backend"], "onednn");
  EXPECT_FALSE(j["backend_notes"][0]["detail"].get<std::string>().empty());
  // Without the onednn backend, inspect says nothing about it.
  j = json_of(test::run_quanta("inspect --json " + q_dilated));
  EXPECT_FALSE(j.contains("backend_notes"));

  o = test::run_quanta("inspect --brief --backend onednn " + q_wide);
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_THAT(o.output, HasSubstr("0 of 1 offered node on oneDNN"));
  EXPECT_THAT(o.output, HasSubstr("2^24"));

  // bench: how many nodes oneDNN took, and the refused ones with the reason.
  o = test::run_quanta("bench --warmup 1 --runs 3 --backend onednn " + q_wide);
  EXPECT_EQ(o.code, 0) << o.output;
  std::printf("%s", o.output.c_str());
  EXPECT_THAT(o.output, HasSubstr("backend onednn (0 of 1 offered node on oneDNN)"));
  EXPECT_THAT(o.output, HasSubstr("refused by oneDNN (Quanta's kernels run these nodes):"));
  EXPECT_THAT(o.output, HasSubstr("wide"));
  EXPECT_THAT(o.output, HasSubstr("2^24"));
  j = json_of(test::run_quanta("bench --warmup 1 --runs 3 --json --backend onednn " + q_wide));
  EXPECT_EQ(j["onednn_nodes"], 0);
  ASSERT_EQ(j["backend_notes"].size(), 1u);
  EXPECT_EQ(j["backend_notes"][0]["node"], 0);
  EXPECT_EQ(j["backend_notes"][0]["op"], "FullyConnected");
  EXPECT_EQ(j["backend_notes"][0]["backend"], "own");
  EXPECT_THAT(j["backend_notes"][0]["detail"].get<std::string>(), HasSubstr("2^24"));
  j = json_of(test::run_quanta("bench --warmup 1 --runs 3 --json --backend onednn " + q_dilated));
  EXPECT_EQ(j["onednn_nodes"], 2);
  EXPECT_EQ(j["backend_notes"].size(), 2u);
  std::filesystem::remove(dilated);
  std::filesystem::remove(wide);
}

}  // namespace
}  // namespace quanta
