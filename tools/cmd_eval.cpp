// `quanta eval`: runs one or more models over the same batched .npy data and
// reports top-1 accuracy (with --labels), top-1 agreement with the first
// model (the reference), and per-output SQNR / cosine / max error of every
// other model against the reference.
//
// The data files are read whole once; each run converts only its own slice
// to float, so the float copy never exceeds one batch per input.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "npy.hpp"

namespace quanta::cli {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- statistics

using OutputStats = ErrorStats;

struct ModelState {
  std::string path;
  std::shared_ptr<const Model> model;
  std::unique_ptr<Session> session;
  std::vector<std::vector<float>> outputs;   // this run's outputs (float)
  std::vector<OutputStats> stats;            // against the reference (unused for it)
  int64_t correct = 0;                       // top-1 equal to the label
  int64_t agree = 0;                         // top-1 equal to the reference's
  double seconds = 0;                        // set_input + run + get_output
};

double ratio(int64_t k, int64_t n) { return n > 0 ? static_cast<double>(k) / static_cast<double>(n) : 0.0; }

std::string percent_count(int64_t k, int64_t n) {
  return fmt::format("{:.2f}% ({}/{})", 100.0 * ratio(k, n), k, n);
}

std::string sqnr_text(double db) {
  if (std::isinf(db)) return db > 0 ? "inf" : "-inf";
  return fmt::format("{:.2f}", db);
}

// ---------------------------------------------------------------- data files

// One --data file bound to a graph input.
struct DataFile {
  std::string path;
  npy::Array array;
  int64_t batch = 1;      // first dimension of the model input
  int64_t rows = 0;       // samples in the file (first dimension)
  int64_t runs = 0;       // rows / batch
  size_t run_elems = 0;   // elements per run (the input's element count)
  size_t row_elems = 0;   // elements per sample
};

// Resolves --data arguments to one path per graph input. "NAME=path" binds
// by input name when NAME is an input of `m`; anything else is a path and
// fills the next free slot (paths may contain '=').
std::vector<std::string> bind_data(const std::vector<std::string>& args, const Model& m, const std::string& model_path) {
  const size_t count = m.num_inputs();
  std::vector<std::string> slots(count);
  size_t next = 0;
  for (const std::string& arg : args) {
    std::string path = arg;
    int index = -1;
    const size_t eq = arg.find('=');
    if (eq != std::string::npos && eq > 0) {
      index = m.find_input(arg.substr(0, eq));
      if (index >= 0) path = arg.substr(eq + 1);
    }
    size_t slot = 0;
    if (index >= 0) {
      slot = static_cast<size_t>(index);
    } else {
      while (next < count && !slots[next].empty()) ++next;
      if (next >= count) {
        throw UsageError(fmt::format("too many --data files: {} has {} input{} (got {})", model_path, count,
                                     count == 1 ? "" : "s", args.size()));
      }
      slot = next;
    }
    if (!slots[slot].empty()) {
      throw UsageError(fmt::format("input {} ('{}') is given twice in --data ('{}' and '{}')", slot,
                                   m.input(slot).name, slots[slot], path));
    }
    if (path.empty()) throw UsageError(fmt::format("empty --data file name for input {}", slot));
    slots[slot] = path;
  }
  for (size_t i = 0; i < count; ++i) {
    if (slots[i].empty()) {
      throw UsageError(fmt::format("no --data file for input {} ('{}' {}) of {}; it has {} input{}, got {} --data file{}",
                                   i, m.input(i).name, shape_str(m.input(i).shape), model_path, count,
                                   count == 1 ? "" : "s", args.size(), args.size() == 1 ? "" : "s"));
    }
  }
  return slots;
}

DataFile read_data(const std::string& path, const TensorInfo& in, size_t index) {
  auto arr = npy::read_file(path);
  if (!arr) throw Error(arr.status().message());
  DataFile d;
  d.path = path;
  d.array = std::move(*arr);
  const auto& s = d.array.shape;
  const auto& t = in.shape;
  const std::string what = fmt::format("input {} ('{}')", index, in.name);
  if (s == t) {
    d.batch = t.empty() ? 1 : t[0];
    d.rows = d.batch;
    d.runs = 1;
  } else {
    const bool fits = !t.empty() && t[0] > 0 && s.size() == t.size() && std::equal(s.begin() + 1, s.end(), t.begin() + 1) &&
                      s[0] > 0 && s[0] % t[0] == 0;
    if (!fits) {
      std::string expected = t.empty() ? shape_str(t)
                                       : fmt::format("[N{}] with N a multiple of {}", [&] {
                                           std::string tail;
                                           for (size_t k = 1; k < t.size(); ++k) tail += fmt::format(", {}", t[k]);
                                           return tail;
                                         }(), t[0]);
      throw Error(fmt::format("{}: shape {} does not fit {} of shape {}: expected {}", path, shape_str(s), what,
                              shape_str(t), expected));
    }
    d.batch = t[0];
    d.rows = s[0];
    d.runs = s[0] / t[0];
  }
  d.run_elems = static_cast<size_t>(in.num_elements);
  d.row_elems = d.batch > 0 ? d.run_elems / static_cast<size_t>(d.batch) : d.run_elems;
  return d;
}

// The floats of run `run` of `d` into `out` (resized); throws on NaN.
void load_run(const DataFile& d, int64_t run, std::vector<float>& out) {
  out.resize(d.run_elems);
  const size_t esize = npy::element_size(d.array.type);
  const size_t first = static_cast<size_t>(run) * d.run_elems;
  const uint8_t* p = d.array.data.data() + first * esize;
  npy::convert_to_floats(d.array.type, p, d.run_elems, out.data());
  if (!d.array.is_float()) return;
  for (size_t k = 0; k < out.size(); ++k) {
    if (std::isnan(out[k])) {
      const int64_t sample = run * d.batch + static_cast<int64_t>(d.row_elems > 0 ? k / d.row_elems : 0);
      throw Error(fmt::format("{}: sample {} contains NaN (element {} of the sample)", d.path, sample,
                              d.row_elems > 0 ? k % d.row_elems : k));
    }
  }
}

// Integer labels, one per prediction row.
std::vector<int64_t> read_labels(const std::string& path) {
  auto arr = npy::read_file(path);
  if (!arr) throw Error(arr.status().message());
  const npy::Array& a = *arr;
  if (a.is_float()) {
    throw Error(fmt::format("{}: labels must be integers (int64, int32, uint8 or int8), the file holds {}", path,
                            npy::element_name(a.type)));
  }
  const size_t n = static_cast<size_t>(a.num_elements());
  std::vector<int64_t> out(n);
  const uint8_t* p = a.data.data();
  for (size_t k = 0; k < n; ++k) {
    switch (a.type) {
      case npy::ElementType::kU8: out[k] = p[k]; break;
      case npy::ElementType::kI8: out[k] = static_cast<int8_t>(p[k]); break;
      case npy::ElementType::kI32: {
        int32_t v;
        std::memcpy(&v, p + 4 * k, 4);
        out[k] = v;
        break;
      }
      case npy::ElementType::kI64: std::memcpy(&out[k], p + 8 * k, 8); break;
      case npy::ElementType::kF32:
      case npy::ElementType::kF64: break;  // refused above
    }
  }
  return out;
}

// ---------------------------------------------------------------- checks

void check_compatible(const ModelState& ref, const ModelState& cand) {
  const Model& R = *ref.model;
  const Model& C = *cand.model;
  if (R.num_inputs() != C.num_inputs() || R.num_outputs() != C.num_outputs()) {
    throw Error(fmt::format("{} has {} input{} and {} output{} but {} has {} and {}: the models cannot be "
                            "evaluated together",
                            ref.path, R.num_inputs(), R.num_inputs() == 1 ? "" : "s", R.num_outputs(),
                            R.num_outputs() == 1 ? "" : "s", cand.path, C.num_inputs(), C.num_outputs()));
  }
  for (size_t i = 0; i < R.num_inputs(); ++i) {
    if (R.input(i).shape != C.input(i).shape) {
      throw Error(fmt::format("input {}: shape {} ('{}') in {} but {} ('{}') in {}", i, shape_str(R.input(i).shape),
                              R.input(i).name, ref.path, shape_str(C.input(i).shape), C.input(i).name, cand.path));
    }
  }
  for (size_t o = 0; o < R.num_outputs(); ++o) {
    if (R.output(o).shape != C.output(o).shape) {
      throw Error(fmt::format("output {}: shape {} ('{}') in {} but {} ('{}') in {}", o,
                              shape_str(R.output(o).shape), R.output(o).name, ref.path,
                              shape_str(C.output(o).shape), C.output(o).name, cand.path));
    }
  }
}

// Prediction rows of output 0 per run and classes (its last axis).
struct Top1Layout {
  size_t classes = 0;
  int64_t rows_per_run = 0;
};

Top1Layout top1_layout(const Model& m) {
  if (m.num_outputs() == 0) return {};
  const TensorInfo& t = m.output(0);
  Top1Layout l;
  l.classes = t.shape.empty() ? 1 : static_cast<size_t>(std::max<int64_t>(t.shape.back(), 1));
  l.rows_per_run = t.num_elements / static_cast<int64_t>(l.classes);
  return l;
}

// ---------------------------------------------------------------- progress

class Progress {
 public:
  explicit Progress(int64_t total) : total_(total), enabled_(isatty(STDERR_FILENO) != 0), start_(Clock::now()) {}
  void update(int64_t done) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(200)) return;
    if (!shown_ && now - start_ < std::chrono::milliseconds(500)) return;  // quick runs stay silent
    last_ = now;
    shown_ = true;
    std::cerr << fmt::format("\rquanta eval: {}/{} runs ({:.0f}%)", done, total_, 100.0 * ratio(done, total_))
              << std::flush;
  }
  ~Progress() {
    if (shown_) std::cerr << "\r\033[K" << std::flush;
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

 private:
  int64_t total_;
  bool enabled_;
  bool shown_ = false;
  Clock::time_point start_;
  Clock::time_point last_{};
};

}  // namespace

int run_eval(const EvalArgs& a) {
  if (a.models.empty()) throw UsageError("no model given");

  // Models first (a missing model file is reported before the data).
  std::vector<ModelState> models(a.models.size());
  for (size_t m = 0; m < a.models.size(); ++m) {
    models[m].path = a.models[m];
    models[m].model = load_model_or_throw(a.models[m]);
    if (m > 0) check_compatible(models[0], models[m]);
  }
  const Model& R = *models[0].model;

  // Data: one file per input, all with the same number of runs.
  const std::vector<std::string> paths = bind_data(a.data, R, a.models[0]);
  std::vector<DataFile> data;
  data.reserve(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    data.push_back(read_data(paths[i], R.input(i), i));
    if (i > 0 && data[i].runs != data[0].runs) {
      throw Error(fmt::format("{} holds {} samples ({} runs of batch {}) but {} holds {} ({} runs of batch {}): every "
                              "--data file must give the same number of samples",
                              data[i].path, data[i].rows, data[i].runs, data[i].batch, data[0].path, data[0].rows,
                              data[0].runs, data[0].batch));
    }
  }
  const int64_t total_runs = data.empty() ? 1 : data[0].runs;
  const int64_t batch = data.empty() ? 1 : data[0].batch;
  int64_t runs = total_runs;
  if (a.limit > 0) {
    runs = std::min(runs, a.limit / batch);
    if (runs == 0) {
      throw UsageError(fmt::format("--limit {} is smaller than the batch size {} of {}: nothing to evaluate", a.limit,
                                   batch, a.models[0]));
    }
  }
  const int64_t samples = runs * batch;

  // Labels: one per prediction row of output 0 over the whole data file.
  const Top1Layout layout = top1_layout(R);
  const bool has_top1 = layout.classes > 0 && layout.rows_per_run > 0;
  const int64_t pred_rows = runs * layout.rows_per_run;
  std::vector<int64_t> labels;
  const bool has_labels = !a.labels.empty();
  if (has_labels) {
    if (!has_top1) throw Error(fmt::format("{}: --labels needs a model with at least one output", a.models[0]));
    labels = read_labels(a.labels);
    const int64_t expected = total_runs * layout.rows_per_run;
    if (static_cast<int64_t>(labels.size()) != expected) {
      throw Error(fmt::format("{} holds {} labels but the data gives {} predictions ({} samples; output 0 '{}' {} "
                              "gives {} per run of {}): the counts must be equal",
                              a.labels, labels.size(), expected, total_runs * batch, R.output(0).name,
                              shape_str(R.output(0).shape), layout.rows_per_run, batch));
    }
    for (int64_t k = 0; k < pred_rows; ++k) {
      const int64_t v = labels[static_cast<size_t>(k)];
      if (v < 0 || v >= static_cast<int64_t>(layout.classes)) {
        throw Error(fmt::format("{}: label {} of sample {} is outside [0, {}) (output 0 '{}' has {} classes)",
                                a.labels, v, k, layout.classes, R.output(0).name, layout.classes));
      }
    }
  }

  for (ModelState& s : models) {
    s.session = create_session_or_throw(s.model, s.path, session_options(a.session));
    s.outputs.resize(s.model->num_outputs());
    for (size_t o = 0; o < s.outputs.size(); ++o) {
      s.outputs[o].resize(static_cast<size_t>(s.model->output(o).num_elements));
    }
    s.stats.resize(s.model->num_outputs());
  }

  std::vector<std::vector<float>> inputs(data.size());
  std::vector<size_t> ref_pred(static_cast<size_t>(std::max<int64_t>(layout.rows_per_run, 0)));
  Progress progress(runs);
  for (int64_t r = 0; r < runs; ++r) {
    for (size_t i = 0; i < data.size(); ++i) load_run(data[i], r, inputs[i]);
    for (size_t m = 0; m < models.size(); ++m) {
      ModelState& s = models[m];
      const auto t0 = Clock::now();
      for (size_t i = 0; i < inputs.size(); ++i) {
        check(s.session->set_input(i, inputs[i]),
              fmt::format("{}: input {} ('{}') from {}", s.path, i, s.model->input(i).name, data[i].path));
      }
      check(s.session->run(), fmt::format("{}: run {}", s.path, r));
      for (size_t o = 0; o < s.outputs.size(); ++o) {
        check(s.session->get_output(o, s.outputs[o]), fmt::format("{}: output {}", s.path, o));
      }
      s.seconds += std::chrono::duration<double>(Clock::now() - t0).count();

      if (m > 0) {
        for (size_t o = 0; o < s.outputs.size(); ++o) s.stats[o].add(models[0].outputs[o], s.outputs[o]);
      }
      if (!has_top1) continue;
      for (int64_t row = 0; row < layout.rows_per_run; ++row) {
        const size_t pred = argmax(s.outputs[0].data() + static_cast<size_t>(row) * layout.classes, layout.classes);
        if (m == 0) ref_pred[static_cast<size_t>(row)] = pred;
        if (pred == ref_pred[static_cast<size_t>(row)]) ++s.agree;
        if (has_labels && static_cast<int64_t>(pred) == labels[static_cast<size_t>(r * layout.rows_per_run + row)]) {
          ++s.correct;
        }
      }
    }
    progress.update(r + 1);
  }

  const double ref_acc = ratio(models[0].correct, pred_rows);
  auto throughput = [&](const ModelState& s) { return s.seconds > 0 ? static_cast<double>(samples) / s.seconds : 0.0; };

  if (a.json) {
    json j;
    j["reference"] = models[0].path;
    j["data"] = paths;
    j["labels"] = has_labels ? json(a.labels) : json(nullptr);
    j["samples"] = samples;
    j["samples_in_data"] = total_runs * batch;
    j["runs"] = runs;
    j["batch"] = batch;
    j["predictions"] = has_top1 ? json(pred_rows) : json(nullptr);
    json jm = json::array();
    for (size_t m = 0; m < models.size(); ++m) {
      const ModelState& s = models[m];
      json e;
      e["path"] = s.path;
      e["reference"] = m == 0;
      if (has_labels) {
        e["top1_correct"] = s.correct;
        e["top1_accuracy"] = ratio(s.correct, pred_rows);
        e["accuracy_delta_pp"] = m == 0 ? json(nullptr) : json(100.0 * (ratio(s.correct, pred_rows) - ref_acc));
      } else {
        e["top1_correct"] = nullptr;
        e["top1_accuracy"] = nullptr;
        e["accuracy_delta_pp"] = nullptr;
      }
      if (m > 0 && has_top1) {
        e["top1_agreement"] = ratio(s.agree, pred_rows);
        e["top1_matches"] = s.agree;
      } else {
        e["top1_agreement"] = nullptr;
        e["top1_matches"] = nullptr;
      }
      e["seconds"] = s.seconds;
      e["ms_per_run"] = runs > 0 ? 1000.0 * s.seconds / static_cast<double>(runs) : 0.0;
      e["samples_per_second"] = throughput(s);
      json outs = json::array();
      if (m > 0) {
        for (size_t o = 0; o < s.stats.size(); ++o) {
          const OutputStats& x = s.stats[o];
          const double sqnr = x.sqnr_db();
          json oe;
          oe["index"] = o;
          oe["name"] = R.output(o).name;
          oe["shape"] = R.output(o).shape;
          oe["sqnr_db"] = std::isfinite(sqnr) ? json(sqnr) : json(nullptr);
          oe["identical"] = x.identical();
          oe["cosine"] = x.cosine();
          oe["max_abs_error"] = x.max_abs_err;
          oe["mean_abs_error"] = x.mean_abs_err();
          oe["nonfinite_values"] = x.nonfinite;
          outs.push_back(oe);
        }
      }
      e["outputs"] = outs;
      jm.push_back(e);
    }
    j["models"] = jm;
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }

  // Text.
  std::string header = fmt::format("samples    {}", samples);
  if (batch != 1) header += fmt::format(" ({} runs of batch {})", runs, batch);
  if (runs < total_runs) header += fmt::format(", the first of {} (--limit {})", total_runs * batch, a.limit);
  std::cout << header << "\n";
  std::cout << fmt::format("data       {}\n", fmt::join(paths, ", "));
  if (has_labels) std::cout << fmt::format("labels     {}\n", a.labels);
  std::cout << fmt::format("reference  {}\n\n", models[0].path);

  const bool compare = models.size() > 1;
  std::vector<std::string> head = {"model"};
  std::vector<size_t> right;
  if (has_labels) {
    head.push_back("top-1 accuracy");
    right.push_back(head.size() - 1);
    if (compare) {
      head.push_back("vs reference");
      right.push_back(head.size() - 1);
    }
  }
  if (compare && has_top1) {
    head.push_back("top-1 agreement");
    right.push_back(head.size() - 1);
  }
  head.push_back("ms/run");
  right.push_back(head.size() - 1);
  head.push_back("samples/s");
  right.push_back(head.size() - 1);
  std::vector<std::vector<std::string>> rows;
  for (size_t m = 0; m < models.size(); ++m) {
    const ModelState& s = models[m];
    std::vector<std::string> row = {s.path};
    if (has_labels) {
      row.push_back(percent_count(s.correct, pred_rows));
      if (compare) {
        row.push_back(m == 0 ? "-" : fmt::format("{:+.2f} pp", 100.0 * (ratio(s.correct, pred_rows) - ref_acc)));
      }
    }
    if (compare && has_top1) row.push_back(m == 0 ? "-" : percent_count(s.agree, pred_rows));
    row.push_back(fmt::format("{:.3f}", runs > 0 ? 1000.0 * s.seconds / static_cast<double>(runs) : 0.0));
    row.push_back(fmt::format("{:.0f}", throughput(s)));
    rows.push_back(std::move(row));
  }
  std::cout << format_table(head, rows, right);

  if (compare) {
    std::vector<std::vector<std::string>> orows;
    for (size_t m = 1; m < models.size(); ++m) {
      for (size_t o = 0; o < models[m].stats.size(); ++o) {
        const OutputStats& x = models[m].stats[o];
        orows.push_back({models[m].path, fmt::format("{} '{}'", o, R.output(o).name), shape_str(R.output(o).shape),
                         sqnr_text(x.sqnr_db()), fmt::format("{:.6f}", x.cosine()),
                         fmt::format("{:.6g}", x.max_abs_err)});
      }
    }
    std::cout << "\nagainst the reference, per output:\n";
    std::cout << format_table({"model", "output", "shape", "SQNR dB", "cosine", "max |err|"}, orows, {3, 4, 5});
    for (size_t m = 1; m < models.size(); ++m) {
      for (size_t o = 0; o < models[m].stats.size(); ++o) {
        if (models[m].stats[o].nonfinite) {
          std::cout << fmt::format("note: {} or the reference has NaN or infinite values in output {}; they are "
                                   "left out of the statistics\n",
                                   models[m].path, o);
        }
      }
    }
  }
  return kExitOk;
}

}  // namespace quanta::cli
