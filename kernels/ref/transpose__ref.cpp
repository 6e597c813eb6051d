#include <cstring>

#include "quanta/kernels/ref.h"

namespace quanta::kernels {

// Walks y in row-major order; the source offset follows through the input
// strides permuted by perm. Each element is copied as elem_size bytes.
void transpose__ref(int rank, const int64_t* x_shape, const int* perm, size_t elem_size,
                    const void* x, void* y) {
  int64_t x_stride[kMaxRank] = {};
  int64_t y_shape[kMaxRank] = {};
  int64_t src_stride[kMaxRank] = {};  // input stride of output axis d
  int64_t step = 1;
  for (int d = rank - 1; d >= 0; --d) {
    x_stride[d] = step;
    step *= x_shape[d];
  }
  int64_t total = 1;
  for (int d = 0; d < rank; ++d) {
    y_shape[d] = x_shape[perm[d]];
    src_stride[d] = x_stride[perm[d]];
    total *= y_shape[d];
  }
  const auto* src = static_cast<const unsigned char*>(x);
  auto* dst = static_cast<unsigned char*>(y);
  const int64_t esize = static_cast<int64_t>(elem_size);
  int64_t index[kMaxRank] = {};
  int64_t offset = 0;  // in input elements
  for (int64_t i = 0; i < total; ++i) {
    std::memcpy(dst + i * esize, src + offset * esize, elem_size);
    for (int d = rank - 1; d >= 0; --d) {
      ++index[d];
      offset += src_stride[d];
      if (index[d] < y_shape[d]) break;
      offset -= src_stride[d] * y_shape[d];
      index[d] = 0;
    }
  }
}

}  // namespace quanta::kernels
