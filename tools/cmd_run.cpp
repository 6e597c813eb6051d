// `quanta run`: runs a model on inputs read from .npy files, once per batch
// of the model (a file of N samples for a batch-B input gives N / B runs).
#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli.hpp"
#include "quanta/npy.hpp"

namespace quanta::cli {
namespace {

// Run `run` of every input file into the session.
void set_inputs(Session& session, const std::vector<SampleFile>& files, int64_t run, bool raw,
                std::vector<float>& scratch) {
  for (size_t i = 0; i < files.size(); ++i) {
    const SampleFile& f = files[i];
    const TensorInfo& t = session.model().input(i);
    const std::string what = fmt::format("{}: input {} ('{}')", f.path, i, t.name);
    if (raw) {
      DType dt{};
      if (!npy::to_runtime_dtype(f.array.type, &dt) || dt != t.dtype) {
        throw Error(fmt::format("{}: --raw needs the stored dtype of input {} ('{}') ({}), the file holds {}", f.path,
                                i, t.name, dtype_name(t.dtype), npy::element_name(f.array.type)));
      }
      check(session.set_input_raw(i, f.run_data(run), f.run_bytes()), what);
    } else {
      f.floats(run, scratch);
      check(session.set_input(i, scratch), what);
    }
  }
}

// One output over all runs: the runs' outputs one after the other, so the
// shape is the model's output shape with its first axis times the runs.
struct Collected {
  std::vector<int64_t> shape;
  std::vector<float> values;   // without --raw
  std::vector<uint8_t> bytes;  // with --raw
};

void append_output(Session& session, size_t o, bool raw, Collected& c) {
  const TensorInfo& t = session.model().output(o);
  if (raw) {
    const TensorView view = session.output(o);
    const auto* p = static_cast<const uint8_t*>(view.data);
    c.bytes.insert(c.bytes.end(), p, p + t.num_bytes);
  } else {
    const size_t old = c.values.size();
    c.values.resize(old + static_cast<size_t>(t.num_elements));
    check(session.get_output(o, std::span<float>(c.values.data() + old, static_cast<size_t>(t.num_elements))),
          fmt::format("output {} ('{}')", o, t.name));
  }
}

std::vector<int64_t> stacked_shape(const std::vector<int64_t>& shape, int64_t runs) {
  if (runs == 1) return shape;
  if (shape.empty()) return {runs};
  std::vector<int64_t> s = shape;
  s[0] *= runs;
  return s;
}

void write_output(const TensorInfo& t, size_t o, const Collected& c, const std::string& path, bool raw) {
  Status st;
  if (raw) {
    npy::ElementType et{};
    if (!npy::from_runtime_dtype(t.dtype, &et)) {
      throw Error(fmt::format("output {} ('{}'): dtype {} cannot be written as .npy", o, t.name, dtype_name(t.dtype)));
    }
    st = npy::write_file(path, npy::from_bytes(et, c.shape, c.bytes.data(), c.bytes.size()));
  } else {
    st = npy::write_file(path, npy::from_floats(c.shape, c.values));
  }
  if (!st.ok()) throw Error(st.message());
  std::cout << fmt::format("output {} '{}' {} {} -> {}\n", o, t.name, raw ? dtype_name(t.dtype) : "f32",
                           shape_str(c.shape), path);
}

void print_summary(const TensorInfo& t, size_t o, const Collected& c, int64_t runs, int64_t samples) {
  const std::vector<float>& v = c.values;
  std::cout << fmt::format("output {} '{}' {} {}{}", o, t.name, dtype_name(t.dtype), shape_str(c.shape),
                           t.quant.empty() ? "" : " (dequantized)");
  if (runs > 1) std::cout << fmt::format(": {} samples in {} runs of {}", samples, runs, shape_str(t.shape));
  std::cout << "\n";
  const size_t shown = std::min<size_t>(v.size(), 10);
  std::cout << fmt::format("  values: [{:.6g}{}]\n", fmt::join(v.begin(), v.begin() + static_cast<long>(shown), ", "),
                           v.size() > shown ? fmt::format(", ... ({} more)", v.size() - shown) : "");
  if (v.empty()) return;
  const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  double sum = 0;
  for (float f : v) sum += f;
  std::cout << fmt::format("  min {:.6g}  max {:.6g}  mean {:.6g}\n", *mn, *mx, sum / static_cast<double>(v.size()));
  // Argmax per sample when each sample's output is a vector of scores
  // (size-1 axes dropped), else over the last axis.
  const ClassLayout l = class_layout(t);
  size_t row = 0;
  std::string unit, where;
  if (l.ok) {
    row = l.classes;
    unit = l.rows * runs == samples ? "sample" : "row";
  } else {
    row = t.shape.empty() ? 1 : static_cast<size_t>(std::max<int64_t>(t.shape.back(), 1));
    unit = "row";
    where = " (last axis)";
  }
  const size_t rows = v.size() / row;
  for (size_t r = 0; r < std::min<size_t>(rows, 4); ++r) {
    const size_t k = argmax(v.data() + r * row, row);
    std::cout << fmt::format("  argmax{}{}: {} (value {:.6g})\n", where,
                             rows > 1 ? fmt::format(", {} {}", unit, r) : "", k, v[r * row + k]);
  }
  if (rows > 4) std::cout << fmt::format("  ... ({} more {}{})\n", rows - 4, unit, rows - 4 == 1 ? "" : "s");
}

}  // namespace

int run_run(const RunArgs& a) {
  auto model = load_model_or_throw(a.model);
  const Model& m = *model;
  const auto slots_in = bind_files(a.inputs, input_names(m), {"--input", "input", true}, a.model);
  const auto slots_out = bind_files(a.outputs, output_names(m), {"--output", "output", false}, a.model);
  for (size_t i = 0; i < slots_in.size(); ++i) {
    if (slots_in[i].empty()) {
      throw UsageError(fmt::format("{}: no --input for input {} ('{}' {} {}); the model has {} input{}",
                                   a.model, i, m.input(i).name, dtype_name(m.input(i).dtype),
                                   shape_str(m.input(i).shape), m.num_inputs(), m.num_inputs() == 1 ? "" : "s"));
    }
  }
  const std::vector<SampleFile> files = read_sample_files(slots_in, m);
  const int64_t runs = files.empty() ? 1 : files[0].runs;
  const int64_t samples = files.empty() ? 1 : files[0].samples;

  auto session = create_session_or_throw(model, a.model, session_options(a.session));
  std::vector<Collected> outs(m.num_outputs());
  for (size_t o = 0; o < outs.size(); ++o) {
    outs[o].shape = stacked_shape(m.output(o).shape, runs);
  }
  std::vector<float> scratch;
  for (int64_t r = 0; r < runs; ++r) {
    set_inputs(*session, files, r, a.raw, scratch);
    check(session->run(), runs > 1 ? fmt::format("{}: run {} of {}", a.model, r, runs) : fmt::format("{}: run", a.model));
    for (size_t o = 0; o < outs.size(); ++o) append_output(*session, o, a.raw && !slots_out[o].empty(), outs[o]);
  }
  for (size_t o = 0; o < outs.size(); ++o) {
    if (!slots_out[o].empty()) {
      write_output(m.output(o), o, outs[o], slots_out[o], a.raw);
    } else {
      print_summary(m.output(o), o, outs[o], runs, samples);
    }
  }
  return kExitOk;
}

}  // namespace quanta::cli
