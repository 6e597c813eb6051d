// Helpers shared by the kernel tests (tests/test_kernels_*.cpp): random data,
// guarded output buffers and the independent rounding oracles. Header-only:
// those test binaries link quanta_kernels and gtest, nothing else.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#include "quanta/kernels/ref.h"

namespace quanta::kernel_test {

inline constexpr int64_t kGuard = 64;

template <typename T>
T Sentinel(int which);
template <>
inline uint8_t Sentinel<uint8_t>(int which) {
  return which == 0 ? uint8_t{0xA5} : uint8_t{0x5A};
}
template <>
inline float Sentinel<float>(int which) {
  return which == 0 ? 1.2345e30f : -7.75e-3f;
}

template <typename T>
bool SameBits(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Runs fn(out) twice, into buffers pre-filled with two different sentinels and
// with guard zones on both sides. Checks that the guards are untouched and that
// both runs give the same bytes (so every output element was written).
template <typename T, typename Fn>
std::vector<T> RunGuarded(int64_t n, Fn&& fn) {
  std::vector<T> out[2];
  for (int k = 0; k < 2; ++k) {
    const T s = Sentinel<T>(k);
    out[k].assign(static_cast<size_t>(n + 2 * kGuard), s);
    fn(out[k].data() + kGuard);
    int64_t bad_guard = 0;
    for (int64_t i = 0; i < kGuard; ++i) {
      bad_guard += !SameBits(out[k][static_cast<size_t>(i)], s);
      bad_guard += !SameBits(out[k][static_cast<size_t>(n + kGuard + i)], s);
    }
    EXPECT_EQ(bad_guard, 0) << "kernel wrote outside its output";
  }
  int64_t unwritten = 0;
  for (int64_t i = 0; i < n; ++i) {
    unwritten +=
        !SameBits(out[0][static_cast<size_t>(kGuard + i)], out[1][static_cast<size_t>(kGuard + i)]);
  }
  EXPECT_EQ(unwritten, 0) << "output elements left unwritten";
  return std::vector<T>(out[0].begin() + kGuard, out[0].begin() + kGuard + n);
}

inline std::vector<uint8_t> RandomU8(int64_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<uint8_t> v(static_cast<size_t>(n));
  for (auto& e : v) e = static_cast<uint8_t>(d(rng));
  return v;
}

inline std::vector<int8_t> RandomI8(int64_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-127, 127);
  std::vector<int8_t> v(static_cast<size_t>(n));
  for (auto& e : v) e = static_cast<int8_t>(d(rng));
  return v;
}

inline std::vector<float> RandomF(int64_t n, std::mt19937& rng, float lo = -1.f,
                                   float hi = 1.f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = d(rng);
  return v;
}

// The rounding rule written independently of requantize.h: round the fp32 value
// half to even (in double), add the zero point, clamp.
inline uint8_t OracleRound(float f, int32_t zy, kernels::QRange r) {
  double v = std::nearbyint(static_cast<double>(f)) + zy;
  v = std::min(std::max(v, static_cast<double>(r.qmin)), static_cast<double>(r.qmax));
  return static_cast<uint8_t>(v);
}

// Quantization of an exact real result (the "float path").
inline uint8_t QuantizeReal(double real, float sy, int32_t zy, kernels::QRange r) {
  double v = std::nearbyint(real / sy) + zy;
  v = std::min(std::max(v, static_cast<double>(r.qmin)), static_cast<double>(r.qmax));
  return static_cast<uint8_t>(v);
}

inline double ClampD(double v, kernels::FRange r) {
  return std::min(std::max(v, double{r.lo}), double{r.hi});
}

// Copies the window geometry shared by Conv2DParams and Pool2DParams from a
// test case with fields n, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr; the
// output size comes from window_out_dim.
template <typename Case, typename Params>
void SetWindow(const Case& c, Params* p) {
  p->n = c.n;
  p->h = c.h;
  p->w = c.w;
  p->kh = c.kh;
  p->kw = c.kw;
  p->stride_h = c.sh;
  p->stride_w = c.sw;
  p->dil_h = c.dh;
  p->dil_w = c.dw;
  p->pad_top = c.pt;
  p->pad_left = c.pl;
  p->oh = static_cast<int>(kernels::window_out_dim(c.h, c.kh, c.sh, c.dh, c.pt, c.pb));
  p->ow = static_cast<int>(kernels::window_out_dim(c.w, c.kw, c.sw, c.dw, c.pl, c.pr));
}

// `bytes` bytes whose last one sits right before a PROT_NONE page: a kernel
// that reads past the end of its input faults. data() is null if the
// mapping failed (tests assert it is not).
class TailGuarded {
 public:
  explicit TailGuarded(size_t bytes) {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    span_ = (bytes + page_ - 1) / page_ * page_;
    void* mem = mmap(nullptr, span_ + page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return;
    base_ = static_cast<unsigned char*>(mem);
    if (mprotect(base_ + span_, page_, PROT_NONE) != 0) return;
    data_ = base_ + span_ - bytes;
  }
  // A copy of `src` (n bytes) placed against the guard page.
  TailGuarded(const void* src, size_t n) : TailGuarded(n) {
    if (data_ != nullptr && n > 0) std::memcpy(data_, src, n);
  }
  ~TailGuarded() {
    if (base_ != nullptr) munmap(base_, span_ + page_);
  }
  TailGuarded(const TailGuarded&) = delete;
  TailGuarded& operator=(const TailGuarded&) = delete;
  unsigned char* data() const { return data_; }

 private:
  size_t page_ = 0, span_ = 0;
  unsigned char* base_ = nullptr;
  unsigned char* data_ = nullptr;
};

}  // namespace quanta::kernel_test
