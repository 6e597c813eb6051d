// Weight packing for the qu8 depthwise kernels of the "c16" family
// (qu8_dwconv_minmax_fp32__avx2_c16). Scalar, runs on any CPU, at prepare.
//
// Layout, one block per 16 channels (block b covers channels 16b .. 16b+15):
//   int32 bias[16]        folded bias (0 for padding channels / null bias)
//   float multiplier[16]  (0 for padding channels)
//   for each pair of taps (2q, 2q+1), q < ceil(kh*kw / 2):
//     int16 [8 channels][2 taps]  channels 0..7 of the block
//     int16 [8 channels][2 taps]  channels 8..15
// i.e. for channel j of the block the two words (w[c, 2q], w[c, 2q+1]) are
// adjacent, matching the x bytes interleaved by vpunpck{l,h}bw + vpmovzxbw so
// that one vpmaddwd gives x[2q]*w[2q] + x[2q+1]*w[2q+1] per channel in int32.
// An odd last tap is paired with a zero weight; padding channels are zero.
// Block size: 128 + 64 * ceil(kh*kw / 2) bytes (a multiple of 32).
#include <cstring>

#include "quanta/kernels/x86.h"

namespace quanta::kernels {

namespace {

constexpr int kC = 16;

size_t BlockBytes(int kh, int kw) {
  const size_t taps = static_cast<size_t>(kh) * static_cast<size_t>(kw);
  const size_t pairs = (taps + 1) / 2;
  return 2 * kC * sizeof(int32_t) + pairs * 2 * kC * sizeof(int16_t);
}

}  // namespace

size_t qu8_dwconv_c16_packed_size(int channels, int kh, int kw) {
  const size_t blocks = (static_cast<size_t>(channels) + kC - 1) / kC;
  return blocks * BlockBytes(kh, kw);
}

void qu8_dwconv_c16_pack(int channels, int kh, int kw, const int8_t* w,
                         const int32_t* bias_folded, const float* multiplier, void* packed) {
  const int taps = kh * kw;
  const int pairs = (taps + 1) / 2;
  const int blocks = (channels + kC - 1) / kC;
  const size_t block_bytes = BlockBytes(kh, kw);
  auto* out = static_cast<unsigned char*>(packed);
  for (int b = 0; b < blocks; ++b) {
    unsigned char* blk = out + static_cast<size_t>(b) * block_bytes;
    int32_t bias[kC] = {};
    float mul[kC] = {};
    for (int j = 0; j < kC; ++j) {
      const int c = b * kC + j;
      if (c >= channels) break;
      bias[j] = bias_folded != nullptr ? bias_folded[c] : 0;
      mul[j] = multiplier[c];
    }
    std::memcpy(blk, bias, sizeof(bias));
    std::memcpy(blk + sizeof(bias), mul, sizeof(mul));
    unsigned char* wp = blk + sizeof(bias) + sizeof(mul);
    for (int q = 0; q < pairs; ++q) {
      int16_t pair[kC][2] = {};
      for (int j = 0; j < kC; ++j) {
        const int c = b * kC + j;
        if (c >= channels) break;
        for (int s = 0; s < 2; ++s) {
          const int t = 2 * q + s;
          if (t < taps) pair[j][s] = w[static_cast<size_t>(c) * static_cast<size_t>(taps) +
                                       static_cast<size_t>(t)];
        }
      }
      std::memcpy(wp, pair, sizeof(pair));
      wp += sizeof(pair);
    }
  }
}

}  // namespace quanta::kernels
