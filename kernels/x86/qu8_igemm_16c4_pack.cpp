// Weight packing for qu8_igemm_minmax_fp32__avx512vnni_8x32c4 (layout:
// qu8_igemm_16c4_layout.h). Plain scalar C++ compiled without ISA flags: runs
// at prepare on any CPU and serves the native and emulated kernels.
#include <cstring>

#include "qu8_igemm_16c4_layout.h"
#include "quanta/kernels/x86_avx512.h"

namespace quanta::kernels {

namespace {

using igemm16c4_detail::Igemm16c4Header;

bool ValidShape(int cout, int kh, int kw, int cin) {
  return cout > 0 && kh > 0 && kw > 0 && cin > 0;
}

Igemm16c4Header MakeHeader(int cout, int kh, int kw, int cin) {
  using namespace igemm16c4_detail;
  Igemm16c4Header h{};
  h.magic = kMagic;
  h.cin = cin;
  h.kh = kh;
  h.kw = kw;
  h.cout = cout;
  const int64_t taps = int64_t{kh} * kw;
  if (cin >= 4) {
    h.mode = kModeTap;
    h.pass_taps = 1;
    h.passes = static_cast<int32_t>(taps);
    h.total_groups = static_cast<int32_t>(taps * GroupsOf(cin));
  } else {
    h.mode = kModeGather;
    h.pass_taps = kGatherPassBytes / cin;
    h.passes = static_cast<int32_t>((taps + h.pass_taps - 1) / h.pass_taps);
    const int64_t full = taps / h.pass_taps;
    const int64_t last = taps % h.pass_taps;
    h.total_groups = static_cast<int32_t>(full * GroupsOf(int64_t{h.pass_taps} * cin) +
                                          GroupsOf(last * cin));
  }
  h.block_bytes = 128 + 64 * static_cast<uint64_t>(h.total_groups);
  const uint64_t blocks = (static_cast<uint64_t>(cout) + 15) / 16;
  h.zbuf_offset = sizeof(Igemm16c4Header) + blocks * h.block_bytes;
  return h;
}

}  // namespace

size_t qu8_igemm_16c4_packed_size(int cout, int kh, int kw, int cin) {
  if (!ValidShape(cout, kh, kw, cin)) return 0;
  const Igemm16c4Header h = MakeHeader(cout, kh, kw, cin);
  return static_cast<size_t>(h.zbuf_offset) + (static_cast<size_t>(cin) + 63) / 64 * 64;
}

void qu8_igemm_16c4_pack(int cout, int kh, int kw, int cin, const int8_t* w,
                         const int32_t* bias_folded, const float* multiplier, int32_t zx,
                         void* packed) {
  using namespace igemm16c4_detail;
  if (!ValidShape(cout, kh, kw, cin)) return;
  const Igemm16c4Header h = MakeHeader(cout, kh, kw, cin);
  auto* base = static_cast<unsigned char*>(packed);
  std::memcpy(base, &h, sizeof(h));
  const int64_t taps = int64_t{kh} * kw;
  const int64_t row = taps * cin;  // OHWI: one output channel's filter

  // K position (group q, lane i) -> (tap, ci), or tap = -1 for a zero weight,
  // in kernel order (the same for every channel block).
  struct Pos {
    int64_t tap, ci;
  };
  const int64_t gpt = GroupsOf(cin);                             // kTap
  const int64_t gpp = GroupsOf(int64_t{h.pass_taps} * cin);      // kGather, full pass
  auto position = [&](int64_t q, int64_t i) -> Pos {
    if (h.mode == kModeTap) {
      const int64_t t = q / gpt, j = q % gpt;
      const int64_t nfull = cin / 4;
      if (j < nfull) return {t, 4 * j + i};
      const int64_t ci = cin - 4 + i;  // tail group: the pixel's last 4 bytes
      return ci >= 4 * nfull ? Pos{t, ci} : Pos{-1, 0};
    }
    const int64_t pass = q / gpp;  // every pass but the last is full
    const int64_t t0 = pass * h.pass_taps;
    const int64_t nt = taps - t0 < h.pass_taps ? taps - t0 : h.pass_taps;
    const int64_t f = (q - pass * gpp) * 4 + i;
    return f < nt * cin ? Pos{t0 + f / cin, f % cin} : Pos{-1, 0};
  };

  unsigned char* out = base + sizeof(Igemm16c4Header);
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
    for (int64_t q = 0; q < h.total_groups; ++q) {
      int8_t group[64];
      for (int64_t c = 0; c < 16; ++c) {
        for (int64_t i = 0; i < 4; ++i) {
          const Pos ps = position(q, i);
          const int64_t ch = nb + c;
          group[4 * c + i] =
              ch < cout && ps.tap >= 0 ? w[ch * row + ps.tap * cin + ps.ci] : int8_t{0};
        }
      }
      std::memcpy(out, group, sizeof(group));
      out += sizeof(group);
    }
  }
  unsigned char* zbuf = base + h.zbuf_offset;
  std::memset(zbuf, static_cast<int>(zx & 0xFF), (static_cast<size_t>(cin) + 63) / 64 * 64);
}

}  // namespace quanta::kernels
