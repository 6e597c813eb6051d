// The oneDNN op-level backend (DESIGN §3): Conv2D and FullyConnected/MatMul,
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
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "quanta/kernels/ref.h"

namespace quanta::detail::onednn {

namespace kernels = ::quanta::kernels;

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

// Which ISA oneDNN dispatches to here, its version and CPU runtime
// (for docs/bench/--version).
std::string describe();

}  // namespace quanta::detail::onednn
