// Lowering of the ops that move data without computing on it (importer.hpp):
// Concat, Reshape, Flatten, Squeeze, Unsqueeze, Transpose and Pad.
#include "importer.hpp"

#include <algorithm>
#include <cmath>

namespace quanta::convert::importer {

Status Importer::lower_concat() {
  QUANTA_CONVERT_TRY_ATTRS({"axis"});
  std::vector<Value*> ins;
  for (size_t i = 0; i < num_inputs(); ++i) {
    auto v = need_input(i, "input");
    if (!v) return v.status();
    ins.push_back(*v);
  }
  if (ins.empty()) return invalid("Concat has no inputs");
  const Value* first_act = nullptr;
  for (Value* v : ins) {
    if (!v->is_const) first_act = first_act ? first_act : v;
  }
  const std::vector<int64_t> s0 = first_act->shape;
  const int64_t rank = static_cast<int64_t>(s0.size());
  int64_t axis = attr_i("axis", opset_ < 4 ? 1 : 0);
  if (axis < -rank || axis >= rank) return invalid(fmt::format("axis {} is out of range for rank {}", axis, rank));
  if (axis < 0) axis += rank;
  std::vector<int64_t> out = s0;
  out[axis] = 0;
  for (size_t i = 0; i < ins.size(); ++i) {
    const auto& s = ins[i]->is_const ? ins[i]->c.shape : ins[i]->shape;
    if (static_cast<int64_t>(s.size()) != rank) {
      return invalid(fmt::format("input {} has shape {}; input shapes must have rank {}", i, shp(s), rank));
    }
    for (int64_t d = 0; d < rank; ++d) {
      if (d != axis && s[d] != s0[d]) {
        return invalid(fmt::format("input {} has shape {}, which differs from {} outside axis {}",
                                   i, shp(s), shp(s0), axis));
      }
    }
    if (!detail::checked_add(out[axis], s[axis], &out[axis])) {
      return invalid(fmt::format("the sizes of axis {} overflow when added", axis));
    }
  }
  if (Status s = check_act(out, "output"); !s.ok()) return s;
  bool use_nhwc = rank == 4;
  for (Value* v : ins) use_nhwc = use_nhwc && (v->is_const || v->nhwc >= 0);
  std::vector<int> ts;
  for (size_t i = 0; i < ins.size(); ++i) {
    ts.push_back(use_nhwc ? get_nhwc(*ins[i], in_name(i)) : get_plain(*ins[i], in_name(i)));
  }
  static constexpr int kNhwcAxis[4] = {0, 3, 1, 2};
  fb::ConcatOptionsT o;
  o.axis = use_nhwc ? kNhwcAxis[axis] : static_cast<int>(axis);
  int yt = 0;
  define_act(out_name(), out, use_nhwc, &yt);
  emit(OpType::kConcat, ts, {yt}, opts(std::move(o)));
  return Status::Ok();
}

// True if the only reader of this node's output multiplies it by constant
// weights with K = k terms (Gemm with transA 0, MatMul with a 2-D constant
// B): a flattened NHWC tensor can then feed it with the weight rows
// permuted instead. (A B of another width is refused by the reader.)
bool Importer::feeds_weights_only(int64_t k) const {
  const std::string& out = out_name();
  auto u = uses_.find(out);
  if (u == uses_.end() || u->second != 1) return false;
  for (const auto& node : graph().node()) {
    for (int i = 0; i < node.input_size(); ++i) {
      if (node.input(i) != out) continue;
      if (i != 0) return false;
      if (node.op_type() == "Gemm" || node.op_type() == "MatMul") {
        if (node.input_size() < 2) return false;
        auto it = values_.find(node.input(1));
        // B is an initializer (or already folded): a constant.
        if (it == values_.end() || !it->second.is_const || it->second.c.shape.size() != 2) return false;
        bool trans_b = false;
        if (node.op_type() == "Gemm") {
          for (const auto& a : node.attribute()) {
            if (a.name() == "transA" && a.i() != 0) return false;
            if (a.name() == "transB") trans_b = a.i() != 0;
          }
        }
        return it->second.c.shape[trans_b ? 1 : 0] == k;
      }
      return false;
    }
  }
  return false;
}

Status Importer::lower_reshape() {
  const std::string& op = cur_->op_type();
  auto xr = need_act(0, "data");
  if (!xr) return xr.status();
  Value& x = **xr;
  std::vector<int64_t> out;
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (op == "Reshape") {
    QUANTA_CONVERT_TRY_ATTRS({"allowzero", "shape"});
    std::vector<int64_t> spec;
    if (opset_ < 5 || attr("shape")) {
      spec = attr_ints("shape");
    } else {
      auto s = const_ints(1, "shape");
      if (!s) return s.status();
      spec = std::move(*s);
    }
    const bool allowzero = attr_i("allowzero", 0) != 0;
    int64_t known = 1, infer = -1;
    for (size_t d = 0; d < spec.size(); ++d) {
      int64_t v = spec[d];
      if (v == 0 && !allowzero) {
        if (static_cast<int64_t>(d) >= rank) return invalid(fmt::format("shape {} copies dimension {} that the input {} does not have", shp(spec), d, shp(x.shape)));
        v = x.shape[d];
      }
      if (v == -1) {
        if (infer >= 0) return invalid(fmt::format("shape {} has more than one -1", shp(spec)));
        infer = static_cast<int64_t>(d);
      } else if (v < 0) {
        return invalid(fmt::format("shape {} has the invalid dimension {}", shp(spec), v));
      } else if (!detail::checked_mul(known, v, &known) || known > detail::kMaxTensorElements) {
        return invalid(fmt::format("cannot reshape {} to {}", shp(x.shape), shp(spec)));
      }
      out.push_back(v);
    }
    if (infer >= 0) {
      if (known == 0 || shape_size(x.shape) % known != 0) {
        return invalid(fmt::format("cannot reshape {} to {}", shp(x.shape), shp(spec)));
      }
      out[infer] = shape_size(x.shape) / known;
    }
    if (shape_size(out) != shape_size(x.shape)) {
      return invalid(fmt::format("cannot reshape {} ({} elements) to {}", shp(x.shape),
                                 shape_size(x.shape), shp(out)));
    }
  } else if (op == "Flatten") {
    QUANTA_CONVERT_TRY_ATTRS({"axis"});
    int64_t axis = attr_i("axis", 1);
    if (axis < -rank || axis > rank) return invalid(fmt::format("axis {} is out of range for rank {}", axis, rank));
    if (axis < 0) axis += rank;
    int64_t a = 1;
    for (int64_t d = 0; d < axis; ++d) a *= x.shape[d];
    out = {a, shape_size(x.shape) / a};
  } else {
    std::vector<int64_t> axes;
    if (opset_ < 13) {
      QUANTA_CONVERT_TRY_ATTRS({"axes"});
      axes = attr_ints("axes");
    } else {
      QUANTA_CONVERT_TRY_ATTRS({});
      if (has_input(1)) {
        auto s = const_ints(1, "axes");
        if (!s) return s.status();
        axes = std::move(*s);
      }
    }
    // The shape alone: the activation's data is never needed.
    auto r = detail::squeeze_shape(x.shape, axes, op == "Unsqueeze", where());
    if (!r) return r.status();
    out = std::move(*r);
  }
  if (Status s = check_act(out, "output"); !s.ok()) return s;
  int xt = -1;
  std::vector<int64_t> kperm;
  if (x.plain >= 0) {
    xt = x.plain;
  } else if (memory_identical_nhwc(x.shape)) {
    xt = x.nhwc;  // same bytes in both layouts
  } else if (out.size() == 2 && out[0] == x.shape[0] && feeds_weights_only(out[1])) {
    // Flatten in NHWC order; the consumer's weights are permuted to match.
    xt = x.nhwc;
    const int64_t c = x.shape[1], h = x.shape[2], w = x.shape[3];
    kperm.resize(static_cast<size_t>(c * h * w));
    for (int64_t i = 0; i < h; ++i) {
      for (int64_t j = 0; j < w; ++j) {
        for (int64_t k = 0; k < c; ++k) kperm[(i * w + j) * c + k] = (k * h + i) * w + j;
      }
    }
  } else {
    xt = get_plain(x, in_name(0));
  }
  Value v;
  v.shape = out;
  v.kperm = std::move(kperm);
  v.plain = emit_reshape(xt, out, out_name());
  values_[out_name()] = std::move(v);
  return Status::Ok();
}

Status Importer::lower_transpose() {
  QUANTA_CONVERT_TRY_ATTRS({"perm"});
  auto xr = need_act(0, "data");
  if (!xr) return xr.status();
  Value& x = **xr;
  const size_t rank = x.shape.size();
  std::vector<int64_t> perm = attr_ints("perm");
  if (perm.empty()) {
    for (size_t d = rank; d-- > 0;) perm.push_back(static_cast<int64_t>(d));
  }
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t d = 0; d < sorted.size(); ++d) {
    if (sorted.size() != rank || sorted[d] != static_cast<int64_t>(d)) {
      return invalid(fmt::format("perm {} is not a permutation of the {} axes", shp(perm), rank));
    }
  }
  std::vector<int64_t> out;
  for (int64_t p : perm) out.push_back(x.shape[p]);
  std::vector<int> stored_perm;
  int xt = 0;
  if (x.plain >= 0) {
    xt = x.plain;
    for (int64_t p : perm) stored_perm.push_back(static_cast<int>(p));
  } else {
    // The input is stored NHWC: ONNX axis a lives at stored axis qinv[a].
    static constexpr int kQinv[4] = {0, 3, 1, 2};
    xt = x.nhwc;
    for (int64_t p : perm) stored_perm.push_back(kQinv[p]);
  }
  bool identity = true;
  for (size_t d = 0; d < stored_perm.size(); ++d) identity = identity && stored_perm[d] == static_cast<int>(d);
  Value v;
  v.shape = out;
  // An identity on the stored bytes (e.g. NCHW -> NHWC of a tensor already
  // held in NHWC) needs no node: the value is the same runtime tensor.
  v.plain = identity ? xt : emit_transpose(xt, g_->tensors[xt].shape, stored_perm, out_name());
  values_[out_name()] = std::move(v);
  return Status::Ok();
}

Status Importer::lower_pad() {
  std::vector<int64_t> pads;
  float value = 0;
  std::string mode;
  if (opset_ < 11) {
    QUANTA_CONVERT_TRY_ATTRS({"mode", "pads", "value"});
    pads = attr_ints("pads");
    value = attr_f("value", 0.0f);
  } else {
    QUANTA_CONVERT_TRY_ATTRS({"mode"});
    auto p = const_ints(1, "pads");
    if (!p) return p.status();
    pads = std::move(*p);
    if (has_input(2)) {
      auto c = need_const(2, "constant_value");
      if (!c) return c.status();
      if ((*c)->size() > 0) value = static_cast<float>((*c)->v[0]);
    }
    if (has_input(3)) return unsupported("input 'axes' is not supported (pads must cover every axis)");
  }
  mode = attr_s("mode", "constant");
  fb::PadOptionsT o;
  if (mode == "constant") o.mode = fb::PadMode::CONSTANT;
  else if (mode == "reflect") o.mode = fb::PadMode::REFLECT;
  else if (mode == "edge") o.mode = fb::PadMode::EDGE;
  else return unsupported(fmt::format("mode '{}' is not supported (constant, reflect, edge)", mode));
  auto xr = need_act(0, "data");
  if (!xr) return xr.status();
  Value& x = **xr;
  const size_t rank = x.shape.size();
  if (pads.size() != 2 * rank) {
    return invalid(fmt::format("pads {} needs {} values for an input of rank {}", shp(pads), 2 * rank, rank));
  }
  for (int64_t p : pads) {
    if (p < 0) return unsupported(fmt::format("negative pads {} (cropping) are not supported", shp(pads)));
  }
  if (std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) {
    // torch exports AvgPool2d as an all-zero Pad + AveragePool: nothing to copy.
    Value copy = x;
    copy.producer = -1;
    if (Status s = alias(out_name(), copy); !s.ok()) return s;
    g_->log.rewrites.push_back(fmt::format("removed Pad '{}' (all pads are 0)", cur_name_));
    return Status::Ok();
  }
  if (std::isnan(value)) return invalid("the constant value is NaN");
  if (o.mode == fb::PadMode::REFLECT) {
    for (size_t d = 0; d < rank; ++d) {
      if (pads[d] >= x.shape[d] || pads[d + rank] >= x.shape[d]) {
        return invalid(fmt::format("reflect pads {} must be smaller than the input's dimensions {}",
                                   shp(pads), shp(x.shape)));
      }
    }
  }
  std::vector<int64_t> out = x.shape;
  for (size_t d = 0; d < rank; ++d) {
    if (!detail::checked_add(out[d], pads[d], &out[d]) ||
        !detail::checked_add(out[d], pads[d + rank], &out[d])) {
      return invalid(fmt::format("pads {} overflow the output shape of input {}", shp(pads),
                                 shp(x.shape)));
    }
  }
  if (Status s = check_act(out, "output"); !s.ok()) return s;
  const bool nhwc = x.nhwc >= 0 && rank == 4;
  int xt = 0;
  if (nhwc) {
    xt = x.nhwc;
    o.pads = {pads[0], pads[2], pads[3], pads[1], pads[4], pads[6], pads[7], pads[5]};
  } else {
    xt = get_plain(x, in_name(0));
    o.pads = pads;
  }
  o.value = value;
  int yt = 0;
  define_act(out_name(), out, nhwc, &yt);
  emit(OpType::kPad, {xt}, {yt}, opts(std::move(o)));
  return Status::Ok();
}

}  // namespace quanta::convert::importer
