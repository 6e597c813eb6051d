// Quantize (f32 to u8) and Dequantize (u8 to f32): their load-time check and
// their prepare steps.
#include <fmt/format.h>

#include "ops/check_util.hpp"
#include "ops/registry.hpp"
#include "ops/op_util.hpp"

namespace quanta::detail {
namespace {

class QuantizeCheck final : public NodeChecker {
 public:
  using NodeChecker::NodeChecker;

  Status infer(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(1, 1));
    const int x = in(0);
    if (op_ == OpType::kQuantize) {
      QUANTA_OPS_TRY(need_dtype(x, DType::kF32, "input"));
      QUANTA_OPS_TRY(need_qu8(out(), "output"));
    } else {
      QUANTA_OPS_TRY(need_qu8(x, "input"));
      QUANTA_OPS_TRY(need_dtype(out(), DType::kF32, "output"));
    }
    y_shape = info(x).shape;
    return Status::Ok();
  }
};

struct QuantizeState {
  int64_t n;
  const float* x;
  float s;
  int32_t z;
  uint8_t* y;
};
void run_quantize(const QuantizeState& s) { k::qu8_quantize__ref(s.n, s.x, s.s, s.z, s.y); }

struct DequantizeState {
  int64_t n;
  const uint8_t* x;
  float s;
  int32_t z;
  float* y;
};
void run_dequantize(const DequantizeState& s) {
  k::qu8_dequantize__ref(s.n, s.x, s.s, s.z, s.y);
}

class QuantizePreparer final : public Preparer {
 public:
  using Preparer::Preparer;
  Result<PreparedOp> prepare();
};

Result<PreparedOp> QuantizePreparer::prepare() {
  const int x = in(0), y = out();
  if (const k::QuantizeSlot& slot = cfg().quantize) {
    return prepare_slot(slot, k::QuantizeArgs{data<const float>(x), scale(y), zero(y),
                                              data<uint8_t>(y)},
                        info(x).num_elements);
  }
  auto s = std::make_shared<QuantizeState>(QuantizeState{
      info(x).num_elements, data<const float>(x), scale(y), zero(y), data<uint8_t>(y)});
  return make_prepared<QuantizeState, run_quantize>(std::move(s));
}

class DequantizePreparer final : public Preparer {
 public:
  using Preparer::Preparer;
  Result<PreparedOp> prepare();
};

Result<PreparedOp> DequantizePreparer::prepare() {
  const int x = in(0), y = out();
  if (const k::DequantizeSlot& slot = cfg().dequantize) {
    return prepare_slot(slot, k::DequantizeArgs{data<const uint8_t>(x), scale(x), zero(x),
                                                data<float>(y)},
                        info(x).num_elements);
  }
  auto s = std::make_shared<DequantizeState>(DequantizeState{
      info(x).num_elements, data<const uint8_t>(x), scale(x), zero(x), data<float>(y)});
  return make_prepared<DequantizeState, run_dequantize>(std::move(s));
}

}  // namespace

const OpDef op_quantize{&run_check<QuantizeCheck>, &run_prepare<QuantizePreparer>};
const OpDef op_dequantize{&run_check<QuantizeCheck>, &run_prepare<DequantizePreparer>};

}  // namespace quanta::detail
