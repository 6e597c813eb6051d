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
#include "quanta/npy.hpp"

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
  int64_t correct_k = 0;                     // the label among the top K (--top-k)
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

// ---------------------------------------------------------------- labels

// Whether class `label` is among the `k` highest of scores[0..n): fewer than k
// classes rank above it (a higher score, or an equal one at a lower index,
// as argmax breaks ties). A NaN score is never in the top k.
bool in_top_k(const float* scores, size_t n, size_t label, size_t k) {
  const float v = scores[label];
  if (std::isnan(v)) return false;
  size_t above = 0;
  for (size_t c = 0; c < n; ++c) {
    if (scores[c] > v || (c < label && scores[c] == v)) ++above;
  }
  return above < k;
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

  // Models first (a missing model file is reported before the data). An
  // .onnx model is converted to fp32 in memory, after the .quanta models so
  // that it can take their input shapes.
  std::vector<ModelState> models(a.models.size());
  const Model* first_quanta = nullptr;
  for (size_t m = 0; m < a.models.size(); ++m) {
    models[m].path = a.models[m];
    if (is_onnx_path(a.models[m])) continue;
    models[m].model = load_model_or_throw(a.models[m]);
    if (first_quanta == nullptr) first_quanta = models[m].model.get();
  }
  for (size_t m = 0; m < a.models.size(); ++m) {
    if (!models[m].model) models[m].model = load_model_any(a.models[m], first_quanta);
    if (m > 0) check_compatible(models[0], models[m]);
  }
  const Model& R = *models[0].model;

  // Data: one file per input, all with the same number of runs.
  const std::vector<std::string> paths = bind_files(a.data, input_names(R), {"--data", "input", true}, a.models[0]);
  for (size_t i = 0; i < paths.size(); ++i) {
    if (paths[i].empty()) {
      throw UsageError(fmt::format("no --data file for input {} ('{}' {}) of {}; it has {} input{}, got {} --data file{}",
                                   i, R.input(i).name, shape_str(R.input(i).shape), a.models[0], paths.size(),
                                   paths.size() == 1 ? "" : "s", a.data.size(), a.data.size() == 1 ? "" : "s"));
    }
  }
  const std::vector<SampleFile> data = read_sample_files(paths, R);
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

  // Predictions: output 0 holds `rows` rows of class scores per run (one per
  // sample of the batch, size-1 axes dropped). Labels: one per prediction
  // over the whole data file.
  const ClassLayout layout = R.num_outputs() > 0 ? class_layout(R.output(0)) : ClassLayout{};
  const bool has_top1 = layout.ok;
  const int64_t pred_rows = has_top1 ? runs * layout.rows : 0;
  std::vector<int64_t> labels;
  const bool has_labels = !a.labels.empty();
  if (a.top_k > 0 && !has_labels) throw UsageError("--top-k needs --labels");
  if (has_labels) {
    if (R.num_outputs() == 0) throw Error(fmt::format("{}: --labels needs a model with at least one output", a.models[0]));
    if (!has_top1) throw Error(fmt::format("{}: --labels needs class scores: {}", a.models[0], layout.why));
    if (a.top_k > 0 && static_cast<size_t>(a.top_k) > layout.classes) {
      throw UsageError(fmt::format("--top-k {} is more than the {} classes of output 0 '{}' of {}", a.top_k,
                                   layout.classes, R.output(0).name, a.models[0]));
    }
    labels = read_labels(a.labels);
    const int64_t expected = total_runs * layout.rows;
    if (static_cast<int64_t>(labels.size()) != expected) {
      throw Error(fmt::format("{} holds {} labels but the data gives {} predictions ({} samples; output 0 '{}' {} "
                              "gives {} of {} classes per run of {}): the counts must be equal",
                              a.labels, labels.size(), expected, total_runs * batch, R.output(0).name,
                              shape_str(R.output(0).shape), layout.rows, layout.classes, batch));
    }
    for (int64_t k = 0; k < pred_rows; ++k) {
      const int64_t v = labels[static_cast<size_t>(k)];
      if (v < 0 || v >= static_cast<int64_t>(layout.classes)) {
        throw Error(fmt::format("{}: label {} of sample {} is outside [0, {}) (output 0 '{}' has {} classes)",
                                a.labels, v, k, layout.classes, R.output(0).name, layout.classes));
      }
    }
  }
  const bool has_top_k = a.top_k > 1;

  for (ModelState& s : models) {
    s.session = create_session_or_throw(s.model, s.path, session_options(a.session));
    s.outputs.resize(s.model->num_outputs());
    for (size_t o = 0; o < s.outputs.size(); ++o) {
      s.outputs[o].resize(static_cast<size_t>(s.model->output(o).num_elements));
    }
    s.stats.resize(s.model->num_outputs());
  }

  std::vector<std::vector<float>> inputs(data.size());
  std::vector<size_t> ref_pred(static_cast<size_t>(has_top1 ? layout.rows : 0));
  Progress progress(runs);
  for (int64_t r = 0; r < runs; ++r) {
    for (size_t i = 0; i < data.size(); ++i) data[i].floats(r, inputs[i], /*refuse_nan=*/true);
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
      for (int64_t row = 0; row < layout.rows; ++row) {
        const float* scores = s.outputs[0].data() + static_cast<size_t>(row) * layout.classes;
        const size_t pred = argmax(scores, layout.classes);
        if (m == 0) ref_pred[static_cast<size_t>(row)] = pred;
        if (pred == ref_pred[static_cast<size_t>(row)]) ++s.agree;
        if (!has_labels) continue;
        const auto label = static_cast<size_t>(labels[static_cast<size_t>(r * layout.rows + row)]);
        if (pred == label) ++s.correct;
        if (has_top_k && in_top_k(scores, layout.classes, label, static_cast<size_t>(a.top_k))) ++s.correct_k;
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
    j["top_k"] = has_top_k ? json(a.top_k) : json(nullptr);
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
      e["top_k_correct"] = has_top_k ? json(s.correct_k) : json(nullptr);
      e["top_k_accuracy"] = has_top_k ? json(ratio(s.correct_k, pred_rows)) : json(nullptr);
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
  std::cout << fmt::format("reference  {}\n\n", model_label(models[0].path));

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
    if (has_top_k) {
      head.push_back(fmt::format("top-{} accuracy", a.top_k));
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
      if (has_top_k) row.push_back(percent_count(s.correct_k, pred_rows));
    }
    if (compare && has_top1) row.push_back(m == 0 ? "-" : percent_count(s.agree, pred_rows));
    row.push_back(fmt::format("{:.3f}", runs > 0 ? 1000.0 * s.seconds / static_cast<double>(runs) : 0.0));
    row.push_back(fmt::format("{:.0f}", throughput(s)));
    rows.push_back(std::move(row));
  }
  std::cout << format_table(head, rows, right);
  if (compare && !has_top1 && R.num_outputs() > 0) {
    std::cout << fmt::format("note: no top-1 agreement: {}\n", layout.why);
  }

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
