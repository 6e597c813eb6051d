// Weight packing for the indirect-GEMM convolution kernel
// qu8_igemm_minmax_fp32__avx2_4x16c2 (layout: qu8_igemm_16c2_layout.h).
// Plain scalar C++ compiled without ISA flags: runs at prepare on any CPU.
#include "qu8_igemm_16c2_layout.h"
#include "qu8_pack_common.h"
#include "quanta/kernels/x86.h"

namespace quanta::kernels {

size_t qu8_igemm_16c2_packed_size(int cout, int kh, int kw, int cin) {
  return pack_detail::IgemmPackedSize(igemm_detail::kFormat, cout, kh, kw, cin);
}

void qu8_igemm_16c2_pack(int cout, int kh, int kw, int cin, const int8_t* w,
                         const int32_t* bias_folded, const float* multiplier, int32_t zx,
                         void* packed) {
  // A pair (E = 2) of sign-extended K positions per channel: pair[2c], pair[2c+1].
  pack_detail::IgemmPack<int16_t, 2>(igemm_detail::kFormat, cout, kh, kw, cin, w, bias_folded,
                                     multiplier, zx, packed);
}

}  // namespace quanta::kernels
