// The oneDNN admission rule (backends/onednn.hpp, docs/onednn.md
// "Admission"): pure code without oneDNN, compiled into the runtime (the
// tests and `inspect` ask it directly) and into the oneDNN plugin (which asks
// it about every primitive it builds).
#include <algorithm>
#include <string>

#include "backends/onednn.hpp"

namespace quanta::detail::onednn {

// ------------------------------------------------------------ admission
// docs/onednn.md, "Admission", has the evidence behind every entry.
namespace {

bool is_int8(PrimKind k) { return k != PrimKind::kF32Conv && k != PrimKind::kF32Gemm; }

bool is_conv(PrimKind k) { return k != PrimKind::kQu8Gemm && k != PrimKind::kF32Gemm; }

// The deny table: classes of int8 steps known (or not ruled out) to give
// wrong bytes, whatever the allow-list says.
struct DenyRule {
  const char* impl_part;  // matches implementation names containing this
  bool (*applies)(const Candidate&);
  const char* reason;
};

constexpr DenyRule kDenyTable[] = {
    {"avx512_core_amx",
     [](const Candidate& c) { return is_conv(c.kind) && c.zx != 0 && c.padded(); },
     "oneDNN 2.6's AMX int8 convolution adds the source zero-point compensation of "
     "padded borders from a per-border buffer whose layout depends on the geometry; "
     "on Sapphire Rapids it returned wrong bytes (|diff| up to 164) for 5x5 "
     "convolutions with dilation 2 and padding 4 and a source zero point of 128 or "
     "255, and the sweep cannot clear the other padded geometries, so every padded "
     "AMX int8 convolution with a nonzero source zero point is refused"},
};

// The allow-list: int8 implementations that the sweeps of
// tests/test_onednn.cpp ran byte-exact (CPU and ISA in docs/onednn.md), with
// how far the sweeps exercised the risky part, the source zero-point
// compensation: `zp` when they ran it with a nonzero source zero point,
// `zp_padded` when also on padded windows. oneDNN picks implementations per
// geometry, so an implementation that the sweeps only saw without a zero
// point (or only unpadded) is refused beyond that.
struct Verified {
  PrimKind kind;
  const char* impl;
  bool zp, zp_padded;
};

constexpr Verified kVerified[] = {
    // AVX-512 VNNI (AMD Zen 4 class; oneDNN's default there, and with
    // ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI): one primitive per node.
    {PrimKind::kQu8Conv, "brgconv:avx512_core_vnni", true, false},
    {PrimKind::kQu8Conv, "brgconv_1x1:avx512_core_vnni", true, false},
    {PrimKind::kQu8Conv, "jit_int8:avx512_core_vnni", true, true},
    {PrimKind::kQu8Depthwise, "brdgmm_dw:avx512_core_vnni", false, false},
    {PrimKind::kQu8Depthwise, "jit_int8:avx512_core_vnni", true, true},
    {PrimKind::kQu8Gemm, "brg:avx512_core_vnni", true, false},
    // Grouped convolutions on gemm: with VNNI, and split without it
    // (ONEDNN_MAX_CPU_ISA=AVX512_CORE), Zen 4.
    {PrimKind::kQu8GroupedConv, "x64:gemm_s8u8s32:jit", true, true},
    // AVX-512 without VNNI (ONEDNN_MAX_CPU_ISA=AVX512_CORE on Zen 4): split weights.
    {PrimKind::kQu8Conv, "jit_int8:avx512_core", true, true},
    {PrimKind::kQu8Conv, "jit_int8_1x1:avx512_core", true, false},
    {PrimKind::kQu8Depthwise, "jit_int8:avx512_core", true, true},
    // AVX2 without VNNI (AMD Zen 3 class, and ONEDNN_MAX_CPU_ISA=AVX2 on Zen 4):
    // split weights. gemm:jit also runs the matmuls of AVX512_CORE.
    {PrimKind::kQu8Conv, "jit_uni_int8:avx2", true, true},
    {PrimKind::kQu8Conv, "jit_uni_int8_1x1:avx2", true, false},
    {PrimKind::kQu8Depthwise, "jit_uni_int8:avx2", true, true},
    {PrimKind::kQu8GroupedConv, "ref_int8:any", true, true},
    {PrimKind::kQu8Gemm, "gemm:jit", true, false},
    // AMX (Intel Sapphire Rapids, reported): exact except padded windows
    // with a source zero point (the deny table above).
    {PrimKind::kQu8Conv, "jit:avx512_core_amx_int8", true, false},
    {PrimKind::kQu8Gemm, "brg:avx512_core_amx_int8", true, false},
};

}  // namespace

const char* prim_kind_name(PrimKind kind) {
  switch (kind) {
    case PrimKind::kQu8Conv: return "int8 conv";
    case PrimKind::kQu8GroupedConv: return "int8 grouped conv";
    case PrimKind::kQu8Depthwise: return "int8 depthwise conv";
    case PrimKind::kQu8Gemm: return "int8 matmul";
    case PrimKind::kF32Conv: return "fp32 conv";
    case PrimKind::kF32Gemm: return "fp32 matmul";
  }
  return "?";
}

Admission admit(const Candidate& c) {
  if (!is_int8(c.kind)) {
    return {true, "fp32: every implementation is admitted (tolerance contract)"};
  }
  for (const DenyRule& r : kDenyTable) {
    if (c.impl.find(r.impl_part) != std::string::npos && r.applies(c)) {
      return {false, std::string(kAdmissionPrefix) + c.impl + " for this " +
                         geometry_class(c) + ": " + r.reason};
    }
  }
  for (const Verified& v : kVerified) {
    if (v.kind != c.kind || c.impl != v.impl) continue;
    if (c.zx != 0 && !v.zp) {
      return {false, std::string(kAdmissionPrefix) + c.impl + " for this " + geometry_class(c) +
                         ": verified exact only without a source zero point"};
    }
    if (c.zx != 0 && c.padded() && !v.zp_padded) {
      return {false, std::string(kAdmissionPrefix) + c.impl + " for this " + geometry_class(c) +
                         ": verified exact with a source zero point only on unpadded windows"};
    }
    return {true, "verified exact: " + c.impl};
  }
  return {false, std::string(kAdmissionPrefix) + "oneDNN chose " + c.impl + " for this " +
                     prim_kind_name(c.kind) +
                     ", an implementation the exactness sweeps have not verified on any CPU "
                     "(docs/onednn.md, verified implementations)"};
}

std::string geometry_class(const Candidate& c) {
  std::string s = prim_kind_name(c.kind);
  if (is_conv(c.kind)) {
    s += " k" + std::to_string(c.kh) + "x" + std::to_string(c.kw) + " s" +
         std::to_string(std::max(c.stride_h, c.stride_w)) + " d" +
         std::to_string(std::max(c.dil_h, c.dil_w)) + (c.padded() ? " pad" : " nopad");
  }
  if (is_int8(c.kind)) s += c.zx != 0 ? " zx!=0" : " zx=0";
  if (c.split) s += " split";
  return s;
}

}  // namespace quanta::detail::onednn
