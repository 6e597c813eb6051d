// Weight packing for the qu8 GEMM microkernels with the "8c8" layout
// (qu8_gemm_minmax_fp32__avx2_2x8c8). Plain scalar C++ compiled without ISA
// flags, so it can run at prepare time on any CPU.
//
// Packed layout, per block of 8 output channels (N rounded up to 8, K rounded
// up to Kp = multiple of 8; every padded entry is zero):
//   int32 bias[8]                    (bias_folded; 0 for padded channels)
//   float multiplier[8]              (0.f for padded channels)
//   Kp/8 chunks of 64 int16 (128 bytes = 4 ymm), chunk c, vector j (0..3):
//     int16 w[j][8c .. 8c+7]   (128-bit lane 0: channel j of the block)
//     int16 w[j+4][8c .. 8c+7] (128-bit lane 1: channel j+4 of the block)
// so block size = 64 + 16 * Kp bytes (a multiple of 32).
// Weights are sign-extended to int16 here, once, so that the kernel's
// multiply (vpmaddwd) is exact (see the kernel's file header).
#include <cstring>

#include "qu8_pack_common.h"
#include "quanta/kernels/x86.h"

namespace quanta::kernels {

size_t qu8_gemm_8c8_packed_size(int n, int k) {
  if (n <= 0) return 0;
  const size_t blocks = (static_cast<size_t>(n) + 7) / 8;
  const size_t kp = (static_cast<size_t>(k > 0 ? k : 0) + 7) / 8 * 8;
  return blocks * (64 + 16 * kp);
}

void qu8_gemm_8c8_pack(int n, int k, const int8_t* w, const int32_t* bias_folded,
                       const float* multiplier, void* packed) {
  if (n <= 0) return;
  const int64_t kk = k > 0 ? k : 0;
  const int64_t kp = (kk + 7) / 8 * 8;
  auto* out = static_cast<unsigned char*>(packed);
  for (int64_t nb = 0; nb < n; nb += 8) {
    out = pack_detail::WriteBlockHead(out, 8, nb, n, bias_folded, multiplier);
    for (int64_t c = 0; c < kp; c += 8) {
      int16_t chunk[64];
      for (int64_t v = 0; v < 4; ++v) {
        for (int64_t half = 0; half < 2; ++half) {
          const int64_t ch = nb + v + 4 * half;  // output channel
          for (int64_t e = 0; e < 8; ++e) {
            const int64_t kidx = c + e;
            const bool inside = ch < n && kidx < kk;
            chunk[v * 16 + half * 8 + e] =
                inside ? static_cast<int16_t>(w[ch * kk + kidx]) : int16_t{0};
          }
        }
      }
      std::memcpy(out, chunk, sizeof(chunk));
      out += sizeof(chunk);
    }
  }
}

}  // namespace quanta::kernels
