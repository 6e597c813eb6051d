#include <cstdint>
#include <cstring>

#include "quanta/kernels/ref.h"

namespace quanta::kernels {

namespace {

// Walks y in row-major order over all but the last two output axes; the two
// innermost axes are copied as a 2-D block, looping over the longer one
// innermost (NCHW -> NHWC with 3 channels: 3 runs of W contiguous reads
// rather than W runs of 3 strided ones). The source offset follows through
// the input strides permuted by perm.
template <class T>
void transpose_typed(int rank, const int64_t* y_shape, const int64_t* src_stride, int64_t total,
                     const T* src, T* dst) {
  const int64_t n1 = y_shape[rank - 1], s1 = src_stride[rank - 1];
  const int64_t n2 = rank >= 2 ? y_shape[rank - 2] : 1;
  const int64_t s2 = rank >= 2 ? src_stride[rank - 2] : 0;
  const int64_t block = n1 * n2;
  int64_t index[kMaxRank] = {};
  int64_t offset = 0;  // in input elements, of the block's first element
  for (int64_t i = 0; i < total; i += block) {
    T* out = dst + i;
    if (n1 >= n2) {
      for (int64_t a = 0; a < n2; ++a) {
        for (int64_t b = 0; b < n1; ++b) out[a * n1 + b] = src[offset + a * s2 + b * s1];
      }
    } else {
      for (int64_t b = 0; b < n1; ++b) {
        for (int64_t a = 0; a < n2; ++a) out[a * n1 + b] = src[offset + a * s2 + b * s1];
      }
    }
    for (int d = rank - 3; d >= 0; --d) {
      ++index[d];
      offset += src_stride[d];
      if (index[d] < y_shape[d]) break;
      offset -= src_stride[d] * y_shape[d];
      index[d] = 0;
    }
  }
}

}  // namespace

void transpose__ref(int rank, const int64_t* x_shape, const int* perm, size_t elem_size,
                    const void* x, void* y) {
  if (rank <= 0) {
    std::memcpy(y, x, elem_size);
    return;
  }
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
  if (total == 0) return;
  switch (elem_size) {
    case 1:
      return transpose_typed(rank, y_shape, src_stride, total, static_cast<const uint8_t*>(x),
                             static_cast<uint8_t*>(y));
    case 2:
      return transpose_typed(rank, y_shape, src_stride, total, static_cast<const uint16_t*>(x),
                             static_cast<uint16_t*>(y));
    case 4:
      return transpose_typed(rank, y_shape, src_stride, total, static_cast<const uint32_t*>(x),
                             static_cast<uint32_t*>(y));
    case 8:
      return transpose_typed(rank, y_shape, src_stride, total, static_cast<const uint64_t*>(x),
                             static_cast<uint64_t*>(y));
    default: break;
  }
  // Any other size: byte-wise copies of each element.
  const auto* src = static_cast<const unsigned char*>(x);
  auto* dst = static_cast<unsigned char*>(y);
  const int64_t esize = static_cast<int64_t>(elem_size);
  int64_t index[kMaxRank] = {};
  int64_t offset = 0;
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
