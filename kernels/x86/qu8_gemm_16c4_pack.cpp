// Weight packing for qu8_gemm_minmax_fp32__avx512vnni_8x32c4 ("16c4" layout,
// documented in x86_avx512.h). Plain scalar C++ compiled without ISA flags:
// runs at prepare time on any CPU, and serves the native and emulated kernels.
#include <cstring>

#include "quanta/kernels/x86_avx512.h"

namespace quanta::kernels {

size_t qu8_gemm_16c4_packed_size(int n, int k) {
  if (n <= 0) return 0;
  const size_t blocks = (static_cast<size_t>(n) + 15) / 16;
  const size_t kp = (static_cast<size_t>(k > 0 ? k : 0) + 3) / 4 * 4;
  return blocks * (128 + 16 * kp);
}

void qu8_gemm_16c4_pack(int n, int k, const int8_t* w, const int32_t* bias_folded,
                        const float* multiplier, void* packed) {
  if (n <= 0) return;
  const int64_t kk = k > 0 ? k : 0;
  const int64_t kp = (kk + 3) / 4 * 4;
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
    for (int64_t g = 0; g < kp; g += 4) {
      int8_t group[64];  // channel c: group[4c .. 4c+3] = w[c][g .. g+3]
      for (int64_t c = 0; c < 16; ++c) {
        for (int64_t e = 0; e < 4; ++e) {
          const int64_t ch = nb + c, kidx = g + e;
          group[4 * c + e] = ch < n && kidx < kk ? w[ch * kk + kidx] : int8_t{0};
        }
      }
      std::memcpy(out, group, sizeof(group));
      out += sizeof(group);
    }
  }
}

}  // namespace quanta::kernels
