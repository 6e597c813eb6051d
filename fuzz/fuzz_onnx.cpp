// Target 4 (docs/fuzzing.md): ONNX bytes through the converter's public API.
//
//   import_onnx_bytes -> build_fp32 -> the float model loaded and run
//   -> calibrate on a few generated samples -> build_int8 -> loaded and run.
//
// Beyond "no crash, no leak, no error without a message", one property is
// checked: a model the converter returns must load (Model::load_buffer). A
// converter that writes a file its own runtime refuses has a bug.
//
// The calibration samples are generated from the graph inputs' shapes (a
// fixed pattern, kCalibSamples samples), after the float model has passed
// the harness limits (fuzz_common.hpp), so their size is bounded. The
// calibration method and per-channel switch come from a hash of the input,
// so one input always takes the same path.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <zlib.h>

#include "fuzz_common.hpp"
#include "pattern_samples.hpp"
#include "quanta/converter.hpp"

namespace {

using namespace quanta;
using namespace quanta::convert;

constexpr int64_t kCalibSamples = 3;

// Loads a model the converter returned and runs it. Returns false when the
// model is over the harness limits.
bool load_and_run(const std::vector<uint8_t>& bytes, const char* which) {
  auto model = Model::load_buffer(bytes.data(), bytes.size(), /*copy=*/true);
  if (!model) {
    fuzz::fail(std::string("the converter's ") + which + " model does not load",
               model.status().to_string());
  }
  return fuzz::run_model(*model);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto graph = import_onnx_bytes(data, size);
  if (!graph) {
    fuzz::check_error(graph.status(), "import_onnx_bytes");
    return 0;
  }
  const FloatGraph& g = **graph;
  auto fp32 = build_fp32(g);
  if (!fp32) {
    fuzz::check_error(fp32.status(), "build_fp32");
    return 0;
  }
  // The float model's limits bound calibration too: it runs that graph.
  if (!load_and_run(*fp32, "float")) return 0;

  // The float model passed the limits, so its inputs are bounded; a graph
  // input larger than that would be a converter bug (skipped here).
  std::vector<size_t> counts = fuzz::input_counts(graph_inputs(g), int64_t{1} << 24);
  if (counts.empty()) return 0;
  fuzz::PatternSamples samples(std::move(counts), kCalibSamples);
  const uint32_t h = static_cast<uint32_t>(crc32_z(crc32_z(0L, Z_NULL, 0), data, size));
  CalibrationOptions copts;
  copts.method = static_cast<CalibrationMethod>(h % 3);
  copts.bins = kMinBins;
  auto calibration = calibrate(g, samples, copts);
  if (!calibration) {
    fuzz::check_error(calibration.status(), "calibrate");
    return 0;
  }
  QuantizeOptions qopts;
  qopts.per_channel = (h & 4) == 0;
  QuantizeReport report;
  auto int8 = build_int8(g, *calibration, qopts, &report);
  if (!int8) {
    fuzz::check_error(int8.status(), "build_int8");
    return 0;
  }
  load_and_run(*int8, "int8");
  return 0;
}
