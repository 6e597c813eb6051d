// Kernel configuration tables (issue 12): which optimized kernel serves each
// kernel family on a CPU tier, so that op code reads a slot instead of naming
// an instruction set.
//
// A KernelConfig holds one slot per kernel family. A slot carries everything
// an op needs to use the family without knowing the tier:
//   * the microkernel behind ONE adapter signature per family,
//       void (*)(const <Family>Args& args, int64_t begin, int64_t end)
//     where [begin, end) is a range of the family's split unit (GEMM rows or
//     channels, output pixels, output rows, images, elements). The op keeps
//     the args in its prepared state and calls the adapter once per range:
//     one indirect call per range, no std::function, no allocation;
//   * its packing function and packed size (families with constant weights);
//   * the split alignment (tile height, column block), so that range
//     boundaries land where the kernel gives the bytes of one full call;
//   * the tier's selection rules (qu8 GEMM: layout and GEMV column split) as
//     data or a small function, and capabilities (`fused_residual`);
//   * a `name` (the microkernel's function name) for diagnostics.
// An EMPTY slot (null adapter; `if (!slot)`) means: run the family's reference
// kernel (ref.h). The reference tier's table is all empty.
//
// Every adapter gives, for each range, exactly the bytes that the family's
// reference kernel gives for those output elements (the f32 families: within
// their documented tolerance, x86.h), whatever the partition of the range
// into pieces that start at multiples of the slot's alignment (for the f32
// GEMM families: bit-identical to one full call); disjoint ranges may run
// concurrently on the same args. An empty range does nothing.
//
// Tables are keyed by (tier, weight format) and built once, on first use:
//
//   const KernelConfig* cfg = kernel_config(tier, WeightFormat::kInt8PerChannel);
//
// kernel_config() returns the table whether or not this CPU supports the tier
// (building a table runs no kernel); calling its kernels needs
// cpu_supports(tier) (tier.h).
//
// Adding a tier (e.g. AMX): write kernels/config/<tier>.cpp with
//   KernelConfig <tier>_config() {
//     KernelConfig c = <parent>_config();   // explicit parent, e.g. avx512vnni
//     c.qu8_gemm = ...;                     // the slots the tier overrides
//     return c;                             // + a comment listing the inherited slots
//   }
// declare it in kernels/config/tables.h and add one line to the table list in
// kernels/config/config.cpp. Adapters (the only code that names the tier's
// microkernels) live in that file, in an anonymous namespace.
//
// Adding a weight format (int4, per-group scales, codebooks): a value of
// WeightFormat, then for each tier that supports it a builder that starts
// from the same tier's kInt8PerChannel table and replaces the slots whose
// packing or microkernel depends on the weights (qu8_gemm, qu8_igemm,
// qu8_dwconv); families without int8 weights (f32, pooling, elementwise,
// quantize) stay those of the tier. One line per (tier, format) in the list;
// a pair with no line has no table (kernel_config returns nullptr, and the
// caller uses the reference kernels or refuses the model).
#pragma once

#include <cstddef>
#include <cstdint>

#include "quanta/kernels/tier.h"
#include "quanta/kernels/ref.h"
#include "quanta/kernels/requantize.h"
#include "quanta/kernels/x86.h"  // QResidual, AddOrder (plain types)

namespace quanta::kernels {

// How a model's constant weights are stored (the key of the tables besides
// the tier). Only int8 symmetric weights with per-output-channel (or
// per-tensor) scales exist today.
enum class WeightFormat : uint8_t { kInt8PerChannel = 0 };

// =================================================================== qu8 GEMM
// FullyConnected, 1x1 Conv2D (stride 1, unpadded, ungrouped, NHWC: m = pixels,
// k = Cin, n = Cout) and MatMul by a constant int8 B (transposed to [n, k]):
// y[i, j] = the bytes of qu8_fully_connected_minmax_fp32__ref (with `res`:
// of the fused residual Add, x86.h's QResidual contract).
struct Qu8GemmArgs {
  int m = 0, n = 0, k = 0;        // the whole problem; n and k as given to pack
  const uint8_t* x = nullptr;     // row 0 of x [m, k]
  size_t x_stride = 0;            // bytes between rows of x (>= k)
  const void* packed = nullptr;   // the kernel's pack(n, k, ...) blob
  size_t block_bytes = 0;         // Qu8GemmKernel::block_bytes(k) (column ranges)
  int32_t zy = 0;
  QRange r;
  uint8_t* y = nullptr;           // row 0 of y [m, n]
  size_t y_stride = 0;            // bytes between rows of y (>= n)
  // The fused residual Add (y then receives the Add's output): only when the
  // slot's fused_residual is true. res.data is the residual of row 0,
  // channel 0; the adapter offsets it to its range.
  bool has_res = false;
  QResidual res;
};
// Rows [begin, end) over all n channels (Qu8GemmKernel::rows), or channels
// [begin, end) over all m rows (Qu8GemmKernel::cols).
using Qu8GemmFn = void (*)(const Qu8GemmArgs& a, int64_t begin, int64_t end);

// One packed weight layout and its microkernel.
struct Qu8GemmKernel {
  const char* name = nullptr;  // the microkernel (diagnostics)
  size_t (*packed_size)(int n, int k) = nullptr;
  // w [n, k] int8, bias_folded [n] (fold_bias_qs8; nullptr = 0), multiplier [n].
  void (*pack)(int n, int k, const int8_t* w, const int32_t* bias_folded,
               const float* multiplier, void* packed) = nullptr;
  Qu8GemmFn rows = nullptr;    // row ranges starting at multiples of row_align
  int row_align = 1;           // the tile height
  Qu8GemmFn cols = nullptr;    // channel ranges (GEMV) starting at multiples of
  int col_align = 0;           // col_align (a multiple of block_channels); null: none
  int block_channels = 0;      // channels per packed block
  // Bytes of one packed block of block_channels channels (Qu8GemmArgs::block_bytes).
  size_t block_bytes(int k) const { return packed_size(block_channels, k); }
  explicit operator bool() const { return rows != nullptr; }
  bool operator==(const Qu8GemmKernel&) const = default;
};

// What plan() chose for one problem.
struct Qu8GemmPlan {
  Qu8GemmKernel kernel;  // pack with kernel.pack into kernel.packed_size(n, k) bytes
  Qu8GemmFn run = nullptr;  // kernel.rows or kernel.cols
  bool by_cols = false;     // ranges are channels (few rows) rather than rows
  int64_t total = 0;        // the range to split: m, or n when by_cols
  int64_t align = 1;        // range boundaries at multiples of this
};

struct Qu8GemmSlot {
  Qu8GemmKernel main;    // the default layout
  Qu8GemmKernel narrow;  // optional second layout (empty: none) ...
  bool (*use_narrow)(int m, int n, int k) = nullptr;  // ... taken when this says so
  // Column split (GEMV) of the main layout when m < gemv_below_m and
  // n >= gemv_min_n (and main.cols exists); rows otherwise.
  int gemv_below_m = 0;
  int gemv_min_n = 0;
  // Every kernel of the slot takes Qu8GemmArgs::res (the graph may fuse an
  // Add into this node only then).
  bool fused_residual = false;

  explicit operator bool() const { return static_cast<bool>(main); }
  // The layout, adapter and split for an [m, k] x [k, n] problem.
  Qu8GemmPlan plan(int m, int n, int k) const;
  bool operator==(const Qu8GemmSlot&) const = default;
};

// ============================================ qu8 MatMul of two activations
// One batch of a [m, k] x b [k, n], both u8 with zero points: B is packed at
// run time (once per batch, into a buffer of packed_size(n, k) bytes sized at
// prepare; no allocation) with za and zb folded in, then `rows` runs on a's
// rows with Qu8GemmArgs{x = a, packed = the buffer, has_res = false}: the
// bytes of qu8_matmul_minmax_fp32__ref, as long as k <= max_k (beyond, the
// int32 sums could overflow: use the reference).
struct Qu8MatMulSlot {
  const char* name = nullptr;
  int max_k = 0;
  size_t (*packed_size)(int n, int k) = nullptr;
  // b rows ldb bytes apart; m = the requantization multiplier sa * sb / sy.
  void (*pack_b)(int n, int k, const uint8_t* b, size_t ldb, int32_t zb, int32_t za, float m,
                 void* packed) = nullptr;
  Qu8GemmFn rows = nullptr;
  int row_align = 1;
  explicit operator bool() const { return rows != nullptr; }
  bool operator==(const Qu8MatMulSlot&) const = default;
};

// ============================================== qu8 conv by implicit GEMM
// Conv2D with groups == 1, any kh x kw, stride, dilation, padding: the bytes
// of qu8_conv2d_minmax_fp32__ref. Range: output pixels of the flattened
// n*oh*ow output (pixel g = (img*oh + oy)*ow + ox).
struct Qu8IgemmArgs {
  Conv2DParams p;
  const uint8_t* x = nullptr;            // the whole input (image 0)
  const int32_t* indirection = nullptr;  // the slot's indirection_build(p, ...)
  const void* packed = nullptr;          // the slot's pack(...)
  int32_t zy = 0;
  QRange r;
  uint8_t* y = nullptr;                  // the whole output (pixel 0)
  // Fused residual Add (only when the slot's fused_residual): res.data is
  // the residual of pixel 0, res.stride bytes between pixels.
  bool has_res = false;
  QResidual res;
};
using Qu8IgemmFn = void (*)(const Qu8IgemmArgs& a, int64_t pixel_begin, int64_t pixel_end);

struct Qu8IgemmSlot {
  const char* name = nullptr;
  // Indirection table (int32 entries, one per output pixel of one image and
  // tap); build returns false for a geometry the kernel cannot address (then:
  // the reference).
  size_t (*indirection_size)(const Conv2DParams& p) = nullptr;
  bool (*indirection_build)(const Conv2DParams& p, int32_t* table) = nullptr;
  size_t (*packed_size)(int cout, int kh, int kw, int cin) = nullptr;
  // w OHWI int8, bias_folded [cout] over kh*kw*cin (nullptr = 0), multiplier
  // [cout], zx the input zero point (the blob depends on it).
  void (*pack)(int cout, int kh, int kw, int cin, const int8_t* w, const int32_t* bias_folded,
               const float* multiplier, int32_t zx, void* packed) = nullptr;
  Qu8IgemmFn pixels = nullptr;
  int pixel_align = 1;  // the tile height in pixels
  bool fused_residual = false;
  explicit operator bool() const { return pixels != nullptr; }
  bool operator==(const Qu8IgemmSlot&) const = default;
};

// ====================================================== qu8 depthwise conv
// groups == cin == cout = C, any kh x kw, stride, dilation, padding: the bytes
// of qu8_conv2d_minmax_fp32__ref. Range: output rows [oy_begin, oy_end) of
// every image (0 <= ... <= p.oh).
struct Qu8DwconvArgs {
  Conv2DParams p;
  const uint8_t* x = nullptr;
  int32_t zx = 0;
  const void* packed = nullptr;
  int32_t zy = 0;
  QRange r;
  uint8_t* y = nullptr;
};
using Qu8DwconvFn = void (*)(const Qu8DwconvArgs& a, int64_t oy_begin, int64_t oy_end);

struct Qu8DwconvSlot {
  const char* name = nullptr;
  size_t (*packed_size)(int channels, int kh, int kw) = nullptr;
  // w [C, kh, kw, 1] int8, bias_folded [C] over kh*kw (nullptr = 0), multiplier [C].
  void (*pack)(int channels, int kh, int kw, const int8_t* w, const int32_t* bias_folded,
               const float* multiplier, void* packed) = nullptr;
  Qu8DwconvFn rows = nullptr;
  int row_align = 1;
  explicit operator bool() const { return rows != nullptr; }
  bool operator==(const Qu8DwconvSlot&) const = default;
};

// ================================================================== f32 GEMM
// f32_fully_connected__ref (and a 1x1 Conv2D, a MatMul by a constant B
// transposed to [n, k]) within the tolerance of x86.h's f32 GEMM. Range: rows.
// Strides in FLOATS.
struct F32GemmArgs {
  int m = 0, n = 0, k = 0;
  const float* x = nullptr;
  size_t x_stride = 0;  // floats between rows of x (>= k)
  const void* packed = nullptr;
  FRange act;
  float* y = nullptr;
  size_t y_stride = 0;  // floats between rows of y (>= n)
};
using F32GemmFn = void (*)(const F32GemmArgs& a, int64_t row_begin, int64_t row_end);

struct F32GemmSlot {
  const char* name = nullptr;
  size_t (*packed_size)(int n, int k) = nullptr;
  // w [n, k] float, bias [n] (nullptr = 0).
  void (*pack)(int n, int k, const float* w, const float* bias, void* packed) = nullptr;
  F32GemmFn rows = nullptr;
  int row_align = 1;  // the tile height: a row's arithmetic depends on its tile
  explicit operator bool() const { return rows != nullptr; }
  bool operator==(const F32GemmSlot&) const = default;
};

// ================================================ f32 conv by implicit GEMM
// Conv2D with groups == 1: f32_conv2d__ref within the f32 GEMM tolerance.
// Range: output pixels of the flattened n*oh*ow output.
struct F32IgemmArgs {
  int n = 0;                             // Cout
  int taps = 0;                          // kh * kw
  int cin = 0;
  const float* x = nullptr;
  const int64_t* indirection = nullptr;  // the slot's indirection_build(p, ...), all images
  const float* zero = nullptr;           // >= cin zero floats (padded taps)
  const void* packed = nullptr;          // the slot's pack(cout, kh*kw*cin, w, bias, ...)
  FRange act;
  float* y = nullptr;                    // pixel 0
  size_t y_stride = 0;                   // floats between output pixels (>= n)
};
using F32IgemmFn = void (*)(const F32IgemmArgs& a, int64_t pixel_begin, int64_t pixel_end);

struct F32IgemmSlot {
  const char* name = nullptr;
  size_t (*indirection_count)(const Conv2DParams& p) = nullptr;  // int64 entries
  void (*indirection_build)(const Conv2DParams& p, int64_t* table) = nullptr;
  size_t (*packed_size)(int n, int k) = nullptr;  // n = cout, k = kh*kw*cin
  // w the OHWI filter viewed as [cout, kh*kw*cin], bias [cout] (nullptr = 0).
  void (*pack)(int n, int k, const float* w, const float* bias, void* packed) = nullptr;
  F32IgemmFn pixels = nullptr;
  int pixel_align = 1;
  explicit operator bool() const { return pixels != nullptr; }
  bool operator==(const F32IgemmSlot&) const = default;
};

// ====================================================== f32 depthwise conv
// f32_conv2d__ref for groups == cin == cout, within the f32 tolerance.
// Range: output rows of every image.
struct F32DwconvArgs {
  Conv2DParams p;
  const float* x = nullptr;
  const void* packed = nullptr;
  FRange act;
  float* y = nullptr;
};
using F32DwconvFn = void (*)(const F32DwconvArgs& a, int64_t oy_begin, int64_t oy_end);

struct F32DwconvSlot {
  const char* name = nullptr;
  size_t (*packed_size)(int channels, int kh, int kw) = nullptr;
  // w [C, kh, kw, 1] float, bias [C] (nullptr = 0).
  void (*pack)(int channels, int kh, int kw, const float* w, const float* bias,
               void* packed) = nullptr;
  F32DwconvFn rows = nullptr;
  int row_align = 1;
  explicit operator bool() const { return rows != nullptr; }
  bool operator==(const F32DwconvSlot&) const = default;
};

// ===================================== families without packed weights
// What `RangeSlot::whole` runs: the args and the range's length.
template <class Args>
struct RangeRun {
  Args args;
  int64_t total = 0;
};

// A microkernel behind one adapter; the range unit is given per family.
// `whole` runs [0, total) of a `const RangeRun<Args>*` in one call and has the
// signature of a session's run step, so an op that runs on one thread uses it
// directly: the session calls it and it calls the microkernel, with no adapter
// call between (these ops are small; one more indirect call costs about
// 0.6 ns each). Fill both with range_slot<Args, adapter>(name).
template <class Args>
struct RangeSlot {
  using Fn = void (*)(const Args& a, int64_t begin, int64_t end);
  const char* name = nullptr;
  Fn run = nullptr;
  int align = 1;
  void (*whole)(const void* range_run) = nullptr;
  explicit operator bool() const { return run != nullptr; }
  bool operator==(const RangeSlot&) const = default;
};

template <class Args, void (*Adapter)(const Args&, int64_t, int64_t)>
void run_whole_range(const void* range_run) {
  const auto& r = *static_cast<const RangeRun<Args>*>(range_run);
  Adapter(r.args, 0, r.total);
}

// The slot of `Adapter` (range alignment 1), with its whole-range entry.
template <class Args, void (*Adapter)(const Args&, int64_t, int64_t)>
constexpr RangeSlot<Args> range_slot(const char* name) {
  return {name, Adapter, 1, &run_whole_range<Args, Adapter>};
}

// u8_maxpool_minmax__ref. Range: images [begin, end) of p.n.
struct U8MaxPoolArgs {
  Pool2DParams p;
  const uint8_t* x = nullptr;  // image 0
  QRange r;
  uint8_t* y = nullptr;        // image 0
};
// qu8_avgpool_minmax_fp32__ref. Range: images.
struct Qu8AvgPoolArgs {
  Pool2DParams p;
  const uint8_t* x = nullptr;
  int32_t zx = 0;
  float ratio = 1.f;  // sx / sy
  int32_t zy = 0;
  QRange r;
  uint8_t* y = nullptr;
};
// qu8_global_avgpool_minmax_fp32__ref: x [n, hw, c] -> y [n, c]. Range: images.
struct Qu8GlobalAvgPoolArgs {
  int n = 0;
  int64_t hw = 0;
  int c = 0;
  const uint8_t* x = nullptr;
  int32_t zx = 0;
  float ratio = 1.f;
  int32_t zy = 0;
  QRange r;
  uint8_t* y = nullptr;
};
// qu8_add_minmax_fp32__ref for two inputs of the output's shape (no
// broadcasting). Range: elements.
struct Qu8VaddArgs {
  const uint8_t* a = nullptr;
  const uint8_t* b = nullptr;
  QAddParams p;
  uint8_t* y = nullptr;
};
// qu8_mul_minmax_fp32__ref, same shapes. Range: elements.
struct Qu8VmulArgs {
  const uint8_t* a = nullptr;
  const uint8_t* b = nullptr;
  QMulParams p;
  uint8_t* y = nullptr;
};
// qu8_quantize__ref (s finite > 0). Range: elements.
struct QuantizeArgs {
  const float* x = nullptr;
  float s = 1.f;
  int32_t z = 0;
  uint8_t* y = nullptr;
};
// qu8_dequantize__ref (the same floats). Range: elements.
struct DequantizeArgs {
  const uint8_t* x = nullptr;
  float s = 1.f;
  int32_t z = 0;
  float* y = nullptr;
};

using U8MaxPoolSlot = RangeSlot<U8MaxPoolArgs>;
using Qu8AvgPoolSlot = RangeSlot<Qu8AvgPoolArgs>;
using Qu8GlobalAvgPoolSlot = RangeSlot<Qu8GlobalAvgPoolArgs>;
using Qu8VaddSlot = RangeSlot<Qu8VaddArgs>;
using Qu8VmulSlot = RangeSlot<Qu8VmulArgs>;
using QuantizeSlot = RangeSlot<QuantizeArgs>;
using DequantizeSlot = RangeSlot<DequantizeArgs>;

// ============================================================ the table
struct KernelConfig {
  Qu8GemmSlot qu8_gemm;                      // FullyConnected, 1x1 Conv, MatMul by int8 B
  Qu8IgemmSlot qu8_igemm;                    // Conv2D, groups 1
  Qu8DwconvSlot qu8_dwconv;                  // depthwise Conv2D
  Qu8MatMulSlot qu8_matmul;                  // MatMul of two activations
  F32GemmSlot f32_gemm;                      // float FullyConnected, 1x1 Conv, MatMul by constant B
  F32IgemmSlot f32_igemm;                    // float Conv2D, groups 1
  F32DwconvSlot f32_dwconv;                  // float depthwise Conv2D
  U8MaxPoolSlot u8_maxpool;                  // quantized MaxPool
  Qu8AvgPoolSlot qu8_avgpool;                // quantized AveragePool
  Qu8GlobalAvgPoolSlot qu8_global_avgpool;   // quantized GlobalAveragePool
  Qu8VaddSlot qu8_vadd;                      // quantized Add, same shapes
  Qu8VmulSlot qu8_vmul;                      // quantized Mul, same shapes
  QuantizeSlot quantize;                     // QuantizeLinear
  DequantizeSlot dequantize;                 // DequantizeLinear
};

// The table of (tier, format), built on first use and kept for the process
// (thread-safe); nullptr when that pair has no table.
const KernelConfig* kernel_config(Tier tier, WeightFormat format);

}  // namespace quanta::kernels
