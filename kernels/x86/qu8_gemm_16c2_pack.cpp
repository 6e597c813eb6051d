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
#include <cstring>

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
  const int64_t kk = k > 0 ? k : 0;
  const int64_t kp = (kk + 7) / 8 * 8;
  auto* out = static_cast<unsigned char*>(packed);
  for (int64_t nb = 0; nb < n; nb += 16) {
    int32_t b[16] = {};
    float mul[16] = {};
    for (int64_t j = 0; j < 16 && nb + j < n; ++j) {
      b[j] = bias_folded != nullptr ? bias_folded[nb + j] : 0;
      mul[j] = multiplier[nb + j];
    }
    std::memcpy(out, b, sizeof(b));
    std::memcpy(out + 64, mul, sizeof(mul));
    out += 128;
    for (int64_t p = 0; p < kp; p += 2) {
      int16_t pair[32];  // channel c: pair[2c], pair[2c+1]
      for (int64_t c = 0; c < 16; ++c) {
        for (int64_t e = 0; e < 2; ++e) {
          const int64_t ch = nb + c, kidx = p + e;
          pair[2 * c + e] =
              ch < n && kidx < kk ? static_cast<int16_t>(w[ch * kk + kidx]) : int16_t{0};
        }
      }
      std::memcpy(out, pair, sizeof(pair));
      out += sizeof(pair);
    }
  }
}

}  // namespace quanta::kernels
