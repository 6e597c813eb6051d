// The oneDNN backend against the reference kernels (the specification).
//
// int8: every byte must equal qu8_conv2d_minmax_fp32__ref /
// qu8_fully_connected_minmax_fp32__ref (with the bias folded as the prepare step
// does) over sweeps of shapes, zero points {0, 128, 255}, clamps, padding,
// strides, dilation and FULL-RANGE weights in [-127, 127]. Each sweep runs
// with admission enforced (docs/onednn.md, "Admission"), prints its mismatch
// count, max |diff| and refusals, and asserts that every admitted case is
// exact; the raw sweeps bypass admission and assert that every case with a
// wrong byte is one admission refuses. The non-VNNI
// saturation hazard of oneDNN's u8*s8 kernels is demonstrated directly on
// oneDNN (TEST RawOneDnnSaturation) and the backend's answer to it (weight
// split, or refusal when the split is disallowed) is asserted.
// fp32: within 1e-5 * sum|x*w| + 1e-6 of the reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "backends/onednn.hpp"
#include "quanta/kernels/ref.h"

namespace {

namespace k = quanta::kernels;
namespace od = quanta::detail::onednn;

struct Tally {
  int64_t cases = 0, bytes = 0, mismatches = 0, refused = 0;
  int max_diff = 0;
  std::set<std::string> impls;  // oneDNN implementations of the admitted cases
  void print(const char* name) const {
    std::printf("[onednn] %-28s cases %6lld  bytes %10lld  mismatches %lld  max|diff| %d  "
                "refused by admission %lld\n",
                name, static_cast<long long>(cases), static_cast<long long>(bytes),
                static_cast<long long>(mismatches), max_diff, static_cast<long long>(refused));
    for (const std::string& i : impls) std::printf("[onednn]   implementation: %s\n", i.c_str());
  }
  void add(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want) {
    ++cases;
    bytes += static_cast<int64_t>(got.size());
    for (size_t i = 0; i < got.size(); ++i) {
      const int d = std::abs(int{got[i]} - int{want[i]});
      mismatches += d != 0;
      max_diff = std::max(max_diff, d);
    }
  }
};

std::vector<int32_t> fold(int rows, int64_t row_len, const int8_t* w, const int32_t* bias,
                          int32_t zx) {
  std::vector<int64_t> f(static_cast<size_t>(rows));
  k::fold_bias_qs8(rows, row_len, w, bias, zx, f.data());
  return std::vector<int32_t>(f.begin(), f.end());
}

k::QRange clamp_kind(int kind, int32_t zy) {
  switch (kind) {
    case 1: return {zy, 255};                          // relu
    case 2: return {zy, std::min(255, zy + 37)};       // relu6-like
    case 3: return {std::max(0, zy - 50), std::min(255, zy + 90)};  // clip
    default: return {0, 255};
  }
}

// Random int8 problem data. The multipliers put the typical accumulator
// (about sqrt(K) * 127 * 74) at +-60 output steps so that outputs spread over
// the whole byte range, and vary per channel.
struct QData {
  std::vector<uint8_t> x;
  std::vector<int8_t> w;
  std::vector<int32_t> bias;
  std::vector<float> m;
};

QData make_qdata(std::mt19937& rng, int64_t xs, int rows, int64_t row_len, bool with_bias) {
  QData d;
  std::uniform_int_distribution<int> u8(0, 255), s8(-127, 127), b(-20000, 20000);
  std::uniform_real_distribution<float> jit(0.5f, 2.f);
  d.x.resize(static_cast<size_t>(xs));
  for (auto& v : d.x) v = static_cast<uint8_t>(u8(rng));
  d.w.resize(static_cast<size_t>(rows * row_len));
  for (auto& v : d.w) v = static_cast<int8_t>(s8(rng));
  if (with_bias) {
    d.bias.resize(static_cast<size_t>(rows));
    for (auto& v : d.bias) v = b(rng);
  }
  const float base = 60.f / (std::sqrt(static_cast<float>(row_len)) * 127.f * 74.f);
  d.m.resize(static_cast<size_t>(rows));
  for (auto& v : d.m) v = base * jit(rng);
  return d;
}

// One int8 case through oneDNN: the reference bytes, oneDNN's bytes (when
// the backend built the primitive) and what admission saw.
struct Outcome {
  bool built = false;
  std::string why;  // the refusal, when !built
  std::vector<od::Candidate> candidates;
  std::vector<uint8_t> got, want;
};

// Runs the primitive make() returns, if any, into *o.
template <class Desc, class Make>
void run_case(Desc desc, bool enforce, Make make, int threads, Outcome* o) {
  desc.enforce_admission = enforce;
  desc.y = o->got.data();
  auto prim = make(desc, threads, &o->why);
  o->built = prim != nullptr;
  if (!prim) return;
  o->candidates = prim->candidates();
  prim->run();
}

Outcome qconv_outcome(const k::Conv2DParams& p, int32_t zx, int32_t zy, k::QRange r,
                      const QData& d, int threads, bool enforce) {
  Outcome o;
  const int64_t row_len = int64_t{p.kh} * p.kw * (p.cin / p.groups);
  const auto ys = static_cast<size_t>(int64_t{p.n} * p.oh * p.ow * p.cout);
  o.want.resize(ys);
  o.got.assign(ys, 0xA5);
  const std::vector<int32_t> bf =
      fold(p.cout, row_len, d.w.data(), d.bias.empty() ? nullptr : d.bias.data(), zx);
  k::qu8_conv2d_minmax_fp32__ref(p, d.x.data(), zx, d.w.data(), bf.data(), d.m.data(), zy, r,
                                 o.want.data());
  const od::Qu8ConvDesc desc{p,  d.x.data(), zx, d.w.data(),
                             d.bias.empty() ? nullptr : d.bias.data(),
                             d.m.data(), zy, r, nullptr};
  run_case(desc, enforce, od::make_qu8_conv, threads, &o);
  return o;
}

Outcome qgemm_outcome(int m, int n, int kk, int32_t zx, int32_t zy, k::QRange r, const QData& d,
                      bool enforce) {
  Outcome o;
  o.want.resize(static_cast<size_t>(m * n));
  o.got.assign(o.want.size(), 0x5A);
  const std::vector<int32_t> bf =
      fold(n, kk, d.w.data(), d.bias.empty() ? nullptr : d.bias.data(), zx);
  // The reference FC takes x with its zero point folded into the bias.
  k::qu8_fully_connected_minmax_fp32__ref(m, kk, n, d.x.data(), d.w.data(), bf.data(),
                                          d.m.data(), zy, r, o.want.data());
  const od::Qu8GemmDesc desc{m,          n,  kk, d.x.data(), zx, d.w.data(),
                             d.bias.empty() ? nullptr : d.bias.data(),
                             d.m.data(), zy, r,  nullptr};
  run_case(desc, enforce, od::make_qu8_gemm, 1, &o);
  return o;
}

// What admission decides for the whole primitive: refused if any step is.
od::Admission admission_of(const std::vector<od::Candidate>& cs) {
  od::Admission a{true, ""};
  for (const od::Candidate& c : cs) {
    od::Admission s = od::admit(c);
    if (!s.admitted) return s;
    a.reason = s.reason;
  }
  return a;
}

// oneDNN's implementation name(s) of a primitive, " + " between the steps.
std::string impl_of(const std::vector<od::Candidate>& cs) {
  std::string s;
  for (const od::Candidate& c : cs) s += (s.empty() ? "" : " + ") + c.impl;
  return s;
}

// An enforced case: admitted cases go into the tally (and must be exact);
// the others must have been refused by admission.
void tally_enforced(const Outcome& o, Tally* t) {
  if (!o.built) {
    ++t->refused;
    EXPECT_EQ(o.why.rfind(od::kAdmissionPrefix, 0), 0u) << "refused for another reason: " << o.why;
    return;
  }
  t->impls.insert(impl_of(o.candidates));
  t->add(o.got, o.want);
}

// Runs one int8 conv case through the backend (admission enforced) and the
// reference.
void qconv_case(const k::Conv2DParams& p, int32_t zx, int32_t zy, k::QRange r, const QData& d,
                int threads, Tally* t) {
  tally_enforced(qconv_outcome(p, zx, zy, r, d, threads, true), t);
}

k::Conv2DParams conv_params(int n, int h, int w, int cin, int cout, int kh, int kw, int stride,
                            int dil, int pad, int groups) {
  k::Conv2DParams p;
  p.n = n, p.h = h, p.w = w, p.cin = cin, p.cout = cout, p.kh = kh, p.kw = kw;
  p.stride_h = p.stride_w = stride;
  p.dil_h = p.dil_w = dil;
  p.pad_top = p.pad_left = pad;
  p.groups = groups;
  p.oh = static_cast<int>(k::window_out_dim(h, kh, stride, dil, pad, pad));
  p.ow = static_cast<int>(k::window_out_dim(w, kw, stride, dil, pad, pad));
  return p;
}

constexpr int32_t kZeros[] = {0, 128, 255};

// ------------------------------------------------------------ int8 sweeps
// Each sweep enumerates its cases (fixed seeds: the same cases every time)
// and hands them to `f`: the enforced sweeps below assert that every
// admitted case is byte-exact; RawSweepsAdmissionCoversEveryMismatch runs
// the same cases without admission.
using ConvCaseFn = std::function<void(const k::Conv2DParams&, int32_t zx, int32_t zy, k::QRange,
                                      const QData&)>;
using GemmCaseFn =
    std::function<void(int m, int n, int kk, int32_t zx, int32_t zy, k::QRange, const QData&)>;

// Calls f(ks, stride, dil, pad) for the kernel sizes `sizes`, stride 1-2,
// dilation 1-2 and padding 0 or "same" (ks / 2 * dil); 1x1 kernels only
// undilated and unpadded.
template <class F>
void for_each_window(std::initializer_list<int> sizes, F f) {
  for (int ks : sizes) {
    for (int stride : {1, 2}) {
      for (int dil : {1, 2}) {
        if (ks == 1 && dil == 2) continue;
        for (int pad : {0, ks / 2 * dil}) {
          if (ks == 1 && pad > 0) continue;
          f(ks, stride, dil, pad);
        }
      }
    }
  }
}

// The zero points and clamp of case number `variant` (cycling through all).
struct Variant {
  int32_t zx, zy;
  k::QRange r;
};
Variant variant_of(int variant) {
  const int32_t zy = kZeros[(variant / 3) % 3];
  return {kZeros[variant % 3], zy, clamp_kind(variant % 4, zy)};
}

// 1x1/3x3/5x5, stride 1-2, dilation 1-2, padding 0 or "same", cin 1..17,
// cout 1/8/17 on a 9x7 input.
void conv_sweep(const ConvCaseFn& f) {
  std::mt19937 rng(1234);
  int variant = 0;
  for_each_window({1, 3, 5}, [&](int ks, int stride, int dil, int pad) {
    for (int cin : {1, 2, 3, 4, 7, 8, 16, 17}) {
      for (int cout : {1, 8, 17}) {
        const Variant v = variant_of(variant++);
        const auto p = conv_params(1, 9, 7, cin, cout, ks, ks, stride, dil, pad, 1);
        if (p.oh < 1 || p.ow < 1) continue;
        const QData d = make_qdata(rng, int64_t{p.h} * p.w * cin, cout, int64_t{ks} * ks * cin,
                                   variant % 5 != 0);
        f(p, v.zx, v.zy, v.r, d);
      }
    }
  });
}

// Depthwise 3x3/5x5, stride 1-2, dilation 1-2, padding, c 1..32 on 11x10.
void depthwise_sweep(const ConvCaseFn& f) {
  std::mt19937 rng(99);
  int variant = 0;
  for_each_window({3, 5}, [&](int ks, int stride, int dil, int pad) {
    for (int c : {1, 3, 8, 16, 17, 32}) {
      const Variant v = variant_of(variant++);
      const auto p = conv_params(1, 11, 10, c, c, ks, ks, stride, dil, pad, c);
      if (p.oh < 1 || p.ow < 1) continue;
      const QData d = make_qdata(rng, int64_t{p.h} * p.w * c, c, ks * ks, variant % 4 != 0);
      f(p, v.zx, v.zy, v.r, d);
    }
  });
}

// Grouped (not depthwise) 1x1/3x3, stride 1-2, dilation 1-2, padding,
// groups 2/4, channels per group 1..8 on 8x9.
void grouped_sweep(const ConvCaseFn& f) {
  std::mt19937 rng(2718);
  int variant = 0;
  for_each_window({1, 3}, [&](int ks, int stride, int dil, int pad) {
    for (int groups : {2, 4}) {
      for (int per_group : {1, 3, 8}) {
        const Variant v = variant_of(variant++);
        const int c = groups * per_group, cout = groups * (per_group + 1);
        const auto p = conv_params(1, 8, 9, c, cout, ks, ks, stride, dil, pad, groups);
        const QData d = make_qdata(rng, int64_t{p.h} * p.w * c, cout,
                                   int64_t{ks} * ks * per_group, variant % 3 != 0);
        f(p, v.zx, v.zy, v.r, d);
      }
    }
  });
}

// m 1..5, n 1..65, k 1..127 (primes, 16/64 +-1).
void gemm_sweep(const GemmCaseFn& f) {
  std::mt19937 rng(4321);
  int variant = 0;
  for (int m = 1; m <= 5; ++m) {
    for (int n : {1, 7, 15, 16, 17, 31, 63, 64, 65}) {
      for (int kk : {1, 2, 3, 13, 15, 16, 17, 63, 64, 65, 127}) {
        const Variant v = variant_of(variant++);
        const QData d = make_qdata(rng, int64_t{m} * kk, n, kk, variant % 5 != 0);
        f(m, n, kk, v.zx, v.zy, v.r, d);
      }
    }
  }
}

TEST(OneDnn, Describe) {
  const std::string s = od::describe();
  std::printf("[onednn] %s\n", s.c_str());
  EXPECT_NE(s.find("oneDNN 2."), std::string::npos);
  EXPECT_NE(s.find("OpenMP"), std::string::npos);
}

// Runs a convolution sweep with admission enforced; every admitted case must
// be byte-exact.
void enforced_conv_sweep(void (*sweep)(const ConvCaseFn&), const char* name) {
  Tally t;
  sweep([&](const k::Conv2DParams& p, int32_t zx, int32_t zy, k::QRange r, const QData& d) {
    qconv_case(p, zx, zy, r, d, 1, &t);
  });
  t.print(name);
  EXPECT_EQ(t.mismatches, 0);
  EXPECT_EQ(t.max_diff, 0);
}

TEST(OneDnn, Qu8ConvSweep) { enforced_conv_sweep(conv_sweep, "qu8 conv sweep"); }

TEST(OneDnn, Qu8ConvBatchAndAsymmetricPad) {
  std::mt19937 rng(77);
  Tally t;
  for (int32_t zx : kZeros) {
    for (int32_t zy : kZeros) {
      // batch 2, pad 1 top/left, output size chosen so bottom/right pads differ.
      auto p = conv_params(2, 8, 8, 16, 24, 3, 3, 2, 1, 1, 1);
      const QData d = make_qdata(rng, int64_t{2} * 8 * 8 * 16, 24, 9 * 16, true);
      qconv_case(p, zx, zy, clamp_kind(1, zy), d, 1, &t);
    }
  }
  t.print("qu8 conv batch/pad");
  EXPECT_EQ(t.mismatches, 0);
}

TEST(OneDnn, Qu8DepthwiseSweep) { enforced_conv_sweep(depthwise_sweep, "qu8 depthwise sweep"); }

TEST(OneDnn, Qu8GroupedConvSweep) {
  enforced_conv_sweep(grouped_sweep, "qu8 grouped conv sweep");
}

TEST(OneDnn, Qu8GemmSweep) {
  Tally t;
  gemm_sweep([&](int m, int n, int kk, int32_t zx, int32_t zy, k::QRange r, const QData& d) {
    tally_enforced(qgemm_outcome(m, n, kk, zx, zy, r, d, true), &t);
  });
  t.print("qu8 gemm sweep");
  EXPECT_EQ(t.mismatches, 0);
  EXPECT_EQ(t.max_diff, 0);
}

// The sweeps again, every case built whatever admission says (oneDNN's own
// choice of implementation), tallied per (implementation, geometry class).
// Every case with a wrong byte must be one that admission refuses: on a CPU
// where some implementation is wrong (AMX) this proves the deny table covers
// the failures; on every CPU it proves the rule matches what runs here. The
// table printed is the evidence behind docs/onednn.md's verified list.
TEST(OneDnn, RawSweepsAdmissionCoversEveryMismatch) {
  struct Row {
    int64_t cases = 0, bytes = 0, mismatches = 0, refused = 0;
    int max_diff = 0;
    std::string reason;
  };
  std::map<std::pair<std::string, std::string>, Row> rows;
  // Per (kind, implementation of one step): cases, those with a source zero
  // point, those with one on padded windows, and wrong bytes (the evidence
  // of the allow-list's zp / zp_padded flags).
  struct StepRow {
    int64_t cases = 0, zp = 0, zp_padded = 0, mismatches = 0;
  };
  std::map<std::pair<std::string, std::string>, StepRow> steps;
  int64_t wrong_but_admitted = 0;
  auto record = [&](const Outcome& o, const char* sweep) {
    ASSERT_TRUE(o.built) << sweep << ": " << o.why;
    ASSERT_FALSE(o.candidates.empty());
    const od::Admission a = admission_of(o.candidates);
    Row& row = rows[{impl_of(o.candidates), od::geometry_class(o.candidates[0])}];
    ++row.cases;
    row.bytes += static_cast<int64_t>(o.got.size());
    row.refused += a.admitted ? 0 : 1;
    if (!a.admitted) row.reason = a.reason;
    int64_t bad = 0;
    for (size_t i = 0; i < o.got.size(); ++i) {
      const int d = std::abs(int{o.got[i]} - int{o.want[i]});
      bad += d != 0;
      row.max_diff = std::max(row.max_diff, d);
    }
    row.mismatches += bad;
    for (const od::Candidate& c : o.candidates) {
      StepRow& st = steps[{od::prim_kind_name(c.kind), c.impl}];
      ++st.cases;
      st.zp += c.zx != 0;
      st.zp_padded += c.zx != 0 && c.padded();
      st.mismatches += bad;
    }
    if (bad > 0 && a.admitted) {
      ++wrong_but_admitted;
      ADD_FAILURE() << sweep << ": " << impl_of(o.candidates) << " ("
                    << od::geometry_class(o.candidates[0]) << ") gave " << bad
                    << " wrong bytes and admission admits it";
    }
  };
  auto conv = [&](const char* sweep) {
    return [&, sweep](const k::Conv2DParams& p, int32_t zx, int32_t zy, k::QRange r,
                      const QData& d) { record(qconv_outcome(p, zx, zy, r, d, 1, false), sweep); };
  };
  conv_sweep(conv("conv"));
  depthwise_sweep(conv("depthwise"));
  grouped_sweep(conv("grouped"));
  gemm_sweep([&](int m, int n, int kk, int32_t zx, int32_t zy, k::QRange r, const QData& d) {
    record(qgemm_outcome(m, n, kk, zx, zy, r, d, false), "gemm");
  });
  std::printf("[onednn] raw sweeps (%s)\n", od::describe().c_str());
  std::printf("[onednn] %-52s %-40s %6s %8s %10s %7s %8s\n", "implementation", "class", "cases",
              "bytes", "mismatches", "max|d|", "refused");
  for (const auto& [key, row] : rows) {
    std::printf("[onednn] %-52s %-40s %6lld %8lld %10lld %7d %8lld\n", key.first.c_str(),
                key.second.c_str(), static_cast<long long>(row.cases),
                static_cast<long long>(row.bytes), static_cast<long long>(row.mismatches),
                row.max_diff, static_cast<long long>(row.refused));
  }
  std::printf("[onednn] %-20s %-32s %6s %6s %10s %10s\n", "kind", "step implementation", "cases",
              "zx!=0", "zx!=0+pad", "mismatches");
  for (const auto& [key, st] : steps) {
    std::printf("[onednn] %-20s %-32s %6lld %6lld %10lld %10lld\n", key.first.c_str(),
                key.second.c_str(), static_cast<long long>(st.cases),
                static_cast<long long>(st.zp), static_cast<long long>(st.zp_padded),
                static_cast<long long>(st.mismatches));
  }
  std::set<std::string> reasons;
  for (const auto& [key, row] : rows) {
    if (row.refused > 0) reasons.insert(row.reason);
  }
  for (const std::string& r : reasons) std::printf("[onednn] refused: %s\n", r.c_str());
  EXPECT_EQ(wrong_but_admitted, 0);
}

// x all 255 against weights all +127 (and all -127): every adjacent pair of
// products is 2 * 255 * 127 = 64770, twice what int16 holds.
TEST(OneDnn, Qu8WorstCasePairs) {
  Tally t;
  for (int sign : {1, -1}) {
    for (int32_t zy : {0, 128}) {
      // 1x1 conv, cin 64, cout 16.
      auto p = conv_params(1, 4, 4, 64, 16, 1, 1, 1, 1, 0, 1);
      QData d;
      d.x.assign(4 * 4 * 64, 255);
      d.w.assign(16 * 64, static_cast<int8_t>(127 * sign));
      d.m.assign(16, 100.f / (64.f * 255.f * 127.f));
      qconv_case(p, 0, zy, {0, 255}, d, 1, &t);
      // 3x3 conv, cin 32.
      auto p3 = conv_params(1, 5, 5, 32, 8, 3, 3, 1, 1, 1, 1);
      QData d3;
      d3.x.assign(5 * 5 * 32, 255);
      d3.w.assign(8 * 9 * 32, static_cast<int8_t>(127 * sign));
      d3.m.assign(8, 100.f / (9.f * 32.f * 255.f * 127.f));
      qconv_case(p3, 0, zy, {0, 255}, d3, 1, &t);
      // Depthwise 3x3, 16 channels (kept as one primitive: see onednn.cpp).
      auto pd = conv_params(1, 6, 6, 16, 16, 3, 3, 1, 1, 1, 16);
      QData dd;
      dd.x.assign(6 * 6 * 16, 255);
      dd.w.assign(16 * 9, static_cast<int8_t>(127 * sign));
      dd.m.assign(16, 100.f / (9.f * 255.f * 127.f));
      qconv_case(pd, 0, zy, {0, 255}, dd, 1, &t);
      // FC m 3, n 16, k 64.
      QData df;
      df.x.assign(3 * 64, 255);
      df.w.assign(16 * 64, static_cast<int8_t>(127 * sign));
      df.m.assign(16, 100.f / (64.f * 255.f * 127.f));
      tally_enforced(qgemm_outcome(3, 16, 64, 0, zy, {0, 255}, df, true), &t);
    }
  }
  t.print("qu8 worst-case pairs");
  EXPECT_EQ(t.mismatches, 0);
}

// What oneDNN itself computes for the worst-case pair, without the backend's
// split: a u8 x s8 -> s32 matmul with x = 255, w = 127, k = 2.
TEST(OneDnn, RawOneDnnSaturation) {
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  const int kk = 64, n = 16;
  std::vector<uint8_t> x(kk, 255);
  std::vector<int8_t> w(kk * n, 127);
  std::vector<int32_t> y(n, 0);
  dnnl::memory::desc xm({1, kk}, dt::u8, tag::ab), wm({kk, n}, dt::s8, tag::ab),
      ym({1, n}, dt::s32, tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(xm, wm, ym), eng);
  dnnl::memory xmem(xm, eng, x.data()), wmem(wm, eng, w.data()), ymem(ym, eng, y.data());
  dnnl::matmul(pd).execute(s, {{DNNL_ARG_SRC, xmem}, {DNNL_ARG_WEIGHTS, wmem}, {DNNL_ARG_DST, ymem}});
  s.wait();
  const int32_t exact = kk * 255 * 127;
  std::printf("[onednn] raw u8s8 matmul (%s): got %d, exact %d\n", pd.impl_info_str(), y[0], exact);
  if (od::int8_dot_is_exact()) {
    EXPECT_EQ(y[0], exact);
  } else {
    // VPMADDUBSW saturates each pair at 32767.
    EXPECT_EQ(y[0], kk / 2 * 32767);
  }
}

// Without the split the backend refuses full-range weights on non-VNNI CPUs,
// and accepts weights within [-64, 64] (no pair can saturate) exactly.
TEST(OneDnn, Qu8RefusesWithoutSplitOnNonVnni) {
  std::mt19937 rng(5);
  QData d = make_qdata(rng, 16 * 32, 8, 32, true);
  std::vector<uint8_t> y(16 * 8);
  od::Qu8GemmDesc g{16, 8, 32, d.x.data(), 128, d.w.data(), d.bias.data(), d.m.data(), 128,
                    {0, 255}, y.data()};
  g.allow_weight_split = false;
  std::string why;
  auto prim = od::make_qu8_gemm(g, 1, &why);
  if (od::int8_dot_is_exact()) {
    EXPECT_NE(prim, nullptr) << why;
  } else {
    EXPECT_EQ(prim, nullptr);
    EXPECT_NE(why.find("VNNI"), std::string::npos) << why;
  }
  // 7-bit weights: one primitive, exact everywhere.
  for (auto& v : d.w) v = static_cast<int8_t>(std::clamp<int>(v, -64, 64));
  std::vector<uint8_t> want(y.size());
  const std::vector<int32_t> bf = fold(8, 32, d.w.data(), d.bias.data(), 128);
  k::qu8_fully_connected_minmax_fp32__ref(16, 32, 8, d.x.data(), d.w.data(), bf.data(), d.m.data(),
                                          128, {0, 255}, want.data());
  prim = od::make_qu8_gemm(g, 1, &why);
  ASSERT_NE(prim, nullptr) << why;
  EXPECT_EQ(prim->info().find(" + "), std::string::npos) << prim->info();
  prim->run();
  Tally t;
  t.add(y, want);
  t.print("qu8 gemm 7-bit weights");
  EXPECT_EQ(t.mismatches, 0);
}

// The fp32 bias addition of oneDNN is exact only below 2^24: refused beyond.
TEST(OneDnn, Qu8RefusesAccumulatorBeyond2p24) {
  const int kk = 1000, n = 4;
  std::vector<uint8_t> x(kk, 1), y(n);
  std::vector<int8_t> w(kk * n, 127);
  std::vector<float> m(n, 1e-6f);
  od::Qu8GemmDesc g{1, n, kk, x.data(), 0, w.data(), nullptr, m.data(), 0, {0, 255}, y.data()};
  std::string why;
  EXPECT_EQ(od::make_qu8_gemm(g, 1, &why), nullptr);
  EXPECT_NE(why.find("2^24"), std::string::npos) << why;
  // A huge bias alone also exceeds it.
  std::vector<int32_t> bias(n, 1 << 25);
  std::vector<int8_t> w1(kk * n, 1);
  od::Qu8GemmDesc g2{1, n, kk, x.data(), 0, w1.data(), bias.data(), m.data(), 0, {0, 255},
                     y.data()};
  EXPECT_EQ(od::make_qu8_gemm(g2, 1, &why), nullptr);
}

TEST(OneDnn, Qu8TwoThreadsSameBytes) {
  std::mt19937 rng(11);
  Tally t;
  auto p = conv_params(1, 20, 20, 32, 32, 3, 3, 1, 1, 1, 1);
  const QData d = make_qdata(rng, 20 * 20 * 32, 32, 9 * 32, true);
  for (int32_t zx : {0, 128}) qconv_case(p, zx, 3, clamp_kind(2, 3), d, 2, &t);
  t.print("qu8 conv 2 threads");
  EXPECT_EQ(t.mismatches, 0);
}

// ------------------------------------------------------------------ fp32
struct FTally {
  int64_t cases = 0, values = 0, bad = 0;
  double worst_ratio = 0;  // max |diff| / tolerance
  std::set<std::string> impls;
  void print(const char* name) const {
    std::printf("[onednn] %-28s cases %6lld  values %9lld  beyond tolerance %lld  worst diff/tol %.3g\n",
                name, static_cast<long long>(cases), static_cast<long long>(values),
                static_cast<long long>(bad), worst_ratio);
    for (const std::string& i : impls) std::printf("[onednn]   implementation: %s\n", i.c_str());
  }
};

void fconv_case(const k::Conv2DParams& p, bool bias, k::FRange act, std::mt19937& rng, FTally* t) {
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  const int64_t cin_g = p.cin / p.groups;
  std::vector<float> x(static_cast<size_t>(int64_t{p.n} * p.h * p.w * p.cin));
  std::vector<float> w(static_cast<size_t>(int64_t{p.cout} * p.kh * p.kw * cin_g));
  std::vector<float> b(bias ? p.cout : 0);
  for (auto& v : x) v = u(rng);
  for (auto& v : w) v = u(rng);
  for (auto& v : b) v = u(rng);
  const size_t ys = static_cast<size_t>(int64_t{p.n} * p.oh * p.ow * p.cout);
  std::vector<float> want(ys), got(ys, 1e30f);
  k::f32_conv2d__ref(p, x.data(), w.data(), bias ? b.data() : nullptr, act, want.data());
  // sum |x * w| per output: the reference with |x|, |w| and no bias/activation.
  std::vector<float> ax(x.size()), aw(w.size()), mag(ys);
  for (size_t i = 0; i < x.size(); ++i) ax[i] = std::fabs(x[i]);
  for (size_t i = 0; i < w.size(); ++i) aw[i] = std::fabs(w[i]);
  k::f32_conv2d__ref(p, ax.data(), aw.data(), nullptr, {}, mag.data());
  od::F32ConvDesc desc{p, x.data(), w.data(), bias ? b.data() : nullptr, act, got.data()};
  std::string why;
  auto prim = od::make_f32_conv(desc, 1, &why);
  ASSERT_NE(prim, nullptr) << why;
  prim->run();
  t->impls.insert(prim->info());
  ++t->cases;
  for (size_t i = 0; i < ys; ++i) {
    const double tol = 1e-5 * mag[i] + 1e-6;
    const double diff = std::fabs(double{got[i]} - want[i]);
    ++t->values;
    t->bad += !(diff <= tol);
    t->worst_ratio = std::max(t->worst_ratio, diff / tol);
  }
}

TEST(OneDnn, F32ConvSweep) {
  std::mt19937 rng(8);
  FTally t;
  const k::FRange acts[] = {{}, {0.f, INFINITY}, {0.f, 6.f}, {-0.5f, 0.5f}};
  int variant = 0;
  for (int ks : {1, 3, 5}) {
    for (int stride : {1, 2}) {
      for (int dil : {1, 2}) {
        if (ks == 1 && dil == 2) continue;
        for (int pad : {0, ks / 2 * dil}) {
          for (int cin : {1, 3, 8, 17}) {
            for (int cout : {1, 16, 17}) {
              const auto p = conv_params(1, 9, 8, cin, cout, ks, ks, stride, dil, pad, 1);
              if (p.oh < 1 || p.ow < 1) continue;
              fconv_case(p, variant % 3 != 0, acts[variant % 4], rng, &t);
              ++variant;
            }
          }
          for (int c : {3, 16, 17}) {  // depthwise
            const auto p = conv_params(1, 9, 8, c, c, ks, ks, stride, dil, pad, c);
            if (p.oh < 1 || p.ow < 1) continue;
            fconv_case(p, true, acts[variant % 4], rng, &t);
            ++variant;
          }
        }
      }
    }
  }
  t.print("f32 conv sweep");
  EXPECT_EQ(t.bad, 0);
}

TEST(OneDnn, F32GemmSweep) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  FTally t;
  const k::FRange acts[] = {{}, {0.f, INFINITY}, {0.f, 6.f}, {-0.5f, 0.5f}};
  int variant = 0;
  for (int m = 1; m <= 5; ++m) {
    for (int n : {1, 15, 16, 17, 63, 64, 65}) {
      for (int kk : {1, 3, 16, 17, 64, 65, 127}) {
        std::vector<float> x(static_cast<size_t>(m * kk)), w(static_cast<size_t>(n * kk)),
            b(static_cast<size_t>(n));
        for (auto& v : x) v = u(rng);
        for (auto& v : w) v = u(rng);
        for (auto& v : b) v = u(rng);
        const bool bias = variant % 3 != 0;
        const k::FRange act = acts[variant % 4];
        ++variant;
        std::vector<float> want(static_cast<size_t>(m * n)), got(want.size(), 1e30f),
            mag(want.size()), ax(x.size()), aw(w.size());
        k::f32_fully_connected__ref(m, kk, n, x.data(), w.data(), bias ? b.data() : nullptr, act,
                                    want.data());
        // sum |x * w| per output.
        for (size_t i = 0; i < x.size(); ++i) ax[i] = std::fabs(x[i]);
        for (size_t i = 0; i < w.size(); ++i) aw[i] = std::fabs(w[i]);
        k::f32_fully_connected__ref(m, kk, n, ax.data(), aw.data(), nullptr, {}, mag.data());
        ++t.cases;
        od::F32GemmDesc desc{m, n, kk, x.data(), w.data(), bias ? b.data() : nullptr, act,
                             got.data()};
        std::string why;
        auto prim = od::make_f32_gemm(desc, 1, &why);
        ASSERT_NE(prim, nullptr) << why;
        prim->run();
        t.impls.insert(prim->info());
        for (size_t i = 0; i < got.size(); ++i) {
          const double tol = 1e-5 * mag[i] + 1e-6;
          const double diff = std::fabs(double{got[i]} - want[i]);
          ++t.values;
          t.bad += !(diff <= tol);
          t.worst_ratio = std::max(t.worst_ratio, diff / tol);
        }
      }
    }
  }
  t.print("f32 gemm sweep");
  EXPECT_EQ(t.bad, 0);
}

}  // namespace
