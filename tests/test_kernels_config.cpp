// The kernel configuration tables (quanta/kernels/config.h).
//
// Structure, for every tier whether or not this CPU runs it (building a table
// runs no kernel): the reference table is all empty; every non-empty slot has
// its name, packing and packed size; the AVX-512 VNNI table inherits exactly
// the slots its file says from the AVX2 table; the qu8 GEMM plan reproduces
// the choices runtime/src/ops/prepare.cpp made before the tables existed.
//
// Kernels, for every tier this CPU supports and every non-empty slot: small
// random problems (awkward sizes, zero points 0/128/255, ragged n, m below
// the tile, the fused residual Add where the slot has it) through the slot's
// packing and adapter, over the whole range and split into ranges at the
// slot's alignment, compared with the reference kernel of ref.h: the same
// bytes (f32 families: within the f32 kernels' tolerance of x86.h, and
// bit-identical however the range is split). Outputs are pre-filled with two
// sentinels with guard zones checked (kernel_test_util.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernel_test_util.hpp"
#include "quanta/kernels/config.h"
#include "quanta/kernels/tier.h"
#include "quanta/kernels/ref.h"

namespace qk = quanta::kernels;
namespace kt = quanta::kernel_test;

namespace {

constexpr int32_t kZp[] = {0, 128, 255};
constexpr qk::Tier kAllTiers[] = {qk::Tier::kRef, qk::Tier::kAvx2, qk::Tier::kAvx512Vnni};

const qk::KernelConfig& Config(qk::Tier tier) {
  const qk::KernelConfig* c = qk::kernel_config(tier, qk::WeightFormat::kInt8PerChannel);
  EXPECT_NE(c, nullptr) << qk::tier_name(tier);
  static const qk::KernelConfig kEmpty{};
  return c != nullptr ? *c : kEmpty;
}

// ------------------------------------------------------------ ranges
using Range = std::pair<int64_t, int64_t>;
using Partition = std::vector<Range>;

std::string Describe(const Partition& part) {
  std::string s;
  for (const Range& r : part) s += "[" + std::to_string(r.first) + "," + std::to_string(r.second) + ")";
  return s;
}

// Partitions of [0, total) with inner boundaries at multiples of `align`: the
// whole range; two ranges split at the aligned middle (the first one empty
// when total <= align); and, with at least three units, the first unit run
// after the rest (order must not matter).
std::vector<Partition> Partitions(int64_t total, int64_t align) {
  const int64_t units = (total + align - 1) / align;
  std::vector<Partition> out;
  out.push_back({{0, total}});
  const int64_t mid = std::min(total, units / 2 * align);
  out.push_back({{0, mid}, {mid, total}});
  if (units >= 3) out.push_back({{align, total}, {0, align}});
  return out;
}

template <class Args, class Fn>
void RunParts(Fn fn, const Args& a, const Partition& part) {
  for (const Range& r : part) fn(a, r.first, r.second);
}

// A range slot over `part`; the whole range [0, total) goes through the
// slot's whole-range entry (what a single-threaded session runs).
template <class Args>
void RunSlot(const qk::RangeSlot<Args>& slot, const Args& a, const Partition& part) {
  if (part.size() == 1 && part[0].first == 0) {
    const qk::RangeRun<Args> run{a, part[0].second};
    slot.whole(&run);
    return;
  }
  RunParts(slot.run, a, part);
}

qk::QRange RangeFor(int which, int32_t zy) {
  switch (which % 3) {
    case 0: return {0, 255};
    case 1: return {zy, 255};  // fused ReLU
    default: return {std::min(zy, 170), std::min(zy, 170) + 70};
  }
}

std::vector<int32_t> FoldBias(int rows, int64_t row_len, const std::vector<int8_t>& w, int32_t zx,
                              std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> db(-100000, 100000);
  std::vector<int32_t> raw(static_cast<size_t>(rows));
  for (auto& b : raw) b = db(rng);
  std::vector<int64_t> wide(static_cast<size_t>(rows));
  qk::fold_bias_qs8(rows, row_len, w.data(), raw.data(), zx, wide.data());
  std::vector<int32_t> out(wide.size());
  for (size_t i = 0; i < wide.size(); ++i) {
    EXPECT_LE(std::llabs(wide[i]), int64_t{std::numeric_limits<int32_t>::max()});
    out[i] = static_cast<int32_t>(wide[i]);
  }
  return out;
}

// Per-channel multipliers that spread sum_k x*w over the u8 range.
std::vector<float> Multipliers(int n, int64_t k, std::mt19937& rng) {
  std::uniform_real_distribution<float> lu(std::log(0.1f), std::log(3.f));
  const float base = 100.f / (std::sqrt(static_cast<float>(k)) * 5400.f);
  std::vector<float> m(static_cast<size_t>(n));
  for (auto& v : m) v = base * std::exp(lu(rng));
  return m;
}

// ------------------------------------------------------ fused residual Add
// 0: none; 1: a separate residual buffer with 3 spare bytes per row;
// 2: in place (the output buffer holds the residual).
enum class ResMode { kNone = 0, kSeparate = 1, kInPlace = 2 };

const char* ResName(ResMode m) {
  return m == ResMode::kNone ? "no residual" : m == ResMode::kSeparate ? "residual" : "residual in place";
}

qk::QAddParams RandomAdd(int which, std::mt19937& rng) {
  qk::QAddParams a;
  a.za = kZp[which % 3];
  a.zb = kZp[(which / 3) % 3];
  a.zy = kZp[(which / 2) % 3];
  std::uniform_real_distribution<float> lu(std::log(0.2f), std::log(2.f));
  a.ma = std::exp(lu(rng));
  a.mb = std::exp(lu(rng));
  a.r = RangeFor(which / 5, a.zy);
  return a;
}

// The unfused pair: conv then the reference Add of [rows, cols] tensors.
std::vector<uint8_t> RefResidual(const std::vector<uint8_t>& conv, const std::vector<uint8_t>& skip,
                                 int64_t rows, int64_t cols, const qk::QResidual& res) {
  const int64_t shape[2] = {rows, cols};
  qk::BroadcastShape bs;
  EXPECT_TRUE(qk::make_broadcast(2, shape, 2, shape, &bs));
  std::vector<uint8_t> y(conv.size());
  if (res.order == qk::AddOrder::kConvFirst) {
    qk::qu8_add_minmax_fp32__ref(bs, conv.data(), skip.data(), res.add, y.data());
  } else {
    qk::qu8_add_minmax_fp32__ref(bs, skip.data(), conv.data(), res.add, y.data());
  }
  return y;
}

// Runs `run(res_or_null, y)` for an output of rows x cols bytes (row stride
// cols) in the given residual mode and returns the output. The residual's
// rows are `skip`; a separate residual must come back unchanged; the guard
// zones around the output must too.
template <class Run>
std::vector<uint8_t> RunWithResidual(ResMode mode, int64_t rows, int64_t cols,
                                     const std::vector<uint8_t>& skip, qk::QResidual proto,
                                     Run run) {
  const size_t n = static_cast<size_t>(rows * cols);
  if (mode == ResMode::kNone) {
    return kt::RunGuarded<uint8_t>(static_cast<int64_t>(n), [&](uint8_t* y) { run(nullptr, y); });
  }
  if (mode == ResMode::kSeparate) {
    const size_t stride = static_cast<size_t>(cols) + 3;
    std::vector<uint8_t> sbuf(static_cast<size_t>(rows) * stride + 1, 0x3C);
    for (int64_t i = 0; i < rows; ++i) {
      std::memcpy(sbuf.data() + static_cast<size_t>(i) * stride, skip.data() + i * cols,
                  static_cast<size_t>(cols));
    }
    const std::vector<uint8_t> before = sbuf;
    proto.data = sbuf.data();
    proto.stride = stride;
    std::vector<uint8_t> y =
        kt::RunGuarded<uint8_t>(static_cast<int64_t>(n), [&](uint8_t* out) { run(&proto, out); });
    EXPECT_EQ(sbuf, before) << "the residual was modified";
    return y;
  }
  const size_t g = kt::kGuard;
  std::vector<uint8_t> buf(n + 2 * g, 0xA5);
  std::memcpy(buf.data() + g, skip.data(), n);
  proto.data = buf.data() + g;
  proto.stride = static_cast<size_t>(cols);
  run(&proto, buf.data() + g);
  int64_t stray = 0;
  for (size_t i = 0; i < g; ++i) stray += (buf[i] != 0xA5) + (buf[g + n + i] != 0xA5);
  EXPECT_EQ(stray, 0) << "kernel wrote outside its output";
  return std::vector<uint8_t>(buf.begin() + static_cast<std::ptrdiff_t>(g),
                              buf.begin() + static_cast<std::ptrdiff_t>(g + n));
}

// Count of differing bytes; reports the first.
int64_t Mismatches(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want,
                   const std::string& what) {
  EXPECT_EQ(got.size(), want.size()) << what;
  int64_t bad = 0;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (got[i] != want[i]) {
      if (bad == 0) {
        ADD_FAILURE() << what << ": byte " << i << " = " << int{got[i]} << ", reference "
                      << int{want[i]};
      }
      ++bad;
    }
  }
  return bad;
}

// |got - ref| <= 1e-5 * mag + 1e-6 (x86.h's f32 tolerance), NaN where the
// reference has NaN.
int64_t F32Mismatches(const std::vector<float>& got, const std::vector<float>& ref,
                      const std::vector<double>& mag, const std::string& what) {
  int64_t bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const bool ok = std::isnan(ref[i])
                        ? std::isnan(got[i])
                        : std::fabs(double(got[i]) - double(ref[i])) <= 1e-5 * mag[i] + 1e-6;
    if (!ok) {
      if (bad == 0) {
        ADD_FAILURE() << what << ": element " << i << " = " << got[i] << ", reference " << ref[i]
                      << " (tolerance " << 1e-5 * mag[i] + 1e-6 << ")";
      }
      ++bad;
    }
  }
  return bad;
}

bool SameFloatBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// ====================================================================
// Structure
// ====================================================================

// One line per slot: family, present, names of its microkernels, and whether
// it carries everything an op needs (name, packing, packed size, alignment).
struct SlotInfo {
  const char* family;
  bool present;
  std::vector<const char*> names;
  bool complete;
};

bool Named(const char* s) { return s != nullptr && *s != '\0'; }

bool GemmKernelComplete(const qk::Qu8GemmKernel& k) {
  const bool cols_ok = k.cols == nullptr || (k.block_channels > 0 && k.col_align > 0 &&
                                             k.col_align % k.block_channels == 0);
  return Named(k.name) && k.packed_size != nullptr && k.pack != nullptr && k.rows != nullptr &&
         k.row_align >= 1 && cols_ok;
}

template <class S>
bool RangeSlotComplete(const S& s) {
  return Named(s.name) && s.run != nullptr && s.align >= 1 && s.whole != nullptr;
}

std::vector<SlotInfo> Slots(const qk::KernelConfig& c) {
  std::vector<SlotInfo> v;
  const auto& g = c.qu8_gemm;
  v.push_back({"qu8_gemm", static_cast<bool>(g), {g.main.name, g.narrow.name},
               GemmKernelComplete(g.main) &&
                   (!g.narrow || (GemmKernelComplete(g.narrow) && g.use_narrow != nullptr)) &&
                   (g.main.cols == nullptr || (g.gemv_below_m > 0 && g.gemv_min_n > 0))});
  const auto& ig = c.qu8_igemm;
  v.push_back({"qu8_igemm", static_cast<bool>(ig), {ig.name},
               Named(ig.name) && ig.indirection_size && ig.indirection_build && ig.packed_size &&
                   ig.pack && ig.pixel_align >= 1});
  const auto& dw = c.qu8_dwconv;
  v.push_back({"qu8_dwconv", static_cast<bool>(dw), {dw.name},
               Named(dw.name) && dw.packed_size && dw.pack && dw.row_align >= 1});
  const auto& mm = c.qu8_matmul;
  v.push_back({"qu8_matmul", static_cast<bool>(mm), {mm.name},
               Named(mm.name) && mm.packed_size && mm.pack_b && mm.row_align >= 1 &&
                   mm.max_k > 0});
  const auto& fg = c.f32_gemm;
  v.push_back({"f32_gemm", static_cast<bool>(fg), {fg.name},
               Named(fg.name) && fg.packed_size && fg.pack && fg.row_align >= 1});
  const auto& fi = c.f32_igemm;
  v.push_back({"f32_igemm", static_cast<bool>(fi), {fi.name},
               Named(fi.name) && fi.indirection_count && fi.indirection_build && fi.packed_size &&
                   fi.pack && fi.pixel_align >= 1});
  const auto& fd = c.f32_dwconv;
  v.push_back({"f32_dwconv", static_cast<bool>(fd), {fd.name},
               Named(fd.name) && fd.packed_size && fd.pack && fd.row_align >= 1});
  v.push_back({"u8_maxpool", static_cast<bool>(c.u8_maxpool), {c.u8_maxpool.name},
               RangeSlotComplete(c.u8_maxpool)});
  v.push_back({"qu8_avgpool", static_cast<bool>(c.qu8_avgpool), {c.qu8_avgpool.name},
               RangeSlotComplete(c.qu8_avgpool)});
  v.push_back({"qu8_global_avgpool", static_cast<bool>(c.qu8_global_avgpool),
               {c.qu8_global_avgpool.name}, RangeSlotComplete(c.qu8_global_avgpool)});
  v.push_back({"qu8_vadd", static_cast<bool>(c.qu8_vadd), {c.qu8_vadd.name},
               RangeSlotComplete(c.qu8_vadd)});
  v.push_back({"qu8_vmul", static_cast<bool>(c.qu8_vmul), {c.qu8_vmul.name},
               RangeSlotComplete(c.qu8_vmul)});
  v.push_back({"quantize", static_cast<bool>(c.quantize), {c.quantize.name},
               RangeSlotComplete(c.quantize)});
  v.push_back({"dequantize", static_cast<bool>(c.dequantize), {c.dequantize.name},
               RangeSlotComplete(c.dequantize)});
  return v;
}

TEST(KernelConfig, TablesExistAndAreBuiltOnce) {
  for (qk::Tier t : kAllTiers) {
    const qk::KernelConfig* a = qk::kernel_config(t, qk::WeightFormat::kInt8PerChannel);
    ASSERT_NE(a, nullptr) << qk::tier_name(t);
    EXPECT_EQ(a, qk::kernel_config(t, qk::WeightFormat::kInt8PerChannel)) << qk::tier_name(t);
  }
  EXPECT_NE(&Config(qk::Tier::kAvx2), &Config(qk::Tier::kAvx512Vnni));
  // No table for a pair without a line in the list.
  EXPECT_EQ(qk::kernel_config(static_cast<qk::Tier>(7), qk::WeightFormat::kInt8PerChannel),
            nullptr);
  EXPECT_EQ(qk::kernel_config(qk::Tier::kAvx2, static_cast<qk::WeightFormat>(9)), nullptr);
}

TEST(KernelConfig, ReferenceTableIsAllEmpty) {
  const qk::KernelConfig& ref = Config(qk::Tier::kRef);
  for (const SlotInfo& s : Slots(ref)) EXPECT_FALSE(s.present) << "ref." << s.family;
  const qk::KernelConfig empty{};
  EXPECT_TRUE(ref.qu8_gemm == empty.qu8_gemm);
  EXPECT_TRUE(ref.qu8_matmul == empty.qu8_matmul);
  EXPECT_TRUE(ref.u8_maxpool == empty.u8_maxpool);
}

TEST(KernelConfig, EveryNonEmptySlotIsComplete) {
  for (qk::Tier t : kAllTiers) {
    for (const SlotInfo& s : Slots(Config(t))) {
      if (s.present) {
        EXPECT_TRUE(s.complete) << qk::tier_name(t) << "." << s.family;
      }
    }
  }
  // The AVX2 table fills every family.
  for (const SlotInfo& s : Slots(Config(qk::Tier::kAvx2))) EXPECT_TRUE(s.present) << s.family;
}

// Each table names kernels of its own tier or of the tiers it inherits from.
TEST(KernelConfig, MicrokernelNamesMatchTheirTier) {
  for (const SlotInfo& s : Slots(Config(qk::Tier::kAvx2))) {
    for (const char* n : s.names) {
      if (n != nullptr) {
        EXPECT_NE(std::string(n).find("__avx2"), std::string::npos) << n;
      }
    }
  }
  for (const SlotInfo& s : Slots(Config(qk::Tier::kAvx512Vnni))) {
    for (const char* n : s.names) {
      if (n == nullptr) continue;
      const std::string name(n);
      EXPECT_TRUE(name.find("__avx512") != std::string::npos ||
                  name.find("__avx2") != std::string::npos)
          << n;
    }
  }
}

// kernels/config/avx512vnni.cpp: starts from avx2_config(), overrides six
// families, inherits eight.
TEST(KernelConfig, Avx512VnniInheritsAsDocumented) {
  const qk::KernelConfig& a = Config(qk::Tier::kAvx2);
  const qk::KernelConfig& v = Config(qk::Tier::kAvx512Vnni);
  // Inherited.
  EXPECT_TRUE(v.qu8_matmul == a.qu8_matmul);
  EXPECT_TRUE(v.u8_maxpool == a.u8_maxpool);
  EXPECT_TRUE(v.qu8_avgpool == a.qu8_avgpool);
  EXPECT_TRUE(v.qu8_global_avgpool == a.qu8_global_avgpool);
  EXPECT_TRUE(v.qu8_vadd == a.qu8_vadd);
  EXPECT_TRUE(v.qu8_vmul == a.qu8_vmul);
  EXPECT_TRUE(v.quantize == a.quantize);
  EXPECT_TRUE(v.dequantize == a.dequantize);
  // Overridden, each with an AVX-512 kernel.
  EXPECT_FALSE(v.qu8_gemm == a.qu8_gemm);
  EXPECT_FALSE(v.qu8_igemm == a.qu8_igemm);
  EXPECT_FALSE(v.qu8_dwconv == a.qu8_dwconv);
  EXPECT_FALSE(v.f32_gemm == a.f32_gemm);
  EXPECT_FALSE(v.f32_igemm == a.f32_igemm);
  EXPECT_FALSE(v.f32_dwconv == a.f32_dwconv);
  for (const char* n : {v.qu8_gemm.main.name, v.qu8_igemm.name, v.qu8_dwconv.name,
                        v.f32_gemm.name, v.f32_igemm.name, v.f32_dwconv.name}) {
    EXPECT_NE(std::string(n).find("__avx512"), std::string::npos) << n;
  }
  EXPECT_FALSE(v.qu8_gemm.narrow) << "the VNNI GEMM has one layout";
  // The depthwise kernels of both tiers share one packing.
  EXPECT_EQ(v.qu8_dwconv.pack, a.qu8_dwconv.pack);
  EXPECT_EQ(v.qu8_dwconv.packed_size, a.qu8_dwconv.packed_size);
}

TEST(KernelConfig, FusedResidualCapability) {
  EXPECT_TRUE(Config(qk::Tier::kAvx2).qu8_gemm.fused_residual);
  EXPECT_TRUE(Config(qk::Tier::kAvx2).qu8_igemm.fused_residual);
  EXPECT_FALSE(Config(qk::Tier::kAvx512Vnni).qu8_gemm.fused_residual);
  EXPECT_FALSE(Config(qk::Tier::kAvx512Vnni).qu8_igemm.fused_residual);
  EXPECT_FALSE(Config(qk::Tier::kRef).qu8_gemm.fused_residual);
  EXPECT_EQ(Config(qk::Tier::kAvx2).qu8_matmul.max_k, qk::kQu8GemmActMaxK);
}

// The choices of runtime/src/ops/prepare.cpp (prepare_gemm_qu8_fast) before
// the tables, written out independently: kernel, split axis and alignment.
struct ExpectedPlan {
  std::string kernel;
  bool by_cols;
  int64_t total, align;
};
ExpectedPlan PrepareCppChoice(qk::Tier tier, int m, int n) {
  if (tier == qk::Tier::kAvx512Vnni) {
    if (m < 16 && n >= 64) return {"qu8_gemm_minmax_fp32__avx512vnni_8x32c4", true, n, 32};
    return {"qu8_gemm_minmax_fp32__avx512vnni_8x32c4", false, m, 8};
  }
  if (n % 16 != 0 && n % 16 <= 8 && n < 64) return {"qu8_gemm_minmax_fp32__avx2_2x8c8", false, m, 2};
  if (m < 12 && n >= 32) return {"qu8_gemm_minmax_fp32__avx2_3x16c2", true, n, 16};
  return {"qu8_gemm_minmax_fp32__avx2_3x16c2", false, m, 3};
}

TEST(KernelConfig, Qu8GemmPlanReproducesPrepareCpp) {
  for (qk::Tier t : {qk::Tier::kAvx2, qk::Tier::kAvx512Vnni}) {
    const qk::Qu8GemmSlot& s = Config(t).qu8_gemm;
    int64_t bad = 0;
    for (int m = 1; m <= 40; ++m) {
      for (int n = 1; n <= 200; ++n) {
        for (int k : {1, 64, 1000}) {
          const qk::Qu8GemmPlan p = s.plan(m, n, k);
          const ExpectedPlan e = PrepareCppChoice(t, m, n);
          const bool ok = p.kernel.name == e.kernel && p.by_cols == e.by_cols &&
                          p.total == e.total && p.align == e.align &&
                          p.run == (p.by_cols ? p.kernel.cols : p.kernel.rows) &&
                          p.run != nullptr;
          if (!ok && bad++ == 0) {
            ADD_FAILURE() << qk::tier_name(t) << " m=" << m << " n=" << n << " k=" << k
                          << ": plan " << p.kernel.name << (p.by_cols ? " cols" : " rows")
                          << " align " << p.align << ", prepare.cpp " << e.kernel
                          << (e.by_cols ? " cols" : " rows") << " align " << e.align;
          }
        }
      }
    }
    EXPECT_EQ(bad, 0) << qk::tier_name(t);
  }
}

// ====================================================================
// Kernels through the slots, per supported tier
// ====================================================================

class TierSlots : public ::testing::TestWithParam<qk::Tier> {
 protected:
  void SetUp() override {
    if (!qk::cpu_supports(GetParam())) {
      GTEST_SKIP() << "CPU lacks " << qk::tier_name(GetParam())
                   << ": that table's kernels cannot run on this host (its structure is still "
                      "checked by KernelConfig.*)";
    }
  }
  const qk::KernelConfig& cfg() const { return Config(GetParam()); }
};

#define REQUIRE_SLOT(slot)                                                          \
  do {                                                                              \
    if (!(slot))                                                                    \
      GTEST_SKIP() << #slot << " is empty on " << qk::tier_name(GetParam())          \
                   << " (the reference kernel serves it)";                          \
  } while (0)

// ------------------------------------------------------------ qu8 GEMM
TEST_P(TierSlots, Qu8Gemm) {
  const qk::Qu8GemmSlot& slot = cfg().qu8_gemm;
  REQUIRE_SLOT(slot);
  std::mt19937 rng(1234);
  std::vector<const qk::Qu8GemmKernel*> kernels = {&slot.main};
  if (slot.narrow) kernels.push_back(&slot.narrow);
  int which = 0;
  int64_t bad = 0, runs = 0;
  for (int m : {1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 25}) {
    for (int n : {1, 7, 8, 9, 16, 17, 24, 31, 32, 33, 40, 48, 63, 64, 65, 100}) {
      for (int k : {1, 3, 8, 17, 64, 131}) {
        ++which;
        const int32_t zx = kZp[which % 3];
        const int32_t zy = kZp[(which / 3) % 3];
        const qk::QRange r = RangeFor(which / 9, zy);
        const size_t x_stride = static_cast<size_t>(k) + (which % 2 == 0 ? 0 : 5);
        const std::vector<uint8_t> x = kt::RandomU8(int64_t{m} * k, rng);
        std::vector<uint8_t> xs(static_cast<size_t>(m) * x_stride, 0xEE);
        for (int i = 0; i < m; ++i) {
          std::memcpy(xs.data() + static_cast<size_t>(i) * x_stride, x.data() + i * k,
                      static_cast<size_t>(k));
        }
        const std::vector<int8_t> w = kt::RandomI8(int64_t{n} * k, rng);
        const std::vector<int32_t> bias = FoldBias(n, k, w, zx, rng);
        const std::vector<float> mul = Multipliers(n, k, rng);
        std::vector<uint8_t> want(static_cast<size_t>(m) * static_cast<size_t>(n));
        qk::qu8_fully_connected_minmax_fp32__ref(m, k, n, x.data(), w.data(), bias.data(),
                                                 mul.data(), zy, r, want.data());
        const ResMode mode =
            slot.fused_residual ? static_cast<ResMode>(which % 3) : ResMode::kNone;
        qk::QResidual proto;
        std::vector<uint8_t> skip;
        if (mode != ResMode::kNone) {
          skip = kt::RandomU8(int64_t{m} * n, rng);
          proto.add = RandomAdd(which / 7, rng);
          proto.order = which % 2 == 0 ? qk::AddOrder::kConvFirst : qk::AddOrder::kResidualFirst;
          want = RefResidual(want, skip, m, n, proto);
        }
        for (const qk::Qu8GemmKernel* kern : kernels) {
          std::vector<uint8_t> packed(kern->packed_size(n, k));
          kern->pack(n, k, w.data(), bias.data(), mul.data(), packed.data());
          qk::Qu8GemmArgs a;
          a.m = m;
          a.n = n;
          a.k = k;
          a.x = xs.data();
          a.x_stride = x_stride;
          a.packed = packed.data();
          a.block_bytes = kern->cols != nullptr ? kern->block_bytes(k) : 0;
          a.zy = zy;
          a.r = r;
          a.y_stride = static_cast<size_t>(n);
          for (int axis = 0; axis < 2; ++axis) {
            const qk::Qu8GemmFn fn = axis == 0 ? kern->rows : kern->cols;
            if (fn == nullptr) continue;
            const int64_t total = axis == 0 ? m : n;
            const int64_t align = axis == 0 ? kern->row_align : kern->col_align;
            for (const Partition& part : Partitions(total, align)) {
              const std::vector<uint8_t> got =
                  RunWithResidual(mode, m, n, skip, proto, [&](const qk::QResidual* res, uint8_t* y) {
                    qk::Qu8GemmArgs b = a;
                    b.y = y;
                    b.has_res = res != nullptr;
                    if (res != nullptr) b.res = *res;
                    RunParts(fn, b, part);
                  });
              ++runs;
              bad += Mismatches(got, want,
                                std::string(kern->name) + (axis == 0 ? " rows " : " cols ") +
                                    Describe(part) + " m=" + std::to_string(m) +
                                    " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                                    " zx=" + std::to_string(zx) + " zy=" + std::to_string(zy) +
                                    " " + ResName(mode));
              if (bad > 20) FAIL() << "too many mismatches";
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(bad, 0);
  EXPECT_GT(runs, 1000);
}

// The plan's choice, end to end (pack + plan.run + split at plan.align), on
// the shapes where the choices change.
TEST_P(TierSlots, Qu8GemmThroughPlan) {
  const qk::Qu8GemmSlot& slot = cfg().qu8_gemm;
  REQUIRE_SLOT(slot);
  std::mt19937 rng(99);
  int64_t bad = 0;
  int which = 0;
  for (int m : {1, 2, 11, 12, 15, 16, 33}) {
    for (int n : {24, 31, 32, 40, 56, 63, 64, 72, 80, 129}) {
      const int k = 37;
      ++which;
      const int32_t zx = kZp[which % 3], zy = kZp[(which + 1) % 3];
      const qk::QRange r = RangeFor(which, zy);
      const std::vector<uint8_t> x = kt::RandomU8(int64_t{m} * k, rng);
      const std::vector<int8_t> w = kt::RandomI8(int64_t{n} * k, rng);
      const std::vector<int32_t> bias = FoldBias(n, k, w, zx, rng);
      const std::vector<float> mul = Multipliers(n, k, rng);
      std::vector<uint8_t> want(static_cast<size_t>(m) * static_cast<size_t>(n));
      qk::qu8_fully_connected_minmax_fp32__ref(m, k, n, x.data(), w.data(), bias.data(),
                                               mul.data(), zy, r, want.data());
      const qk::Qu8GemmPlan plan = slot.plan(m, n, k);
      std::vector<uint8_t> packed(plan.kernel.packed_size(n, k));
      plan.kernel.pack(n, k, w.data(), bias.data(), mul.data(), packed.data());
      qk::Qu8GemmArgs a;
      a.m = m;
      a.n = n;
      a.k = k;
      a.x = x.data();
      a.x_stride = static_cast<size_t>(k);
      a.packed = packed.data();
      a.block_bytes = plan.by_cols ? plan.kernel.block_bytes(k) : 0;
      a.zy = zy;
      a.r = r;
      a.y_stride = static_cast<size_t>(n);
      for (const Partition& part : Partitions(plan.total, plan.align)) {
        const std::vector<uint8_t> got = kt::RunGuarded<uint8_t>(int64_t{m} * n, [&](uint8_t* y) {
          qk::Qu8GemmArgs b = a;
          b.y = y;
          RunParts(plan.run, b, part);
        });
        bad += Mismatches(got, want,
                          std::string(plan.kernel.name) + (plan.by_cols ? " cols " : " rows ") +
                              Describe(part) + " m=" + std::to_string(m) + " n=" + std::to_string(n));
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

// ---------------------------------------------- qu8 MatMul of activations
TEST_P(TierSlots, Qu8MatMul) {
  const qk::Qu8MatMulSlot& slot = cfg().qu8_matmul;
  REQUIRE_SLOT(slot);
  std::mt19937 rng(777);
  struct Mkn {
    int m, k, n;
  };
  int64_t bad = 0;
  int which = 0;
  for (Mkn c : {Mkn{1, 1, 1}, Mkn{2, 3, 5}, Mkn{3, 16, 16}, Mkn{5, 17, 33}, Mkn{7, 64, 24},
                Mkn{12, 31, 64}, Mkn{13, 100, 130}, Mkn{1, 200, 7}, Mkn{4, 8, 17}}) {
    for (int32_t za : kZp) {
      for (int32_t zb : kZp) {
        ++which;
        const int32_t zy = kZp[which % 3];
        const qk::QRange r = RangeFor(which / 3, zy);
        const size_t ldb = static_cast<size_t>(c.n) + (which % 2 == 0 ? 0 : 2);
        const std::vector<uint8_t> a = kt::RandomU8(int64_t{c.m} * c.k, rng);
        const std::vector<uint8_t> b = kt::RandomU8(int64_t{c.k} * c.n, rng);
        std::vector<uint8_t> bs(static_cast<size_t>(c.k) * ldb, 0x77);
        for (int i = 0; i < c.k; ++i) {
          std::memcpy(bs.data() + static_cast<size_t>(i) * ldb, b.data() + i * c.n,
                      static_cast<size_t>(c.n));
        }
        const float mult = 40.f / (std::sqrt(static_cast<float>(c.k)) * 255.f * 128.f) *
                           std::exp(std::uniform_real_distribution<float>(-1.f, 1.f)(rng));
        std::vector<uint8_t> want(static_cast<size_t>(c.m) * static_cast<size_t>(c.n));
        qk::qu8_matmul_minmax_fp32__ref(c.m, c.k, c.n, a.data(), za, b.data(), zb, mult, zy, r,
                                        want.data());
        std::vector<uint8_t> packed(slot.packed_size(c.n, c.k));
        slot.pack_b(c.n, c.k, bs.data(), ldb, zb, za, mult, packed.data());
        qk::Qu8GemmArgs args;
        args.m = c.m;
        args.n = c.n;
        args.k = c.k;
        args.x = a.data();
        args.x_stride = static_cast<size_t>(c.k);
        args.packed = packed.data();
        args.zy = zy;
        args.r = r;
        args.y_stride = static_cast<size_t>(c.n);
        for (const Partition& part : Partitions(c.m, slot.row_align)) {
          const std::vector<uint8_t> got =
              kt::RunGuarded<uint8_t>(int64_t{c.m} * c.n, [&](uint8_t* y) {
                qk::Qu8GemmArgs g = args;
                g.y = y;
                RunParts(slot.rows, g, part);
              });
          bad += Mismatches(got, want,
                            std::string(slot.name) + " " + Describe(part) + " m=" +
                                std::to_string(c.m) + " k=" + std::to_string(c.k) + " n=" +
                                std::to_string(c.n) + " za=" + std::to_string(za) +
                                " zb=" + std::to_string(zb));
        }
      }
    }
  }
  // k = max_k with the extreme products (the int32 bound of the slot).
  {
    const int m = 2, n = 17, k = slot.max_k;
    for (int extreme = 0; extreme < 2; ++extreme) {
      std::vector<uint8_t> a(static_cast<size_t>(m) * k, extreme == 0 ? 255 : 0);
      std::vector<uint8_t> b(static_cast<size_t>(k) * n, extreme == 0 ? 0 : 255);
      const int32_t za = extreme == 0 ? 0 : 255, zb = extreme == 0 ? 255 : 0, zy = 128;
      const float mult = 1e-7f;
      std::vector<uint8_t> want(static_cast<size_t>(m) * n);
      qk::qu8_matmul_minmax_fp32__ref(m, k, n, a.data(), za, b.data(), zb, mult, zy, {}, want.data());
      std::vector<uint8_t> packed(slot.packed_size(n, k));
      slot.pack_b(n, k, b.data(), static_cast<size_t>(n), zb, za, mult, packed.data());
      qk::Qu8GemmArgs args;
      args.m = m;
      args.n = n;
      args.k = k;
      args.x = a.data();
      args.x_stride = static_cast<size_t>(k);
      args.packed = packed.data();
      args.zy = zy;
      args.y_stride = static_cast<size_t>(n);
      const std::vector<uint8_t> got = kt::RunGuarded<uint8_t>(int64_t{m} * n, [&](uint8_t* y) {
        qk::Qu8GemmArgs g = args;
        g.y = y;
        slot.rows(g, 0, m);
      });
      bad += Mismatches(got, want, "k = max_k, extreme " + std::to_string(extreme));
    }
  }
  EXPECT_EQ(bad, 0);
}

// ------------------------------------------------------------ conv shapes
struct ConvCase {
  int n, h, w, cin, cout, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
};
// Awkward shapes: first layers (cin 1..5), ragged cout, strides, dilations,
// asymmetric padding, batches, 1x1.
const ConvCase kConvCases[] = {
    {1, 5, 5, 3, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   {1, 7, 6, 1, 17, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {2, 6, 5, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 8, 8, 8, 33, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
    {1, 5, 7, 17, 24, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, {1, 9, 9, 5, 9, 5, 5, 1, 1, 2, 2, 2, 2, 2, 2},
    {2, 4, 4, 32, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 6, 6, 4, 7, 2, 3, 1, 2, 1, 1, 0, 1, 1, 0},
    {1, 3, 3, 2, 31, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  {1, 12, 12, 3, 16, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0},
    {1, 1, 1, 64, 65, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, {3, 5, 4, 6, 12, 3, 1, 1, 1, 1, 1, 1, 0, 1, 0},
    {1, 10, 3, 9, 5, 1, 3, 3, 1, 1, 1, 0, 1, 0, 1},
};

std::string ConvName(const qk::Conv2DParams& p) {
  return "n=" + std::to_string(p.n) + " in=" + std::to_string(p.h) + "x" + std::to_string(p.w) +
         "x" + std::to_string(p.cin) + " cout=" + std::to_string(p.cout) + " k=" +
         std::to_string(p.kh) + "x" + std::to_string(p.kw) + " s=" + std::to_string(p.stride_h) +
         "," + std::to_string(p.stride_w) + " d=" + std::to_string(p.dil_h) + "," +
         std::to_string(p.dil_w) + " pad=" + std::to_string(p.pad_top) + "," +
         std::to_string(p.pad_left);
}

qk::Conv2DParams ConvParams(const ConvCase& c) {
  struct W {
    int n, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  } win{c.n, c.h, c.w, c.kh, c.kw, c.sh, c.sw, c.dh, c.dw, c.pt, c.pl, c.pb, c.pr};
  qk::Conv2DParams p;
  kt::SetWindow(win, &p);
  p.cin = c.cin;
  p.cout = c.cout;
  p.groups = 1;
  return p;
}

// ------------------------------------------------- qu8 implicit-GEMM conv
TEST_P(TierSlots, Qu8Igemm) {
  const qk::Qu8IgemmSlot& slot = cfg().qu8_igemm;
  REQUIRE_SLOT(slot);
  std::mt19937 rng(31337);
  int64_t bad = 0;
  int which = 0;
  for (const ConvCase& cc : kConvCases) {
    const qk::Conv2DParams p = ConvParams(cc);
    ASSERT_GT(p.oh, 0);
    ASSERT_GT(p.ow, 0);
    const int64_t row_len = int64_t{p.kh} * p.kw * p.cin;
    const int64_t pixels = int64_t{p.n} * p.oh * p.ow;
    for (int32_t zx : kZp) {
      ++which;
      const int32_t zy = kZp[(which + 1) % 3];
      const qk::QRange r = RangeFor(which, zy);
      const std::vector<uint8_t> x = kt::RandomU8(int64_t{p.n} * p.h * p.w * p.cin, rng);
      const std::vector<int8_t> w = kt::RandomI8(p.cout * row_len, rng);
      const std::vector<int32_t> bias = FoldBias(p.cout, row_len, w, zx, rng);
      const std::vector<float> mul = Multipliers(p.cout, row_len, rng);
      std::vector<uint8_t> want(static_cast<size_t>(pixels * p.cout));
      qk::qu8_conv2d_minmax_fp32__ref(p, x.data(), zx, w.data(), bias.data(), mul.data(), zy, r,
                                      want.data());
      const ResMode mode = slot.fused_residual ? static_cast<ResMode>(which % 3) : ResMode::kNone;
      qk::QResidual proto;
      std::vector<uint8_t> skip;
      if (mode != ResMode::kNone) {
        skip = kt::RandomU8(pixels * p.cout, rng);
        proto.add = RandomAdd(which, rng);
        proto.order = which % 2 == 0 ? qk::AddOrder::kResidualFirst : qk::AddOrder::kConvFirst;
        want = RefResidual(want, skip, pixels, p.cout, proto);
      }
      std::vector<int32_t> table(slot.indirection_size(p));
      ASSERT_TRUE(slot.indirection_build(p, table.data())) << ConvName(p);
      std::vector<uint8_t> packed(slot.packed_size(p.cout, p.kh, p.kw, p.cin));
      slot.pack(p.cout, p.kh, p.kw, p.cin, w.data(), bias.data(), mul.data(), zx, packed.data());
      qk::Qu8IgemmArgs a;
      a.p = p;
      a.x = x.data();
      a.indirection = table.data();
      a.packed = packed.data();
      a.zy = zy;
      a.r = r;
      for (const Partition& part : Partitions(pixels, slot.pixel_align)) {
        const std::vector<uint8_t> got = RunWithResidual(
            mode, pixels, p.cout, skip, proto, [&](const qk::QResidual* res, uint8_t* y) {
              qk::Qu8IgemmArgs b = a;
              b.y = y;
              b.has_res = res != nullptr;
              if (res != nullptr) b.res = *res;
              RunParts(slot.pixels, b, part);
            });
        bad += Mismatches(got, want,
                          std::string(slot.name) + " " + Describe(part) + " " + ConvName(p) +
                              " zx=" + std::to_string(zx) + " zy=" + std::to_string(zy) + " " +
                              ResName(mode));
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

// ------------------------------------------------------ depthwise shapes
struct DwCase {
  int n, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
};
const DwCase kDwCases[] = {
    {1, 6, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   {1, 7, 7, 17, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
    {2, 5, 6, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   {1, 9, 8, 40, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2},
    {1, 8, 9, 16, 3, 3, 1, 2, 2, 2, 2, 2, 2, 2},  {1, 5, 5, 67, 1, 3, 1, 1, 1, 1, 0, 1, 0, 1},
    {3, 4, 4, 24, 3, 3, 2, 1, 1, 1, 0, 1, 1, 0},  {1, 11, 3, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 3, 3, 9, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0},
};

qk::Conv2DParams DwParams(const DwCase& c) {
  struct W {
    int n, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  } win{c.n, c.h, c.w, c.kh, c.kw, c.sh, c.sw, c.dh, c.dw, c.pt, c.pl, c.pb, c.pr};
  qk::Conv2DParams p;
  kt::SetWindow(win, &p);
  p.cin = p.cout = p.groups = c.c;
  return p;
}

TEST_P(TierSlots, Qu8Dwconv) {
  const qk::Qu8DwconvSlot& slot = cfg().qu8_dwconv;
  REQUIRE_SLOT(slot);
  std::mt19937 rng(4711);
  int64_t bad = 0;
  int which = 0;
  for (const DwCase& dc : kDwCases) {
    const qk::Conv2DParams p = DwParams(dc);
    ASSERT_GT(p.oh, 0);
    ASSERT_GT(p.ow, 0);
    const int taps = p.kh * p.kw;
    for (int32_t zx : kZp) {
      ++which;
      const int32_t zy = kZp[(which + 2) % 3];
      const qk::QRange r = RangeFor(which, zy);
      const std::vector<uint8_t> x = kt::RandomU8(int64_t{p.n} * p.h * p.w * p.cin, rng);
      const std::vector<int8_t> w = kt::RandomI8(int64_t{p.cout} * taps, rng);
      const std::vector<int32_t> bias = FoldBias(p.cout, taps, w, zx, rng);
      const std::vector<float> mul = Multipliers(p.cout, taps, rng);
      const int64_t out = int64_t{p.n} * p.oh * p.ow * p.cout;
      std::vector<uint8_t> want(static_cast<size_t>(out));
      qk::qu8_conv2d_minmax_fp32__ref(p, x.data(), zx, w.data(), bias.data(), mul.data(), zy, r,
                                      want.data());
      std::vector<uint8_t> packed(slot.packed_size(p.cout, p.kh, p.kw));
      slot.pack(p.cout, p.kh, p.kw, w.data(), bias.data(), mul.data(), packed.data());
      qk::Qu8DwconvArgs a;
      a.p = p;
      a.x = x.data();
      a.zx = zx;
      a.packed = packed.data();
      a.zy = zy;
      a.r = r;
      for (const Partition& part : Partitions(p.oh, slot.row_align)) {
        const std::vector<uint8_t> got = kt::RunGuarded<uint8_t>(out, [&](uint8_t* y) {
          qk::Qu8DwconvArgs b = a;
          b.y = y;
          RunParts(slot.rows, b, part);
        });
        bad += Mismatches(got, want,
                          std::string(slot.name) + " " + Describe(part) + " " + ConvName(p) +
                              " zx=" + std::to_string(zx) + " zy=" + std::to_string(zy));
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

// ------------------------------------------------------------ f32 GEMM
const qk::FRange kActs[] = {qk::FRange{}, qk::FRange{0.f, 6.f}, qk::FRange{-0.5f, 0.5f}};

TEST_P(TierSlots, F32Gemm) {
  const qk::F32GemmSlot& slot = cfg().f32_gemm;
  REQUIRE_SLOT(slot);
  std::mt19937 rng(2024);
  int64_t bad = 0;
  int which = 0;
  for (int m : {1, 2, 3, 5, 6, 7, 8, 9, 13, 17, 26}) {
    for (int n : {1, 5, 16, 17, 31, 32, 33, 64, 70}) {
      for (int k : {1, 3, 16, 37, 100}) {
        ++which;
        const qk::FRange act = kActs[which % 3];
        const size_t x_stride = static_cast<size_t>(k) + (which % 2 == 0 ? 0 : 3);
        const std::vector<float> x = kt::RandomF(int64_t{m} * k, rng);
        std::vector<float> xs(static_cast<size_t>(m) * x_stride, 1e30f);
        for (int i = 0; i < m; ++i) {
          std::memcpy(xs.data() + static_cast<size_t>(i) * x_stride, x.data() + i * k,
                      sizeof(float) * static_cast<size_t>(k));
        }
        const std::vector<float> w = kt::RandomF(int64_t{n} * k, rng);
        const std::vector<float> bias = kt::RandomF(n, rng);
        std::vector<float> ref(static_cast<size_t>(m) * n);
        qk::f32_fully_connected__ref(m, k, n, x.data(), w.data(), bias.data(), act, ref.data());
        std::vector<double> mag(ref.size());
        for (int i = 0; i < m; ++i) {
          for (int j = 0; j < n; ++j) {
            double s = std::fabs(double(bias[static_cast<size_t>(j)]));
            for (int kk = 0; kk < k; ++kk) {
              s += std::fabs(double(x[static_cast<size_t>(i * k + kk)]) *
                             double(w[static_cast<size_t>(j * k + kk)]));
            }
            mag[static_cast<size_t>(i * n + j)] = s;
          }
        }
        std::vector<uint8_t> packed(slot.packed_size(n, k));
        slot.pack(n, k, w.data(), bias.data(), packed.data());
        qk::F32GemmArgs a;
        a.m = m;
        a.n = n;
        a.k = k;
        a.x = xs.data();
        a.x_stride = x_stride;
        a.packed = packed.data();
        a.act = act;
        a.y_stride = static_cast<size_t>(n);
        std::vector<float> whole;
        for (const Partition& part : Partitions(m, slot.row_align)) {
          const std::vector<float> got = kt::RunGuarded<float>(int64_t{m} * n, [&](float* y) {
            qk::F32GemmArgs b = a;
            b.y = y;
            RunParts(slot.rows, b, part);
          });
          const std::string what = std::string(slot.name) + " " + Describe(part) + " m=" +
                                   std::to_string(m) + " n=" + std::to_string(n) +
                                   " k=" + std::to_string(k);
          bad += F32Mismatches(got, ref, mag, what);
          if (whole.empty()) {
            whole = got;
          } else if (!SameFloatBits(got, whole)) {
            ADD_FAILURE() << what << ": not bit-identical to the whole range";
            ++bad;
          }
        }
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

// Sum over valid taps of |x*w| + |bias|, per output (the f32 tolerance scale).
std::vector<double> ConvMagnitude(const qk::Conv2DParams& p, const std::vector<float>& x,
                                  const std::vector<float>& w, const std::vector<float>& bias) {
  const int cpg = p.cin / p.groups, opg = p.cout / p.groups;
  std::vector<double> mag(static_cast<size_t>(p.n) * p.oh * p.ow * p.cout);
  size_t o = 0;
  for (int b = 0; b < p.n; ++b) {
    for (int oy = 0; oy < p.oh; ++oy) {
      for (int ox = 0; ox < p.ow; ++ox) {
        for (int co = 0; co < p.cout; ++co) {
          double s = std::fabs(double(bias[static_cast<size_t>(co)]));
          const int g = co / opg;
          for (int ky = 0; ky < p.kh; ++ky) {
            const int iy = oy * p.stride_h - p.pad_top + ky * p.dil_h;
            if (iy < 0 || iy >= p.h) continue;
            for (int kx = 0; kx < p.kw; ++kx) {
              const int ix = ox * p.stride_w - p.pad_left + kx * p.dil_w;
              if (ix < 0 || ix >= p.w) continue;
              for (int ci = 0; ci < cpg; ++ci) {
                const double xv = x[static_cast<size_t>(((b * p.h + iy) * p.w + ix) * p.cin +
                                                        g * cpg + ci)];
                const double wv =
                    w[static_cast<size_t>(((co * p.kh + ky) * p.kw + kx) * cpg + ci)];
                s += std::fabs(xv * wv);
              }
            }
          }
          mag[o++] = s;
        }
      }
    }
  }
  return mag;
}

TEST_P(TierSlots, F32Igemm) {
  const qk::F32IgemmSlot& slot = cfg().f32_igemm;
  REQUIRE_SLOT(slot);
  std::mt19937 rng(55);
  int64_t bad = 0;
  int which = 0;
  for (const ConvCase& cc : kConvCases) {
    const qk::Conv2DParams p = ConvParams(cc);
    ++which;
    const qk::FRange act = kActs[which % 3];
    const int taps = p.kh * p.kw;
    const int kk = taps * p.cin;
    const int64_t pixels = int64_t{p.n} * p.oh * p.ow;
    const std::vector<float> x = kt::RandomF(int64_t{p.n} * p.h * p.w * p.cin, rng);
    const std::vector<float> w = kt::RandomF(int64_t{p.cout} * kk, rng);
    const std::vector<float> bias = kt::RandomF(p.cout, rng);
    std::vector<float> ref(static_cast<size_t>(pixels * p.cout));
    qk::f32_conv2d__ref(p, x.data(), w.data(), bias.data(), act, ref.data());
    const std::vector<double> mag = ConvMagnitude(p, x, w, bias);
    std::vector<int64_t> table(slot.indirection_count(p));
    slot.indirection_build(p, table.data());
    const std::vector<float> zero(static_cast<size_t>(p.cin), 0.f);
    std::vector<uint8_t> packed(slot.packed_size(p.cout, kk));
    slot.pack(p.cout, kk, w.data(), bias.data(), packed.data());
    qk::F32IgemmArgs a;
    a.n = p.cout;
    a.taps = taps;
    a.cin = p.cin;
    a.x = x.data();
    a.indirection = table.data();
    a.zero = zero.data();
    a.packed = packed.data();
    a.act = act;
    a.y_stride = static_cast<size_t>(p.cout);
    std::vector<float> whole;
    for (const Partition& part : Partitions(pixels, slot.pixel_align)) {
      const std::vector<float> got = kt::RunGuarded<float>(pixels * p.cout, [&](float* y) {
        qk::F32IgemmArgs b = a;
        b.y = y;
        RunParts(slot.pixels, b, part);
      });
      const std::string what = std::string(slot.name) + " " + Describe(part) + " " + ConvName(p);
      bad += F32Mismatches(got, ref, mag, what);
      if (whole.empty()) {
        whole = got;
      } else if (!SameFloatBits(got, whole)) {
        ADD_FAILURE() << what << ": not bit-identical to the whole range";
        ++bad;
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

TEST_P(TierSlots, F32Dwconv) {
  const qk::F32DwconvSlot& slot = cfg().f32_dwconv;
  REQUIRE_SLOT(slot);
  std::mt19937 rng(56);
  int64_t bad = 0;
  int which = 0;
  for (const DwCase& dc : kDwCases) {
    const qk::Conv2DParams p = DwParams(dc);
    ++which;
    const qk::FRange act = kActs[which % 3];
    const int taps = p.kh * p.kw;
    const int64_t out = int64_t{p.n} * p.oh * p.ow * p.cout;
    const std::vector<float> x = kt::RandomF(int64_t{p.n} * p.h * p.w * p.cin, rng);
    const std::vector<float> w = kt::RandomF(int64_t{p.cout} * taps, rng);
    const std::vector<float> bias = kt::RandomF(p.cout, rng);
    std::vector<float> ref(static_cast<size_t>(out));
    qk::f32_conv2d__ref(p, x.data(), w.data(), bias.data(), act, ref.data());
    const std::vector<double> mag = ConvMagnitude(p, x, w, bias);
    std::vector<uint8_t> packed(slot.packed_size(p.cout, p.kh, p.kw));
    slot.pack(p.cout, p.kh, p.kw, w.data(), bias.data(), packed.data());
    qk::F32DwconvArgs a;
    a.p = p;
    a.x = x.data();
    a.packed = packed.data();
    a.act = act;
    std::vector<float> whole;
    for (const Partition& part : Partitions(p.oh, slot.row_align)) {
      const std::vector<float> got = kt::RunGuarded<float>(out, [&](float* y) {
        qk::F32DwconvArgs b = a;
        b.y = y;
        RunParts(slot.rows, b, part);
      });
      const std::string what = std::string(slot.name) + " " + Describe(part) + " " + ConvName(p);
      bad += F32Mismatches(got, ref, mag, what);
      if (whole.empty()) {
        whole = got;
      } else if (!SameFloatBits(got, whole)) {
        ADD_FAILURE() << what << ": not bit-identical to the whole range";
        ++bad;
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

// ------------------------------------------------------------ pooling
struct PoolCase {
  int n, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
};
const PoolCase kPoolCases[] = {
    {1, 4, 4, 1, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0},   {2, 7, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {3, 8, 6, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},  {1, 9, 9, 31, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0},
    {2, 5, 5, 32, 2, 3, 1, 2, 1, 1, 1, 0, 0, 1},  {1, 6, 7, 33, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},
    {2, 3, 3, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  {1, 10, 10, 100, 5, 5, 3, 3, 1, 1, 2, 2, 2, 2},
};

qk::Pool2DParams PoolParams(const PoolCase& c) {
  struct W {
    int n, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  } win{c.n, c.h, c.w, c.kh, c.kw, c.sh, c.sw, c.dh, c.dw, c.pt, c.pl, c.pb, c.pr};
  qk::Pool2DParams p;
  kt::SetWindow(win, &p);
  p.c = c.c;
  return p;
}

std::string PoolName(const qk::Pool2DParams& p) {
  return "n=" + std::to_string(p.n) + " in=" + std::to_string(p.h) + "x" + std::to_string(p.w) +
         "x" + std::to_string(p.c) + " k=" + std::to_string(p.kh) + "x" + std::to_string(p.kw) +
         " s=" + std::to_string(p.stride_h) + "," + std::to_string(p.stride_w) +
         " d=" + std::to_string(p.dil_h) + " pad=" + std::to_string(p.pad_top) + "," +
         std::to_string(p.pad_left) + (p.count_include_pad ? " count_include_pad" : "");
}

TEST_P(TierSlots, U8MaxPool) {
  const qk::U8MaxPoolSlot& slot = cfg().u8_maxpool;
  REQUIRE_SLOT(slot);
  std::mt19937 rng(8);
  int64_t bad = 0;
  int which = 0;
  for (const PoolCase& pc : kPoolCases) {
    const qk::Pool2DParams p = PoolParams(pc);
    ++which;
    const qk::QRange r = RangeFor(which, kZp[which % 3]);
    const std::vector<uint8_t> x = kt::RandomU8(int64_t{p.n} * p.h * p.w * p.c, rng);
    const int64_t out = int64_t{p.n} * p.oh * p.ow * p.c;
    std::vector<uint8_t> want(static_cast<size_t>(out));
    qk::u8_maxpool_minmax__ref(p, x.data(), r, want.data());
    qk::U8MaxPoolArgs a;
    a.p = p;
    a.x = x.data();
    a.r = r;
    for (const Partition& part : Partitions(p.n, slot.align)) {
      const std::vector<uint8_t> got = kt::RunGuarded<uint8_t>(out, [&](uint8_t* y) {
        qk::U8MaxPoolArgs b = a;
        b.y = y;
        RunSlot(slot, b, part);
      });
      bad += Mismatches(got, want, std::string(slot.name) + " " + Describe(part) + " " + PoolName(p));
    }
  }
  EXPECT_EQ(bad, 0);
}

TEST_P(TierSlots, Qu8AvgPool) {
  const qk::Qu8AvgPoolSlot& slot = cfg().qu8_avgpool;
  REQUIRE_SLOT(slot);
  std::mt19937 rng(9);
  int64_t bad = 0;
  int which = 0;
  for (const PoolCase& pc : kPoolCases) {
    for (bool include_pad : {false, true}) {
      qk::Pool2DParams p = PoolParams(pc);
      p.count_include_pad = include_pad;
      ++which;
      const int32_t zx = kZp[which % 3], zy = kZp[(which / 3) % 3];
      const qk::QRange r = RangeFor(which, zy);
      const float ratio = std::exp(std::uniform_real_distribution<float>(-1.f, 1.f)(rng));
      const std::vector<uint8_t> x = kt::RandomU8(int64_t{p.n} * p.h * p.w * p.c, rng);
      const int64_t out = int64_t{p.n} * p.oh * p.ow * p.c;
      std::vector<uint8_t> want(static_cast<size_t>(out));
      qk::qu8_avgpool_minmax_fp32__ref(p, x.data(), zx, ratio, zy, r, want.data());
      qk::Qu8AvgPoolArgs a;
      a.p = p;
      a.x = x.data();
      a.zx = zx;
      a.ratio = ratio;
      a.zy = zy;
      a.r = r;
      for (const Partition& part : Partitions(p.n, slot.align)) {
        const std::vector<uint8_t> got = kt::RunGuarded<uint8_t>(out, [&](uint8_t* y) {
          qk::Qu8AvgPoolArgs b = a;
          b.y = y;
          RunSlot(slot, b, part);
        });
        bad += Mismatches(got, want,
                          std::string(slot.name) + " " + Describe(part) + " " + PoolName(p) +
                              " zx=" + std::to_string(zx) + " zy=" + std::to_string(zy));
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

TEST_P(TierSlots, Qu8GlobalAvgPool) {
  const qk::Qu8GlobalAvgPoolSlot& slot = cfg().qu8_global_avgpool;
  REQUIRE_SLOT(slot);
  std::mt19937 rng(10);
  int64_t bad = 0;
  int which = 0;
  for (int n : {1, 2, 3}) {
    for (int64_t hw : {1, 7, 49, 300}) {
      for (int c : {1, 8, 31, 32, 33, 100}) {
        ++which;
        const int32_t zx = kZp[which % 3], zy = kZp[(which / 3) % 3];
        const qk::QRange r = RangeFor(which, zy);
        const float ratio = std::exp(std::uniform_real_distribution<float>(-1.f, 1.f)(rng));
        const std::vector<uint8_t> x = kt::RandomU8(n * hw * c, rng);
        std::vector<uint8_t> want(static_cast<size_t>(n) * c);
        qk::qu8_global_avgpool_minmax_fp32__ref(n, hw, c, x.data(), zx, ratio, zy, r, want.data());
        qk::Qu8GlobalAvgPoolArgs a;
        a.n = n;
        a.hw = hw;
        a.c = c;
        a.x = x.data();
        a.zx = zx;
        a.ratio = ratio;
        a.zy = zy;
        a.r = r;
        for (const Partition& part : Partitions(n, slot.align)) {
          const std::vector<uint8_t> got = kt::RunGuarded<uint8_t>(int64_t{n} * c, [&](uint8_t* y) {
            qk::Qu8GlobalAvgPoolArgs b = a;
            b.y = y;
            RunSlot(slot, b, part);
          });
          bad += Mismatches(got, want,
                            std::string(slot.name) + " " + Describe(part) + " n=" +
                                std::to_string(n) + " hw=" + std::to_string(hw) +
                                " c=" + std::to_string(c));
        }
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

// ------------------------------------------------------------ elementwise
const int64_t kLengths[] = {1, 7, 15, 16, 31, 32, 33, 64, 100, 1000};

TEST_P(TierSlots, Qu8Vadd) {
  const qk::Qu8VaddSlot& slot = cfg().qu8_vadd;
  REQUIRE_SLOT(slot);
  std::mt19937 rng(11);
  int64_t bad = 0;
  int which = 0;
  for (int64_t n : kLengths) {
    for (int rep = 0; rep < 9; ++rep) {
      ++which;
      qk::QAddParams p = RandomAdd(which, rng);
      const std::vector<uint8_t> a = kt::RandomU8(n, rng), b = kt::RandomU8(n, rng);
      qk::BroadcastShape bs;
      ASSERT_TRUE(qk::make_broadcast(1, &n, 1, &n, &bs));
      std::vector<uint8_t> want(static_cast<size_t>(n));
      qk::qu8_add_minmax_fp32__ref(bs, a.data(), b.data(), p, want.data());
      qk::Qu8VaddArgs args;
      args.a = a.data();
      args.b = b.data();
      args.p = p;
      for (const Partition& part : Partitions(n, slot.align)) {
        const std::vector<uint8_t> got = kt::RunGuarded<uint8_t>(n, [&](uint8_t* y) {
          qk::Qu8VaddArgs g = args;
          g.y = y;
          RunSlot(slot, g, part);
        });
        bad += Mismatches(got, want, std::string(slot.name) + " " + Describe(part) +
                                         " za=" + std::to_string(p.za) + " zb=" + std::to_string(p.zb) +
                                         " zy=" + std::to_string(p.zy));
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

TEST_P(TierSlots, Qu8Vmul) {
  const qk::Qu8VmulSlot& slot = cfg().qu8_vmul;
  REQUIRE_SLOT(slot);
  std::mt19937 rng(12);
  int64_t bad = 0;
  int which = 0;
  for (int64_t n : kLengths) {
    for (int rep = 0; rep < 9; ++rep) {
      ++which;
      qk::QMulParams p;
      p.za = kZp[which % 3];
      p.zb = kZp[(which / 3) % 3];
      p.zy = kZp[(which / 2) % 3];
      p.m = 1.f / 128.f * std::exp(std::uniform_real_distribution<float>(-1.f, 1.f)(rng));
      p.r = RangeFor(which / 4, p.zy);
      const std::vector<uint8_t> a = kt::RandomU8(n, rng), b = kt::RandomU8(n, rng);
      qk::BroadcastShape bs;
      ASSERT_TRUE(qk::make_broadcast(1, &n, 1, &n, &bs));
      std::vector<uint8_t> want(static_cast<size_t>(n));
      qk::qu8_mul_minmax_fp32__ref(bs, a.data(), b.data(), p, want.data());
      qk::Qu8VmulArgs args;
      args.a = a.data();
      args.b = b.data();
      args.p = p;
      for (const Partition& part : Partitions(n, slot.align)) {
        const std::vector<uint8_t> got = kt::RunGuarded<uint8_t>(n, [&](uint8_t* y) {
          qk::Qu8VmulArgs g = args;
          g.y = y;
          RunSlot(slot, g, part);
        });
        bad += Mismatches(got, want, std::string(slot.name) + " " + Describe(part) +
                                         " za=" + std::to_string(p.za) + " zb=" + std::to_string(p.zb) +
                                         " zy=" + std::to_string(p.zy));
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

TEST_P(TierSlots, Quantize) {
  const qk::QuantizeSlot& slot = cfg().quantize;
  REQUIRE_SLOT(slot);
  std::mt19937 rng(13);
  int64_t bad = 0;
  for (int64_t n : kLengths) {
    for (float s : {0.007f, 0.5f, 3.f}) {
      for (int32_t z : kZp) {
        std::vector<float> x = kt::RandomF(n, rng, -300.f * s, 300.f * s);
        // Specials and exact ties among the first elements.
        const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                                  std::numeric_limits<float>::infinity(),
                                  -std::numeric_limits<float>::infinity(),
                                  0.f,
                                  -0.f,
                                  std::numeric_limits<float>::denorm_min(),
                                  2.5f * s,
                                  -3.5f * s};
        for (size_t i = 0; i < std::min<size_t>(x.size(), std::size(specials)); ++i) {
          x[i] = specials[i];
        }
        std::vector<uint8_t> want(static_cast<size_t>(n));
        qk::qu8_quantize__ref(n, x.data(), s, z, want.data());
        qk::QuantizeArgs args;
        args.x = x.data();
        args.s = s;
        args.z = z;
        for (const Partition& part : Partitions(n, slot.align)) {
          const std::vector<uint8_t> got = kt::RunGuarded<uint8_t>(n, [&](uint8_t* y) {
            qk::QuantizeArgs g = args;
            g.y = y;
            RunSlot(slot, g, part);
          });
          bad += Mismatches(got, want, std::string(slot.name) + " " + Describe(part) +
                                           " s=" + std::to_string(s) + " z=" + std::to_string(z));
        }
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

TEST_P(TierSlots, Dequantize) {
  const qk::DequantizeSlot& slot = cfg().dequantize;
  REQUIRE_SLOT(slot);
  std::mt19937 rng(14);
  int64_t bad = 0;
  for (int64_t n : kLengths) {
    for (float s : {0.007f, 0.5f, 3.f}) {
      for (int32_t z : kZp) {
        const std::vector<uint8_t> x = kt::RandomU8(n, rng);
        std::vector<float> want(static_cast<size_t>(n));
        qk::qu8_dequantize__ref(n, x.data(), s, z, want.data());
        qk::DequantizeArgs args;
        args.x = x.data();
        args.s = s;
        args.z = z;
        for (const Partition& part : Partitions(n, slot.align)) {
          const std::vector<float> got = kt::RunGuarded<float>(n, [&](float* y) {
            qk::DequantizeArgs g = args;
            g.y = y;
            RunSlot(slot, g, part);
          });
          if (!SameFloatBits(got, want)) {
            ADD_FAILURE() << slot.name << " " << Describe(part) << " s=" << s << " z=" << z
                          << ": floats differ from the reference";
            ++bad;
          }
        }
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

INSTANTIATE_TEST_SUITE_P(Tiers, TierSlots,
                         ::testing::Values(qk::Tier::kAvx2, qk::Tier::kAvx512Vnni),
                         [](const ::testing::TestParamInfo<qk::Tier>& info) {
                           return std::string(qk::tier_name(info.param));
                         });

}  // namespace
