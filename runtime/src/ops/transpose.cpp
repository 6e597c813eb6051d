// Transpose (any permutation; empty perm reverses the axes): its load-time
// check and its prepare step.
#include <fmt/format.h>

#include "ops/check_util.hpp"
#include "ops/registry.hpp"
#include "ops/op_util.hpp"

namespace quanta::detail {
namespace {

// What the check computes for the prepare step: the input shape and the
// permutation applied (an empty perm resolved).
struct TransposeGeometry {
  int rank = 0;
  int64_t shape[kernels::kMaxRank] = {};
  int perm[kernels::kMaxRank] = {};
};

class TransposeCheck final : public NodeChecker {
 public:
  using NodeChecker::NodeChecker;

  Status infer(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(1, 1));
    const int x = in(0);
    Mode mode{};
    QUANTA_OPS_TRY(act_in_out(x, OutRule::kSameAsInput, &mode));
    const auto o = read_options<fb::TransposeOptionsT>(fbn_);
    const auto& xs = info(x).shape;
    const size_t rank = xs.size();
    if (!o.perm.empty() && o.perm.size() != rank) {
      return invalid(fmt::format("Transpose perm [{}] has {} entries; input {} has rank {}",
                                 fmt::join(o.perm, ","), o.perm.size(), tdesc(x), rank));
    }
    std::vector<bool> seen(rank, false);
    for (int32_t p : o.perm) {
      if (p < 0 || static_cast<size_t>(p) >= rank || seen[static_cast<size_t>(p)]) {
        return invalid(fmt::format("Transpose perm [{}] is not a permutation of 0..{}",
                                   fmt::join(o.perm, ","), static_cast<int64_t>(rank) - 1));
      }
      seen[static_cast<size_t>(p)] = true;
    }
    const std::vector<int> perm = effective_perm(o.perm, rank);
    y_shape.resize(rank);
    for (size_t i = 0; i < rank; ++i) y_shape[i] = xs[static_cast<size_t>(perm[i])];
    TransposeGeometry& g = set_geometry<TransposeGeometry>();
    g.rank = static_cast<int>(rank);
    for (size_t d = 0; d < rank; ++d) {
      g.shape[d] = xs[d];
      g.perm[d] = perm[d];
    }
    return Status::Ok();
  }
};

struct Transpose {
  int rank;
  int64_t shape[k::kMaxRank];
  int perm[k::kMaxRank];
  size_t elem_size;
  const void* x;
  void* y;
};
void run_transpose(const Transpose& s) {
  k::transpose__ref(s.rank, s.shape, s.perm, s.elem_size, s.x, s.y);
}

class TransposePreparer final : public Preparer {
 public:
  using Preparer::Preparer;
  Result<PreparedOp> prepare();
};

Result<PreparedOp> TransposePreparer::prepare() {
  const int x = in(0), y = out();
  const TransposeGeometry& geo = ctx_.geometry<TransposeGeometry>();
  auto s = std::make_shared<Transpose>();
  s->rank = geo.rank;
  for (int d = 0; d < geo.rank; ++d) {
    s->shape[d] = geo.shape[d];
    s->perm[d] = geo.perm[d];
  }
  s->elem_size = dtype_size(info(x).dtype);
  s->x = ctx_.data(x);
  s->y = ctx_.data(y);
  return make_prepared<Transpose, run_transpose>(std::move(s));
}

}  // namespace

const OpDef op_transpose{&run_check<TransposeCheck>, &run_prepare<TransposePreparer>};

}  // namespace quanta::detail
