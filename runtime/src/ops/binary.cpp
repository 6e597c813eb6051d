// Add and Mul (numpy broadcast, fused activation): their load-time check and
// their prepare step.
#include <cmath>
#include <fmt/format.h>

#include "ops/check_util.hpp"
#include "ops/registry.hpp"
#include "ops/op_util.hpp"

namespace quanta::detail {
namespace {

// What the check computes for the prepare step.
struct BinaryGeometry {
  kernels::BroadcastShape shape;
  bool same_shape = false;  // A and B have one shape: no broadcast at all
};

class BinaryCheck final : public NodeChecker {
 public:
  using NodeChecker::NodeChecker;

  Status infer(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(2, 2));
    const int a = in(0), b = in(1);
    Mode mode{};
    QUANTA_OPS_TRY(mode_of(a, &mode));
    const auto o = read_options<fb::ElementwiseOptionsT>(fbn_);
    QUANTA_OPS_TRY(need_act(a, mode, "input A"));
    QUANTA_OPS_TRY(need_act(b, mode, "input B"));
    QUANTA_OPS_TRY(need_act(out(), mode, "output"));
    const auto& as = info(a).shape;
    const auto& bs = info(b).shape;
    kernels::BroadcastShape bc;
    if (!kernels::make_broadcast(static_cast<int>(as.size()), as.data(),
                                 static_cast<int>(bs.size()), bs.data(), &bc)) {
      return invalid(fmt::format("{} input shapes {} ({}) and {} ({}) do not broadcast", opname_,
                                 shape_str(as), tdesc(a), shape_str(bs), tdesc(b)));
    }
    y_shape.assign(bc.out, bc.out + bc.rank);
    QUANTA_OPS_TRY(check_activation(o.activation, o.clip_min, o.clip_max));
    set_geometry<BinaryGeometry>() = BinaryGeometry{bc, as == bs};
    return Status::Ok();
  }
};

struct BinaryF32 {
  k::BroadcastShape shape;
  const float* a;
  const float* b;
  k::FRange act;
  float* y;
};
void run_add_f32(const BinaryF32& s) { k::f32_add__ref(s.shape, s.a, s.b, s.act, s.y); }
void run_mul_f32(const BinaryF32& s) { k::f32_mul__ref(s.shape, s.a, s.b, s.act, s.y); }

struct AddQU8 {
  k::BroadcastShape shape;
  const uint8_t* a;
  const uint8_t* b;
  k::QAddParams p;
  uint8_t* y;
};
void run_add_qu8(const AddQU8& s) { k::qu8_add_minmax_fp32__ref(s.shape, s.a, s.b, s.p, s.y); }

struct MulQU8 {
  k::BroadcastShape shape;
  const uint8_t* a;
  const uint8_t* b;
  k::QMulParams p;
  uint8_t* y;
};
void run_mul_qu8(const MulQU8& s) { k::qu8_mul_minmax_fp32__ref(s.shape, s.a, s.b, s.p, s.y); }

class BinaryPreparer final : public Preparer {
 public:
  using Preparer::Preparer;
  Result<PreparedOp> prepare();

 private:
  // The fields AddQU8 and MulQU8 share (the multipliers differ).
  template <class S>
  std::shared_ptr<S> binary_qu8_state(const k::BroadcastShape& shape, int a, int b, int y,
                                      k::QRange r) const {
    auto s = std::make_shared<S>();
    s->shape = shape;
    s->a = data<const uint8_t>(a);
    s->b = data<const uint8_t>(b);
    s->p.za = zero(a);
    s->p.zb = zero(b);
    s->p.zy = zero(y);
    s->p.r = r;
    s->y = data<uint8_t>(y);
    return s;
  }
};

Result<PreparedOp> BinaryPreparer::prepare() {
  const int a = in(0), b = in(1), y = out();
  const auto o = read_options<fb::ElementwiseOptionsT>(fbn_);
  const k::Act act = to_act(o.activation);
  const BinaryGeometry& geo = ctx_.geometry<BinaryGeometry>();
  const k::BroadcastShape& shape = geo.shape;
  const bool is_add = node_.op == OpType::kAdd;
  if (!quantized()) {
    auto s = std::make_shared<BinaryF32>(BinaryF32{shape, data<const float>(a),
                                                   data<const float>(b),
                                                   k::activation_range_f32(act, o.clip_min,
                                                                           o.clip_max),
                                                   data<float>(y)});
    if (is_add) return make_prepared<BinaryF32, run_add_f32>(std::move(s));
    return make_prepared<BinaryF32, run_mul_f32>(std::move(s));
  }
  const k::QRange r = k::activation_range_u8(act, o.clip_min, o.clip_max, scale(y), zero(y));
  if (is_add) {
    auto s = binary_qu8_state<AddQU8>(shape, a, b, y, r);
    s->p = qadd_params(a, b, y, o);
    QUANTA_OPS_TRY(check_multiplier(s->p.ma, "input", 0));
    QUANTA_OPS_TRY(check_multiplier(s->p.mb, "input", 1));
    // Two inputs of one shape: the table's qu8_vadd slot, if any.
    if (const k::Qu8VaddSlot& slot = cfg().qu8_vadd; slot && geo.same_shape) {
      return prepare_slot(slot, k::Qu8VaddArgs{s->a, s->b, s->p, s->y}, shape.num_elements());
    }
    return make_prepared<AddQU8, run_add_qu8>(std::move(s));
  }
  auto s = binary_qu8_state<MulQU8>(shape, a, b, y, r);
  s->p.m = k::requant_multiplier(scale(a), scale(b), scale(y));
  QUANTA_OPS_TRY(check_multiplier(s->p.m, "output"));
  if (const k::Qu8VmulSlot& slot = cfg().qu8_vmul; slot && geo.same_shape) {
    return prepare_slot(slot, k::Qu8VmulArgs{s->a, s->b, s->p, s->y}, shape.num_elements());
  }
  return make_prepared<MulQU8, run_mul_qu8>(std::move(s));
}

}  // namespace

const OpDef op_binary{&run_check<BinaryCheck>, &run_prepare<BinaryPreparer>};

}  // namespace quanta::detail
