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

#include <cstdint>

namespace quanta::kernels::igemm16c4_detail {

inline constexpr int32_t kModeTap = 0;
inline constexpr int32_t kModeGather = 1;
inline constexpr int32_t kGatherPassBytes = 256;  // max K bytes per gather pass
inline constexpr int32_t kMagic = 0x51493443;     // "QI4C"

struct Igemm16c4Header {
  int32_t magic;
  int32_t cin, kh, kw, cout;
  int32_t mode;
  int32_t pass_taps;     // kGather: taps per pass; kTap: 1
  int32_t passes;        // kGather: number of passes; kTap: taps
  int32_t total_groups;  // groups of 4 K positions per block
  int32_t reserved;
  uint64_t block_bytes;  // 128 + 64 * total_groups
  uint64_t zbuf_offset;  // from the start of the blob
  uint64_t reserved2;
};
static_assert(sizeof(Igemm16c4Header) == 64);

inline int32_t GroupsOf(int64_t k) { return static_cast<int32_t>((k + 3) / 4); }

}  // namespace quanta::kernels::igemm16c4_detail
