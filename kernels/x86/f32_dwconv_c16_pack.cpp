// Weight packing for the fp32 depthwise kernel f32_dwconv_minmax__avx2_c16.
// Scalar, runs on any CPU, at prepare.
//
// Layout (Cp = channels rounded up to a multiple of 16):
//   float bias[Cp]               (0 for padding channels and for a null bias)
//   float w[kh * kw][Cp]         w[t][c] = filter[c][ky][kx], t = ky * kw + kx
// Tap-major, channels contiguous: the kernel loads 8 channels of one tap per
// vector; padding channels are zero so full-vector weight/bias loads at the
// channel tail stay inside the buffer. Size: (1 + kh*kw) * Cp floats.
#include "quanta/kernels/x86.h"

namespace quanta::kernels {

namespace {

size_t PaddedChannels(int channels) { return (static_cast<size_t>(channels) + 15) / 16 * 16; }

}  // namespace

size_t f32_dwconv_c16_packed_size(int channels, int kh, int kw) {
  if (channels <= 0 || kh <= 0 || kw <= 0) return 0;
  const size_t taps = static_cast<size_t>(kh) * static_cast<size_t>(kw);
  return (1 + taps) * PaddedChannels(channels) * sizeof(float);
}

void f32_dwconv_c16_pack(int channels, int kh, int kw, const float* w, const float* bias,
                         void* packed) {
  if (channels <= 0 || kh <= 0 || kw <= 0) return;
  const size_t cp = PaddedChannels(channels);
  const size_t taps = static_cast<size_t>(kh) * static_cast<size_t>(kw);
  const size_t c_n = static_cast<size_t>(channels);
  auto* out = static_cast<float*>(packed);
  for (size_t c = 0; c < cp; ++c) out[c] = (c < c_n && bias != nullptr) ? bias[c] : 0.f;
  for (size_t t = 0; t < taps; ++t) {
    float* row = out + (1 + t) * cp;
    for (size_t c = 0; c < cp; ++c) row[c] = c < c_n ? w[c * taps + t] : 0.f;
  }
}

}  // namespace quanta::kernels
