// Internal: the packed-weight layout shared by qu8_igemm_16c2_pack (scalar,
// any CPU) and qu8_igemm_minmax_fp32__avx2_4x16c2. See x86.h for the contract.
//
// Blob = Igemm16c2Header (64 bytes), then ceil(cout/16) blocks of block_bytes,
// then the padding buffer (cin bytes equal to zx, rounded up to 32 bytes).
// Block (one per 16 output channels):
//   int32 bias_folded[16], float multiplier[16]   (0 for padded channels)
//   total_groups chunks of 8 K positions, 256 bytes each: 4 K pairs, each pair
//   2 ymm of int16: ymm 0 = channels 0..7 (w[c][2p], w[c][2p+1]), ymm 1 =
//   channels 8..15. The meaning of a chunk's 8 K positions depends on the mode:
//
// kTap (cin >= 8): per tap t (row-major ky, kx), ceil(cin/8) chunks. Chunk j
//   < cin/8 covers input channels 8j..8j+7. The tail chunk (cin % 8 != 0) is
//   read by the kernel from bytes cin-8 .. cin-1 of the input row (so nothing
//   past the row is read); its weights for channels already covered by the
//   previous chunks are zero.
// kGather (cin < 8): taps are grouped in passes of pass_taps taps (the last
//   may be shorter); a pass is the flat K axis (tap, ci) of nt*cin positions,
//   zero-padded to a multiple of 8. The kernel gathers each pass of a pixel
//   into a small stack buffer (nt*cin bytes, then zeros).
#pragma once

#include "qu8_pack_common.h"

namespace quanta::kernels::igemm_detail {

using pack_detail::kModeGather;
using pack_detail::kModeTap;
inline constexpr int32_t kGatherPassBytes = 512;  // max K bytes per gather pass
inline constexpr int32_t kMagic = 0x51494731;     // "QIG1"

// Header fields: qu8_pack_common.h (total_groups counts the groups of 8 K
// positions of a block).
using Igemm16c2Header = pack_detail::IgemmHeader;

// Chunks of 8 K positions, 4 pairs x 16 channels x 2 int16 = 256 bytes;
// padding row rounded up to 32 bytes.
inline constexpr pack_detail::IgemmFormat kFormat{kMagic, 8, kGatherPassBytes, 256, 32};

}  // namespace quanta::kernels::igemm_detail
