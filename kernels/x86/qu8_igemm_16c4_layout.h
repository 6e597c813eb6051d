// Internal: the packed-weight layout shared by qu8_igemm_16c4_pack (scalar,
// any CPU) and qu8_igemm_minmax_fp32__avx512vnni_8x32c4. Contract: x86_avx512.h.
//
// Blob = Igemm16c4Header (64 bytes), ceil(cout/16) blocks of block_bytes, then
// the padding row (cin bytes equal to zx, rounded up to 64 bytes).
// Block (16 output channels): int32 bias_folded[16], float multiplier[16]
// (0 for padded channels), then total_groups groups of 64 bytes: group q holds
// for channel c = 0..15 the int8 weights of K positions 4q .. 4q+3 at bytes
// 4c .. 4c+3. The meaning of a group's 4 K positions depends on the mode:
//
// kTap (cin >= 4): per tap t (ky-major), ceil(cin/4) groups. Group j < cin/4
//   covers input channels 4j .. 4j+3; the tail group (cin % 4 != 0) is read
//   from bytes cin-4 .. cin-1 of the pixel, with zero weights for the input
//   channels the previous groups already covered.
// kGather (cin 1..3): taps grouped in passes of pass_taps taps (the last may
//   be shorter); a pass is the flat K axis (tap, ci) of nt*cin positions,
//   zero-padded to a multiple of 4, gathered per pixel into a stack buffer.
#pragma once

#include "qu8_pack_common.h"

namespace quanta::kernels::igemm16c4_detail {

using pack_detail::kModeGather;
using pack_detail::kModeTap;
inline constexpr int32_t kGatherPassBytes = 256;  // max K bytes per gather pass
inline constexpr int32_t kMagic = 0x51493443;     // "QI4C"

// Header fields: qu8_pack_common.h (total_groups counts the groups of 4 K
// positions of a block).
using Igemm16c4Header = pack_detail::IgemmHeader;

// Groups of 4 K positions, 16 channels x 4 int8 = 64 bytes; padding row
// rounded up to 64 bytes.
inline constexpr pack_detail::IgemmFormat kFormat{kMagic, 4, kGatherPassBytes, 64, 64};

}  // namespace quanta::kernels::igemm16c4_detail
