// oneDNN backend: see onednn.hpp for the contract and docs/onednn.md for the
// measurements behind it.
//
// Every primitive is built once: descriptors with format `any` for the
// weights (reordered once into oneDNN's preferred layout, owned here), user
// memory bound to the fixed activation addresses, a user-managed scratchpad
// allocated here, and the execute arguments prebuilt as a C array so that
// run() calls dnnl_primitive_execute without building a map.
//
// Threads: Debian's libdnnl 2.6 is built with the OpenMP CPU runtime (GNU
// libgomp). oneDNN sizes its per-thread scratchpad from omp_get_max_threads()
// when the primitive descriptor is created, and runs its parallel regions with
// the calling thread's team size, so both creation and run() set the calling
// thread's OpenMP thread count to `threads` and restore it afterwards.
//
// This file is the oneDNN plugin, libquanta_onednn.so (onednn_plugin.hpp):
// the runtime reaches the functions below only through the table at the end.
#include "backends/onednn.hpp"
#include "backends/onednn_plugin.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace quanta::detail::onednn {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;

// Largest integer magnitude below which every int32 value, and every sum of
// two of them, is exact in fp32.
constexpr int64_t kExactF32Int = int64_t{1} << 24;

const dnnl::engine& cpu_engine() {
  static const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

// Sets the calling thread's OpenMP team size for the lifetime of the object.
class OmpThreads {
 public:
  explicit OmpThreads(int n) : old_(omp_get_max_threads()), n_(n) {
    if (n_ != old_) omp_set_num_threads(n_);
  }
  ~OmpThreads() {
    if (n_ != old_) omp_set_num_threads(old_);
  }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int old_, n_;
};

// One primitive execution: the primitive, the memories it reads and writes
// (kept alive here) and the prebuilt C argument array.
struct Step {
  dnnl::primitive prim;
  std::vector<dnnl::memory> keep;
  std::vector<dnnl_exec_arg_t> args;
  void arg(int which, const dnnl::memory& m) {
    keep.push_back(m);
    args.push_back({which, m.get()});
  }
};

class DnnlPrimitive final : public Primitive {
 public:
  explicit DnnlPrimitive(int threads) : threads_(threads), stream_(cpu_engine()) {}

  void run() const override {
    OmpThreads t(threads_);
    for (const Step& s : steps_) {
      dnnl_primitive_execute(s.prim.get(), stream_.get(), static_cast<int>(s.args.size()),
                             s.args.data());
    }
    dnnl_stream_wait(stream_.get());
  }
  std::string info() const override { return info_; }
  const std::vector<Candidate>& candidates() const override { return candidates_; }

  int threads_;
  dnnl::stream stream_;
  std::vector<Step> steps_;
  std::vector<std::vector<uint8_t>> buffers_;  // scratchpads, temporaries
  std::string info_;
  std::vector<Candidate> candidates_;

  // A buffer owned by the primitive, 64-byte aligned, bound to memory `md`.
  dnnl::memory own(const dnnl::memory::desc& md) {
    const size_t bytes = md.get_size();
    buffers_.emplace_back(bytes + 64);
    auto addr = reinterpret_cast<uintptr_t>(buffers_.back().data());
    void* p = reinterpret_cast<void*>((addr + 63) & ~uintptr_t{63});
    return dnnl::memory(md, cpu_engine(), p);
  }

  // Reorders user data (layout `user`) into a new owned memory of layout `want`.
  dnnl::memory reorder_in(const dnnl::memory::desc& user, const void* data,
                          const dnnl::memory::desc& want) {
    dnnl::memory src(user, cpu_engine(), const_cast<void*>(data));
    dnnl::memory dst = own(want);
    dnnl::reorder(src, dst).execute(stream_, src, dst);
    stream_.wait();
    return dst;
  }

  // Adds a step for primitive descriptor `pd` with its scratchpad.
  template <class PD>
  Step& add_step(const PD& pd) {
    steps_.push_back(Step{dnnl::primitive(pd), {}, {}});
    Step& s = steps_.back();
    const dnnl::memory::desc sp = pd.scratchpad_desc();
    if (sp.get_size() > 0) s.arg(DNNL_ARG_SCRATCHPAD, own(sp));
    if (!info_.empty()) info_ += " + ";
    info_ += pd.impl_info_str();
    return s;
  }
};

dnnl::memory user_mem(const dnnl::memory::desc& md, const void* p) {
  return dnnl::memory(md, cpu_engine(), const_cast<void*>(p));
}

dnnl::memory s32_scalar(DnnlPrimitive* prim, int32_t v) {
  dnnl::memory m = prim->own(dnnl::memory::desc({1}, dt::s32, tag::a));
  *static_cast<int32_t*>(m.get_data_handle()) = v;
  return m;
}

// Builds the primitive, turning any oneDNN error into a refusal.
template <class Fn>
std::unique_ptr<Primitive> guarded(std::string* why, Fn&& fn) {
  try {
    return fn();
  } catch (const dnnl::error& e) {
    if (why != nullptr) *why = std::string("oneDNN refused the primitive: ") + e.what();
  } catch (const std::exception& e) {
    if (why != nullptr) *why = std::string("oneDNN backend: ") + e.what();
  }
  return nullptr;
}

bool refuse(std::string* why, std::string reason) {
  if (why != nullptr) *why = std::move(reason);
  return false;
}

ImplNameOverride g_impl_override = nullptr;

// Completes `base` with the implementation oneDNN picked for step `pd` and
// asks admit(). Returns false (with *why) when the step is refused and
// `enforce` is set; otherwise records the candidate on the primitive.
template <class PD>
bool admit_step(DnnlPrimitive* prim, Candidate c, const PD& pd, bool enforce, std::string* why) {
  c.impl = pd.impl_info_str();
  if (g_impl_override != nullptr) c.impl = g_impl_override(c);
  const Admission a = admit(c);
  if (!a.admitted && enforce) return refuse(why, a.reason);
  prim->candidates_.push_back(std::move(c));
  return true;
}

// ------------------------------------------------------------ geometry
struct ConvGeom {
  dims src, wei, bias, dst, strides, dil, pad_l, pad_r;
  dims wei_user_strides;  // OHWI
  bool grouped;
};

bool conv_geom(const kernels::Conv2DParams& p, ConvGeom* g, std::string* why) {
  if (p.groups < 1 || p.cin % p.groups != 0 || p.cout % p.groups != 0) {
    return refuse(why, "oneDNN backend: groups must divide cin and cout");
  }
  const int64_t cin_g = p.cin / p.groups, cout_g = p.cout / p.groups;
  g->grouped = p.groups > 1;
  g->src = {p.n, p.cin, p.h, p.w};
  g->dst = {p.n, p.cout, p.oh, p.ow};
  g->bias = {p.cout};
  g->strides = {p.stride_h, p.stride_w};
  g->dil = {p.dil_h - 1, p.dil_w - 1};
  g->pad_l = {p.pad_top, p.pad_left};
  // The right/bottom padding implied by the output size (may be negative when
  // the stride skips the last rows; oneDNN accepts that).
  const int64_t pb = (int64_t{p.oh} - 1) * p.stride_h + (int64_t{p.kh} - 1) * p.dil_h + 1 - p.h -
                     p.pad_top;
  const int64_t pr = (int64_t{p.ow} - 1) * p.stride_w + (int64_t{p.kw} - 1) * p.dil_w + 1 - p.w -
                     p.pad_left;
  g->pad_r = {pb, pr};
  if (g->grouped) {
    g->wei = {p.groups, cout_g, cin_g, p.kh, p.kw};
    g->wei_user_strides = {cout_g * p.kh * p.kw * cin_g, p.kh * p.kw * cin_g, 1, p.kw * cin_g,
                           cin_g};
  } else {
    g->wei = {p.cout, p.cin, p.kh, p.kw};
    g->wei_user_strides = {p.kh * p.kw * p.cin, 1, p.kw * p.cin, p.cin};
  }
  return true;
}

// The admission candidate of a convolution (impl filled per step).
Candidate conv_candidate(const kernels::Conv2DParams& p, const ConvGeom& g, bool int8,
                         int32_t zx) {
  Candidate c;
  const bool depthwise = p.groups > 1 && p.groups == p.cin && p.groups == p.cout;
  c.kind = !int8 ? PrimKind::kF32Conv
           : depthwise ? PrimKind::kQu8Depthwise
           : p.groups > 1 ? PrimKind::kQu8GroupedConv
                          : PrimKind::kQu8Conv;
  c.kh = p.kh;
  c.kw = p.kw;
  c.stride_h = p.stride_h;
  c.stride_w = p.stride_w;
  c.dil_h = p.dil_h;
  c.dil_w = p.dil_w;
  c.pad_top = g.pad_l[0];
  c.pad_left = g.pad_l[1];
  c.pad_bottom = g.pad_r[0];
  c.pad_right = g.pad_r[1];
  c.zx = int8 ? zx : 0;
  return c;
}

// ------------------------------------------------------------ int8 common
// Per-output-channel worst-case |sum (x - zx) * w| over every u8 input.
std::vector<int64_t> acc_bound(int rows, int64_t row_len, const int8_t* w, int32_t zx) {
  const int64_t span = std::max<int64_t>(zx, 255 - zx);
  std::vector<int64_t> b(static_cast<size_t>(rows), 0);
  for (int r = 0; r < rows; ++r) {
    int64_t s = 0;
    for (int64_t k = 0; k < row_len; ++k) s += std::abs(int64_t{w[r * row_len + k]});
    b[static_cast<size_t>(r)] = s * span;
  }
  return b;
}

// Checks the bound that makes oneDNN's fp32 bias add exact (onednn.hpp).
bool check_exact_range(int rows, int64_t row_len, const int8_t* w, int32_t zx,
                       const int32_t* bias, std::string* why) {
  const std::vector<int64_t> b = acc_bound(rows, row_len, w, zx);
  for (int r = 0; r < rows; ++r) {
    const int64_t bias_abs = bias != nullptr ? std::abs(int64_t{bias[r]}) : 0;
    if (b[static_cast<size_t>(r)] + bias_abs > kExactF32Int) {
      return refuse(why, "oneDNN backend: output channel " + std::to_string(r) +
                             " can reach |accumulator| + |bias| = " +
                             std::to_string(b[static_cast<size_t>(r)] + bias_abs) +
                             " > 2^24, where oneDNN's fp32 bias addition would round "
                             "differently from the reference's int32 sum");
    }
  }
  return true;
}

int max_abs_weight(int64_t count, const int8_t* w) {
  int m = 0;
  for (int64_t i = 0; i < count; ++i) m = std::max(m, std::abs(int{w[i]}));
  return m;
}

// The oneDNN pieces of one int8 primitive: which of the two halves (or the
// whole) it computes, and how its result is finished.
enum class Part {
  kWhole,      // f = (acc + bias) * m, clip, round, + zy -> u8
  kFirstHalf,  // f32 tmp = acc (exact), nothing else
  kSecondHalf  // f = (acc + bias) + tmp, * m (binary), clip, round, + zy -> u8
};

struct Q8Common {
  int32_t zx, zy;
  kernels::QRange r;
  const float* multiplier;
  int channels;
};

// Attributes of an int8 step. `mul_md`: the per-channel multiplier as a
// binary post-op operand (kSecondHalf); `tmp_md`: the first half's result.
dnnl::primitive_attr q8_attr(const Q8Common& c, Part part, int scale_mask,
                             const dnnl::memory::desc& tmp_md, const dnnl::memory::desc& mul_md) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (c.zx != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  if (part == Part::kFirstHalf) return attr;
  dnnl::post_ops po;
  if (part == Part::kWhole) {
    attr.set_output_scales(scale_mask,
                           std::vector<float>(c.multiplier, c.multiplier + c.channels));
  } else {
    po.append_binary(dnnl::algorithm::binary_add, tmp_md);
    po.append_binary(dnnl::algorithm::binary_mul, mul_md);
  }
  po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, static_cast<float>(c.r.qmin - c.zy),
                    static_cast<float>(c.r.qmax - c.zy));
  po.append_eltwise(1.f, dnnl::algorithm::eltwise_round, 0.f, 0.f);
  attr.set_post_ops(po);
  if (c.zy != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
  return attr;
}

// Arguments shared by every int8 step (zero points, post-op operands).
void q8_args(DnnlPrimitive* prim, Step& s, const Q8Common& c, Part part, const dnnl::memory& tmp,
             const dnnl::memory& mul) {
  if (c.zx != 0) s.arg(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, s32_scalar(prim, c.zx));
  if (part == Part::kFirstHalf) return;
  if (part == Part::kSecondHalf) {
    s.arg(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, tmp);
    s.arg(DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1, mul);
  }
  if (c.zy != 0) s.arg(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, s32_scalar(prim, c.zy));
}

// Splits w into w1 = trunc(w / 2) and w2 = w - w1, both in [-64, 64]: two
// adjacent u8 products of such weights sum to at most 2 * 255 * 64 = 32640,
// so VPMADDUBSW cannot saturate, and conv(x, w1) + conv(x, w2) = conv(x, w).
void split_weights(int64_t count, const int8_t* w, std::vector<int8_t>* w1,
                   std::vector<int8_t>* w2) {
  w1->resize(static_cast<size_t>(count));
  w2->resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int v = w[i];
    const int a = v / 2;  // truncates toward zero
    (*w1)[static_cast<size_t>(i)] = static_cast<int8_t>(a);
    (*w2)[static_cast<size_t>(i)] = static_cast<int8_t>(v - a);
  }
}

// Decides between one primitive and the split; false (with *why) to refuse.
bool choose_split(int64_t wcount, const int8_t* w, bool allow_split, bool depthwise,
                  bool* split, std::string* why) {
  *split = false;
  // Depthwise int8 convolution multiplies in int32 (no VPMADDUBSW pairs).
  if (int8_dot_is_exact() || depthwise || max_abs_weight(wcount, w) <= 64) return true;
  if (!allow_split) {
    return refuse(why,
                  "oneDNN backend: this CPU has no VNNI, oneDNN's int8 kernels use VPMADDUBSW "
                  "(int16 saturation of adjacent u8*s8 pairs) and the weights exceed [-64, 64]");
  }
  *split = true;
  return true;
}

// The memory descriptors of an int8 convolution / matmul: tmp is the f32
// result of the first half of a split, mul the per-channel multiplier as a
// binary post-op operand.
struct Q8Mds {
  dnnl::memory::desc src, dst, tmp, bias, wei_any, wei_user, mul;
};

// The int8 primitive shared by conv and gemm: one step (Part::kWhole) or,
// with `split`, two steps over the halves of the weights (split_weights).
// make_pd(has_bias, out_md, attr) returns the step's primitive descriptor.
// Every step goes through admission (`base`: the node's candidate); nullptr
// with *why when a step is refused and `enforce` is set.
// Call inside guarded(), with the OpenMP threads set.
template <class MakePd>
std::unique_ptr<Primitive> build_q8(const Q8Mds& md, const Q8Common& c, int64_t wcount,
                                    const int8_t* w, const int32_t* bias, const uint8_t* x_data,
                                    uint8_t* y_data, bool split, int threads, Candidate base,
                                    bool enforce, std::string* why, MakePd&& make_pd) {
  auto prim = std::make_unique<DnnlPrimitive>(std::max(1, threads));
  dnnl::memory x = user_mem(md.src, x_data), y = user_mem(md.dst, y_data);
  dnnl::memory tmp, mul;
  std::vector<int8_t> w1, w2;
  if (split) {
    split_weights(wcount, w, &w1, &w2);
    tmp = prim->own(md.tmp);
    mul = user_mem(md.mul, c.multiplier);
  }
  const std::vector<Part> parts =
      split ? std::vector<Part>{Part::kFirstHalf, Part::kSecondHalf} : std::vector<Part>{Part::kWhole};
  for (Part part : parts) {
    const bool has_bias = bias != nullptr && part != Part::kFirstHalf;
    const dnnl::memory::desc& out_md = part == Part::kFirstHalf ? md.tmp : md.dst;
    const dnnl::primitive_attr attr = q8_attr(c, part, 1 << 1, md.tmp, md.mul);
    const auto pd = make_pd(has_bias, out_md, attr);
    base.split = split;
    if (!admit_step(prim.get(), base, pd, enforce, why)) return nullptr;
    const int8_t* wsrc = part == Part::kWhole ? w : part == Part::kFirstHalf ? w1.data() : w2.data();
    dnnl::memory wei = prim->reorder_in(md.wei_user, wsrc, pd.weights_desc());
    Step& s = prim->add_step(pd);
    s.arg(DNNL_ARG_SRC, x);
    s.arg(DNNL_ARG_WEIGHTS, wei);
    if (has_bias) s.arg(DNNL_ARG_BIAS, user_mem(md.bias, bias));
    s.arg(DNNL_ARG_DST, part == Part::kFirstHalf ? tmp : y);
    q8_args(prim.get(), s, c, part, tmp, mul);
  }
  return prim;
}

}  // namespace

bool int8_dot_is_exact() {
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_vnni || isa == dnnl::cpu_isa::avx512_core_bf16 ||
         isa == dnnl::cpu_isa::avx512_core_amx || isa == dnnl::cpu_isa::avx2_vnni;
}

// ------------------------------------------------------------ qu8 conv
std::unique_ptr<Primitive> make_qu8_conv(const Qu8ConvDesc& d, int threads, std::string* why) {
  ConvGeom g;
  if (!conv_geom(d.p, &g, why)) return nullptr;
  const kernels::Conv2DParams& p = d.p;
  const int64_t row_len = int64_t{p.kh} * p.kw * (p.cin / p.groups);
  const int64_t wcount = row_len * p.cout;
  if (!check_exact_range(p.cout, row_len, d.w, d.zx, d.bias, why)) return nullptr;
  const bool depthwise = p.groups > 1 && p.groups == p.cin && p.groups == p.cout;
  bool split = false;
  if (!choose_split(wcount, d.w, d.allow_weight_split, depthwise, &split, why)) return nullptr;

  return guarded(why, [&]() -> std::unique_ptr<Primitive> {
    OmpThreads t(threads);
    const Q8Mds md{dnnl::memory::desc(g.src, dt::u8, tag::nhwc),
                   dnnl::memory::desc(g.dst, dt::u8, tag::nhwc),
                   dnnl::memory::desc(g.dst, dt::f32, tag::nhwc),
                   dnnl::memory::desc(g.bias, dt::s32, tag::a),
                   dnnl::memory::desc(g.wei, dt::s8, tag::any),
                   dnnl::memory::desc(g.wei, dt::s8, g.wei_user_strides),
                   dnnl::memory::desc({1, p.cout, 1, 1}, dt::f32, tag::abcd)};
    const Q8Common c{d.zx, d.zy, d.r, d.multiplier, p.cout};
    return build_q8(md, c, wcount, d.w, d.bias, d.x, d.y, split, threads,
                    conv_candidate(p, g, true, d.zx), d.enforce_admission, why,
                    [&](bool has_bias, const dnnl::memory::desc& out_md,
                        const dnnl::primitive_attr& attr) {
                      const auto od =
                          has_bias ? dnnl::convolution_forward::desc(
                                         dnnl::prop_kind::forward_inference,
                                         dnnl::algorithm::convolution_direct, md.src, md.wei_any,
                                         md.bias, out_md, g.strides, g.dil, g.pad_l, g.pad_r)
                                   : dnnl::convolution_forward::desc(
                                         dnnl::prop_kind::forward_inference,
                                         dnnl::algorithm::convolution_direct, md.src, md.wei_any,
                                         out_md, g.strides, g.dil, g.pad_l, g.pad_r);
                      return dnnl::convolution_forward::primitive_desc(od, attr, cpu_engine());
                    });
  });
}

// ------------------------------------------------------------ qu8 gemm
std::unique_ptr<Primitive> make_qu8_gemm(const Qu8GemmDesc& d, int threads, std::string* why) {
  if (d.m < 1 || d.n < 1 || d.k < 1) {
    if (why != nullptr) *why = "oneDNN backend: empty GEMM";
    return nullptr;
  }
  const int64_t wcount = int64_t{d.n} * d.k;
  if (!check_exact_range(d.n, d.k, d.w, d.zx, d.bias, why)) return nullptr;
  bool split = false;
  if (!choose_split(wcount, d.w, d.allow_weight_split, false, &split, why)) return nullptr;

  return guarded(why, [&]() -> std::unique_ptr<Primitive> {
    OmpThreads t(threads);
    const Q8Mds md{dnnl::memory::desc({d.m, d.k}, dt::u8, tag::ab),
                   dnnl::memory::desc({d.m, d.n}, dt::u8, tag::ab),
                   dnnl::memory::desc({d.m, d.n}, dt::f32, tag::ab),
                   dnnl::memory::desc({1, d.n}, dt::s32, tag::ab),
                   dnnl::memory::desc({d.k, d.n}, dt::s8, tag::any),
                   dnnl::memory::desc({d.k, d.n}, dt::s8, tag::ba),  // w[n, k]
                   dnnl::memory::desc({1, d.n}, dt::f32, tag::ab)};
    const Q8Common c{d.zx, d.zy, d.r, d.multiplier, d.n};
    Candidate base;
    base.kind = PrimKind::kQu8Gemm;
    base.zx = d.zx;
    return build_q8(md, c, wcount, d.w, d.bias, d.x, d.y, split, threads, base,
                    d.enforce_admission, why,
                    [&](bool has_bias, const dnnl::memory::desc& out_md,
                        const dnnl::primitive_attr& attr) {
                      const auto od = has_bias
                                          ? dnnl::matmul::desc(md.src, md.wei_any, md.bias, out_md)
                                          : dnnl::matmul::desc(md.src, md.wei_any, out_md);
                      return dnnl::matmul::primitive_desc(od, attr, cpu_engine());
                    });
  });
}

// ------------------------------------------------------------ f32
namespace {
dnnl::primitive_attr f32_attr(kernels::FRange act) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (std::isfinite(act.lo) || std::isfinite(act.hi)) {
    dnnl::post_ops po;
    po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, act.lo, act.hi);
    attr.set_post_ops(po);
  }
  return attr;
}

// The single step of an f32 primitive: weights reordered from `wei_user` into
// the layout pd chose, bias optional. Call inside guarded().
template <class PD>
std::unique_ptr<Primitive> build_f32(int threads, const PD& pd, const Candidate& base,
                                     std::string* why, const dnnl::memory::desc& src_md,
                                     const dnnl::memory::desc& wei_user,
                                     const dnnl::memory::desc& bias_md,
                                     const dnnl::memory::desc& dst_md, const float* x,
                                     const float* w, const float* bias, float* y) {
  auto prim = std::make_unique<DnnlPrimitive>(std::max(1, threads));
  if (!admit_step(prim.get(), base, pd, true, why)) return nullptr;
  dnnl::memory wei = prim->reorder_in(wei_user, w, pd.weights_desc());
  Step& s = prim->add_step(pd);
  s.arg(DNNL_ARG_SRC, user_mem(src_md, x));
  s.arg(DNNL_ARG_WEIGHTS, wei);
  if (bias != nullptr) s.arg(DNNL_ARG_BIAS, user_mem(bias_md, bias));
  s.arg(DNNL_ARG_DST, user_mem(dst_md, y));
  return prim;
}
}  // namespace

std::unique_ptr<Primitive> make_f32_conv(const F32ConvDesc& d, int threads, std::string* why) {
  ConvGeom g;
  if (!conv_geom(d.p, &g, why)) return nullptr;
  return guarded(why, [&]() -> std::unique_ptr<Primitive> {
    OmpThreads t(threads);
    const dnnl::memory::desc src_md(g.src, dt::f32, tag::nhwc);
    const dnnl::memory::desc dst_md(g.dst, dt::f32, tag::nhwc);
    const dnnl::memory::desc bias_md(g.bias, dt::f32, tag::a);
    const dnnl::memory::desc wei_any(g.wei, dt::f32, tag::any);
    const dnnl::memory::desc wei_user(g.wei, dt::f32, g.wei_user_strides);
    const auto od = d.bias != nullptr
                        ? dnnl::convolution_forward::desc(
                              dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                              src_md, wei_any, bias_md, dst_md, g.strides, g.dil, g.pad_l, g.pad_r)
                        : dnnl::convolution_forward::desc(
                              dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                              src_md, wei_any, dst_md, g.strides, g.dil, g.pad_l, g.pad_r);
    const dnnl::convolution_forward::primitive_desc pd(od, f32_attr(d.act), cpu_engine());
    return build_f32(threads, pd, conv_candidate(d.p, g, false, 0), why, src_md, wei_user,
                     bias_md, dst_md, d.x, d.w, d.bias, d.y);
  });
}

std::unique_ptr<Primitive> make_f32_gemm(const F32GemmDesc& d, int threads, std::string* why) {
  if (d.m < 1 || d.n < 1 || d.k < 1) {
    if (why != nullptr) *why = "oneDNN backend: empty GEMM";
    return nullptr;
  }
  return guarded(why, [&]() -> std::unique_ptr<Primitive> {
    OmpThreads t(threads);
    const dnnl::memory::desc src_md({d.m, d.k}, dt::f32, tag::ab);
    const dnnl::memory::desc dst_md({d.m, d.n}, dt::f32, tag::ab);
    const dnnl::memory::desc bias_md({1, d.n}, dt::f32, tag::ab);
    const dnnl::memory::desc wei_any({d.k, d.n}, dt::f32, tag::any);
    const dnnl::memory::desc wei_user({d.k, d.n}, dt::f32, tag::ba);
    const auto od = d.bias != nullptr ? dnnl::matmul::desc(src_md, wei_any, bias_md, dst_md)
                                      : dnnl::matmul::desc(src_md, wei_any, dst_md);
    const dnnl::matmul::primitive_desc pd(od, f32_attr(d.act), cpu_engine());
    Candidate base;
    base.kind = PrimKind::kF32Gemm;
    return build_f32(threads, pd, base, why, src_md, wei_user, bias_md, dst_md, d.x, d.w,
                     d.bias, d.y);
  });
}

void set_impl_name_override_for_tests(ImplNameOverride fn) { g_impl_override = fn; }

// ------------------------------------------------------------ describe
std::string describe() {
  const dnnl_version_t* v = dnnl_version();
  auto runtime = [](unsigned r) -> std::string {
    switch (r) {
      case DNNL_RUNTIME_OMP: return "OpenMP";
      case DNNL_RUNTIME_TBB: return "TBB";
      case DNNL_RUNTIME_SEQ: return "sequential";
      case DNNL_RUNTIME_THREADPOOL: return "threadpool";
      default: return "runtime " + std::to_string(r);
    }
  };
  std::string isa;
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: isa = "sse41"; break;
    case dnnl::cpu_isa::avx: isa = "avx"; break;
    case dnnl::cpu_isa::avx2: isa = "avx2"; break;
    case dnnl::cpu_isa::avx2_vnni: isa = "avx2_vnni"; break;
    case dnnl::cpu_isa::avx512_mic: isa = "avx512_mic"; break;
    case dnnl::cpu_isa::avx512_mic_4ops: isa = "avx512_mic_4ops"; break;
    case dnnl::cpu_isa::avx512_core: isa = "avx512_core"; break;
    case dnnl::cpu_isa::avx512_core_vnni: isa = "avx512_core_vnni"; break;
    case dnnl::cpu_isa::avx512_core_bf16: isa = "avx512_core_bf16"; break;
    case dnnl::cpu_isa::avx512_core_amx: isa = "avx512_core_amx"; break;
    default: isa = "other"; break;
  }
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
         std::to_string(v->patch) + " (" + runtime(v->cpu_runtime) + ", ISA " + isa +
         ", int8 dot " + (int8_dot_is_exact() ? "VNNI exact" : "VPMADDUBSW (saturating)") +
         ", max threads " + std::to_string(omp_get_max_threads()) + ")";
}

}  // namespace quanta::detail::onednn

#ifndef QUANTA_VERSION_STRING
#error "the oneDNN plugin is built with QUANTA_VERSION_STRING (CMakeLists.txt)"
#endif

extern "C" __attribute__((visibility("default"))) const quanta::detail::onednn::PluginApi*
quanta_onednn_plugin_v1() {
  namespace od = quanta::detail::onednn;
  static const od::PluginApi api = {
      sizeof(od::PluginApi), QUANTA_VERSION_STRING, od::make_qu8_conv,     od::make_qu8_gemm,
      od::make_f32_conv,     od::make_f32_gemm,     od::int8_dot_is_exact, od::describe,
      od::set_impl_name_override_for_tests};
  return &api;
}
