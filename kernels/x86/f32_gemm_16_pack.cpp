// Weight packing for the fp32 GEMM kernels of the "16" family
// (f32_gemm_minmax__avx2_6x16). Scalar, runs on any CPU, at prepare.
//
// Layout, one block per 16 output channels (block b covers channels 16b .. 16b+15):
//   float bias[16]          (0 for padding channels and for a null bias)
//   float w[k][16]          w[kk][j] = weight of channel 16b+j at input kk
// i.e. K-major inside a block, so the microkernel broadcasts x[i][kk] and
// multiplies it with two 8-float weight vectors. Padding channels of the last
// block are zero. Block size: (16 + 16 * k) floats = 64 * (k + 1) bytes.
#include <cstring>

#include "quanta/kernels/x86.h"

namespace quanta::kernels {

namespace {

constexpr int kNR = 16;

size_t BlockFloats(int k) { return static_cast<size_t>(kNR) * (static_cast<size_t>(k) + 1); }

}  // namespace

size_t f32_gemm_16_packed_size(int n, int k) {
  if (n <= 0) return 0;
  if (k < 0) k = 0;
  const size_t blocks = (static_cast<size_t>(n) + kNR - 1) / kNR;
  return blocks * BlockFloats(k) * sizeof(float);
}

void f32_gemm_16_pack(int n, int k, const float* w, const float* bias, void* packed) {
  if (n <= 0) return;
  if (k < 0) k = 0;
  const int blocks = (n + kNR - 1) / kNR;
  auto* out = static_cast<float*>(packed);
  for (int b = 0; b < blocks; ++b) {
    float* blk = out + static_cast<size_t>(b) * BlockFloats(k);
    for (int j = 0; j < kNR; ++j) {
      const int c = b * kNR + j;
      blk[j] = (c < n && bias != nullptr) ? bias[c] : 0.f;
    }
    float* wb = blk + kNR;
    for (int kk = 0; kk < k; ++kk) {
      for (int j = 0; j < kNR; ++j) {
        const int c = b * kNR + j;
        wb[static_cast<size_t>(kk) * kNR + static_cast<size_t>(j)] =
            c < n ? w[static_cast<size_t>(c) * static_cast<size_t>(k) + static_cast<size_t>(kk)]
                  : 0.f;
      }
    }
  }
}

}  // namespace quanta::kernels
