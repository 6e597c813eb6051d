// Weight packing for the indirect-GEMM convolution kernel
// qu8_igemm_minmax_fp32__avx2_4x16c2 (layout: qu8_igemm_16c2_layout.h).
// Plain scalar C++ compiled without ISA flags: runs at prepare on any CPU.
#include <cstring>

#include "qu8_igemm_16c2_layout.h"
#include "qu8_pack_common.h"
#include "quanta/kernels/x86.h"

namespace quanta::kernels {

namespace {

using igemm_detail::Igemm16c2Header;

// kRow header (layout: qu8_igemm_16c2_layout.h).
Igemm16c2Header RowHeader(int cout, int kh, int kw, int cin) {
  const igemm_detail::RowPlan rp = igemm_detail::MakeRowPlan(kw * cin);
  Igemm16c2Header h{};
  h.magic = igemm_detail::kMagic;
  h.cin = cin;
  h.kh = kh;
  h.kw = kw;
  h.cout = cout;
  h.mode = igemm_detail::kModeRow;
  h.pass_taps = rp.w;
  h.passes = kh;
  h.total_groups = kh * rp.pairs;
  const int bw = cout <= 8 ? 8 : 16;
  h.reserved = bw;
  h.block_bytes = 8 * static_cast<uint64_t>(bw) +
                  static_cast<uint64_t>(h.total_groups) * 4 * static_cast<uint64_t>(bw);
  const uint64_t blocks = (static_cast<uint64_t>(cout) + bw - 1) / bw;
  h.zbuf_offset = sizeof(Igemm16c2Header) + blocks * h.block_bytes;
  return h;
}

size_t ZbufBytes(int cin) { return (static_cast<size_t>(cin) + 31) / 32 * 32; }

void PackRow(int cout, int kh, int kw, int cin, const int8_t* w, const int32_t* bias_folded,
             const float* multiplier, int32_t zx, void* packed) {
  const Igemm16c2Header h = RowHeader(cout, kh, kw, cin);
  const int bw = h.reserved;
  const int krow = kw * cin;
  const igemm_detail::RowPlan rp = igemm_detail::MakeRowPlan(krow);
  auto* base = static_cast<unsigned char*>(packed);
  std::memcpy(base, &h, sizeof(h));
  unsigned char* out = base + sizeof(h);
  const int64_t filt = int64_t{kh} * krow;  // one output channel's OHWI filter
  for (int64_t nb = 0; nb < cout; nb += bw) {
    out = pack_detail::WriteBlockHead(out, bw, nb, cout, bias_folded, multiplier);
    for (int ky = 0; ky < kh; ++ky) {
      // One load at row offset `off` whose bytes [lo, hi) are new; pairs
      // q0 .. qp-1 of it are packed.
      auto emit = [&](int off, int q0, int lo, int hi) {
        for (int q = q0; q < rp.qp; ++q) {
          for (int c = 0; c < bw; ++c) {
            int16_t v[2];
            for (int e = 0; e < 2; ++e) {
              const int b = off + 2 * q + e;
              const int64_t ch = nb + c;
              v[e] = ch < cout && b >= lo && b < hi ? w[ch * filt + int64_t{ky} * krow + b] : 0;
            }
            std::memcpy(out + 4 * c, v, sizeof(v));
          }
          out += 4 * bw;
        }
      };
      for (int j = 0; j < rp.nfull; ++j) {
        const int off = j * rp.w;
        emit(off, 0, off, off + rp.w < krow ? off + rp.w : krow);
      }
      if (rp.tail_q0 < rp.qp) emit(krow - rp.w, rp.tail_q0, rp.nfull * rp.w, krow);
    }
  }
  std::memset(base + h.zbuf_offset, static_cast<int>(zx & 0xFF), ZbufBytes(cin));
}

}  // namespace

size_t qu8_igemm_16c2_packed_size(int cout, int kh, int kw, int cin) {
  if (cout > 0 && kh > 0 && kw > 0 && cin > 0 && igemm_detail::RowModeFits(kh, kw, cin)) {
    return static_cast<size_t>(RowHeader(cout, kh, kw, cin).zbuf_offset) + ZbufBytes(cin);
  }
  return pack_detail::IgemmPackedSize(igemm_detail::kFormat, cout, kh, kw, cin);
}

void qu8_igemm_16c2_pack(int cout, int kh, int kw, int cin, const int8_t* w,
                         const int32_t* bias_folded, const float* multiplier, int32_t zx,
                         void* packed) {
  if (cout > 0 && kh > 0 && kw > 0 && cin > 0 && igemm_detail::RowModeFits(kh, kw, cin)) {
    PackRow(cout, kh, kw, cin, w, bias_folded, multiplier, zx, packed);
    return;
  }
  // A pair (E = 2) of sign-extended K positions per channel: pair[2c], pair[2c+1].
  pack_detail::IgemmPack<int16_t, 2>(igemm_detail::kFormat, cout, kh, kw, cin, w, bias_folded,
                                     multiplier, zx, packed);
}

}  // namespace quanta::kernels
