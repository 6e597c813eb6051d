// Scalar helpers shared by the qu8 weight packers (qu8_pack_common.h). No ISA
// flags: runs at prepare on any CPU.
#include "qu8_pack_common.h"

namespace quanta::kernels::pack_detail {

unsigned char* WriteBlockHead(unsigned char* out, int width, int64_t nb, int64_t n,
                              const int32_t* bias_folded, const float* multiplier) {
  for (int64_t j = 0; j < width; ++j) {
    const bool inside = nb + j < n;
    const int32_t b = inside && bias_folded != nullptr ? bias_folded[nb + j] : 0;
    const float mul = inside ? multiplier[nb + j] : 0.0f;
    std::memcpy(out + 4 * j, &b, sizeof(b));
    std::memcpy(out + 4 * (width + j), &mul, sizeof(mul));
  }
  return out + 8 * width;
}

bool IgemmValidShape(int cout, int kh, int kw, int cin) {
  return cout > 0 && kh > 0 && kw > 0 && cin > 0;
}

IgemmHeader MakeIgemmHeader(const IgemmFormat& f, int cout, int kh, int kw, int cin) {
  IgemmHeader h{};
  h.magic = f.magic;
  h.cin = cin;
  h.kh = kh;
  h.kw = kw;
  h.cout = cout;
  const int64_t taps = int64_t{kh} * kw;
  auto groups = [&](int64_t k) { return IgemmKMap::GroupsOf(k, f.group); };
  if (cin >= f.group) {
    h.mode = kModeTap;
    h.pass_taps = 1;
    h.passes = static_cast<int32_t>(taps);
    h.total_groups = static_cast<int32_t>(taps * groups(cin));
  } else {
    h.mode = kModeGather;
    h.pass_taps = f.gather_pass_bytes / cin;
    h.passes = static_cast<int32_t>((taps + h.pass_taps - 1) / h.pass_taps);
    const int64_t full = taps / h.pass_taps;
    const int64_t last = taps % h.pass_taps;
    h.total_groups = static_cast<int32_t>(full * groups(int64_t{h.pass_taps} * cin) +
                                          groups(last * cin));
  }
  h.block_bytes = 128 + f.group_bytes * static_cast<uint64_t>(h.total_groups);
  const uint64_t blocks = (static_cast<uint64_t>(cout) + 15) / 16;
  h.zbuf_offset = sizeof(IgemmHeader) + blocks * h.block_bytes;
  return h;
}

size_t IgemmPackedSize(const IgemmFormat& f, int cout, int kh, int kw, int cin) {
  if (!IgemmValidShape(cout, kh, kw, cin)) return 0;
  const IgemmHeader h = MakeIgemmHeader(f, cout, kh, kw, cin);
  return static_cast<size_t>(h.zbuf_offset) +
         (static_cast<size_t>(cin) + f.zbuf_align - 1) / f.zbuf_align * f.zbuf_align;
}

}  // namespace quanta::kernels::pack_detail
