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
// kRow (cin < 8, 8 <= kw*cin <= kRowMaxBytes, kh <= kRowMaxKh; first layers):
//   the K axis of a filter row ky is its kw*cin bytes, which are contiguous
//   both in the OHWI filter and, for an output pixel whose row taps are all
//   inside the image (dilation 1), in the input. A row is read in loads of
//   W bytes (W = the largest of 8, 4, 2, 1 not above kw*cin): nfull loads at
//   offsets 0, W, .., then, when kw*cin % W != 0, one tail load ending at the
//   row's last byte of which only the last ceil(rem/2) pairs are used (weights
//   of bytes already covered are zero). Each used pair of a load is one packed
//   pair of BW channels, BW = 8 when cout <= 8 (no padded half), else 16:
//   block = int32 bias[BW], float multiplier[BW], then per (row, pair) BW/8
//   ymm of (w[c][b], w[c][b+1]) int16. Header: pass_taps = W, passes = kh,
//   total_groups = kh * pairs per row, reserved = BW.
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

inline constexpr int32_t kModeRow = 2;
inline constexpr int32_t kRowMaxBytes = 32;  // kw*cin
inline constexpr int32_t kRowMaxKh = 16;

inline bool RowModeFits(int kh, int kw, int cin) {
  // Rows shorter than 8 bytes (DS-CNN's 10x4x1: 4) pack fewer K positions per
  // load than the gather mode's dense K axis, and their padded tiles are
  // slower: measured 27 vs 34 GMAC/s there, so they keep the gather mode.
  return cin < 8 && int64_t{kw} * cin >= 8 && int64_t{kw} * cin <= kRowMaxBytes &&
         kh <= kRowMaxKh;
}

// How one filter row of krow = kw*cin bytes is read (see kRow above).
struct RowPlan {
  int w;        // load width in bytes: 8, 4, 2 or 1
  int qp;       // pairs per full load: w / 2, 1 for w == 1
  int nfull;    // full loads at offsets 0, w, ..
  int tail_q0;  // first pair used of the tail load at krow - w; qp = no tail
  int pairs;    // pairs per row: nfull * qp + qp - tail_q0
};

constexpr RowPlan MakeRowPlan(int krow) {
  RowPlan r{};
  r.w = krow >= 8 ? 8 : krow >= 4 ? 4 : krow >= 2 ? 2 : 1;
  r.qp = r.w >= 2 ? r.w / 2 : 1;
  r.nfull = krow / r.w;
  const int rem = krow % r.w;
  r.tail_q0 = r.qp - (rem + 1) / 2;
  r.pairs = r.nfull * r.qp + r.qp - r.tail_q0;
  return r;
}

}  // namespace quanta::kernels::igemm_detail
