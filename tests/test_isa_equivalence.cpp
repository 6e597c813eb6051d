// Whole models give the same bytes on every kernel tier: each converted int8
// model runs with the reference kernels forced, then with every optimized tier
// this CPU supports, on the same inputs; every output must be identical.
#include <gtest/gtest.h>

#include <cstring>
#include <utility>
#include <string>
#include <vector>

#include "npy.hpp"
#include "quanta/converter.hpp"
#include "quanta/kernels/isa.h"
#include "quanta/quanta.hpp"

namespace quanta {
namespace {

namespace qc = quanta::convert;
namespace k = quanta::kernels;

struct Case {
  const char* onnx;   // relative to the source tree
  const char* calib;  // relative to the source tree
};

std::string src(const std::string& rel) { return std::string(QUANTA_SOURCE_DIR) + "/" + rel; }

class IsaEquivalence : public ::testing::TestWithParam<Case> {
 protected:
  void TearDown() override { k::force_isa(k::best_isa()); }
};

// Outputs (float view of the dequantized bytes) of `samples` runs.
std::vector<float> run_all(const std::vector<uint8_t>& bytes, const std::vector<std::vector<float>>& inputs) {
  auto m = Model::load_buffer(bytes.data(), bytes.size(), true);
  EXPECT_TRUE(m.ok()) << m.status().message();
  auto s = Session::create(*m);  // kernels are chosen here, from the forced tier
  EXPECT_TRUE(s.ok()) << s.status().message();
  std::vector<float> all;
  std::vector<float> out(static_cast<size_t>((*m)->output(0).num_elements));
  for (const auto& x : inputs) {
    EXPECT_TRUE((*s)->set_input(0, x).ok());
    EXPECT_TRUE((*s)->run().ok());
    EXPECT_TRUE((*s)->get_output(0, out).ok());
    all.insert(all.end(), out.begin(), out.end());
  }
  return all;
}

TEST_P(IsaEquivalence, EveryTierGivesTheReferenceBytes) {
  std::vector<k::Isa> tiers;
  for (k::Isa isa : {k::Isa::kAvx2, k::Isa::kAvx512Vnni}) {
    if (k::cpu_supports(isa)) tiers.push_back(isa);
  }
  if (tiers.empty()) GTEST_SKIP() << "this CPU has no optimized kernel tier (no AVX2)";
  const Case c = GetParam();
  auto g = qc::import_onnx(src(c.onnx));
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto samples = qc::open_npy_samples({src(c.calib)}, qc::graph_inputs(**g));
  ASSERT_TRUE(samples.ok()) << samples.status().message();
  auto limited = qc::limit_samples(std::move(*samples), 24);
  qc::CalibrationOptions co;
  co.method = qc::CalibrationMethod::kMinMax;
  auto calib = qc::calibrate(**g, *limited, co);
  ASSERT_TRUE(calib.ok()) << calib.status().message();
  auto int8 = qc::build_int8(**g, *calib, {}, nullptr);
  ASSERT_TRUE(int8.ok()) << int8.status().message();
  // The same samples as inputs (they cover the calibrated range, and beyond
  // it for some tensors, which exercises the clamps).
  ASSERT_TRUE(limited->rewind().ok());
  std::vector<std::vector<float>> inputs, one;
  while (true) {
    auto more = limited->next(one);
    ASSERT_TRUE(more.ok());
    if (!*more) break;
    inputs.push_back(one[0]);
  }
  ASSERT_FALSE(inputs.empty());
  ASSERT_TRUE(k::force_isa(k::Isa::kRef));
  const std::vector<float> want = run_all(*int8, inputs);
  for (k::Isa isa : tiers) {
    ASSERT_TRUE(k::force_isa(isa));
    const std::vector<float> got = run_all(*int8, inputs);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
        << c.onnx << ": tier " << k::isa_name(isa) << " differs from the reference kernels";
  }
}

TEST(SessionKernelTier, AnUnsupportedTierIsRefusedAndReferenceAlwaysWorks) {
  const std::string bytes_path = src("models/demo_cnn_int8.quanta");
  auto m = Model::load_file(bytes_path);
  ASSERT_TRUE(m.ok()) << m.status().message();
  for (auto [tier, isa] : {std::pair{KernelTier::kReference, k::Isa::kRef},
                           std::pair{KernelTier::kAvx2, k::Isa::kAvx2},
                           std::pair{KernelTier::kAvx512Vnni, k::Isa::kAvx512Vnni}}) {
    SessionOptions o;
    o.kernels = tier;
    auto s = Session::create(*m, o);
    EXPECT_EQ(s.ok(), k::cpu_supports(isa)) << kernel_tier_name(tier);
    if (!s.ok()) {
      EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
      EXPECT_NE(s.status().message().find("not supported by this CPU"), std::string::npos);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Models, IsaEquivalence,
    ::testing::Values(Case{"models/fashion_mlp.onnx", "models/fashion_calib_x.npy"},
                      Case{"models/fashion_cnn_bn.onnx", "models/fashion_calib_x.npy"},
                      Case{"tests/data/zoo/mobilenetv2_op13.onnx", "tests/data/zoo/data_cifar_calib.npy"},
                      Case{"tests/data/zoo/resnet8_op13.onnx", "tests/data/zoo/data_cifar_calib.npy"},
                      Case{"tests/data/zoo/squeezenet_op11.onnx", "tests/data/zoo/data_cifar_calib.npy"}),
    [](const ::testing::TestParamInfo<Case>& info) {
      std::string n = info.param.onnx;
      n = n.substr(n.rfind('/') + 1);
      n = n.substr(0, n.find('.'));
      return n;
    });

}  // namespace
}  // namespace quanta
