#include <cstring>

#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// y.shape[d] = pads_begin[d] + x.shape[d] + pads_end[d]. For each output
// element, the source coordinate on each axis is c = i - pads_begin[d]; when c
// is outside [0, dim):
//   constant: the element is *value;
//   reflect:  mirrored about the edge without repeating it (c < 0 -> -c,
//             c >= dim -> 2 (dim - 1) - c), as in numpy/ONNX "reflect";
//   edge:     clamped to [0, dim - 1].
// Out-of-contract pads for reflect (pad >= dim) are clamped to the edge after
// the single reflection, so the kernel never reads outside x; an empty input
// axis (dim 0) gives the constant *value in every mode.
void pad__ref(int rank, const int64_t* x_shape, const int64_t* pads_begin, const int64_t* pads_end,
              PadKind kind, size_t elem_size, const void* value, const void* x, void* y) {
  int64_t x_stride[kMaxRank] = {};
  int64_t y_shape[kMaxRank] = {};
  int64_t step = 1;
  int64_t total = 1;
  for (int d = rank - 1; d >= 0; --d) {
    x_stride[d] = step;
    step *= x_shape[d];
    y_shape[d] = pads_begin[d] + x_shape[d] + pads_end[d];
    total *= y_shape[d];
  }
  const auto* src = static_cast<const unsigned char*>(x);
  auto* dst = static_cast<unsigned char*>(y);
  const int64_t esize = static_cast<int64_t>(elem_size);
  int64_t index[kMaxRank] = {};
  for (int64_t i = 0; i < total; ++i) {
    bool use_value = false;
    int64_t offset = 0;
    for (int d = 0; d < rank; ++d) {
      const int64_t dim = x_shape[d];
      int64_t c = index[d] - pads_begin[d];
      if (c < 0 || c >= dim) {
        if (kind == PadKind::kConstant || dim == 0) {
          use_value = true;
          break;
        }
        if (kind == PadKind::kReflect) c = c < 0 ? -c : 2 * (dim - 1) - c;
        c = std::min(std::max(c, int64_t{0}), dim - 1);
      }
      offset += c * x_stride[d];
    }
    if (use_value) {
      std::memcpy(dst + i * esize, value, elem_size);
    } else {
      std::memcpy(dst + i * esize, src + offset * esize, elem_size);
    }
    for (int d = rank - 1; d >= 0; --d) {
      if (++index[d] < y_shape[d]) break;
      index[d] = 0;
    }
  }
}

}  // namespace quanta::kernels
