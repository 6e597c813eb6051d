// Calibration: runs the float graph in the runtime with every activation
// exposed as an output, and feeds each tensor's values to its observer.
#include <fmt/format.h>

#include "calib_stats.hpp"
#include "graph.hpp"

namespace quanta::convert {

namespace {

Status check_options(const CalibrationOptions& o) {
  const bool two_pass = o.method != CalibrationMethod::kMinMax;
  if (o.method == CalibrationMethod::kPercentile &&
      !(o.percentile >= kMinPercentile && o.percentile <= kMaxPercentile)) {
    return Status{StatusCode::kInvalidArgument,
                  fmt::format("calibration percentile {}: must be in [{}, {}]", o.percentile,
                              kMinPercentile, kMaxPercentile)};
  }
  if (two_pass && (o.bins < kMinBins || o.bins > kMaxBins)) {
    return Status{StatusCode::kInvalidArgument,
                  fmt::format("calibration histogram bins {}: must be in [{}, {}]", o.bins, kMinBins,
                              kMaxBins)};
  }
  return Status::Ok();
}

Result<Calibration> run_calibration(const FloatGraph& g, SampleSource& samples,
                                    const CalibrationOptions& options) {
  if (Status st = check_options(options); !st.ok()) return st;
  ModelWriter w(producer_string());
  std::vector<int> observed;
  write_float_model(g, w, /*calibration_outputs=*/true, &observed);
  const std::vector<uint8_t> bytes = w.finish();
  auto model = Model::load_buffer(bytes.data(), bytes.size(), /*copy=*/true);
  if (!model) {
    return Status{StatusCode::kInternal,
                  "the calibration model does not load: " + model.status().message()};
  }
  auto session = Session::create(*model, options.session);
  if (!session) {
    return Status{session.status().code(),
                  "the float model cannot be prepared for calibration: " + session.status().message()};
  }
  Session& s = **session;
  const Model& m = **model;

  // Observed tensors (FloatGraph indices): inputs (from the samples), then
  // every session output in order.
  std::vector<int> out_tensor(g.outputs.begin(), g.outputs.end());
  out_tensor.insert(out_tensor.end(), observed.begin(), observed.end());
  std::vector<detail::TensorObserver> obs(g.tensors.size());

  std::vector<std::vector<float>> sample;
  std::vector<std::vector<float>> outs(m.num_outputs());
  for (size_t o = 0; o < m.num_outputs(); ++o) outs[o].resize(static_cast<size_t>(m.output(o).num_elements));

  const bool two_pass = options.method != CalibrationMethod::kMinMax;
  const int passes = two_pass ? 2 : 1;
  const int64_t size = samples.size();
  int64_t count = 0;
  CalibrationProgress progress;
  progress.passes = passes;
  for (int pass = 0; pass < passes; ++pass) {
    progress.pass = pass + 1;
    progress.what = pass == 0 ? "ranges" : "histograms";
    progress.done = 0;
    progress.total = pass == 0 ? (size < 0 ? -1 : size) : count;
    if (pass == 1) {
      for (auto& ob : obs) ob.begin_histogram(options.bins);
    }
    if (Status st = samples.rewind(); !st.ok()) return st;
    if (options.progress) options.progress(progress);  // the pass starts (done = 0)
    int64_t index = 0;
    while (true) {
      auto more = samples.next(sample);
      if (!more) return more.status();
      if (!*more) break;
      if (sample.size() != g.inputs.size()) {
        return Status{StatusCode::kInvalidArgument,
                      fmt::format("calibration sample {} has {} inputs; the model has {}", index,
                                  sample.size(), g.inputs.size())};
      }
      for (size_t i = 0; i < g.inputs.size(); ++i) {
        if (Status st = s.set_input(i, sample[i]); !st.ok()) {
          return Status{st.code(), fmt::format("calibration sample {}: input '{}': {}", index,
                                               g.input_specs[i].name, st.message())};
        }
      }
      if (Status st = s.run(); !st.ok()) {
        return Status{st.code(), fmt::format("calibration sample {}: {}", index, st.message())};
      }
      auto feed = [&](int t, const std::vector<float>& v) {
        if (pass == 0) {
          obs[t].observe_minmax(v.data(), v.size());
        } else {
          obs[t].observe_histogram(v.data(), v.size());
        }
      };
      for (size_t i = 0; i < g.inputs.size(); ++i) feed(g.inputs[i], sample[i]);
      for (size_t o = 0; o < m.num_outputs(); ++o) {
        if (Status st = s.get_output(o, outs[o]); !st.ok()) return st;
        feed(out_tensor[o], outs[o]);
      }
      ++index;
      if (options.progress) {
        progress.done = index;
        options.progress(progress);
      }
    }
    if (pass == 0) count = index;
    if (index == 0) {
      return Status{StatusCode::kInvalidArgument,
                    "the calibration data holds no samples: int8 activation ranges cannot be chosen"};
    }
    if (pass == 1 && index != count) {
      return Status{StatusCode::kInternal,
                    fmt::format("the calibration data gave {} samples on the second pass, {} on the "
                                "first", index, count)};
    }
  }

  Calibration c;
  c.method = options.method;
  c.samples = count;
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    if (g.tensors[t].is_const) continue;
    c.ranges[g.tensors[t].name] = obs[t].result(options.method, options.percentile);
  }
  return c;
}

}  // namespace

// Exceptions from the caller's SampleSource or progress callback come back
// as a Status too.
Result<Calibration> calibrate(const FloatGraph& g, SampleSource& samples,
                              const CalibrationOptions& options) {
  return detail::no_exceptions("calibrate", [&] { return run_calibration(g, samples, options); });
}

}  // namespace quanta::convert
