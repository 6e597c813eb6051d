// Whole models give the same bytes on every kernel tier: each converted int8
// model runs with the reference kernels forced, then with every optimized tier
// this CPU supports, on the same inputs; every output must be identical.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <utility>
#include <string>
#include <vector>

#include "quanta/converter.hpp"
#include "quanta/kernels/tier.h"
#include "quanta/npy.hpp"
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

class TierEquivalence : public ::testing::TestWithParam<Case> {
 protected:
  void TearDown() override { k::force_tier(k::best_tier()); }
};

// Outputs (float view of the dequantized bytes) of `samples` runs.
std::vector<float> run_all(const std::vector<uint8_t>& bytes,
                           const std::vector<std::vector<float>>& inputs,
                           const SessionOptions& options = {}) {
  auto m = Model::load_buffer(bytes.data(), bytes.size(), true);
  EXPECT_TRUE(m.ok()) << m.status().message();
  auto s = Session::create(*m, options);  // kernels are chosen here, from the forced tier
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (options.backend == Backend::kOnednn) {
    EXPECT_GT((*s)->onednn_nodes(), 0) << "no node was given to oneDNN";
  }
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

// The int8 conversion of c (min-max calibration on 24 samples) and those
// samples as inputs.
void convert_case(const Case& c, std::vector<uint8_t>* int8_bytes,
                  std::vector<std::vector<float>>* input_samples) {
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
  *int8_bytes = std::move(*int8);
  *input_samples = std::move(inputs);
}

TEST_P(TierEquivalence, EveryTierGivesTheReferenceBytes) {
  std::vector<k::Tier> tiers;
  for (k::Tier t : {k::Tier::kAvx2, k::Tier::kAvx512Vnni}) {
    if (k::cpu_supports(t)) tiers.push_back(t);
  }
  if (tiers.empty()) GTEST_SKIP() << "this CPU has no optimized kernel tier (no AVX2)";
  const Case c = GetParam();
  std::vector<uint8_t> int8;
  std::vector<std::vector<float>> inputs;
  ASSERT_NO_FATAL_FAILURE(convert_case(c, &int8, &inputs));
  ASSERT_TRUE(k::force_tier(k::Tier::kRef));
  const std::vector<float> want = run_all(int8, inputs);
  for (k::Tier t : tiers) {
    ASSERT_TRUE(k::force_tier(t));
    const std::vector<float> got = run_all(int8, inputs);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
        << c.onnx << ": tier " << k::tier_name(t) << " differs from the reference kernels";
  }
}

// The oneDNN backend (Conv2D / FullyConnected / MatMul through oneDNN where it
// accepts the node, docs/onednn.md) gives the reference kernels' bytes too,
// with 1 and 2 threads.
TEST_P(TierEquivalence, OnednnBackendGivesTheReferenceBytes) {
  const Case c = GetParam();
  std::vector<uint8_t> int8;
  std::vector<std::vector<float>> inputs;
  ASSERT_NO_FATAL_FAILURE(convert_case(c, &int8, &inputs));
  SessionOptions ref;
  ref.tier = KernelTier::kRef;
  const std::vector<float> want = run_all(int8, inputs, ref);
  for (int threads : {1, 2}) {
    SessionOptions o;
    o.backend = Backend::kOnednn;
    o.threads = threads;
    const std::vector<float> got = run_all(int8, inputs, o);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
        << c.onnx << ": the oneDNN backend differs from the reference kernels (threads "
        << threads << ")";
  }
}

// ResNet-8's residual Adds are absorbed by the convolutions before them on the
// AVX2 tier (with 1 and 2 threads), and the bytes stay the reference's.
TEST(FusedResidualAdd, ResNet8AbsorbsItsAddsWithTheReferenceBytes) {
  if (!k::cpu_supports(k::Tier::kAvx2)) GTEST_SKIP() << "no AVX2 on this CPU";
  std::vector<uint8_t> int8;
  std::vector<std::vector<float>> inputs;
  ASSERT_NO_FATAL_FAILURE(convert_case(
      {"tests/data/zoo/resnet8_op13.onnx", "tests/data/zoo/data_cifar_calib.npy"}, &int8, &inputs));
  SessionOptions ref;
  ref.tier = KernelTier::kRef;
  const std::vector<float> want = run_all(int8, inputs, ref);
  auto m = Model::load_buffer(int8.data(), int8.size(), true);
  ASSERT_TRUE(m.ok());
  for (int threads : {1, 2}) {
    SessionOptions o;
    o.tier = KernelTier::kAvx2;
    o.threads = threads;
    auto s = Session::create(*m, o);
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_GT((*s)->fused_adds(), 0) << "no Add was fused";
    const std::vector<float> got = run_all(int8, inputs, o);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
        << "threads " << threads;
  }
  SessionOptions r;
  r.tier = KernelTier::kRef;
  auto s = Session::create(*m, r);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->fused_adds(), 0) << "the reference tier never fuses";
}

TEST(SessionBackend, OptionEnvironmentAndErrors) {
  auto m = Model::load_file(src("models/demo_cnn_int8.quanta"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  SessionOptions o;
  o.backend = Backend::kOnednn;
  auto s = Session::create(*m, o);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ((*s)->backend(), Backend::kOnednn);
  ::setenv("QUANTA_BACKEND", "onednn", 1);
  s = Session::create(*m);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ((*s)->backend(), Backend::kOnednn);
  o.backend = Backend::kOwn;  // an explicit choice wins over the environment
  s = Session::create(*m, o);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->backend(), Backend::kOwn);
  ::setenv("QUANTA_BACKEND", "cuda", 1);
  s = Session::create(*m);
  ::unsetenv("QUANTA_BACKEND");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("QUANTA_BACKEND='cuda'"), std::string::npos)
      << s.status().message();
  s = Session::create(*m);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->backend(), Backend::kOwn);
}

// QUANTA_TIER is read at every Session::create (tier = kAuto): a tier name
// selects it, anything else is refused with the variable, the value and the
// accepted names, instead of silently running the reference kernels.
TEST(SessionKernelTier, QuantaTierSelectsATierAndABadValueIsRefused) {
  auto m = Model::load_file(src("models/demo_cnn_int8.quanta"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  struct EnvGuard {
    ~EnvGuard() { ::unsetenv("QUANTA_TIER"); }
  } guard;
  ::setenv("QUANTA_TIER", "ref", 1);
  k::Tier tier = k::Tier::kAvx2;
  std::string why;
  EXPECT_EQ(k::active_tier(&tier, &why), k::TierChoice::kOk);
  EXPECT_EQ(tier, k::Tier::kRef);
  auto created = Session::create(*m);
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ((*created)->tier(), KernelTier::kRef);

  for (const char* bad : {"bogus", "AVX2", "avx512", "auto", "reference"}) {
    SCOPED_TRACE(bad);
    ::setenv("QUANTA_TIER", bad, 1);
    auto s = Session::create(*m);
    ASSERT_FALSE(s.ok()) << "QUANTA_TIER=" << bad << " was accepted";
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.status().message(),
              "QUANTA_TIER='" + std::string(bad) + "' is not a kernel tier (ref, avx2, avx512vnni)");
    // An explicit tier does not consult the environment.
    SessionOptions o;
    o.tier = KernelTier::kRef;
    EXPECT_TRUE(Session::create(*m, o).ok());
  }
  // A tier this CPU lacks is refused too (on a CPU that has every tier, the
  // kernel test KernelTier.QuantaTierValues covers that message).
  for (k::Tier t : {k::Tier::kAvx2, k::Tier::kAvx512Vnni}) {
    ::setenv("QUANTA_TIER", k::tier_name(t), 1);
    auto s = Session::create(*m);
    EXPECT_EQ(s.ok(), k::cpu_supports(t)) << k::tier_name(t);
    if (s.ok()) {
      EXPECT_STREQ(kernel_tier_name((*s)->tier()), k::tier_name(t));
    } else {
      EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
      EXPECT_NE(s.status().message().find("this CPU does not support"), std::string::npos);
    }
  }
  ::setenv("QUANTA_TIER", "", 1);  // empty: as if unset
  created = Session::create(*m);
  ASSERT_TRUE(created.ok());
  EXPECT_STREQ(kernel_tier_name((*created)->tier()), k::tier_name(k::best_tier()));
}

// QUANTA_ISA is the old name of QUANTA_TIER. A script that still sets it must
// not silently get another tier than the one it names: Session::create
// refuses it, whatever its value, and says what to set instead.
TEST(SessionKernelTier, QuantaIsaIsRefusedWithItsNewName) {
  auto m = Model::load_file(src("models/demo_cnn_int8.quanta"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  struct EnvGuard {
    ~EnvGuard() {
      ::unsetenv("QUANTA_ISA");
      ::unsetenv("QUANTA_TIER");
    }
  } guard;
  for (const char* value : {"ref", "avx2", "bogus", ""}) {
    SCOPED_TRACE(std::string("QUANTA_ISA='") + value + "'");
    ::setenv("QUANTA_ISA", value, 1);
    auto s = Session::create(*m);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.status().message().rfind("QUANTA_ISA was renamed QUANTA_TIER: unset QUANTA_ISA", 0), 0u)
        << s.status().message();
    if (*value != '\0') {
      EXPECT_NE(s.status().message().find(std::string("set QUANTA_TIER='") + value + "' instead"),
                std::string::npos)
          << s.status().message();
    }
    // Even next to a valid QUANTA_TIER.
    ::setenv("QUANTA_TIER", "ref", 1);
    EXPECT_FALSE(Session::create(*m).ok());
    ::unsetenv("QUANTA_TIER");
    // An explicit tier reads neither variable.
    SessionOptions o;
    o.tier = KernelTier::kRef;
    EXPECT_TRUE(Session::create(*m, o).ok());
  }
  ::unsetenv("QUANTA_ISA");
  EXPECT_TRUE(Session::create(*m).ok());
}

TEST(SessionKernelTier, AnUnsupportedTierIsRefusedAndReferenceAlwaysWorks) {
  const std::string bytes_path = src("models/demo_cnn_int8.quanta");
  auto m = Model::load_file(bytes_path);
  ASSERT_TRUE(m.ok()) << m.status().message();
  for (auto [tier, t] : {std::pair{KernelTier::kRef, k::Tier::kRef},
                         std::pair{KernelTier::kAvx2, k::Tier::kAvx2},
                         std::pair{KernelTier::kAvx512Vnni, k::Tier::kAvx512Vnni}}) {
    SessionOptions o;
    o.tier = tier;
    auto s = Session::create(*m, o);
    EXPECT_EQ(s.ok(), k::cpu_supports(t)) << kernel_tier_name(tier);
    if (s.ok()) {
      EXPECT_EQ((*s)->tier(), tier);
    } else {
      EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
      EXPECT_EQ(s.status().message(),
                k::unsupported_tier_error(std::string("tier ") + kernel_tier_name(tier) +
                                          " (SessionOptions::tier; the quanta CLI: --tier)"));
    }
  }
}

TEST(SessionKernelTier, NamesAndParsing) {
  for (auto [tier, name] : {std::pair{KernelTier::kAuto, "auto"}, std::pair{KernelTier::kRef, "ref"},
                            std::pair{KernelTier::kAvx2, "avx2"},
                            std::pair{KernelTier::kAvx512Vnni, "avx512vnni"}}) {
    EXPECT_STREQ(kernel_tier_name(tier), name);
    KernelTier parsed = KernelTier::kAuto;
    EXPECT_TRUE(parse_kernel_tier(name, &parsed)) << name;
    EXPECT_EQ(parsed, tier);
  }
  // kernel_tier_name and the kernels' tier_name spell every tier alike.
  EXPECT_STREQ(kernel_tier_name(KernelTier::kRef), k::tier_name(k::Tier::kRef));
  EXPECT_STREQ(kernel_tier_name(KernelTier::kAvx2), k::tier_name(k::Tier::kAvx2));
  EXPECT_STREQ(kernel_tier_name(KernelTier::kAvx512Vnni), k::tier_name(k::Tier::kAvx512Vnni));
  KernelTier unchanged = KernelTier::kAvx2;
  for (const char* bad : {"reference", "Ref", "", "avx512", "isa"}) {
    EXPECT_FALSE(parse_kernel_tier(bad, &unchanged)) << bad;
  }
  EXPECT_EQ(unchanged, KernelTier::kAvx2);
}

INSTANTIATE_TEST_SUITE_P(
    Models, TierEquivalence,
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
