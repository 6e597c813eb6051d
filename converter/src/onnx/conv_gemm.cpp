// Lowering of Conv, Gemm, MatMul and BatchNormalization (importer.hpp), and
// the window attributes (kernel, strides, dilations, pads) that Conv and
// pooling share.
#include "importer.hpp"

#include <algorithm>
#include <cmath>

namespace quanta::convert::importer {

Status Importer::window_attrs(const std::vector<int64_t>& in_hw, std::vector<int64_t> kernel, Window* w,
                              bool allow_ceil, int64_t* ceil_extra_h, int64_t* ceil_extra_w) {
  if (kernel.size() != 2) {
    return unsupported(fmt::format("kernel_shape {} is not 2-D; only 2-D windows (4-D NCHW "
                                   "inputs) are supported", shp(kernel)));
  }
  w->kernel = kernel;
  w->strides = attr_ints("strides");
  if (w->strides.empty()) w->strides = {1, 1};
  w->dilations = attr_ints("dilations");
  if (w->dilations.empty()) w->dilations = {1, 1};
  w->pads = attr_ints("pads");
  if (w->pads.empty()) w->pads = {0, 0, 0, 0};
  if (w->strides.size() != 2 || w->dilations.size() != 2 || w->pads.size() != 4) {
    return invalid(fmt::format("strides {}, dilations {} or pads {} do not match a 2-D kernel",
                               shp(w->strides), shp(w->dilations), shp(w->pads)));
  }
  // The runtime's window fields are int32; inside [lo, INT32_MAX] no window
  // arithmetic below can overflow int64 (inputs have at most 2^32 elements).
  const std::pair<const char*, const std::vector<int64_t>*> fields[] = {
      {"strides", &w->strides}, {"dilations", &w->dilations}, {"pads", &w->pads},
      {"kernel_shape", &kernel}};
  for (const auto& [name, values] : fields) {
    const int64_t lo = std::string(name) == "pads" ? 0 : 1;
    for (int64_t v : *values) {
      if (v < lo) return invalid(fmt::format("{} {} must be >= {}", name, shp(*values), lo));
      if (v > INT32_MAX) {
        return invalid(fmt::format("{} {} must be at most {}", name, shp(*values), INT32_MAX));
      }
    }
  }
  const std::string auto_pad = attr_s("auto_pad", "NOTSET");
  for (int d = 0; d < 2; ++d) {
    const int64_t ext = w->dilations[d] * (kernel[d] - 1) + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t out = (in_hw[d] + w->strides[d] - 1) / w->strides[d];
      const int64_t total = std::max<int64_t>(0, (out - 1) * w->strides[d] + ext - in_hw[d]);
      const int64_t small = total / 2;
      w->pads[d] = auto_pad == "SAME_UPPER" ? small : total - small;
      w->pads[d + 2] = total - w->pads[d];
    } else if (auto_pad == "VALID") {
      w->pads[d] = w->pads[d + 2] = 0;
    } else if (auto_pad != "NOTSET") {
      return unsupported(fmt::format("auto_pad '{}' is not supported (NOTSET, SAME_UPPER, "
                                     "SAME_LOWER, VALID)", auto_pad));
    }
  }
  int64_t* extra[2] = {ceil_extra_h, ceil_extra_w};
  for (int d = 0; d < 2; ++d) {
    if (extra[d]) *extra[d] = 0;
  }
  if (allow_ceil && attr_i("ceil_mode", 0) != 0) {
    for (int d = 0; d < 2; ++d) {
      const int64_t ext = w->dilations[d] * (kernel[d] - 1) + 1;
      const int64_t span = in_hw[d] + w->pads[d] + w->pads[d + 2] - ext;
      if (span < 0) break;
      int64_t out = (span + w->strides[d] - 1) / w->strides[d] + 1;
      // The last window must start inside the input or the leading pad.
      if ((out - 1) * w->strides[d] >= in_hw[d] + w->pads[d]) --out;
      const int64_t need = (out - 1) * w->strides[d] + ext - (in_hw[d] + w->pads[d] + w->pads[d + 2]);
      if (need > 0) {
        w->pads[d + 2] += need;
        *extra[d] = need;
      }
    }
  }
  for (int64_t v : w->pads) {
    if (v > INT32_MAX) {
      return unsupported(fmt::format("the padding {} that auto_pad or ceil_mode gives is larger "
                                     "than {}", shp(w->pads), INT32_MAX));
    }
  }
  return Status::Ok();
}

int64_t Importer::out_dim(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  const int64_t ext = d * (k - 1) + 1;
  return (in + pb + pe - ext) / s + 1;
}

Status Importer::lower_conv() {
  QUANTA_CONVERT_TRY_ATTRS({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  auto xr = need_act(0, "X");
  if (!xr) return xr.status();
  Value& x = **xr;
  auto wr = need_const(1, "W");
  if (!wr) return wr.status();
  const HostTensor& w = **wr;
  if (x.shape.size() != 4) {
    return unsupported(fmt::format("input X has shape {}; only 2-D convolution (a 4-D NCHW "
                                   "input) is supported", shp(x.shape)));
  }
  if (w.shape.size() != 4) {
    return invalid(fmt::format("weight W has shape {}; expected 4-D [M, C/group, kH, kW]",
                               shp(w.shape)));
  }
  const int64_t group = attr_i("group", 1);
  const int64_t cin = x.shape[1], cout = w.shape[0];
  int64_t group_cin = 0;
  if (group < 1 || group > INT32_MAX || cin % group != 0 || cout % group != 0 ||
      !detail::checked_mul(w.shape[1], group, &group_cin) || group_cin != cin) {
    return invalid(fmt::format("group {} does not fit input channels {} and weight shape {}",
                               group, cin, shp(w.shape)));
  }
  std::vector<int64_t> kernel = attr_ints("kernel_shape");
  if (kernel.empty()) kernel = {w.shape[2], w.shape[3]};
  if (kernel.size() == 2 && (kernel[0] != w.shape[2] || kernel[1] != w.shape[3])) {
    return invalid(fmt::format("kernel_shape {} differs from the weight shape {}", shp(kernel),
                               shp(w.shape)));
  }
  Window win;
  if (Status s = window_attrs({x.shape[2], x.shape[3]}, kernel, &win, false, nullptr, nullptr);
      !s.ok()) {
    return s;
  }
  const int64_t oh = out_dim(x.shape[2], kernel[0], win.strides[0], win.dilations[0], win.pads[0], win.pads[2]);
  const int64_t ow = out_dim(x.shape[3], kernel[1], win.strides[1], win.dilations[1], win.pads[1], win.pads[3]);
  if (oh < 1 || ow < 1) {
    return invalid(fmt::format("the kernel {} does not fit the padded input {}", shp(kernel),
                               shp(x.shape)));
  }
  if (Status s = check_act({x.shape[0], cout, oh, ow}, "output"); !s.ok()) return s;
  // OIHW -> OHWI
  const HostTensor w_ohwi = detail::transpose(w, {0, 2, 3, 1});
  const int wt = g_->add_const(g_->unique_tensor_name(in_name(1)), w_ohwi.shape, w_ohwi.floats());
  int bt = -1;
  if (has_input(2)) {
    auto br = need_const(2, "B");
    if (!br) return br.status();
    if ((*br)->size() != cout) {
      return invalid(fmt::format("bias B has {} values for {} output channels", (*br)->size(), cout));
    }
    bt = g_->add_const(g_->unique_tensor_name(in_name(2)), {cout}, (*br)->floats());
  }
  const int xt = get_nhwc(x, in_name(0));
  int yt = 0;
  Value& y = define_act(out_name(), {x.shape[0], cout, oh, ow}, true, &yt);
  fb::Conv2DOptionsT o;
  o.stride_h = static_cast<int>(win.strides[0]);
  o.stride_w = static_cast<int>(win.strides[1]);
  o.dilation_h = static_cast<int>(win.dilations[0]);
  o.dilation_w = static_cast<int>(win.dilations[1]);
  o.pad_top = static_cast<int>(win.pads[0]);
  o.pad_left = static_cast<int>(win.pads[1]);
  o.pad_bottom = static_cast<int>(win.pads[2]);
  o.pad_right = static_cast<int>(win.pads[3]);
  o.groups = static_cast<int>(group);
  y.producer = emit(OpType::kConv2D, {xt, wt, bt}, {yt}, opts(std::move(o)));
  return Status::Ok();
}

// FullyConnected y = x W^T + b from W in [N, K] order (row n = output n).
Status Importer::emit_fc(Value& a, HostTensor w_nk, const HostTensor* bias, const std::string& out,
                         std::vector<int64_t> out_shape) {
  const int64_t n = w_nk.shape[0], k = w_nk.shape[1];
  if (n < 1 || k < 1) return invalid(fmt::format("the weight [N, K] = {} is empty", shp(w_nk.shape)));
  if (Status s = check_act(out_shape, "output"); !s.ok()) return s;
  if (!a.kperm.empty() && static_cast<int64_t>(a.kperm.size()) != k) {
    return Status{StatusCode::kInternal,
                  fmt::format("{}: the NHWC flattening order has {} entries for K = {}", where(),
                              a.kperm.size(), k)};
  }
  if (!a.kperm.empty()) {
    // `a` is a flattened NHWC tensor: its element j is ONNX element kperm[j].
    HostTensor p = w_nk;
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t j = 0; j < k; ++j) p.v[r * k + j] = w_nk.v[r * k + a.kperm[j]];
    }
    w_nk = std::move(p);
    g_->log.rewrites.push_back(fmt::format(
        "'{}': permuted the weight columns to read the NHWC-flattened input directly", cur_name_));
  }
  const int wt = g_->add_const(g_->unique_tensor_name(cur_name_ + ".weight"), {n, k}, w_nk.floats());
  int bt = -1;
  if (bias) bt = g_->add_const(g_->unique_tensor_name(cur_name_ + ".bias"), {n}, bias->floats());
  int at = a.plain;
  const std::vector<int64_t>& as = g_->tensors[at].shape;
  if (as.size() != 2) at = emit_reshape(at, {shape_size(as) / k, k}, in_name(0) + "_rows");
  int yt = 0;
  const bool rows_only = out_shape.size() == 2;
  Value& y = define_act(rows_only ? out : out + "_rows", {shape_size(out_shape) / n, n}, false, &yt);
  y.producer = emit(OpType::kFullyConnected, {at, wt, bt}, {yt}, opts(fb::FullyConnectedOptionsT{}));
  if (!rows_only) {
    Value copy;
    copy.shape = out_shape;
    copy.plain = emit_reshape(yt, out_shape, out);
    values_[out] = std::move(copy);
  }
  return Status::Ok();
}

Status Importer::lower_gemm() {
  QUANTA_CONVERT_TRY_ATTRS({"alpha", "beta", "transA", "transB", "broadcast"});
  auto ar = need_act(0, "A");
  if (!ar) return ar.status();
  Value& a = **ar;
  const float alpha = attr_f("alpha", 1.0f), beta = attr_f("beta", 1.0f);
  const bool ta = attr_i("transA", 0) != 0, tb = attr_i("transB", 0) != 0;
  if (a.shape.size() != 2) {
    return invalid(fmt::format("input A has shape {}; Gemm needs a 2-D A", shp(a.shape)));
  }
  Value a_t;
  Value* ap = &a;
  if (ta) {  // A^T as an activation: one Transpose
    a_t.shape = {a.shape[1], a.shape[0]};
    a_t.plain = emit_transpose(get_plain(a, in_name(0)), a.shape, {1, 0}, in_name(0) + "_t");
    ap = &a_t;
  }
  auto bv = need_input(1, "B");
  if (!bv) return bv.status();
  if (!(*bv)->is_const) return lower_gemm_activation_b(*ap, **bv, alpha, beta, tb);
  auto br = need_const(1, "B");
  if (!br) return br.status();
  const HostTensor& b = **br;
  if (b.shape.size() != 2) return invalid(fmt::format("B has shape {}; expected 2-D", shp(b.shape)));
  if (b.shape[0] < 1 || b.shape[1] < 1) {
    return invalid(fmt::format("B has shape {}: a weight with a dimension of size 0 is not "
                               "supported", shp(b.shape)));
  }
  const int64_t k = ap->shape[1];
  HostTensor w = tb ? b : detail::transpose(b, {1, 0});  // [N, K]
  if (w.shape[1] != k) {
    return invalid(fmt::format("A {} and B {} (transB {}) do not multiply", shp(ap->shape),
                               shp(b.shape), tb ? 1 : 0));
  }
  const int64_t m = ap->shape[0], n = w.shape[0];
  for (double& v : w.v) v = static_cast<float>(static_cast<float>(v) * alpha);
  HostTensor bias;
  const HostTensor* biasp = nullptr;
  bool bias_as_add = false;
  if (has_input(2) && input(2) != nullptr && !input(2)->is_const) {
    // C is an activation (addmm): FullyConnected, then Add.
    Value& c = *input(2);
    if (beta != 1.0f) return unsupported("beta != 1 with an activation C is not supported");
    std::vector<int64_t> cs;
    if (!detail::broadcast_shapes(c.shape, {m, n}, &cs) || cs != std::vector<int64_t>{m, n}) {
      return invalid(fmt::format("C {} does not broadcast to [{}, {}]", shp(c.shape), m, n));
    }
    const std::string mid = out_name() + "_mm";
    if (Status st = emit_fc(*ap, std::move(w), nullptr, mid, {m, n}); !st.ok()) return st;
    const int mt = values_.at(mid).plain;
    const int ct = get_plain(c, in_name(2));
    int yt = 0;
    define_act(out_name(), {m, n}, false, &yt);
    emit(OpType::kAdd, {mt, ct}, {yt}, opts(fb::ElementwiseOptionsT{}), "/bias");
    return Status::Ok();
  }
  if (has_input(2)) {
    auto cr = need_const(2, "C");
    if (!cr) return cr.status();
    std::vector<int64_t> bs;
    if (!detail::broadcast_shapes((*cr)->shape, {m, n}, &bs) || bs != std::vector<int64_t>{m, n}) {
      return invalid(fmt::format("C {} does not broadcast to [{}, {}]", shp((*cr)->shape), m, n));
    }
    // C is [rows, cols] with rows in {1, M} and cols in {1, N} (or of rank
    // 0 or 1): it is one bias row when its rows are equal. Compared on C's
    // own data, never broadcast to the batch.
    const HostTensor& c = **cr;
    const int64_t rows = c.shape.size() == 2 ? c.shape[0] : 1;
    const int64_t cols = c.shape.empty() ? 1 : c.shape.back();
    bool rows_equal = true;
    for (int64_t r = 1; r < rows && rows_equal; ++r) {
      for (int64_t j = 0; j < cols; ++j) rows_equal = rows_equal && c.v[r * cols + j] == c.v[j];
    }
    HostTensor first;
    first.shape = {cols};
    first.v.assign(c.v.begin(), c.v.begin() + cols);
    bias = detail::broadcast_to(first, {n});
    for (double& v : bias.v) v = static_cast<float>(static_cast<float>(v) * beta);
    if (rows_equal) {
      biasp = &bias;
    } else {
      bias_as_add = true;
    }
  }
  if (!bias_as_add) return emit_fc(*ap, std::move(w), biasp, out_name(), {m, n});
  // A bias that differs per row: FullyConnected, then Add of the [M, N] constant.
  const std::string mid = out_name() + "_mm";
  if (Status s = emit_fc(*ap, std::move(w), nullptr, mid, {m, n}); !s.ok()) return s;
  // The [M, N] constant is new data, bounded like a folded constant.
  if (Status s = budget_.charge(static_cast<double>(m) * static_cast<double>(n), where()); !s.ok()) {
    return s;
  }
  HostTensor full = detail::broadcast_to(values_.at(in_name(2)).c, {m, n});
  for (double& v : full.v) v = static_cast<float>(static_cast<float>(v) * beta);
  const int ct = g_->add_const(g_->unique_tensor_name(in_name(2)), {m, n}, full.floats());
  int yt = 0;
  const int mt = values_.at(mid).plain;
  define_act(out_name(), {m, n}, false, &yt);
  emit(OpType::kAdd, {mt, ct}, {yt}, opts(fb::ElementwiseOptionsT{}), "/bias");
  return Status::Ok();
}

// Gemm whose B is an activation: MatMul, then alpha (Mul) and C (Add).
Status Importer::lower_gemm_activation_b(Value& a, Value& b, float alpha, float beta, bool tb) {
  if (b.shape.size() != 2) return invalid(fmt::format("B has shape {}; expected 2-D", shp(b.shape)));
  int bt = get_plain(b, in_name(1));
  std::vector<int64_t> bs = b.shape;
  if (tb) {
    bt = emit_transpose(bt, bs, {1, 0}, in_name(1) + "_t");
    bs = {bs[1], bs[0]};
  }
  if (bs[0] != a.shape[1]) {
    return invalid(fmt::format("A {} and B {} do not multiply", shp(a.shape), shp(b.shape)));
  }
  const std::vector<int64_t> out = {a.shape[0], bs[1]};
  if (Status s = check_act(out, "output"); !s.ok()) return s;
  const int at = get_plain(a, in_name(0));
  const bool more = alpha != 1.0f || has_input(2);
  int yt = more ? g_->add_tensor(g_->unique_tensor_name(out_name() + "_mm"), out) : 0;
  if (!more) define_act(out_name(), out, false, &yt);
  emit(OpType::kMatMul, {at, bt}, {yt}, opts(fb::MatMulOptionsT{}));
  if (alpha != 1.0f) {
    const int c = g_->add_const(g_->unique_tensor_name(cur_name_ + ".alpha"), {1}, {alpha});
    int z = 0;
    if (has_input(2)) {
      z = g_->add_tensor(g_->unique_tensor_name(out_name() + "_scaled"), out);
    } else {
      define_act(out_name(), out, false, &z);
    }
    emit(OpType::kMul, {yt, c}, {z}, opts(fb::ElementwiseOptionsT{}), "/alpha");
    yt = z;
  }
  if (has_input(2)) {
    auto cv = need_input(2, "C");
    if (!cv) return cv.status();
    int ct = 0;
    if ((*cv)->is_const) {
      HostTensor c = (*cv)->c;
      for (double& v : c.v) v = static_cast<float>(static_cast<float>(v) * beta);
      ct = g_->add_const(g_->unique_tensor_name(in_name(2)), c.shape, c.floats());
    } else if (beta == 1.0f) {
      ct = get_plain(**cv, in_name(2));
    } else {
      return unsupported("beta != 1 with an activation C is not supported");
    }
    int z = 0;
    define_act(out_name(), out, false, &z);
    emit(OpType::kAdd, {yt, ct}, {z}, opts(fb::ElementwiseOptionsT{}), "/bias");
  }
  return Status::Ok();
}

Status Importer::lower_matmul() {
  QUANTA_CONVERT_TRY_ATTRS({});
  auto ar = need_act(0, "A");
  if (!ar) return ar.status();
  Value& a = **ar;
  auto br = need_input(1, "B");
  if (!br) return br.status();
  if (a.shape.size() < 2) {
    return unsupported(fmt::format("input A has shape {}; a 1-D A is not supported", shp(a.shape)));
  }
  if ((*br)->is_const) {
    const HostTensor& b = (*br)->c;
    if (b.shape.size() == 2) {
      if (b.shape[1] < 1) {
        return invalid(fmt::format("B has shape {}: a weight with a dimension of size 0 is not "
                                   "supported", shp(b.shape)));
      }
      if (b.shape[0] != a.shape.back()) {
        return invalid(fmt::format("A {} and B {} do not multiply", shp(a.shape), shp(b.shape)));
      }
      std::vector<int64_t> out = a.shape;
      out.back() = b.shape[1];
      if (a.plain < 0) get_plain(a, in_name(0));
      return emit_fc(a, detail::transpose(b, {1, 0}), nullptr, out_name(), out);
    }
  }
  // General MatMul (batched constant B, or two activations).
  Value& b = **br;
  const std::vector<int64_t> bs = b.is_const ? b.c.shape : b.shape;
  if (bs.size() < 2) return unsupported(fmt::format("B has shape {}; a 1-D B is not supported", shp(bs)));
  if (bs[bs.size() - 2] != a.shape.back()) {
    return invalid(fmt::format("A {} and B {} do not multiply", shp(a.shape), shp(bs)));
  }
  std::vector<int64_t> batch;
  const std::vector<int64_t> ab(a.shape.begin(), a.shape.end() - 2), bb(bs.begin(), bs.end() - 2);
  if (!detail::broadcast_shapes(ab, bb, &batch)) {
    return invalid(fmt::format("batch dimensions of A {} and B {} do not broadcast", shp(a.shape), shp(bs)));
  }
  std::vector<int64_t> out = batch;
  out.push_back(a.shape[a.shape.size() - 2]);
  out.push_back(bs.back());
  if (Status s = check_act(out, "output"); !s.ok()) return s;
  const int at = get_plain(a, in_name(0));
  const int bt = get_plain(b, in_name(1));
  int yt = 0;
  Value& y = define_act(out_name(), out, false, &yt);
  y.producer = emit(OpType::kMatMul, {at, bt}, {yt}, opts(fb::MatMulOptionsT{}));
  return Status::Ok();
}

Status Importer::lower_batchnorm() {
  QUANTA_CONVERT_TRY_ATTRS({"epsilon", "momentum", "spatial", "training_mode", "is_test",
                            "consumed_inputs"});
  if (attr_i("training_mode", 0) != 0) return unsupported("training_mode = 1 is not supported");
  if (attr_i("spatial", 1) != 1) return unsupported("spatial = 0 is not supported");
  for (int i = 1; i < cur_->output_size(); ++i) {
    if (!cur_->output(i).empty()) {
      return unsupported(fmt::format(
          "it has {} outputs (running mean/variance, saved statistics): the model was exported "
          "in training mode, where BatchNormalization normalizes with the batch's statistics. "
          "Export it in inference mode (model.eval() before torch.onnx.export)",
          cur_->output_size()));
    }
  }
  auto xr = need_act(0, "X");
  if (!xr) return xr.status();
  Value& x = **xr;
  const HostTensor* p[4];
  const char* names[4] = {"scale", "B", "input_mean", "input_var"};
  for (size_t i = 0; i < 4; ++i) {
    auto c = need_const(i + 1, names[i]);
    if (!c) return c.status();
    p[i] = *c;
  }
  if (x.shape.size() < 2) return invalid(fmt::format("input X has shape {}; expected at least 2-D", shp(x.shape)));
  const int64_t ch = x.shape[1];
  for (size_t i = 0; i < 4; ++i) {
    if (p[i]->size() != ch) {
      return invalid(fmt::format("{} has {} values for {} channels", names[i], p[i]->size(), ch));
    }
  }
  const double eps = attr_f("epsilon", 1e-5f);
  std::vector<float> scale(static_cast<size_t>(ch)), shift(static_cast<size_t>(ch));
  for (int64_t c = 0; c < ch; ++c) {
    const double var = p[3]->v[c];
    if (var + eps <= 0) {
      return invalid(fmt::format("input_var[{}] + epsilon = {} is not positive", c, var + eps));
    }
    const double s = p[0]->v[c] / std::sqrt(var + eps);
    scale[c] = static_cast<float>(s);
    shift[c] = static_cast<float>(p[1]->v[c] - p[2]->v[c] * s);
  }
  // Fold into the producer (Conv or FullyConnected) when X has no other reader.
  if (x.producer >= 0 && uses_[in_name(0)] == 1) {
    LNode& prod = g_->nodes[x.producer];
    const bool conv = prod.op == OpType::kConv2D && x.shape.size() == 4;
    const bool fc = prod.op == OpType::kFullyConnected && x.shape.size() == 2;
    if ((conv || fc) && get_activation(prod).kind == fb::Activation::NONE) {
      LTensor& w = g_->tensors[prod.inputs[1]];
      const int64_t per = w.num_elements() / ch;
      for (int64_t c = 0; c < ch; ++c) {
        for (int64_t k = 0; k < per; ++k) w.data[c * per + k] *= scale[c];
      }
      if (prod.inputs.size() < 3) prod.inputs.resize(3, -1);
      if (prod.inputs[2] < 0) {
        prod.inputs[2] = g_->add_const(g_->unique_tensor_name(prod.name + ".bias"), {ch},
                                       std::vector<float>(static_cast<size_t>(ch), 0.0f));
      }
      std::vector<float>& b = g_->tensors[prod.inputs[2]].data;
      for (int64_t c = 0; c < ch; ++c) b[c] = b[c] * scale[c] + shift[c];
      prod.source.push_back(cur_name_);
      Value copy = x;
      if (Status s = alias(out_name(), copy); !s.ok()) return s;
      g_->log.rewrites.push_back(fmt::format("folded BatchNormalization '{}' into {} '{}'",
                                             cur_name_, prod.onnx_op, prod.name));
      return Status::Ok();
    }
  }
  // Otherwise: y = x * scale + shift, per channel.
  const bool nhwc = x.nhwc >= 0 && x.shape.size() == 4;
  std::vector<int64_t> cshape;
  if (nhwc) {
    cshape = {ch};
  } else {
    cshape.assign(x.shape.size() - 1, 1);
    cshape[0] = ch;
  }
  const int xt = nhwc ? x.nhwc : get_plain(x, in_name(0));
  const int st = g_->add_const(g_->unique_tensor_name(cur_name_ + ".scale"), cshape, scale);
  const int bt = g_->add_const(g_->unique_tensor_name(cur_name_ + ".shift"), cshape, shift);
  const int mid = g_->add_tensor(g_->unique_tensor_name(out_name() + "_scaled"), g_->tensors[xt].shape);
  emit(OpType::kMul, {xt, st}, {mid}, opts(fb::ElementwiseOptionsT{}), "/scale");
  int yt = 0;
  Value& y = define_act(out_name(), x.shape, nhwc, &yt);
  y.producer = emit(OpType::kAdd, {mid, bt}, {yt}, opts(fb::ElementwiseOptionsT{}), "/shift");
  g_->log.rewrites.push_back(fmt::format(
      "BatchNormalization '{}' has no Conv/Gemm to fold into: lowered to Mul + Add", cur_name_));
  return Status::Ok();
}

}  // namespace quanta::convert::importer
