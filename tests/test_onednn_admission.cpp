// Admission of oneDNN implementations (backends/onednn.hpp, docs/onednn.md
// "Admission"): the pure decision on synthetic candidates, which runs the
// same on every CPU, and a Session that injects the name of oneDNN's AMX
// convolution to check that a refused node falls back to Quanta's kernels
// with the reference bytes and says why (Session::backend_notes()).
//
// tests/test_onednn.cpp has the measurements: the enforced sweeps (every
// admitted case byte-exact) and the raw sweeps (every wrong case refused).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "backends/onednn.hpp"

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

}  // namespace
}  // namespace quanta
