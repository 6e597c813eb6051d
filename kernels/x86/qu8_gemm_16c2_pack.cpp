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

}  // namespace quanta::kernels
