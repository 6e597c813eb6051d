// Pad (constant, reflect or edge; pads from PadOptions): its load-time check
// and its prepare step.
#include <cmath>
#include <cstring>
#include <fmt/format.h>

#include "ops/check_util.hpp"
#include "ops/registry.hpp"
#include "ops/op_util.hpp"

namespace quanta::detail {
namespace {

// What the check computes for the prepare step: the input shape and the
// pads of each axis.
struct PadGeometry {
  int rank = 0;
  int64_t shape[kernels::kMaxRank] = {};
  int64_t begin[kernels::kMaxRank] = {};
  int64_t end[kernels::kMaxRank] = {};
  kernels::PadKind kind = kernels::PadKind::kConstant;
};

class PadCheck final : public NodeChecker {
 public:
  using NodeChecker::NodeChecker;

  Status infer(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(1, 1));
    const int x = in(0);
    Mode mode{};
    QUANTA_OPS_TRY(act_in_out(x, OutRule::kSameAsInput, &mode));
    const auto o = read_options<fb::PadOptionsT>(fbn_);
    const auto& xs = info(x).shape;
    const size_t rank = xs.size();
    if (o.pads.size() != 2 * rank) {
      return invalid(fmt::format("Pad has {} pads; input {} of rank {} needs {} (begins, ends)",
                                 o.pads.size(), tdesc(x), rank, 2 * rank));
    }
    const int mode_v = static_cast<int>(o.mode);
    if (mode_v < static_cast<int>(fb::PadMode::MIN) || mode_v > static_cast<int>(fb::PadMode::MAX)) {
      return invalid(fmt::format("Pad mode {} is not a valid PadMode", mode_v));
    }
    if (o.mode == fb::PadMode::CONSTANT && std::isnan(o.value)) {
      return invalid("Pad constant value is NaN");
    }
    y_shape.resize(rank);
    for (size_t d = 0; d < rank; ++d) {
      const int64_t pb = o.pads[d], pe = o.pads[d + rank];
      if (pb < 0 || pe < 0) {
        return unsupported(fmt::format(
            "Pad pads on axis {} are ({}, {}); negative pads (cropping) are not supported", d, pb,
            pe));
      }
      if (o.mode == fb::PadMode::REFLECT && (pb >= xs[d] || pe >= xs[d]) && (pb > 0 || pe > 0)) {
        return invalid(fmt::format(
            "Pad reflect pads on axis {} are ({}, {}); they must be smaller than the dimension {}",
            d, pb, pe, xs[d]));
      }
      if (o.mode == fb::PadMode::EDGE && xs[d] == 0 && (pb > 0 || pe > 0)) {
        return invalid(fmt::format("Pad edge mode cannot pad the empty axis {}", d));
      }
      if (pb > (int64_t{1} << 40) || pe > (int64_t{1} << 40)) {
        return invalid(fmt::format("Pad pads on axis {} are ({}, {}); too large", d, pb, pe));
      }
      y_shape[d] = xs[d] + pb + pe;
    }
    PadGeometry& g = set_geometry<PadGeometry>();
    g.rank = static_cast<int>(rank);
    for (size_t d = 0; d < rank; ++d) {
      g.shape[d] = xs[d];
      g.begin[d] = o.pads[d];
      g.end[d] = o.pads[d + rank];
    }
    g.kind = static_cast<kernels::PadKind>(o.mode);
    return Status::Ok();
  }
};

struct Pad {
  int rank;
  int64_t shape[k::kMaxRank];
  int64_t begin[k::kMaxRank];
  int64_t end[k::kMaxRank];
  k::PadKind kind;
  size_t elem_size;
  alignas(8) unsigned char value[8];
  const void* x;
  void* y;
};
void run_pad(const Pad& s) {
  k::pad__ref(s.rank, s.shape, s.begin, s.end, s.kind, s.elem_size, s.value, s.x, s.y);
}

class PadPreparer final : public Preparer {
 public:
  using Preparer::Preparer;
  Result<PreparedOp> prepare();
};

Result<PreparedOp> PadPreparer::prepare() {
  const int x = in(0), y = out();
  const auto o = read_options<fb::PadOptionsT>(fbn_);
  const PadGeometry& geo = ctx_.geometry<PadGeometry>();
  auto s = std::make_shared<Pad>();
  s->rank = geo.rank;
  for (int d = 0; d < geo.rank; ++d) {
    s->shape[d] = geo.shape[d];
    s->begin[d] = geo.begin[d];
    s->end[d] = geo.end[d];
  }
  s->kind = geo.kind;
  s->elem_size = dtype_size(info(x).dtype);
  std::memset(s->value, 0, sizeof(s->value));
  if (quantized()) {
    // The pad value is a real number: stored in the tensor's quantization.
    s->value[0] = k::quantize_u8(o.value, scale(x), zero(x));
  } else {
    std::memcpy(s->value, &o.value, sizeof(float));
  }
  s->x = ctx_.data(x);
  s->y = ctx_.data(y);
  return make_prepared<Pad, run_pad>(std::move(s));
}

}  // namespace

const OpDef op_pad{&run_check<PadCheck>, &run_prepare<PadPreparer>};

}  // namespace quanta::detail
