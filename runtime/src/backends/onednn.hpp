// The oneDNN op-level backend (docs/design.md §3): Conv2D and FullyConnected/MatMul,
// int8 (qu8) and fp32, run through oneDNN primitives built once at
// Session::create. docs/onednn.md describes the exactness contract per ISA.
//
// Exactness of the int8 primitives (what make_qu8_* guarantees when it returns
// non-null): the same bytes as the reference kernels. The formulation:
//   acc   = sum (x - zx) * w                 int32 in oneDNN (src zero point)
//   f     = (float(acc) + float(bias)) * m   oneDNN's order: bias, then scale
//   f     = clip(f, qmin - zy, qmax - zy)    eltwise clip post-op
//   f     = round_half_even(f)               eltwise round post-op
//   y     = u8(f + zy)                       destination zero point (exact: integers)
// The fp32 bias add equals the reference's int32 add only while |acc|,
// |bias| and their sum stay below 2^24; make_qu8_* checks that bound from the
// weights (worst-case input) and refuses otherwise. On CPUs without VNNI,
// oneDNN multiplies u8 x s8 with VPMADDUBSW, which saturates int16 when two
// adjacent products sum beyond 32767: with weights outside [-64, 64] the
// primitive is then split into two exact halves (see onednn.cpp).
//
// Admission (docs/onednn.md, "Admission"): exactness also depends on which
// oneDNN implementation runs the primitive, which is only known once its
// primitive descriptor exists. make_* asks admit() about every step and
// refuses the node (Quanta's kernels run it) unless every step is admitted.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "quanta/kernels/ref.h"

namespace quanta::detail::onednn {

namespace kernels = ::quanta::kernels;

// ------------------------------------------------------------ admission
enum class PrimKind : uint8_t {
  kQu8Conv,         // int8 convolution, groups 1
  kQu8GroupedConv,  // int8 convolution, 1 < groups, not depthwise
  kQu8Depthwise,    // int8 convolution, groups == cin == cout > 1
  kQu8Gemm,         // int8 matmul (FullyConnected, MatMul with constant B)
  kF32Conv,         // fp32 convolution, any groups
  kF32Gemm,         // fp32 matmul
};
const char* prim_kind_name(PrimKind kind);

// One oneDNN step of a node as admission sees it: what it computes, the
// implementation oneDNN picked for it, and the geometry that matters.
struct Candidate {
  PrimKind kind = PrimKind::kQu8Gemm;
  std::string impl;  // primitive_desc::impl_info_str(), e.g. "brg:avx512_core_vnni"
  // Convolutions only (GEMMs keep these values). The bottom/right padding is
  // the one implied by the output size (negative when the stride skips the
  // last input rows).
  int kh = 1, kw = 1, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int32_t zx = 0;      // source zero point (int8 only)
  bool split = false;  // one of the two halves of split weights

  bool padded() const { return pad_top > 0 || pad_left > 0 || pad_bottom > 0 || pad_right > 0; }
  bool dilated() const { return dil_h > 1 || dil_w > 1; }
};

struct Admission {
  bool admitted = false;
  std::string reason;  // why (always set; starts with kAdmissionPrefix when refused)
};

// Refusal reasons of admit() start with this.
inline constexpr const char* kAdmissionPrefix = "oneDNN admission: ";

// The admission rule (pure; docs/onednn.md): fp32 steps are admitted (their
// contract is a tolerance); an int8 step is refused when it falls in a known
// wrong class (the deny table), and otherwise admitted only when its
// implementation name is one the sweeps of tests/test_onednn.cpp proved
// byte-exact (the allow-list).
Admission admit(const Candidate& c);

// "conv k5x5 s1 d2 pad zx!=0": the class of a candidate for the sweep tallies.
std::string geometry_class(const Candidate& c);

// A oneDNN primitive created once (at Session::create) with its memory objects
// bound to fixed input/output addresses (the session arena never moves), ready
// to execute.
class Primitive {
 public:
  virtual ~Primitive() = default;
  virtual void run() const = 0;  // no allocation by Quanta's code (args prebuilt)
  // oneDNN's implementation name(s), e.g. "jit:avx2" or "jit:avx2 + jit:avx2"
  // when the int8 weights were split (for tests, logs and docs).
  virtual std::string info() const = 0;
  // Every step as admission saw it (one, or two for split weights).
  virtual const std::vector<Candidate>& candidates() const = 0;
};

// NHWC u8 input, OHWI s8 filter, groups (1, or depthwise groups == cin == cout).
struct Qu8ConvDesc {
  kernels::Conv2DParams p;
  const uint8_t* x;
  int32_t zx;
  const int8_t* w;
  const int32_t* bias;       // raw int32 bias or nullptr, NOT folded
  const float* multiplier;   // per cout: s_x * s_w[c] / s_y
  int32_t zy;
  kernels::QRange r;
  uint8_t* y;
  // When the CPU lacks VNNI and a weight lies outside [-64, 64], split the
  // weights into two halves run as two primitives (exact, twice the MACs).
  // false: refuse instead (make_* returns nullptr with the reason).
  bool allow_weight_split = true;
  // false (tests only): build the primitive whatever admit() says; its
  // candidates() still tell what admit() would decide.
  bool enforce_admission = true;
};

// y[m,n] from x[m,k] u8 and w[n,k] s8 (FullyConnected; MatMul with constant B
// after transposition).
struct Qu8GemmDesc {
  int m, n, k;
  const uint8_t* x;
  int32_t zx;
  const int8_t* w;
  const int32_t* bias;
  const float* multiplier;
  int32_t zy;
  kernels::QRange r;
  uint8_t* y;
  bool allow_weight_split = true;  // as in Qu8ConvDesc
  bool enforce_admission = true;   // as in Qu8ConvDesc
};

struct F32ConvDesc {
  kernels::Conv2DParams p;
  const float* x;
  const float* w;
  const float* bias;
  kernels::FRange act;
  float* y;
};

struct F32GemmDesc {
  int m, n, k;
  const float* x;
  const float* w;  // [n, k]
  const float* bias;
  kernels::FRange act;
  float* y;
};

// nullptr with *why set when oneDNN cannot run the op (or cannot run it within
// the documented exactness). `threads` >= 1: the OpenMP team size used by run().
std::unique_ptr<Primitive> make_qu8_conv(const Qu8ConvDesc&, int threads, std::string* why);
std::unique_ptr<Primitive> make_qu8_gemm(const Qu8GemmDesc&, int threads, std::string* why);
std::unique_ptr<Primitive> make_f32_conv(const F32ConvDesc&, int threads, std::string* why);
std::unique_ptr<Primitive> make_f32_gemm(const F32GemmDesc&, int threads, std::string* why);

// True when oneDNN's int8 dot products here are exact for any u8 x s8 pair
// (VNNI: VPDPBUSD); false when they go through the saturating VPMADDUBSW.
bool int8_dot_is_exact();

// Tests only: when set, admission sees the implementation name this returns
// instead of oneDNN's (the primitive still runs oneDNN's choice), to test the
// decision on CPUs that do not have the implementation. nullptr restores
// oneDNN's names. Not thread-safe: set it before creating sessions.
using ImplNameOverride = std::string (*)(const Candidate&);
void set_impl_name_override_for_tests(ImplNameOverride fn);

// Which ISA oneDNN dispatches to here, its version and CPU runtime
// (for docs/bench/--version).
std::string describe();

}  // namespace quanta::detail::onednn
