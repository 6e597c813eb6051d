// Reference kernels: the specification of every Quanta operator.
//
// Plain scalar C++, written to be read. Optimized kernels (kernels/x86, the
// oneDNN backend) must produce the same bytes as these for quantized ops.
// Naming (docs/design.md §4): <types>_<op>[_minmax][_fp32]__<isa>.
//   qu8_...  : uint8 asymmetric activations, int8 symmetric weights, int32 bias,
//              fp32 requantization through quantization::requantize().
//   f32_...  : float32.
//   u8_... / untyped : byte-exact data movement, no arithmetic on values.
//
// Layouts: activations NHWC; conv filters OHWI [Cout, KH, KW, Cin/groups];
// fully-connected weights [N, K] (one row per output channel).
// Pure functions: no allocation (except where noted), no I/O, no runtime headers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quanta/kernels/requantize.h"

namespace quanta::kernels {

// Output size of a convolution/pooling window along one axis:
//   floor((in + pad_begin + pad_end - dil*(k-1) - 1) / stride) + 1
// Returns a value <= 0 when the window does not fit.
int64_t window_out_dim(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pad_begin,
                       int64_t pad_end);

// ------------------------------------------------------------------ Conv2D
struct Conv2DParams {
  int n = 1, h = 1, w = 1, cin = 1;  // input [n, h, w, cin]
  int cout = 1, kh = 1, kw = 1;      // filter [cout, kh, kw, cin / groups]
  int stride_h = 1, stride_w = 1;
  int dil_h = 1, dil_w = 1;
  int pad_top = 0, pad_left = 0;     // bottom/right padding is implied by oh/ow
  int groups = 1;                    // cin % groups == 0, cout % groups == 0
  int oh = 1, ow = 1;                // output [n, oh, ow, cout]
};

// y = act(conv(x, w) + bias). bias may be null. Padded taps read 0.
void f32_conv2d__ref(const Conv2DParams& p, const float* x, const float* w, const float* bias,
                     FRange act, float* y);

// acc[c] = sum_taps x_q * w_q + bias_folded[c]; y = requantize(acc, m[c], zy, r).
// Padded taps read x_q = zx, so with bias_folded from fold_bias_qs8 (summed over
// every tap) the result equals sum (x_q - zx) * w_q + bias exactly.
void qu8_conv2d_minmax_fp32__ref(const Conv2DParams& p, const uint8_t* x, int32_t zx,
                                 const int8_t* w, const int32_t* bias_folded,
                                 const float* multiplier, int32_t zy, QRange r, uint8_t* y);

// out[c] = (bias ? bias[c] : 0) - zx * sum_{k<row_len} w[c*row_len + k].
// Computed in int64 and returned; the caller checks it fits int32.
void fold_bias_qs8(int rows, int64_t row_len, const int8_t* w, const int32_t* bias, int32_t zx,
                   int64_t* out);

// --------------------------------------------------------- FullyConnected
// x [m, k], w [n, k], y [m, n]. bias may be null (float version).
void f32_fully_connected__ref(int m, int k, int n, const float* x, const float* w,
                              const float* bias, FRange act, float* y);
void qu8_fully_connected_minmax_fp32__ref(int m, int k, int n, const uint8_t* x,
                                          const int8_t* w, const int32_t* bias_folded,
                                          const float* multiplier, int32_t zy, QRange r,
                                          uint8_t* y);

// ------------------------------------------------- MatMul (activation x activation)
// One batch: a [m, k], b [k, n], y [m, n]. The runtime loops over broadcast batches.
void f32_matmul__ref(int m, int k, int n, const float* a, const float* b, FRange act, float* y);
// acc = sum_k (a - za) * (b - zb) in int32 (caller guarantees k * 255 * 255 fits);
// y = requantize(acc, multiplier, zy, r) with multiplier = sa * sb / sy.
void qu8_matmul_minmax_fp32__ref(int m, int k, int n, const uint8_t* a, int32_t za,
                                 const uint8_t* b, int32_t zb, float multiplier, int32_t zy,
                                 QRange r, uint8_t* y);

// ------------------------------------------------------- Broadcast binary ops
inline constexpr int kMaxRank = 6;
// Numpy broadcasting, right-aligned. Strides are in elements; 0 on broadcast axes.
struct BroadcastShape {
  int rank = 0;
  int64_t out[kMaxRank] = {};
  int64_t a_stride[kMaxRank] = {};
  int64_t b_stride[kMaxRank] = {};
  int64_t num_elements() const;
};
// Returns false if the shapes do not broadcast or the rank exceeds kMaxRank.
bool make_broadcast(int a_rank, const int64_t* a_shape, int b_rank, const int64_t* b_shape,
                    BroadcastShape* out);

void f32_add__ref(const BroadcastShape& s, const float* a, const float* b, FRange act, float* y);
void f32_mul__ref(const BroadcastShape& s, const float* a, const float* b, FRange act, float* y);

// Add: f = float(a - za) * ma + float(b - zb) * mb   (ma = sa / sy, mb = sb / sy)
//      y = requantize_f(f, zy, r)
struct QAddParams {
  int32_t za = 0, zb = 0, zy = 0;
  float ma = 1.f, mb = 1.f;
  QRange r;
};
void qu8_add_minmax_fp32__ref(const BroadcastShape& s, const uint8_t* a, const uint8_t* b,
                              const QAddParams& p, uint8_t* y);
// Mul: f = float((a - za) * (b - zb)) * m   (m = sa * sb / sy)
struct QMulParams {
  int32_t za = 0, zb = 0, zy = 0;
  float m = 1.f;
  QRange r;
};
void qu8_mul_minmax_fp32__ref(const BroadcastShape& s, const uint8_t* a, const uint8_t* b,
                              const QMulParams& p, uint8_t* y);

// ---------------------------------------------------------------- Concat
// Inputs viewed as [outer, inner_i]; output [outer, sum inner_i]. Byte copy.
void concat__ref(int64_t outer, int n_inputs, const void* const* x, const int64_t* inner_bytes,
                 void* y);
// Quantized: each input is requantized to the output's parameters on the way:
//   y = requantize_f(float(x - zx[i]) * m[i], zy, 0, 255)   (m[i] = sx[i] / sy)
// (an input whose zx == zy and m == 1 is copied bit-exactly by the same rule).
void qu8_concat__ref(int64_t outer, int n_inputs, const uint8_t* const* x, const int64_t* inner,
                     const int32_t* zx, const float* m, int32_t zy, uint8_t* y);
// y[i] = requantize_f(float(x[i] - zx) * m, zy, r)
void qu8_requantize__ref(int64_t n, const uint8_t* x, int32_t zx, float m, int32_t zy, QRange r,
                         uint8_t* y);

// ---------------------------------------------------------------- Pooling
struct Pool2DParams {
  int n = 1, h = 1, w = 1, c = 1;
  int kh = 1, kw = 1;
  int stride_h = 1, stride_w = 1;
  int dil_h = 1, dil_w = 1;
  int pad_top = 0, pad_left = 0;
  int oh = 1, ow = 1;
  bool count_include_pad = false;  // average pool only
};
// Max pool ignores padded taps (a window of only padding cannot happen with
// pads < kernel, which the loader enforces).
void f32_maxpool__ref(const Pool2DParams& p, const float* x, FRange act, float* y);
// Output has the input's scale and zero point; values clamped to [qmin, qmax].
void u8_maxpool_minmax__ref(const Pool2DParams& p, const uint8_t* x, QRange r, uint8_t* y);
void f32_avgpool__ref(const Pool2DParams& p, const float* x, FRange act, float* y);
// acc = sum over counted taps of (x - zx) (padded taps count as 0 when
// count_include_pad); m = ratio / float(count) with ratio = sx / sy;
// y = requantize(acc, m, zy, r).
void qu8_avgpool_minmax_fp32__ref(const Pool2DParams& p, const uint8_t* x, int32_t zx,
                                  float ratio, int32_t zy, QRange r, uint8_t* y);
// x [n, hw, c] -> y [n, c]
void f32_global_avgpool__ref(int n, int64_t hw, int c, const float* x, float* y);
// acc = sum (x - zx); m = ratio / float(hw); y = requantize(acc, m, zy, r)
void qu8_global_avgpool_minmax_fp32__ref(int n, int64_t hw, int c, const uint8_t* x, int32_t zx,
                                         float ratio, int32_t zy, QRange r, uint8_t* y);

// ------------------------------------------------------ Unary (float and LUT)
enum class UnaryOp : uint8_t {
  kRelu, kRelu6, kClip, kSigmoid, kTanh, kHardSwish, kLeakyRelu, kGelu, kGeluTanh,
  kHardSigmoid, kAbs,
};
struct UnaryParams {
  UnaryOp op = UnaryOp::kRelu;
  float alpha = 0.01f;         // LeakyRelu slope; HardSigmoid slope
  float beta = 0.5f;           // HardSigmoid offset
  float lo = 0.f, hi = 6.f;    // Clip
};
// The float definition of each unary op (the specification).
float unary_f32(const UnaryParams& p, float x);
void f32_unary__ref(const UnaryParams& p, int64_t n, const float* x, float* y);
// lut[q] = quantize_u8(unary_f32(dequantize(q, sx, zx)), sy, zy) for q in 0..255.
void build_lut_u8(const UnaryParams& p, float sx, int32_t zx, float sy, int32_t zy,
                  uint8_t lut[256]);
void u8_lut__ref(int64_t n, const uint8_t* x, const uint8_t* lut, uint8_t* y);

// ---------------------------------------------------------------- Softmax
// x viewed as [outer, axis_len, inner]; softmax over the middle axis:
// y = exp(beta * (x - max)) / sum exp(beta * (x - max)), sums in fp32 in index order.
void f32_softmax__ref(int64_t outer, int64_t axis_len, int64_t inner, float beta,
                      const float* x, float* y);
// table[d] = exp(-beta * sx * d) for d = 0..255 (d = max_q - x_q).
void build_softmax_exp_table(float beta, float sx, float table[256]);
// e_i = table[max - x_i]; sum in fp32 in index order; y_i = quantize_u8(e_i / sum, sy, zy).
void qu8_softmax__ref(int64_t outer, int64_t axis_len, int64_t inner, const uint8_t* x,
                      const float* table, float sy, int32_t zy, uint8_t* y);

// ------------------------------------------------------------- LogSoftmax
// x viewed as [outer, axis_len, inner]; log-softmax over the middle axis:
//   y = (x - max) - log(sum exp(x - max))
// exp in fp32, the sum in fp32 in index order, its log evaluated in double and
// rounded once to float. Never log(0): the max term contributes exp(0) = 1, so
// a finite input gives a finite output unless x - max itself overflows fp32.
// NaN anywhere on a line makes the whole line NaN; so does +inf.
void f32_log_softmax__ref(int64_t outer, int64_t axis_len, int64_t inner, const float* x,
                          float* y);
// Quantized: d_a = max_q - x_a (exact integers); table = build_softmax_exp_table(1, sx)
// (table[d] = exp(-sx * d)); sum = table[d_a] summed in fp32 in index order (>= 1);
// l = float(log(double(sum))); y_a = quantize_u8(-(sx * float(d_a)) - l, sy, zy).
// This is log-softmax of the dequantized line, quantized with the output's own
// scale and zero point (the input zero point cancels in x - max).
void qu8_log_softmax__ref(int64_t outer, int64_t axis_len, int64_t inner, const uint8_t* x,
                          const float* table, float sx, float sy, int32_t zy, uint8_t* y);

// ----------------------------------------------------------- Data movement
// y = transpose(x, perm): y.shape[i] = x.shape[perm[i]]. rank <= kMaxRank.
void transpose__ref(int rank, const int64_t* x_shape, const int* perm, size_t elem_size,
                    const void* x, void* y);

enum class PadKind : uint8_t { kConstant = 0, kReflect = 1, kEdge = 2 };
// pads >= 0; reflect needs pad < dim on that axis, edge needs dim >= 1.
// `value` points to one element (elem_size bytes) used in constant mode.
void pad__ref(int rank, const int64_t* x_shape, const int64_t* pads_begin,
              const int64_t* pads_end, PadKind kind, size_t elem_size, const void* value,
              const void* x, void* y);

// --------------------------------------------------- Quantize / Dequantize
// y = quantize_u8(x, s, z) (NaN -> z, +-inf saturate)
void qu8_quantize__ref(int64_t n, const float* x, float s, int32_t z, uint8_t* y);
// y = s * (x - z)
void qu8_dequantize__ref(int64_t n, const uint8_t* x, float s, int32_t z, float* y);

}  // namespace quanta::kernels
