// Weight packing for qu8_gemm_minmax_fp32__avx512vnni_8x32c4 ("16c4" layout,
// documented in x86_avx512.h). Plain scalar C++ compiled without ISA flags:
// runs at prepare time on any CPU, and serves the native and emulated kernels.
#include "qu8_pack_common.h"
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
  // Channel c of a group of 4 K positions g: bytes 4c .. 4c+3 = w[c][g .. g+3].
  pack_detail::PackGemm16<int8_t, 4>(n, k, 4, w, bias_folded, multiplier, packed);
}

}  // namespace quanta::kernels
