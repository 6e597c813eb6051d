// `quanta run`: runs a model once on inputs read from .npy files.
#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli.hpp"
#include "npy.hpp"

namespace quanta::cli {
namespace {

// Splits "NAME=path" when NAME is one of `names`; otherwise the whole
// argument is a path (paths may contain '=').
struct Binding {
  int index = -1;  // -1: positional
  std::string path;
};

Binding parse_binding(const std::string& arg, const std::function<int(const std::string&)>& find) {
  const size_t eq = arg.find('=');
  if (eq != std::string::npos && eq > 0) {
    const int idx = find(arg.substr(0, eq));
    if (idx >= 0) return {idx, arg.substr(eq + 1)};
  }
  return {-1, arg};
}

// Resolves --input / --output arguments to one path per graph tensor
// (empty: not given). Positional arguments fill the slots in order.
std::vector<std::string> bind_files(const std::vector<std::string>& args, size_t count,
                              const std::function<int(const std::string&)>& find,
                              const char* kind) {
  std::vector<std::string> slots(count);
  size_t next = 0;
  for (const std::string& a : args) {
    const Binding b = parse_binding(a, find);
    size_t idx = 0;
    if (b.index >= 0) {
      idx = static_cast<size_t>(b.index);
    } else {
      while (next < count && !slots[next].empty()) ++next;
      if (next >= count) {
        throw UsageError(fmt::format("too many --{} arguments: the model has {} {}{}", kind, count,
                                     kind, count == 1 ? "" : "s"));
      }
      idx = next;
    }
    if (!slots[idx].empty()) {
      throw UsageError(fmt::format("{} {} is given twice ('{}' and '{}')", kind, idx, slots[idx], b.path));
    }
    if (b.path.empty()) throw UsageError(fmt::format("empty file name for {} {}", kind, idx));
    slots[idx] = b.path;
  }
  return slots;
}

void set_one_input(Session& session, size_t i, const std::string& path, bool raw) {
  const TensorInfo& t = session.model().input(i);
  const std::string what = fmt::format("input {} ('{}')", i, t.name);
  auto arr = npy::read_file(path);
  if (!arr) throw Error(arr.status().message());
  if (arr->shape != t.shape) {
    throw Error(fmt::format("{}: shape {} does not match {} of the model, which expects {} "
                            "(shapes must match exactly)",
                            path, shape_str(arr->shape), what, shape_str(t.shape)));
  }
  if (raw) {
    DType dt{};
    if (!npy::to_runtime_dtype(arr->type, &dt) || dt != t.dtype) {
      throw Error(fmt::format("{}: --raw needs the stored dtype of {} ({}), the file holds {}", path,
                              what, dtype_name(t.dtype), npy::element_name(arr->type)));
    }
    check(session.set_input_raw(i, arr->data.data(), arr->data.size()), fmt::format("{}: {}", path, what));
    return;
  }
  const std::vector<float> v = npy::to_floats(*arr);
  check(session.set_input(i, v), fmt::format("{}: {}", path, what));
}

void write_output(Session& session, size_t i, const std::string& path, bool raw) {
  const TensorInfo& t = session.model().output(i);
  Status st;
  if (raw) {
    npy::ElementType et{};
    if (!npy::from_runtime_dtype(t.dtype, &et)) {
      throw Error(fmt::format("output {} ('{}'): dtype {} cannot be written as .npy", i, t.name,
                              dtype_name(t.dtype)));
    }
    const TensorView view = session.output(i);
    st = npy::write_file(path, npy::from_bytes(et, t.shape, view.data, t.num_bytes));
  } else {
    std::vector<float> v(static_cast<size_t>(t.num_elements));
    check(session.get_output(i, v), fmt::format("output {} ('{}')", i, t.name));
    st = npy::write_file(path, npy::from_floats(t.shape, v));
  }
  if (!st.ok()) throw Error(st.message());
  std::cout << fmt::format("output {} '{}' {} {} -> {}\n", i, t.name, raw ? dtype_name(t.dtype) : "f32",
                           shape_str(t.shape), path);
}

void print_summary(Session& session, size_t i) {
  const TensorInfo& t = session.model().output(i);
  std::vector<float> v(static_cast<size_t>(t.num_elements));
  check(session.get_output(i, v), fmt::format("output {} ('{}')", i, t.name));
  std::cout << fmt::format("output {} '{}' {} {}{}\n", i, t.name, dtype_name(t.dtype), shape_str(t.shape),
                           t.quant.empty() ? "" : " (dequantized)");
  const size_t shown = std::min<size_t>(v.size(), 10);
  std::cout << fmt::format("  values: [{:.6g}{}]\n", fmt::join(v.begin(), v.begin() + static_cast<long>(shown), ", "),
                           v.size() > shown ? fmt::format(", ... ({} more)", v.size() - shown) : "");
  if (v.empty()) return;
  const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  double sum = 0;
  for (float f : v) sum += f;
  std::cout << fmt::format("  min {:.6g}  max {:.6g}  mean {:.6g}\n", *mn, *mx,
                           sum / static_cast<double>(v.size()));
  const size_t row = t.shape.empty() ? 1 : static_cast<size_t>(std::max<int64_t>(t.shape.back(), 1));
  const size_t rows = v.size() / row;
  for (size_t r = 0; r < std::min<size_t>(rows, 4); ++r) {
    const size_t k = argmax(v.data() + r * row, row);
    std::cout << fmt::format("  argmax (last axis){}: {} (value {:.6g})\n",
                             rows > 1 ? fmt::format(", row {}", r) : "", k, v[r * row + k]);
  }
  if (rows > 4) std::cout << fmt::format("  ... ({} more rows)\n", rows - 4);
}

}  // namespace

int run_run(const RunArgs& a) {
  auto model = load_model_or_throw(a.model);
  const Model& m = *model;
  const auto slots_in = bind_files(a.inputs, m.num_inputs(), [&m](const std::string& n) { return m.find_input(n); },
                             "input");
  const auto slots_out = bind_files(a.outputs, m.num_outputs(),
                              [&m](const std::string& n) { return m.find_output(n); }, "output");
  for (size_t i = 0; i < slots_in.size(); ++i) {
    if (slots_in[i].empty()) {
      throw UsageError(fmt::format("{}: no --input for input {} ('{}' {} {}); the model has {} input{}",
                                   a.model, i, m.input(i).name, dtype_name(m.input(i).dtype),
                                   shape_str(m.input(i).shape), m.num_inputs(), m.num_inputs() == 1 ? "" : "s"));
    }
  }
  auto session = create_session_or_throw(model, a.model, session_options(a.session));
  for (size_t i = 0; i < slots_in.size(); ++i) set_one_input(*session, i, slots_in[i], a.raw);
  check(session->run(), fmt::format("{}: run", a.model));
  for (size_t i = 0; i < m.num_outputs(); ++i) {
    if (!slots_out[i].empty()) {
      write_output(*session, i, slots_out[i], a.raw);
    } else {
      print_summary(*session, i);
    }
  }
  return kExitOk;
}

}  // namespace quanta::cli
