// Weight packing for the indirect-GEMM convolution kernel
// qu8_igemm_minmax_fp32__avx2_4x16c2 (layout: qu8_igemm_16c2_layout.h).
// Plain scalar C++ compiled without ISA flags: runs at prepare on any CPU.
#include <cstring>

#include "qu8_igemm_16c2_layout.h"
#include "quanta/kernels/x86.h"

namespace quanta::kernels {

namespace {

using igemm_detail::Igemm16c2Header;

bool ValidShape(int cout, int kh, int kw, int cin) {
  return cout > 0 && kh > 0 && kw > 0 && cin > 0;
}

Igemm16c2Header MakeHeader(int cout, int kh, int kw, int cin) {
  using namespace igemm_detail;
  Igemm16c2Header h{};
  h.magic = kMagic;
  h.cin = cin;
  h.kh = kh;
  h.kw = kw;
  h.cout = cout;
  const int64_t taps = int64_t{kh} * kw;
  if (cin >= 8) {
    h.mode = kModeTap;
    h.pass_taps = 1;
    h.passes = static_cast<int32_t>(taps);
    h.total_chunks = static_cast<int32_t>(taps * ChunksOf(cin));
  } else {
    h.mode = kModeGather;
    h.pass_taps = GatherPassTaps(cin);
    h.passes = static_cast<int32_t>((taps + h.pass_taps - 1) / h.pass_taps);
    const int64_t full = taps / h.pass_taps;
    const int64_t last = taps % h.pass_taps;
    h.total_chunks = static_cast<int32_t>(full * ChunksOf(int64_t{h.pass_taps} * cin) +
                                          ChunksOf(last * cin));
  }
  h.block_bytes = 128 + 256 * static_cast<uint64_t>(h.total_chunks);
  const uint64_t blocks = (static_cast<uint64_t>(cout) + 15) / 16;
  h.zbuf_offset = sizeof(Igemm16c2Header) + blocks * h.block_bytes;
  return h;
}

}  // namespace

size_t qu8_igemm_16c2_packed_size(int cout, int kh, int kw, int cin) {
  if (!ValidShape(cout, kh, kw, cin)) return 0;
  const Igemm16c2Header h = MakeHeader(cout, kh, kw, cin);
  return static_cast<size_t>(h.zbuf_offset) + (static_cast<size_t>(cin) + 31) / 32 * 32;
}

void qu8_igemm_16c2_pack(int cout, int kh, int kw, int cin, const int8_t* w,
                         const int32_t* bias_folded, const float* multiplier, int32_t zx,
                         void* packed) {
  using namespace igemm_detail;
  if (!ValidShape(cout, kh, kw, cin)) return;
  const Igemm16c2Header h = MakeHeader(cout, kh, kw, cin);
  auto* base = static_cast<unsigned char*>(packed);
  std::memcpy(base, &h, sizeof(h));
  const int64_t taps = int64_t{kh} * kw;
  const int64_t row = taps * cin;  // OHWI: one output channel's filter

  // K position (chunk q, lane i) -> (tap, ci), or tap = -1 for a zero weight,
  // in kernel order (the same for every channel block).
  struct Pos {
    int64_t tap, ci;
  };
  const int64_t kc = ChunksOf(cin);                                   // kTap
  const int64_t cpf = ChunksOf(int64_t{h.pass_taps} * cin);           // kGather, full pass
  auto position = [&](int64_t q, int64_t i) -> Pos {
    if (h.mode == kModeTap) {
      const int64_t t = q / kc, j = q % kc;
      const int64_t nfull = cin / 8;
      if (j < nfull) return {t, 8 * j + i};
      const int64_t ci = cin - 8 + i;  // tail chunk: the row's last 8 bytes
      return ci >= 8 * nfull ? Pos{t, ci} : Pos{-1, 0};
    }
    const int64_t pass = q / cpf;  // every pass but the last is full
    const int64_t t0 = pass * h.pass_taps;
    const int64_t nt = taps - t0 < h.pass_taps ? taps - t0 : h.pass_taps;
    const int64_t f = (q - pass * cpf) * 8 + i;
    return f < nt * cin ? Pos{t0 + f / cin, f % cin} : Pos{-1, 0};
  };

  unsigned char* out = base + sizeof(Igemm16c2Header);
  for (int64_t nb = 0; nb < cout; nb += 16) {
    int32_t b[16] = {};
    float mul[16] = {};
    for (int64_t j = 0; j < 16 && nb + j < cout; ++j) {
      b[j] = bias_folded != nullptr ? bias_folded[nb + j] : 0;
      mul[j] = multiplier[nb + j];
    }
    std::memcpy(out, b, sizeof(b));
    std::memcpy(out + 64, mul, sizeof(mul));
    out += 128;
    for (int64_t p = 0; p < int64_t{h.total_chunks} * 8; p += 2) {
      int16_t pair[32];  // channel c: pair[2c], pair[2c+1]
      for (int64_t c = 0; c < 16; ++c) {
        for (int64_t e = 0; e < 2; ++e) {
          const Pos q = position((p + e) / 8, (p + e) % 8);
          const int64_t ch = nb + c;
          pair[2 * c + e] = ch < cout && q.tap >= 0
                                ? static_cast<int16_t>(w[ch * row + q.tap * cin + q.ci])
                                : int16_t{0};
        }
      }
      std::memcpy(out, pair, sizeof(pair));
      out += sizeof(pair);
    }
  }
  unsigned char* zbuf = base + h.zbuf_offset;
  const size_t zbytes = (static_cast<size_t>(cin) + 31) / 32 * 32;
  std::memset(zbuf, static_cast<int>(zx & 0xFF), zbytes);
}

}  // namespace quanta::kernels
