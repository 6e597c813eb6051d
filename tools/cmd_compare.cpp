// `quanta compare`: accuracy of a candidate model against a reference on the
// same inputs (for example int8 against float).
#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "quanta/npy.hpp"

namespace quanta::cli {
namespace {

using json = nlohmann::ordered_json;

constexpr uint32_t kCompareSeed = 2024;

// Error statistics of one output, and top-1 agreement when the output holds
// class scores (ClassLayout: `row` scores per prediction; 0 when it does not).
struct Accum : ErrorStats {
  int64_t rows = 0, top1 = 0;
  void add(const std::vector<float>& r, const std::vector<float>& c, size_t row) {
    ErrorStats::add(r, c);
    if (row == 0) return;
    for (size_t base = 0; base + row <= r.size(); base += row) {
      ++rows;
      if (argmax(r.data() + base, row) == argmax(c.data() + base, row)) ++top1;
    }
  }
};

std::vector<float> random_values(const TensorInfo& t, Rng& rng, const std::string& path) {
  float lo = -1.0f, hi = 1.0f;
  if (t.dtype == DType::kU8 && t.quant.per_tensor()) {
    const float s = t.quant.scale[0];
    const float z = static_cast<float>(t.quant.zero_point.empty() ? 0 : t.quant.zero_point[0]);
    lo = s * (0.0f - z);
    hi = s * (255.0f - z);
  } else if (t.dtype != DType::kF32) {
    throw Error(fmt::format("{}: input '{}' has dtype {}; compare can only make random float inputs; "
                            "pass --input files instead",
                            path, t.name, dtype_name(t.dtype)));
  }
  std::vector<float> v(static_cast<size_t>(t.num_elements));
  for (float& x : v) x = rng.uniform(lo, hi);
  return v;
}

}  // namespace

int run_compare(const CompareArgs& a) {
  // An .onnx model is converted to fp32 in memory, with the input shapes of
  // the other model when it is a .quanta file.
  const bool ref_onnx = is_onnx_path(a.reference);
  std::shared_ptr<const Model> ref_model = ref_onnx ? nullptr : load_model_or_throw(a.reference);
  auto cand_model = load_model_any(a.candidate, ref_model.get());
  if (ref_onnx) ref_model = load_model_any(a.reference, is_onnx_path(a.candidate) ? nullptr : cand_model.get());
  const Model& R = *ref_model;
  const Model& C = *cand_model;
  if (R.num_inputs() != C.num_inputs() || R.num_outputs() != C.num_outputs()) {
    throw Error(fmt::format("{} has {} inputs and {} outputs but {} has {} and {}: the models are not comparable",
                            a.reference, R.num_inputs(), R.num_outputs(), a.candidate, C.num_inputs(),
                            C.num_outputs()));
  }
  for (size_t i = 0; i < R.num_inputs(); ++i) {
    if (R.input(i).shape != C.input(i).shape) {
      throw Error(fmt::format("input {}: shape {} in {} but {} in {}", i, shape_str(R.input(i).shape), a.reference,
                              shape_str(C.input(i).shape), a.candidate));
    }
  }
  for (size_t i = 0; i < R.num_outputs(); ++i) {
    if (R.output(i).shape != C.output(i).shape) {
      throw Error(fmt::format("output {}: shape {} in {} but {} in {}", i, shape_str(R.output(i).shape),
                              a.reference, shape_str(C.output(i).shape), a.candidate));
    }
  }

  // Samples from files (N samples give N / B runs of the batch-B model), or
  // random runs.
  std::vector<SampleFile> files;
  std::vector<std::string> paths;
  if (!a.inputs.empty()) {
    paths = bind_files(a.inputs, input_names(R), {"--input", "input", true}, a.reference);
    for (size_t i = 0; i < paths.size(); ++i) {
      if (paths[i].empty()) {
        throw UsageError(fmt::format("no --input file for input {} ('{}' {}) of {}: give one file per input, or none "
                                     "for random inputs",
                                     i, R.input(i).name, shape_str(R.input(i).shape), a.reference));
      }
    }
    files = read_sample_files(paths, R);
  }
  const int64_t runs = files.empty() ? a.random : files[0].runs;
  const int64_t samples = files.empty() ? a.random : files[0].samples;
  SessionOptions options;
  options.tier = tier_from_arg(a.tier);
  apply_limits(a.limits, &options);
  auto rs = create_session_or_throw(ref_model, a.reference, options);
  auto cs = create_session_or_throw(cand_model, a.candidate, options);
  std::vector<Accum> acc(R.num_outputs());
  std::vector<std::vector<float>> ro(R.num_outputs()), co(R.num_outputs());
  for (size_t o = 0; o < R.num_outputs(); ++o) {
    ro[o].resize(static_cast<size_t>(R.output(o).num_elements));
    co[o].resize(static_cast<size_t>(C.output(o).num_elements));
  }
  Rng rng(kCompareSeed);
  std::vector<size_t> class_row(R.num_outputs());
  for (size_t o = 0; o < R.num_outputs(); ++o) {
    const ClassLayout l = class_layout(R.output(o));
    class_row[o] = l.ok ? l.classes : 0;
  }
  std::vector<float> v;
  for (int64_t r = 0; r < runs; ++r) {
    for (size_t i = 0; i < R.num_inputs(); ++i) {
      if (files.empty()) {
        v = random_values(R.input(i), rng, a.reference);
      } else {
        files[i].floats(r, v);
      }
      check(rs->set_input(i, v), fmt::format("{}: input {} ('{}')", a.reference, i, R.input(i).name));
      check(cs->set_input(i, v), fmt::format("{}: input {} ('{}')", a.candidate, i, C.input(i).name));
    }
    check(rs->run(), fmt::format("{}: run", a.reference));
    check(cs->run(), fmt::format("{}: run", a.candidate));
    for (size_t o = 0; o < R.num_outputs(); ++o) {
      check(rs->get_output(o, ro[o]), fmt::format("{}: output {}", a.reference, o));
      check(cs->get_output(o, co[o]), fmt::format("{}: output {}", a.candidate, o));
      acc[o].add(ro[o], co[o], class_row[o]);
    }
  }

  const std::string source =
      files.empty() ? fmt::format("{} random inputs (seed {})", samples, kCompareSeed)
                    : fmt::format("{} from {}{}", samples, fmt::join(paths, ", "),
                                  runs != samples ? fmt::format(" ({} run{} of batch {})", runs, runs == 1 ? "" : "s", files[0].batch)
                                                  : "");
  if (a.json) {
    json j;
    j["reference"] = a.reference;
    j["candidate"] = a.candidate;
    j["samples"] = samples;
    j["runs"] = runs;
    j["inputs"] = files.empty() ? json("random") : json(paths);
    j["seed"] = files.empty() ? json(kCompareSeed) : json(nullptr);
    json outs = json::array();
    for (size_t o = 0; o < acc.size(); ++o) {
      const Accum& x = acc[o];
      const double sqnr = x.sqnr_db();
      json e;
      e["index"] = o;
      e["name"] = R.output(o).name;
      e["shape"] = R.output(o).shape;
      e["sqnr_db"] = std::isfinite(sqnr) ? json(sqnr) : json(nullptr);
      e["identical"] = x.err2 == 0 && !x.nonfinite;
      e["cosine"] = x.cosine();
      e["max_abs_error"] = x.max_abs_err;
      e["mean_abs_error"] = x.count > 0 ? x.abs_err / static_cast<double>(x.count) : 0.0;
      const bool classes = class_row[o] > 0;
      e["top1_agreement"] = classes && x.rows > 0 ? json(static_cast<double>(x.top1) / static_cast<double>(x.rows))
                                                  : json(nullptr);
      e["top1_matches"] = classes ? json(x.top1) : json(nullptr);
      e["rows"] = x.rows;
      e["nonfinite_values"] = x.nonfinite;
      outs.push_back(e);
    }
    j["outputs"] = outs;
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }

  std::cout << fmt::format("reference  {}\ncandidate  {}\nsamples    {}\n\n", model_label(a.reference),
                           model_label(a.candidate), source);
  std::vector<std::vector<std::string>> rows;
  for (size_t o = 0; o < acc.size(); ++o) {
    const Accum& x = acc[o];
    const double sqnr = x.sqnr_db();
    rows.push_back({std::to_string(o), R.output(o).name, shape_str(R.output(o).shape),
                    std::isinf(sqnr) ? (sqnr > 0 ? "inf" : "-inf") : fmt::format("{:.2f}", sqnr),
                    fmt::format("{:.6f}", x.cosine()), fmt::format("{:.6g}", x.max_abs_err),
                    class_row[o] == 0 ? std::string("-")
                                      : fmt::format("{:.2f}% ({}/{})",
                                                    x.rows > 0 ? 100.0 * static_cast<double>(x.top1) / static_cast<double>(x.rows) : 0.0,
                                                    x.top1, x.rows)});
  }
  std::cout << format_table({"#", "output", "shape", "SQNR dB", "cosine", "max |err|", "top-1 agreement"}, rows,
                            {0, 3, 4, 5});
  for (size_t o = 0; o < acc.size(); ++o) {
    if (class_row[o] == 0) {
      std::cout << fmt::format("note: output {}: no top-1 agreement: {}\n", o, class_layout(R.output(o)).why);
    }
    if (acc[o].nonfinite) {
      std::cout << fmt::format("note: output {} has NaN or infinite values; they are left out of the statistics\n", o);
    }
  }
  return kExitOk;
}

}  // namespace quanta::cli
