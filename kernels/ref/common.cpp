// Small shared helpers of the reference kernels: window geometry, numpy
// broadcasting, bias folding, the float definition of the unary ops and the
// tables built from it (LUT, softmax exponentials).
#include <cmath>

#include "quanta/kernels/ref.h"

namespace quanta::kernels {

namespace {

// floor(a / b) for b > 0, also for negative a.
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && (a < 0)) --q;
  return q;
}

}  // namespace

int64_t window_out_dim(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pad_begin,
                       int64_t pad_end) {
  if (stride <= 0 || dil <= 0 || k <= 0) return 0;
  const int64_t span = in + pad_begin + pad_end - dil * (k - 1) - 1;
  return floor_div(span, stride) + 1;
}

int64_t BroadcastShape::num_elements() const {
  int64_t count = 1;
  for (int d = 0; d < rank; ++d) count *= out[d];
  return count;
}

bool make_broadcast(int a_rank, const int64_t* a_shape, int b_rank, const int64_t* b_shape,
                    BroadcastShape* out) {
  if (a_rank < 0 || b_rank < 0 || a_rank > kMaxRank || b_rank > kMaxRank) return false;
  BroadcastShape s;
  s.rank = std::max(a_rank, b_rank);
  // Right-aligned: output axis d corresponds to input axis d - (rank - input_rank).
  int64_t a_step = 1;  // contiguous strides, computed from the innermost axis
  int64_t b_step = 1;
  for (int d = s.rank - 1; d >= 0; --d) {
    const int ad = d - (s.rank - a_rank);
    const int bd = d - (s.rank - b_rank);
    const int64_t a_dim = ad >= 0 ? a_shape[ad] : 1;
    const int64_t b_dim = bd >= 0 ? b_shape[bd] : 1;
    if (a_dim < 0 || b_dim < 0) return false;
    int64_t o_dim = 0;
    if (a_dim == b_dim) {
      o_dim = a_dim;
    } else if (a_dim == 1) {
      o_dim = b_dim;
    } else if (b_dim == 1) {
      o_dim = a_dim;
    } else {
      return false;
    }
    s.out[d] = o_dim;
    s.a_stride[d] = (a_dim == 1) ? 0 : a_step;
    s.b_stride[d] = (b_dim == 1) ? 0 : b_step;
    a_step *= a_dim;
    b_step *= b_dim;
  }
  *out = s;
  return true;
}

void fold_bias_qs8(int rows, int64_t row_len, const int8_t* w, const int32_t* bias, int32_t zx,
                   int64_t* out) {
  for (int64_t c = 0; c < rows; ++c) {
    int64_t wsum = 0;
    for (int64_t k = 0; k < row_len; ++k) wsum += w[c * row_len + k];
    const int64_t b = bias != nullptr ? bias[c] : 0;
    out[c] = b - static_cast<int64_t>(zx) * wsum;
  }
}

// The float definition of each unary op. Transcendental forms are evaluated in
// double and rounded once to float, so the table built from them does not
// depend on the accuracy of a float libm. NaN propagates through every op.
float unary_f32(const UnaryParams& p, float x) {
  const double xd = x;
  switch (p.op) {
    case UnaryOp::kRelu:
      return std::isnan(x) ? x : (x < 0.f ? 0.f : x);
    case UnaryOp::kRelu6:
      return std::isnan(x) ? x : std::min(std::max(x, 0.f), 6.f);
    case UnaryOp::kClip:
      // ONNX Clip: min(max(x, lo), hi) (lo > hi gives hi everywhere).
      return std::isnan(x) ? x : std::min(std::max(x, p.lo), p.hi);
    case UnaryOp::kSigmoid:
      return static_cast<float>(1.0 / (1.0 + std::exp(-xd)));
    case UnaryOp::kTanh:
      return static_cast<float>(std::tanh(xd));
    case UnaryOp::kHardSwish: {
      // ONNX HardSwish: x * max(0, min(1, x / 6 + 1/2)) written as x * clamp(x + 3, 0, 6) / 6.
      if (std::isnan(x)) return x;
      const double c = std::min(std::max(xd + 3.0, 0.0), 6.0);
      return static_cast<float>(xd * c / 6.0);
    }
    case UnaryOp::kLeakyRelu:
      return x < 0.f ? p.alpha * x : x;
    case UnaryOp::kGelu:
      // exact: 0.5 x (1 + erf(x / sqrt 2))
      return static_cast<float>(0.5 * xd * (1.0 + std::erf(xd / std::sqrt(2.0))));
    case UnaryOp::kHardSigmoid: {
      // ONNX HardSigmoid: max(0, min(1, alpha * x + beta)), in double (the
      // product of two floats is exact there, so there is one rounding to
      // float). alpha = 0 gives clamp(beta) for every x, infinities included.
      if (std::isnan(x)) return x;
      const double t = p.alpha == 0.f ? double{p.beta} : double{p.alpha} * xd + double{p.beta};
      return static_cast<float>(std::min(std::max(t, 0.0), 1.0));
    }
    case UnaryOp::kAbs:
      return std::fabs(x);
    case UnaryOp::kGeluTanh: {
      // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
      const double k = std::sqrt(2.0 / 3.14159265358979323846);
      return static_cast<float>(0.5 * xd * (1.0 + std::tanh(k * (xd + 0.044715 * xd * xd * xd))));
    }
  }
  return x;
}

void build_lut_u8(const UnaryParams& p, float sx, int32_t zx, float sy, int32_t zy,
                  uint8_t lut[256]) {
  for (int32_t q = 0; q < 256; ++q) {
    lut[q] = quantize_u8(unary_f32(p, dequantize(q, sx, zx)), sy, zy);
  }
}

void build_softmax_exp_table(float beta, float sx, float table[256]) {
  for (int d = 0; d < 256; ++d) {
    table[d] = std::exp(-beta * sx * static_cast<float>(d));
  }
}

}  // namespace quanta::kernels
