// Lowering of the elementwise ops (importer.hpp): Add, Sub, Mul, Div and Sum
// (a per-channel constant folds into the bias of a Conv or Gemm), the unary
// activations, Softmax and LogSoftmax.
#include "importer.hpp"

#include <algorithm>
#include <cmath>

namespace quanta::convert::importer {

// Adds a per-channel constant into the bias of the Conv/FC that produced x,
// when x has no other reader. Returns true if it did.
bool Importer::try_fold_bias(Value& x, const HostTensor& c, bool negate) {
  if (x.producer < 0 || uses_[in_name(0)] != 1) return false;
  LNode& p = g_->nodes[x.producer];
  if ((p.op != OpType::kConv2D && p.op != OpType::kFullyConnected) ||
      get_activation(p).kind != fb::Activation::NONE) {
    return false;
  }
  const int64_t cout = g_->tensors[p.inputs[1]].shape[0];
  // The constant must vary along the channel axis only.
  std::vector<int64_t> bshape;
  if (!detail::broadcast_shapes(c.shape, x.shape, &bshape) || bshape != x.shape) return false;
  const size_t ch_axis = p.op == OpType::kConv2D ? 1 : x.shape.size() - 1;
  if (x.shape[ch_axis] != cout) return false;
  // Checked on the constant's own values (never broadcast to the image):
  // padded to x's rank, its channel axis has size 1 or cout, and every value
  // must equal the first one of its channel.
  const size_t rank = x.shape.size();
  std::vector<int64_t> cs(rank, 1);
  for (size_t i = 0; i < c.shape.size(); ++i) cs[rank - c.shape.size() + i] = c.shape[i];
  const int64_t channels = cs[ch_axis];  // 1 or cout
  int64_t inner = 1;
  for (size_t d = ch_axis + 1; d < rank; ++d) inner *= cs[d];
  std::vector<float> first(static_cast<size_t>(channels));
  std::vector<bool> seen(static_cast<size_t>(channels), false);
  for (size_t i = 0; i < c.v.size(); ++i) {
    const int64_t ch = (static_cast<int64_t>(i) / inner) % channels;
    const float v = static_cast<float>(c.v[i]);
    if (!seen[ch]) {
      seen[ch] = true;
      first[ch] = v;
    } else if (v != first[ch]) {
      return false;
    }
  }
  std::vector<float> add(static_cast<size_t>(cout));
  for (int64_t ch = 0; ch < cout; ++ch) add[ch] = first[channels == 1 ? 0 : ch];
  if (p.inputs.size() < 3) p.inputs.resize(3, -1);
  if (p.inputs[2] < 0) {
    p.inputs[2] = g_->add_const(g_->unique_tensor_name(p.name + ".bias"), {cout},
                                std::vector<float>(static_cast<size_t>(cout), 0.0f));
  }
  std::vector<float>& b = g_->tensors[p.inputs[2]].data;
  for (int64_t ch = 0; ch < cout; ++ch) b[ch] += negate ? -add[ch] : add[ch];
  p.source.push_back(cur_name_);
  values_[out_name()] = x;  // an alias of an activation
  g_->log.rewrites.push_back(fmt::format("folded {} '{}' into the bias of {} '{}'",
                                         cur_->op_type(), cur_name_, p.onnx_op, p.name));
  return true;
}

Status Importer::lower_binary() {
  QUANTA_CONVERT_TRY_ATTRS({"broadcast", "axis"});
  if (attr("axis") != nullptr) {
    return unsupported("attribute 'axis' (legacy broadcasting before opset 7) is not supported");
  }
  std::string op = cur_->op_type() == "Sum" ? "Add" : cur_->op_type();
  auto ar = need_input(0, "A");
  if (!ar) return ar.status();
  auto br = need_input(1, "B");
  if (!br) return br.status();
  Value* a = *ar;
  Value* b = *br;
  size_t a_idx = 0, b_idx = 1;
  HostTensor cval;
  bool has_const = false;
  if (a->is_const || b->is_const) {
    has_const = true;
    if (a->is_const) {
      if (op == "Sub" || op == "Div") {
        return unsupported(fmt::format("{} with a constant first input and an activation second "
                                       "input is not supported", op));
      }
      std::swap(a, b);
      std::swap(a_idx, b_idx);
    }
    cval = b->c;
    if (op == "Sub") {
      for (double& v : cval.v) v = -v;
      op = "Add";
    } else if (op == "Div") {
      for (double& v : cval.v) v = static_cast<float>(1.0 / static_cast<float>(v));
      op = "Mul";
    }
    for (double v : cval.v) {
      if (!std::isfinite(v)) {
        return invalid(fmt::format("constant input '{}' gives the non-finite value {}",
                                   in_name(b_idx), v));
      }
    }
  } else if (op == "Div") {
    return unsupported("Div of two activations is not supported");
  }
  const std::vector<int64_t> bshape = has_const ? cval.shape : b->shape;
  std::vector<int64_t> out;
  if (!detail::broadcast_shapes(a->shape, bshape, &out)) {
    return invalid(fmt::format("input shapes {} and {} do not broadcast", shp(a->shape), shp(bshape)));
  }
  if (Status s = check_act(out, "output"); !s.ok()) return s;
  if (has_const && op == "Add" && a_idx == 0 && try_fold_bias(*a, cval, false)) return Status::Ok();
  if (has_const && op == "Add" && a_idx == 1) {
    // try_fold_bias looks at input 0; keep it simple for the swapped case.
  }
  // Layout: NHWC when both operands can be had in NHWC without a transpose of an activation.
  const bool a_nhwc = a->nhwc >= 0 && a->shape.size() == 4 && out == a->shape;
  bool use_nhwc = false;
  if (a_nhwc) {
    if (has_const) {
      use_nhwc = true;
    } else {
      use_nhwc = b->shape.size() == 4 && b->nhwc >= 0;
      if (!use_nhwc && b->shape.size() == 4 && b->plain >= 0 && a->plain < 0) use_nhwc = true;
    }
  }
  int at = 0, bt = 0;
  if (use_nhwc) {
    at = get_nhwc(*a, in_name(a_idx));
    if (has_const) {
      std::vector<int64_t> s4 = cval.shape;
      while (s4.size() < 4) s4.insert(s4.begin(), 1);
      HostTensor c4 = cval;
      c4.shape = s4;
      const HostTensor t = detail::transpose(c4, {0, 2, 3, 1});
      bt = g_->add_const(g_->unique_tensor_name(in_name(b_idx)), t.shape, t.floats());
    } else {
      bt = get_nhwc(*b, in_name(b_idx));
    }
  } else {
    at = get_plain(*a, in_name(a_idx));
    bt = has_const ? g_->add_const(g_->unique_tensor_name(in_name(b_idx)), cval.shape, cval.floats())
                   : get_plain(*b, in_name(b_idx));
  }
  if (op == "Sub") {
    // a - b = a + (-1) * b
    const int neg = g_->add_const(g_->unique_tensor_name(cur_name_ + ".minus_one"), {1}, {-1.0f});
    const int nb = g_->add_tensor(g_->unique_tensor_name(in_name(b_idx) + "_neg"),
                                  g_->tensors[bt].shape);
    emit(OpType::kMul, {bt, neg}, {nb}, opts(fb::ElementwiseOptionsT{}), "/negate");
    bt = nb;
    op = "Add";
  }
  int yt = 0;
  Value& y = define_act(out_name(), out, use_nhwc, &yt);
  y.producer = emit(op == "Add" ? OpType::kAdd : OpType::kMul, {at, bt}, {yt},
                    opts(fb::ElementwiseOptionsT{}));
  return Status::Ok();
}

// Sum of N inputs: a chain of Adds (one input: an identity).
Status Importer::lower_sum() {
  QUANTA_CONVERT_TRY_ATTRS({});
  const int n = cur_->input_size();
  if (n < 1) return invalid("Sum has no inputs");
  if (n == 2) return lower_binary();
  auto first = need_input(0, "data_0");
  if (!first) return first.status();
  if (n == 1) {
    Value copy = **first;
    copy.producer = -1;
    return alias(out_name(), copy);
  }
  const onnx::NodeProto* outer = cur_;
  const std::string outer_name = cur_name_;
  std::string acc = outer->input(0);
  Status st = Status::Ok();
  for (int i = 1; i < n && st.ok(); ++i) {
    onnx::NodeProto add;
    add.set_op_type("Add");
    add.add_input(acc);
    add.add_input(outer->input(i));
    const std::string out = i == n - 1 ? outer->output(0) : fmt::format("{}/partial_{}", outer_name, i);
    add.add_output(out);
    if (i < n - 1) uses_[out] = 1;
    cur_ = &add;
    cur_name_ = fmt::format("{}/add_{}", outer_name, i);
    st = lower_binary();
    acc = out;
  }
  cur_ = outer;
  cur_name_ = outer_name;
  return st;
}

Status Importer::lower_unary() {
  const std::string& op = cur_->op_type();
  OpType rt = OpType::kRelu;
  fb::OptionsUnion o;
  if (op == "HardSigmoid") {
    QUANTA_CONVERT_TRY_ATTRS({"alpha", "beta"});
    rt = OpType::kHardSigmoid;
    fb::HardSigmoidOptionsT h;
    h.alpha = attr_f("alpha", 0.2f);
    h.beta = attr_f("beta", 0.5f);
    if (!std::isfinite(h.alpha) || !std::isfinite(h.beta)) {
      return invalid(fmt::format("alpha {} and beta {} must be finite", h.alpha, h.beta));
    }
    o = opts(std::move(h));
  } else if (op == "LeakyRelu") {
    QUANTA_CONVERT_TRY_ATTRS({"alpha"});
    rt = OpType::kLeakyRelu;
    fb::LeakyReluOptionsT l;
    l.alpha = attr_f("alpha", 0.01f);
    if (!std::isfinite(l.alpha)) return invalid(fmt::format("alpha {} is not finite", l.alpha));
    o = opts(std::move(l));
  } else if (op == "Clip") {
    float lo = -INFINITY, hi = INFINITY;
    if (opset_ < 11) {
      QUANTA_CONVERT_TRY_ATTRS({"min", "max"});
      lo = attr_f("min", -INFINITY);
      hi = attr_f("max", INFINITY);
    } else {
      QUANTA_CONVERT_TRY_ATTRS({});
      for (size_t i = 1; i <= 2; ++i) {
        if (!has_input(i)) continue;
        auto c = need_const(i, i == 1 ? "min" : "max");
        if (!c) return c.status();
        if ((*c)->size() != 1) return invalid(fmt::format("Clip bound input {} is not a scalar", i));
        (i == 1 ? lo : hi) = static_cast<float>((*c)->v[0]);
      }
    }
    if (std::isnan(lo) || std::isnan(hi)) return invalid("Clip bounds are NaN");
    rt = OpType::kClip;
    fb::ClipOptionsT c;
    c.min = lo;
    c.max = hi;
    o = opts(std::move(c));
  } else {
    // An op without attributes that the runtime has under the same name
    // (Relu, Sigmoid, Tanh, HardSwish): its op table line is all it needs.
    QUANTA_CONVERT_TRY_ATTRS({});
    if (!op_type_from_name(op, &rt)) {
      return unsupported(fmt::format("{} has no runtime op of that name", op));
    }
  }
  auto xr = need_act(0, "X");
  if (!xr) return xr.status();
  Value& x = **xr;
  const bool nhwc = x.nhwc >= 0;
  const int xt = nhwc ? x.nhwc : x.plain;
  int yt = 0;
  Value& y = define_act(out_name(), x.shape, nhwc, &yt);
  y.producer = emit(rt, {xt}, {yt}, std::move(o));
  return Status::Ok();
}

Status Importer::lower_softmax() {
  QUANTA_CONVERT_TRY_ATTRS({"axis"});
  const OpType sm_op = cur_->op_type() == "LogSoftmax" ? OpType::kLogSoftmax : OpType::kSoftmax;
  auto xr = need_act(0, "input");
  if (!xr) return xr.status();
  Value& x = **xr;
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = attr_i("axis", opset_ < 13 ? 1 : -1);
  if (axis < -rank || axis >= rank) return invalid(fmt::format("axis {} is out of range for rank {}", axis, rank));
  if (axis < 0) axis += rank;
  bool coerce = false;  // before opset 13: softmax over the flattened dims [axis, rank)
  if (opset_ < 13) {
    for (int64_t d = axis + 1; d < rank; ++d) coerce = coerce || x.shape[d] != 1;
  }
  if (coerce) {
    const int xt = get_plain(x, in_name(0));
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
    const int flat = emit_reshape(xt, {outer, shape_size(x.shape) / outer}, in_name(0) + "_2d");
    const int sm = g_->add_tensor(g_->unique_tensor_name(out_name() + "_2d"), g_->tensors[flat].shape);
    fb::SoftmaxOptionsT o;
    o.axis = -1;
    emit(sm_op, {flat}, {sm}, opts(std::move(o)));
    Value v;
    v.shape = x.shape;
    v.plain = emit_reshape(sm, x.shape, out_name());
    values_[out_name()] = std::move(v);
    return Status::Ok();
  }
  const bool nhwc = x.nhwc >= 0 && rank == 4;
  static constexpr int kNhwcAxis[4] = {0, 3, 1, 2};
  const int xt = nhwc ? x.nhwc : get_plain(x, in_name(0));
  fb::SoftmaxOptionsT o;
  o.axis = nhwc ? kNhwcAxis[axis] : static_cast<int>(axis);
  int yt = 0;
  define_act(out_name(), x.shape, nhwc, &yt);
  emit(sm_op, {xt}, {yt}, opts(std::move(o)));
  return Status::Ok();
}

}  // namespace quanta::convert::importer
