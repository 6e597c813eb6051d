// MatMul (numpy semantics, broadcast batches; float, u8 x u8, or u8 x a
// constant i8 B run as FullyConnected): its load-time check and its prepare
// step.
#include <algorithm>
#include <climits>
#include <cmath>
#include <optional>
#include <fmt/format.h>

#include "ops/check_util.hpp"
#include "ops/registry.hpp"
#include "ops/gemm.hpp"

namespace quanta::detail {
namespace {

// What the check computes for the prepare step.
struct MatMulGeometry {
  int64_t m = 0, k = 0, n = 0;  // one batch: [m, k] x [k, n]
  size_t rank_b = 0;
  int64_t a_rows = 0;           // A's rows with its batch dimensions folded in
  kernels::BroadcastShape batch;  // the batch dimensions of A and B, broadcast
};

class MatMulCheck final : public NodeChecker {
 public:
  using NodeChecker::NodeChecker;

  Status infer(std::vector<int64_t>& y_shape) {
    QUANTA_OPS_TRY(arity(2, 2));
    const int a = in(0), b = in(1);
    Mode mode{};
    QUANTA_OPS_TRY(mode_of(a, &mode));
    const auto o = read_options<fb::MatMulOptionsT>(fbn_);
    const auto& as = info(a).shape;
    const auto& bs = info(b).shape;
    if (as.empty() || bs.empty()) {
      return invalid(fmt::format("{} inputs must have rank >= 1; A {} has shape {}, B {} has {}",
                                 opname_, tdesc(a), shape_str(as), tdesc(b), shape_str(bs)));
    }
    const size_t ra = as.size(), rb = bs.size();
    const int64_t m = ra >= 2 ? as[ra - 2] : 1;
    const int64_t k = as[ra - 1];
    const int64_t kb = rb >= 2 ? bs[rb - 2] : bs[0];
    const int64_t nn = rb >= 2 ? bs[rb - 1] : 1;
    if (k != kb) {
      return invalid(fmt::format(
          "{} inner dimensions differ: A {} has shape {} (K = {}), B {} has shape {} (K = {})",
          opname_, tdesc(a), shape_str(as), k, tdesc(b), shape_str(bs), kb));
    }
    const std::vector<int64_t> a_batch(as.begin(), as.end() - std::min<size_t>(ra, 2));
    const std::vector<int64_t> b_batch(bs.begin(), bs.end() - std::min<size_t>(rb, 2));
    kernels::BroadcastShape bc;
    if (!kernels::make_broadcast(static_cast<int>(a_batch.size()), a_batch.data(),
                                 static_cast<int>(b_batch.size()), b_batch.data(), &bc)) {
      return invalid(fmt::format(
          "{} batch dimensions of A {} (shape {}) and B {} (shape {}) do not broadcast", opname_,
          tdesc(a), shape_str(as), tdesc(b), shape_str(bs)));
    }
    y_shape.assign(bc.out, bc.out + bc.rank);
    if (ra >= 2) y_shape.push_back(m);
    if (rb >= 2) y_shape.push_back(nn);
    QUANTA_OPS_TRY(check_activation(o.activation, o.clip_min, o.clip_max));
    QUANTA_OPS_TRY(need_int(m, "M"));
    // With a B of rank <= 2, A's batch dimensions fold into the rows.
    if (rb <= 2) QUANTA_OPS_TRY(need_int(product(as, 0, ra - 1), "rows"));
    QUANTA_OPS_TRY(need_int(k, "K"));
    QUANTA_OPS_TRY(need_int(nn, "N"));
    QUANTA_OPS_TRY(need_act(out(), mode, "output"));
    const int64_t batches = bc.num_elements();
    if (mode == Mode::kFloat) {
      QUANTA_OPS_TRY(need_act(b, mode, "input B"));
    } else {
      QUANTA_OPS_TRY(need_qu8(a, "input A"));
      if (info(b).dtype == DType::kI8) {
        if (!info(b).is_constant || rb != 2) {
          return unsupported(fmt::format(
              "quantized {}: an i8 B {} (shape {}) must be a constant of rank 2 (it runs as "
              "FullyConnected); use u8 for an activation B",
              opname_, tdesc(b), shape_str(bs)));
        }
        QUANTA_OPS_TRY(check_weights_q(b, nn, 1));
        QUANTA_OPS_TRY(check_accumulator(k, 255 * 127, "K*255*127", -1));
      } else if (info(b).dtype == DType::kU8) {
        QUANTA_OPS_TRY(need_qu8(b, "input B"));
        QUANTA_OPS_TRY(check_accumulator(k, 255 * 255, "K*255*255", -1));
      } else {
        return unsupported(fmt::format(
            "quantized {}: input B {} has dtype {}; expected u8 or a constant i8", opname_,
            tdesc(b), dtype_name(info(b).dtype)));
      }
    }
    macs_ = sat_mul(sat_mul(sat_mul(batches, m), k), nn);
    MatMulGeometry& g = set_geometry<MatMulGeometry>();
    g.m = m;
    g.k = k;
    g.n = nn;
    g.rank_b = rb;
    g.a_rows = product(as, 0, ra - 1);
    g.batch = bc;
    return Status::Ok();
  }
};

// ------------------------------------------------------------------ MatMul
// Element offsets of one broadcast batch in A, B and Y.
struct BatchOffsets {
  int64_t a, b, y;
};

struct MatMulF32 {
  int m, k, n;
  std::vector<BatchOffsets> batches;
  const float* a;
  const float* b;
  k::FRange act;
  float* y;
};
void run_matmul_f32(const MatMulF32& s) {
  for (const BatchOffsets& o : s.batches) {
    k::f32_matmul__ref(s.m, s.k, s.n, s.a + o.a, s.b + o.b, s.act, s.y + o.y);
  }
}

struct MatMulQU8 {
  int m, k, n;
  std::vector<BatchOffsets> batches;
  const uint8_t* a;
  int32_t za;
  const uint8_t* b;
  int32_t zb;
  float multiplier;
  int32_t zy;
  k::QRange r;
  uint8_t* y;
};
void run_matmul_qu8(const MatMulQU8& s) {
  for (const BatchOffsets& o : s.batches) {
    k::qu8_matmul_minmax_fp32__ref(s.m, s.k, s.n, s.a + o.a, s.za, s.b + o.b, s.zb, s.multiplier,
                                   s.zy, s.r, s.y + o.y);
  }
}

// Quantized MatMul of two activations through the kernel table's qu8_matmul
// slot: B is packed into `packed` (owned here, sized at prepare) once per
// batch at run time, with its zero point and A's folded into the weights and
// bias, then the slot's GEMM adapter runs on all of A's rows.
struct MatMulQU8Fast : MatMulQU8 {
  decltype(k::Qu8MatMulSlot::pack_b) pack_b = nullptr;
  k::Qu8GemmFn rows_fn = nullptr;
  std::unique_ptr<uint8_t[]> packed;
};
void run_matmul_qu8_fast(const MatMulQU8Fast& s) {
  k::Qu8GemmArgs g;
  g.m = s.m;
  g.n = s.n;
  g.k = s.k;
  g.x_stride = static_cast<size_t>(s.k);
  g.packed = s.packed.get();
  g.zy = s.zy;
  g.r = s.r;
  g.y_stride = static_cast<size_t>(s.n);
  for (const BatchOffsets& o : s.batches) {
    s.pack_b(s.n, s.k, s.b + o.b, static_cast<size_t>(s.n), s.zb, s.za, s.multiplier,
             s.packed.get());
    g.x = s.a + o.a;
    g.y = s.y + o.y;
    s.rows_fn(g, 0, s.m);
  }
}

class MatMulPreparer final : public Preparer {
 public:
  using Preparer::Preparer;
  Result<PreparedOp> prepare();
};

Result<PreparedOp> MatMulPreparer::prepare() {
  const int a = in(0), b = in(1), y = out();
  const auto o = read_options<fb::MatMulOptionsT>(fbn_);
  const k::Act act = to_act(o.activation);
  const MatMulGeometry& geo = ctx_.geometry<MatMulGeometry>();
  const size_t rb = geo.rank_b;
  const int64_t m = geo.m;
  const int64_t kk = geo.k;
  const int64_t n = geo.n;

  // Quantized with a constant int8 B [K, N]: FullyConnected on A's rows with
  // B transposed once to [N, K]; the bias is only the zero-point fold.
  if (quantized() && info(b).dtype == DType::kI8) {
    auto s = std::make_shared<FcQU8>();
    s->m = static_cast<int>(geo.a_rows);
    s->k = static_cast<int>(kk);
    s->n = static_cast<int>(n);
    s->x = data<const uint8_t>(a);
    const auto* bw = data<const int8_t>(b);
    QUANTA_OPS_TRY(reserve_table({kk, n}, 1, "the transposed weights"));
    s->packed.resize(static_cast<size_t>(kk * n));
    for (int64_t i = 0; i < kk; ++i) {
      for (int64_t j = 0; j < n; ++j) s->packed[static_cast<size_t>(j * kk + i)] = bw[i * n + j];
    }
    s->w = s->packed.data();
    QUANTA_OPS_TRY(set_qu8_weighted(a, b, -1, y, n, kk, o, s.get()));
    if (auto op = try_onednn(onednn::make_qu8_gemm,
                             onednn::Qu8GemmDesc{s->m, s->n, s->k, s->x, zero(a), s->w, nullptr,
                                                 s->multiplier.data(), s->zy, s->r, s->y},
                             s)) {
      return std::move(*op);
    }
    if (cfg().qu8_gemm) return prepare_gemm_qu8_fast(*this, ctx_.pool, s->m, s->n, s->k, *s);
    return make_prepared<FcQU8, run_fc_qu8>(std::move(s));
  }

  // Float with a constant 2-D B: the float GEMM with B transposed once.
  if (!quantized() && cfg().f32_gemm && rb == 2 && ctx_.model.const_data[b] != nullptr &&
      geo.a_rows <= INT_MAX) {
    const auto* bw = data<const float>(b);
    QUANTA_OPS_TRY(reserve_table({kk, n}, sizeof(float), "the transposed weights"));
    std::vector<float> wt(static_cast<size_t>(kk * n));
    for (int64_t i = 0; i < kk; ++i) {
      for (int64_t j = 0; j < n; ++j) wt[static_cast<size_t>(j * kk + i)] = bw[i * n + j];
    }
    return prepare_gemm_f32_fast(*this, ctx_.pool, static_cast<int>(geo.a_rows),
                                 static_cast<int>(n), static_cast<int>(kk), data<const float>(a),
                                 wt.data(), nullptr,
                                 k::activation_range_f32(act, o.clip_min, o.clip_max),
                                 data<float>(y));
  }

  // Broadcast batches. When B has no batch dimensions, A's batches fold into M.
  std::vector<BatchOffsets> batches;
  int64_t rows = m;
  if (rb <= 2) {
    rows = geo.a_rows;
    batches.push_back({0, 0, 0});
  } else {
    const k::BroadcastShape& bc = geo.batch;
    const int64_t total = bc.num_elements();
    QUANTA_OPS_TRY(reserve_table({total}, sizeof(BatchOffsets), "the batch offsets"));
    batches.reserve(static_cast<size_t>(total));
    int64_t index[k::kMaxRank] = {};
    for (int64_t i = 0; i < total; ++i) {
      int64_t ao = 0, bo = 0;
      for (int d = 0; d < bc.rank; ++d) {
        ao += index[d] * bc.a_stride[d];
        bo += index[d] * bc.b_stride[d];
      }
      batches.push_back({ao * m * kk, bo * kk * n, i * m * n});
      for (int d = bc.rank - 1; d >= 0; --d) {
        if (++index[d] < bc.out[d]) break;
        index[d] = 0;
      }
    }
  }
  if (!quantized()) {
    auto s = std::make_shared<MatMulF32>();
    s->m = static_cast<int>(rows);
    s->k = static_cast<int>(kk);
    s->n = static_cast<int>(n);
    s->batches = std::move(batches);
    s->a = data<const float>(a);
    s->b = data<const float>(b);
    s->act = k::activation_range_f32(act, o.clip_min, o.clip_max);
    s->y = data<float>(y);
    return make_prepared<MatMulF32, run_matmul_f32>(std::move(s));
  }
  if (rows > INT_MAX) {
    return error(StatusCode::kUnsupported,
                 fmt::format("MatMul: {} rows exceed the kernel limit {}", rows, INT_MAX));
  }
  // B packed at run time when the table has a qu8_matmul slot (up to its
  // max_k, beyond which the int32 sums could overflow).
  const k::Qu8MatMulSlot& slot = cfg().qu8_matmul;
  std::shared_ptr<MatMulQU8Fast> fast;
  std::shared_ptr<MatMulQU8> s;
  if (slot && kk <= slot.max_k) {
    fast = std::make_shared<MatMulQU8Fast>();
    fast->pack_b = slot.pack_b;
    fast->rows_fn = slot.rows;
    s = fast;
  } else {
    s = std::make_shared<MatMulQU8>();
  }
  s->m = static_cast<int>(rows);
  s->k = static_cast<int>(kk);
  s->n = static_cast<int>(n);
  s->batches = std::move(batches);
  s->a = data<const uint8_t>(a);
  s->za = zero(a);
  s->b = data<const uint8_t>(b);
  s->zb = zero(b);
  s->multiplier = k::requant_multiplier(scale(a), scale(b), scale(y));
  QUANTA_OPS_TRY(check_multiplier(s->multiplier, "output"));
  s->zy = zero(y);
  s->r = k::activation_range_u8(act, o.clip_min, o.clip_max, scale(y), s->zy);
  s->y = data<uint8_t>(y);
  if (fast) {
    QUANTA_OPS_TRY(reserve(slot.packed_size(s->n, s->k), "the buffer B is packed into"));
    fast->packed.reset(new uint8_t[slot.packed_size(s->n, s->k)]);
    return make_prepared<MatMulQU8Fast, run_matmul_qu8_fast>(std::move(fast));
  }
  return make_prepared<MatMulQU8, run_matmul_qu8>(std::move(s));
}

}  // namespace

const OpDef op_matmul{&run_check<MatMulCheck>, &run_prepare<MatMulPreparer>};

}  // namespace quanta::detail
