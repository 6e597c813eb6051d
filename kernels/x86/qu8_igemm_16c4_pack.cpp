// Weight packing for qu8_igemm_minmax_fp32__avx512vnni_8x32c4 (layout:
// qu8_igemm_16c4_layout.h). Plain scalar C++ compiled without ISA flags: runs
// at prepare on any CPU and serves the native and emulated kernels.
#include "qu8_igemm_16c4_layout.h"
#include "qu8_pack_common.h"
#include "quanta/kernels/x86_avx512.h"

namespace quanta::kernels {

size_t qu8_igemm_16c4_packed_size(int cout, int kh, int kw, int cin) {
  return pack_detail::IgemmPackedSize(igemm16c4_detail::kFormat, cout, kh, kw, cin);
}

void qu8_igemm_16c4_pack(int cout, int kh, int kw, int cin, const int8_t* w,
                         const int32_t* bias_folded, const float* multiplier, int32_t zx,
                         void* packed) {
  pack_detail::IgemmPack<int8_t, 4>(igemm16c4_detail::kFormat, cout, kh, kw, cin, w, bias_folded,
                                    multiplier, zx, packed);
}

}  // namespace quanta::kernels
