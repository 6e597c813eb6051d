// Lowering of pooling (importer.hpp): MaxPool, AveragePool, GlobalAveragePool,
// GlobalMaxPool, and ReduceMean over the spatial axes.
#include "importer.hpp"

#include <algorithm>

namespace quanta::convert::importer {

Status Importer::lower_pool() {
  const bool is_max = cur_->op_type() == "MaxPool";
  if (is_max) {
    QUANTA_CONVERT_TRY_ATTRS({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads",
                              "storage_order", "strides"});
    if (attr_i("storage_order", 0) != 0) return unsupported("storage_order = 1 is not supported");
    if (Status s = only_first_output(); !s.ok()) return s;
  } else {
    QUANTA_CONVERT_TRY_ATTRS({"auto_pad", "ceil_mode", "count_include_pad", "dilations",
                              "kernel_shape", "pads", "strides"});
  }
  auto xr = need_act(0, "X");
  if (!xr) return xr.status();
  Value& x = **xr;
  if (x.shape.size() != 4) {
    return unsupported(fmt::format("input has shape {}; only 2-D pooling (4-D NCHW input) is "
                                   "supported", shp(x.shape)));
  }
  const auto kernel = attr_ints("kernel_shape");
  if (kernel.empty()) return invalid("attribute 'kernel_shape' is required");
  Window win;
  int64_t eh = 0, ew = 0;
  if (Status s = window_attrs({x.shape[2], x.shape[3]}, kernel, &win, true, &eh, &ew); !s.ok()) {
    return s;
  }
  const bool include_pad = !is_max && attr_i("count_include_pad", 0) != 0;
  if (include_pad && (eh > 0 || ew > 0)) {
    return unsupported("ceil_mode = 1 together with count_include_pad = 1 is not supported "
                       "when it extends the window past the explicit pads");
  }
  for (int d = 0; d < 2; ++d) {
    const int64_t ext = win.dilations[d] * (kernel[d] - 1) + 1;
    if (win.pads[d] >= ext || win.pads[d + 2] >= ext) {
      return unsupported(fmt::format("pads {} are not smaller than the window extent {} (the "
                                     "runtime needs every window to overlap the input)",
                                     shp(win.pads), ext));
    }
  }
  const int64_t oh = out_dim(x.shape[2], kernel[0], win.strides[0], win.dilations[0], win.pads[0], win.pads[2]);
  const int64_t ow = out_dim(x.shape[3], kernel[1], win.strides[1], win.dilations[1], win.pads[1], win.pads[3]);
  if (oh < 1 || ow < 1) {
    return invalid(fmt::format("the window {} does not fit the input {}", shp(kernel), shp(x.shape)));
  }
  if (Status s = check_act({x.shape[0], x.shape[1], oh, ow}, "output"); !s.ok()) return s;
  fb::PoolOptionsT o;
  o.kernel_h = static_cast<int>(kernel[0]);
  o.kernel_w = static_cast<int>(kernel[1]);
  o.stride_h = static_cast<int>(win.strides[0]);
  o.stride_w = static_cast<int>(win.strides[1]);
  o.dilation_h = static_cast<int>(win.dilations[0]);
  o.dilation_w = static_cast<int>(win.dilations[1]);
  o.pad_top = static_cast<int>(win.pads[0]);
  o.pad_left = static_cast<int>(win.pads[1]);
  o.pad_bottom = static_cast<int>(win.pads[2]);
  o.pad_right = static_cast<int>(win.pads[3]);
  o.count_include_pad = include_pad;
  const int xt = get_nhwc(x, in_name(0));
  int yt = 0;
  Value& y = define_act(out_name(), {x.shape[0], x.shape[1], oh, ow}, true, &yt);
  y.producer = emit(is_max ? OpType::kMaxPool : OpType::kAveragePool, {xt}, {yt}, opts(std::move(o)));
  return Status::Ok();
}

Status Importer::lower_global_pool() {
  QUANTA_CONVERT_TRY_ATTRS({});
  auto xr = need_act(0, "X");
  if (!xr) return xr.status();
  Value& x = **xr;
  if (x.shape.size() != 4) {
    return unsupported(fmt::format("input has shape {}; only 4-D NCHW input is supported", shp(x.shape)));
  }
  const int xt = get_nhwc(x, in_name(0));
  int yt = 0;
  define_act(out_name(), {x.shape[0], x.shape[1], 1, 1}, true, &yt);
  if (cur_->op_type() == "GlobalAveragePool") {
    emit(OpType::kGlobalAveragePool, {xt}, {yt});
  } else {
    if (x.shape[2] > INT32_MAX || x.shape[3] > INT32_MAX) {
      return unsupported(fmt::format("input {}: a window of {} x {} is larger than the runtime's "
                                     "int32 kernel size", shp(x.shape), x.shape[2], x.shape[3]));
    }
    fb::PoolOptionsT o;
    o.kernel_h = static_cast<int>(x.shape[2]);
    o.kernel_w = static_cast<int>(x.shape[3]);
    emit(OpType::kMaxPool, {xt}, {yt}, opts(std::move(o)));
  }
  return Status::Ok();
}

// ReduceMean over the spatial axes of a 4-D NCHW tensor is a global average pool.
Status Importer::lower_reduce_mean() {
  QUANTA_CONVERT_TRY_ATTRS({"axes", "keepdims", "noop_with_empty_axes"});
  auto xr = need_act(0, "data");
  if (!xr) return xr.status();
  Value& x = **xr;
  std::vector<int64_t> axes = attr_ints("axes");
  if (opset_ >= 18 && has_input(1)) {
    auto a = const_ints(1, "axes");
    if (!a) return a.status();
    axes = std::move(*a);
  }
  for (int64_t& a : axes) a = a < 0 ? a + static_cast<int64_t>(x.shape.size()) : a;
  std::sort(axes.begin(), axes.end());
  if (x.shape.size() != 4 || axes != std::vector<int64_t>{2, 3}) {
    return unsupported(fmt::format("ReduceMean over axes {} of a {} tensor is not supported (only "
                                   "the spatial axes [2, 3] of a 4-D NCHW tensor, which is a "
                                   "global average pool)", shp(axes), shp(x.shape)));
  }
  const bool keep = attr_i("keepdims", 1) != 0;
  const int xt = get_nhwc(x, in_name(0));
  int yt = 0;
  if (keep) {
    define_act(out_name(), {x.shape[0], x.shape[1], 1, 1}, true, &yt);
    emit(OpType::kGlobalAveragePool, {xt}, {yt});
    return Status::Ok();
  }
  const int pooled = g_->add_tensor(g_->unique_tensor_name(out_name() + "_pooled"),
                                    {x.shape[0], 1, 1, x.shape[1]});
  emit(OpType::kGlobalAveragePool, {xt}, {pooled});
  Value v;
  v.shape = {x.shape[0], x.shape[1]};
  v.plain = emit_reshape(pooled, v.shape, out_name());
  values_[out_name()] = std::move(v);
  return Status::Ok();
}

}  // namespace quanta::convert::importer
