// The Quanta converter: float ONNX models to .quanta files (float or int8).
//
//   auto graph = quanta::convert::import_onnx("net.onnx");          // import + rewrites
//   auto fp32  = quanta::convert::build_fp32(**graph);                // float .quanta bytes
//   auto src   = quanta::convert::open_npy_samples({"calib.npy"}, (*graph)->inputs());
//   auto calib = quanta::convert::calibrate(**graph, **src, {});      // observe every tensor
//   auto int8  = quanta::convert::build_int8(**graph, *calib, {}, &report);
//
// Pipeline (docs/converter.md): ONNX protobuf -> import (opsets 7-17, constant
// folding, shape inference) -> graph rewrites (Dropout/Identity removal,
// BatchNormalization folding, NCHW -> NHWC lowering to runtime ops, activation
// fusion) -> a float graph of runtime ops ("FloatGraph") -> either written as
// float, or calibrated and quantized per docs/design.md §1.
//
// Nothing here throws: errors are Status values whose message names the ONNX
// node (name and op type), the attribute or tensor and the value. Sizes are
// checked before memory is allocated, constant folding and the converted
// weights are bounded, and an exception (out of memory, or one thrown by a
// caller's SampleSource or callback) comes back as a Status too
// (docs/converter.md, "Hostile input").
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "quanta/quanta.hpp"

namespace quanta::convert {

// ------------------------------------------------------------------ import

struct ImportOptions {
  // Shapes for graph inputs, by name, in the ONNX model's own layout. Needed
  // for dynamic dimensions other than a leading batch dimension (which
  // defaults to 1). Example: {"input", {1, 3, 32, 32}}.
  std::map<std::string, std::vector<int64_t>> input_shapes;
};

// A graph input as the caller sees it (ONNX name and layout, e.g. NCHW).
struct InputSpec {
  std::string name;
  std::vector<int64_t> shape;
};

// What the rewrites did, for the summary printed by `quanta convert`.
struct ImportLog {
  int opset = 0;
  std::string producer;                 // "pytorch 2.0.1"
  int onnx_nodes = 0;                   // nodes in the ONNX graph
  std::vector<std::string> rewrites;    // "folded BatchNormalization 'bn1' into Conv 'conv1'"
  std::vector<std::string> warnings;
};

class FloatGraph;  // the imported, rewritten, NHWC float graph of runtime ops
struct QUANTA_API FloatGraphDeleter { void operator()(FloatGraph* g) const; };
using FloatGraphPtr = std::unique_ptr<FloatGraph, FloatGraphDeleter>;

// Reads and imports an ONNX file. External data is read only from regular
// files in the model's own directory (no absolute paths, no "..", no symlink
// that resolves outside it).
QUANTA_API Result<FloatGraphPtr> import_onnx(const std::string& path, const ImportOptions& options = {});
// The same from bytes already in memory; external data is refused.
QUANTA_API Result<FloatGraphPtr> import_onnx_bytes(const void* data, size_t size,
                                        const ImportOptions& options = {});

QUANTA_API const std::vector<InputSpec>& graph_inputs(const FloatGraph& g);
QUANTA_API const ImportLog& import_log(const FloatGraph& g);
// Number of runtime nodes after the rewrites.
QUANTA_API int graph_node_count(const FloatGraph& g);

// The float model as .quanta bytes: same input/output names, shapes and
// layout as the ONNX model, float32 everywhere.
QUANTA_API Result<std::vector<uint8_t>> build_fp32(const FloatGraph& g);

// ------------------------------------------------------------------ calibration data

// A stream of calibration samples. A sample is one value per graph input
// (graph_inputs() order), each a float vector with exactly that input's
// element count, in the ONNX layout.
class QUANTA_API SampleSource {
 public:
  virtual ~SampleSource() = default;
  // Total number of samples, or -1 when unknown (progress bar only).
  virtual int64_t size() const = 0;
  // Writes the next sample into `sample` (resized as needed). Returns false
  // at the end of the data, or an error naming the file and the problem.
  virtual Result<bool> next(std::vector<std::vector<float>>& sample) = 0;
  // Restarts from the first sample (calibration may make two passes).
  virtual Status rewind() = 0;
};

// .npy files, one or many, read one sample at a time (memory does not grow
// with the number of samples). For a single-input model every file holds
// samples for that input; with several inputs, each file is "NAME=path" and
// every input needs the same number of samples. An array of shape
// [N, d1, ..., dk] gives N / B samples when the input shape is [B, d1, ..., dk]
// (N must be a multiple of B), or one sample when its shape equals the input
// shape exactly. Any numeric npy dtype is converted to float. NaN or inf in a
// sample is an error naming the file and sample index.
QUANTA_API Result<std::unique_ptr<SampleSource>> open_npy_samples(const std::vector<std::string>& files,
                                                       const std::vector<InputSpec>& inputs);

enum class ChannelOrder { kRGB, kBGR };
enum class ImageLayout { kNCHW, kNHWC };

// Preprocessing of image files (PNG, JPEG, BMP; decoded with stb_image):
//   1. decode to 8-bit, as grayscale when the model input has 1 channel,
//      else RGB (then reordered to BGR with kBGR);
//   2. resize (bilinear) so the shorter side is `resize_shorter` pixels, when > 0;
//   3. center-crop to the model input's H x W (a plain resize to H x W when
//      the image is smaller than that, or when resize_shorter is 0 and
//      `crop` is false);
//   4. value = (pixel * scale - mean[c]) / std[c];
//   5. lay out as the model input (`layout`, batch 1).
struct ImagePreprocess {
  int resize_shorter = 0;
  bool crop = true;
  float scale = 1.0f / 255.0f;
  std::vector<float> mean = {0.0f};   // one value, or one per channel
  std::vector<float> std = {1.0f};    // one value, or one per channel
  ChannelOrder order = ChannelOrder::kRGB;
  ImageLayout layout = ImageLayout::kNCHW;
};

// Every image file in `dir` (sorted by name, non-recursive; other files are
// skipped, undecodable images are an error naming the file). Needs a
// single-input model whose input is rank 4 with batch 1.
QUANTA_API Result<std::unique_ptr<SampleSource>> open_image_dir(const std::string& dir,
                                                     const std::vector<InputSpec>& inputs,
                                                     const ImagePreprocess& pre);

// At most `limit` samples of `source` (limit > 0).
QUANTA_API std::unique_ptr<SampleSource> limit_samples(std::unique_ptr<SampleSource> source, int64_t limit);

// ------------------------------------------------------------------ calibration

enum class CalibrationMethod {
  kMinMax,      // the observed range
  kPercentile,  // [p_lo, p_hi] quantiles of the observed values
  kMse,         // the range minimizing the expected quantization MSE
};
QUANTA_API const char* calibration_method_name(CalibrationMethod m);

// Where calibration is, reported after every sample.
struct CalibrationProgress {
  int pass = 1;          // 1-based
  int passes = 1;        // 1 for kMinMax; 2 for kPercentile and kMse
  const char* what = ""; // what the pass observes: "ranges" (min/max), then "histograms"
  int64_t done = 0;      // samples of this pass done so far
  int64_t total = -1;    // samples in this pass; -1 while unknown (a source of
                         // unknown size, first pass; later passes know it)
};

// Limits of CalibrationOptions (calibrate() refuses values outside them).
inline constexpr double kMinPercentile = 50.0;
inline constexpr double kMaxPercentile = 100.0;
inline constexpr int kMinBins = 64;
inline constexpr int kMaxBins = 1 << 20;

struct CalibrationOptions {
  CalibrationMethod method = CalibrationMethod::kMse;
  // kPercentile: keep this percentage of the values (the upper quantile; the
  // lower one is 100 - percentile), in [kMinPercentile, kMaxPercentile].
  double percentile = 99.99;
  // Histogram resolution for kPercentile and kMse, in [kMinBins, kMaxBins].
  int bins = 2048;
  // Called when each pass starts (done = 0) and after each of its samples.
  std::function<void(const CalibrationProgress&)> progress;
  // Options of the session that runs the float graph: its memory limits
  // (max_arena_bytes, max_prepared_bytes; docs/runtime.md) and threads.
  SessionOptions session;
};

// Real-valued range chosen for one activation tensor, with what was observed.
struct TensorRange {
  float lo = 0, hi = 0;            // chosen range (always contains 0)
  float min = 0, max = 0;          // observed extremes
  int64_t count = 0;               // finite values observed
  int64_t non_finite = 0;          // NaN / inf values seen (skipped)
};

struct Calibration {
  CalibrationMethod method = CalibrationMethod::kMse;
  int64_t samples = 0;
  std::map<std::string, TensorRange> ranges;  // by FloatGraph tensor name
};

// Runs the float graph in the runtime on every sample with an observer on
// every activation tensor. Memory is constant in the number of samples;
// kPercentile and kMse read the data twice (min/max, then a histogram).
// A percentile or bin count outside its limits is an error (for the methods
// that use it) before any sample is read.
QUANTA_API Result<Calibration> calibrate(const FloatGraph& g, SampleSource& samples,
                              const CalibrationOptions& options = {});

// ------------------------------------------------------------------ quantization

struct QuantizeOptions {
  bool per_channel = true;              // weights: per output channel, else per tensor
  std::vector<std::string> exclude;     // ONNX node names kept in float
  // The session build_int8 prepares to check the quantized model: its memory
  // limits (docs/runtime.md).
  SessionOptions session;
};

// One line of the per-node summary.
struct NodeSummary {
  std::string name;          // runtime node name (the ONNX node it came from)
  std::string op;            // runtime op type
  std::string precision;     // "int8", "float (excluded)", "float", "uint8 (data movement)"
  std::string weights;       // "int8 per-channel x16, scales 0.0012..0.0101" or ""
  std::string output;        // "u8 s=0.0235 zp=0 range [0, 6.0]" or "f32"
  // Output channels whose weight scale was raised to the floor that keeps
  // their bias and the accumulator inside int32 (docs/converter.md, "Weight
  // scale floor"); `weights` then ends with "N floored: c0, c1, ...". Per
  // tensor: the channels whose floor raised the one scale.
  std::vector<int64_t> floored_channels;
};

struct QuantizeReport {
  std::vector<NodeSummary> nodes;
  std::vector<std::string> warnings;
};

// Checks `options` against the graph, so that a caller can refuse them before
// calibrating (build_int8 checks them again): every `exclude` entry must name
// a node of `g` (a runtime node name, or the name of an ONNX node merged into
// one, such as a folded BatchNormalization). The error names the entry and
// lists node names of the graph.
QUANTA_API Status check_quantize_options(const FloatGraph& g, const QuantizeOptions& options);

// The int8 model: int8 weights, int32 biases, uint8 activations, with a
// float interface (Quantize at each input, Dequantize at each output) and
// the ONNX input/output names and shapes. `report` may be null.
QUANTA_API Result<std::vector<uint8_t>> build_int8(const FloatGraph& g, const Calibration& calibration,
                                        const QuantizeOptions& options, QuantizeReport* report);

}  // namespace quanta::convert
