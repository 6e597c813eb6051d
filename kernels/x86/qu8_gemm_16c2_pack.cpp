// Weight packing for the qu8 GEMM microkernels with the "16c2" layout
// (qu8_gemm_minmax_fp32__avx2_3x16c2). Plain scalar C++ compiled without ISA
// flags, so it can run at prepare time on any CPU.
//
// Packed layout, per block of 16 output channels (N rounded up to 16, K rounded
// up to Kp = multiple of 8; every padded entry is zero):
//   int32 bias[16]                   (bias_folded; 0 for padded channels)
//   float multiplier[16]             (0.f for padded channels)
//   Kp/2 pairs of K, each 2 x 32 bytes (2 ymm), pair p:
//     ymm 0: for channel c = 0..7:  int16 w[c][2p], int16 w[c][2p+1]
//     ymm 1: for channel c = 8..15: int16 w[c][2p], int16 w[c][2p+1]
// so block size = 128 + 32 * Kp bytes (a multiple of 32). Weights are
// sign-extended to int16 once, here, so the kernel's vpmaddwd is exact.
#include <algorithm>

#include "qu8_pack_common.h"
#include "quanta/kernels/x86.h"

namespace quanta::kernels {

size_t qu8_gemm_16c2_packed_size(int n, int k) {
  if (n <= 0) return 0;
  const size_t blocks = (static_cast<size_t>(n) + 15) / 16;
  const size_t kp = (static_cast<size_t>(k > 0 ? k : 0) + 7) / 8 * 8;
  return blocks * (128 + 32 * kp);
}

void qu8_gemm_16c2_pack(int n, int k, const int8_t* w, const int32_t* bias_folded,
                        const float* multiplier, void* packed) {
  if (n <= 0) return;
  // Channel c of a pair p: int16 w[c][p], w[c][p+1] at pair[2c], pair[2c+1].
  pack_detail::PackGemm16<int16_t, 2>(n, k, 8, w, bias_folded, multiplier, packed);
}

void qu8_gemm_16c2_pack_act(int n, int k, const uint8_t* b, size_t ldb, int32_t zb, int32_t za,
                            float m, void* packed) {
  if (n <= 0) return;
  const int64_t kk = k > 0 ? k : 0;
  const int64_t kp = (kk + 7) / 8 * 8;
  const auto stride = static_cast<int64_t>(ldb);
  auto* out = static_cast<unsigned char*>(packed);
  for (int64_t nb = 0; nb < n; nb += 16) {
    const int width = static_cast<int>(std::min<int64_t>(16, n - nb));
    int32_t bias[16] = {};
    float mult[16] = {};
    for (int j = 0; j < width; ++j) {
      int32_t sum = 0;  // |sum| <= k * 255: fits (k <= kQu8GemmActMaxK)
      for (int64_t i = 0; i < kk; ++i) sum += b[i * stride + nb + j] - zb;
      bias[j] = -za * sum;
      mult[j] = m;
    }
    out = pack_detail::WriteBlockHead(out, 16, 0, width, bias, mult);
    out = pack_detail::PackGroups16<int16_t, 2>(out, kp, [&](int64_t c, int64_t kidx) {
      return c < width && kidx < kk ? b[kidx * stride + nb + c] - zb : 0;
    });
  }
}

}  // namespace quanta::kernels
