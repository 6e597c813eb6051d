// Internal: the pieces the scalar qu8 weight packers share (qu8_gemm_16c4,
// 16c2 and 8c8; qu8_igemm_16c4 and 16c2). Plain C++, no ISA flags: included
// only by the *_pack.cpp files (run at prepare on any CPU) and, for the igemm
// header struct, by the layout headers the kernels read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace quanta::kernels::pack_detail {

// Head of every packed block of `width` output channels starting at nb:
// int32 bias_folded[width] (0 where bias is null or past n), then float
// multiplier[width] (0 past n). Returns the byte after it (out + 8 * width).
unsigned char* WriteBlockHead(unsigned char* out, int width, int64_t nb, int64_t n,
                              const int32_t* bias_folded, const float* multiplier);

// The K axis of one block of 16 output channels in groups of E positions,
// each group stored as 16 channels x E values of T (channel c at [E*c, E*c+E)):
// at(c, kidx) gives the int8 weight of block channel c at K position kidx (0
// for padding). kp is a multiple of E. T = int16_t sign-extends the weight.
template <typename T, int E, typename WeightAt>
inline unsigned char* PackGroups16(unsigned char* out, int64_t kp, WeightAt at) {
  for (int64_t g = 0; g < kp; g += E) {
    T v[16 * E];
    for (int64_t c = 0; c < 16; ++c) {
      for (int64_t e = 0; e < E; ++e) v[E * c + e] = static_cast<T>(at(c, g + e));
    }
    std::memcpy(out, v, sizeof(v));
    out += sizeof(v);
  }
  return out;
}

// A plain GEMM weight matrix w[n][k] in blocks of 16 output channels, each
// WriteBlockHead then K rounded up to a multiple of k_align (zero weights past
// k), through PackGroups16<T, E>. n > 0.
template <typename T, int E>
void PackGemm16(int n, int k, int64_t k_align, const int8_t* w, const int32_t* bias_folded,
                const float* multiplier, void* packed) {
  const int64_t kk = k > 0 ? k : 0;
  const int64_t kp = (kk + k_align - 1) / k_align * k_align;
  auto* out = static_cast<unsigned char*>(packed);
  for (int64_t nb = 0; nb < n; nb += 16) {
    out = WriteBlockHead(out, 16, nb, n, bias_folded, multiplier);
    out = PackGroups16<T, E>(out, kp, [&](int64_t c, int64_t kidx) {
      const int64_t ch = nb + c;
      return ch < n && kidx < kk ? w[ch * kk + kidx] : int8_t{0};
    });
  }
}

// ---- Indirect GEMM (qu8_igemm_16c4_layout.h, qu8_igemm_16c2_layout.h) ----
//
// Both layouts cut each block's K axis into groups of G positions (G = 4 for
// 16c4, 8 for 16c2) in one of two modes:
// kTap (cin >= G): per tap t (ky-major), ceil(cin/G) groups. Group j < cin/G
//   covers input channels G*j .. G*j+G-1; the tail group (cin % G != 0) is
//   read from bytes cin-G .. cin-1 of the pixel, with zero weights for the
//   input channels the previous groups already covered.
// kGather (cin < G): taps in passes of pass_taps = gather_pass_bytes / cin
//   taps (the last may be shorter); a pass is the flat K axis (tap, ci) of
//   nt*cin positions, zero-padded to a multiple of G.

inline constexpr int32_t kModeTap = 0;
inline constexpr int32_t kModeGather = 1;

struct IgemmHeader {
  int32_t magic;
  int32_t cin, kh, kw, cout;
  int32_t mode;
  int32_t pass_taps;     // kGather: taps per pass; kTap: 1
  int32_t passes;        // kGather: number of passes; kTap: taps
  int32_t total_groups;  // groups of G K positions per block
  int32_t reserved;
  uint64_t block_bytes;  // 128 + group_bytes * total_groups
  uint64_t zbuf_offset;  // from the start of the blob
  uint64_t reserved2;
};
static_assert(sizeof(IgemmHeader) == 64);

// What distinguishes the two igemm layouts.
struct IgemmFormat {
  int32_t magic;
  int32_t group;              // G: K positions per group
  int32_t gather_pass_bytes;  // max K bytes per gather pass
  uint64_t group_bytes;       // packed bytes per group (16 channels)
  size_t zbuf_align;          // the padding row is rounded up to this
};

bool IgemmValidShape(int cout, int kh, int kw, int cin);
IgemmHeader MakeIgemmHeader(const IgemmFormat& f, int cout, int kh, int kw, int cin);
// Blob size for a valid shape (0 otherwise).
size_t IgemmPackedSize(const IgemmFormat& f, int cout, int kh, int kw, int cin);
// The whole blob: header, blocks (K axis through PackGroups16<T, E>), then
// the padding row of zx bytes.
template <typename T, int E>
void IgemmPack(const IgemmFormat& f, int cout, int kh, int kw, int cin, const int8_t* w,
               const int32_t* bias_folded, const float* multiplier, int32_t zx, void* packed);

// K position (group q, lane i) of a block -> (tap, ci), tap = -1 for a zero
// weight; the same for every channel block.
class IgemmKMap {
 public:
  IgemmKMap(const IgemmHeader& h, int32_t group)
      : h_(h),
        g_(group),
        taps_(int64_t{h.kh} * h.kw),
        gpt_(GroupsOf(h.cin, group)),
        gpp_(GroupsOf(int64_t{h.pass_taps} * h.cin, group)) {}

  struct Pos {
    int64_t tap, ci;
  };

  Pos operator()(int64_t q, int64_t i) const {
    const int64_t cin = h_.cin;
    if (h_.mode == kModeTap) {
      const int64_t t = q / gpt_, j = q % gpt_;
      const int64_t nfull = cin / g_;
      if (j < nfull) return {t, g_ * j + i};
      const int64_t ci = cin - g_ + i;  // tail group: the pixel's last G bytes
      return ci >= g_ * nfull ? Pos{t, ci} : Pos{-1, 0};
    }
    const int64_t pass = q / gpp_;  // every pass but the last is full
    const int64_t t0 = pass * h_.pass_taps;
    const int64_t nt = taps_ - t0 < h_.pass_taps ? taps_ - t0 : h_.pass_taps;
    const int64_t f = (q - pass * gpp_) * g_ + i;
    return f < nt * cin ? Pos{t0 + f / cin, f % cin} : Pos{-1, 0};
  }

  static int64_t GroupsOf(int64_t k, int64_t group) { return (k + group - 1) / group; }

 private:
  const IgemmHeader& h_;
  int64_t g_, taps_, gpt_, gpp_;
};

template <typename T, int E>
void IgemmPack(const IgemmFormat& f, int cout, int kh, int kw, int cin, const int8_t* w,
               const int32_t* bias_folded, const float* multiplier, int32_t zx, void* packed) {
  if (!IgemmValidShape(cout, kh, kw, cin)) return;
  const IgemmHeader h = MakeIgemmHeader(f, cout, kh, kw, cin);
  auto* base = static_cast<unsigned char*>(packed);
  std::memcpy(base, &h, sizeof(h));
  const int64_t row = int64_t{kh} * kw * cin;  // OHWI: one output channel's filter
  const IgemmKMap map(h, f.group);
  const int64_t kp = int64_t{h.total_groups} * f.group;
  unsigned char* out = base + sizeof(IgemmHeader);
  for (int64_t nb = 0; nb < cout; nb += 16) {
    out = WriteBlockHead(out, 16, nb, cout, bias_folded, multiplier);
    out = PackGroups16<T, E>(out, kp, [&](int64_t c, int64_t kidx) {
      const IgemmKMap::Pos ps = map(kidx / f.group, kidx % f.group);
      const int64_t ch = nb + c;
      return ch < cout && ps.tap >= 0 ? w[ch * row + ps.tap * cin + ps.ci] : int8_t{0};
    });
  }
  const size_t zbytes = (static_cast<size_t>(cin) + f.zbuf_align - 1) / f.zbuf_align * f.zbuf_align;
  std::memset(base + h.zbuf_offset, static_cast<int>(zx & 0xFF), zbytes);
}

}  // namespace quanta::kernels::pack_detail
