// Internal: the packed-weight layout shared by qu8_igemm_16c2_pack (scalar,
// any CPU) and qu8_igemm_minmax_fp32__avx2_4x16c2. See x86.h for the contract.
//
// Blob = Igemm16c2Header (64 bytes), then ceil(cout/16) blocks of block_bytes,
// then the padding buffer (cin bytes equal to zx, rounded up to 32 bytes).
// Block (one per 16 output channels):
//   int32 bias_folded[16], float multiplier[16]   (0 for padded channels)
//   total_chunks chunks of 8 K positions, 256 bytes each: 4 K pairs, each pair
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

#include <cstdint>

namespace quanta::kernels::igemm_detail {

inline constexpr int32_t kModeTap = 0;
inline constexpr int32_t kModeGather = 1;
inline constexpr int32_t kGatherPassBytes = 512;  // max K bytes per gather pass
inline constexpr int32_t kMagic = 0x51494731;     // "QIG1"

struct Igemm16c2Header {
  int32_t magic;
  int32_t cin, kh, kw, cout;
  int32_t mode;
  int32_t pass_taps;     // kGather: taps per pass; kTap: 1
  int32_t passes;        // kGather: number of passes; kTap: taps
  int32_t total_chunks;  // chunks of 8 K positions per block
  int32_t reserved;
  uint64_t block_bytes;  // 128 + 256 * total_chunks
  uint64_t zbuf_offset;  // from the start of the blob
  uint64_t reserved2;
};
static_assert(sizeof(Igemm16c2Header) == 64);

inline int32_t GatherPassTaps(int32_t cin) { return kGatherPassBytes / cin; }
inline int32_t ChunksOf(int64_t k) { return static_cast<int32_t>((k + 7) / 8); }

}  // namespace quanta::kernels::igemm_detail
