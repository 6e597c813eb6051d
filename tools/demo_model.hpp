// The demo model: a small image classifier that Quanta builds by itself
// (until the ONNX converter exists), in a float and an int8 version.
//
// Float graph (NHWC, every tensor f32):
//
//   input  [1,16,16,3]
//   conv1  Conv2D 3x3, 3->8, stride 1, pad 1, fused ReLU        [1,16,16,8]
//   dw     depthwise Conv2D 3x3 (groups 8), pad 1, fused ReLU6  [1,16,16,8]
//   pw     Conv2D 1x1, 8->16, fused ReLU                        [1,16,16,16]
//   pool   MaxPool 2x2, stride 2                                [1,8,8,16]
//   branch Conv2D 1x1, 16->16 of `pool` (no activation)         [1,8,8,16]
//   add    Add(pool, branch), fused ReLU (a residual block)     [1,8,8,16]
//   gap    GlobalAveragePool                                    [1,1,1,16]
//   flat   Flatten (axis 1)                                     [1,16]
//   logits FullyConnected 16->10                                [1,10]
//   probs  Softmax over the last axis                           [1,10]
//
// Weights are deterministic (He-uniform from a fixed-seed mt19937, mapped to
// floats by a portable rule), so every build writes the same bytes.
//
// The int8 model is quantized from the float one (post-training):
// - weights: int8, symmetric, per output channel (axis 0), scale max|w| / 127;
// - bias: int32, scale s_x * s_w[c], zero point 0, the plain quantized bias
//   (the runtime folds the input zero point in at prepare time);
// - activations: uint8, asymmetric, per tensor; ranges come from running a
//   calibration variant of the float model (every intermediate tensor is also
//   a graph output) in the runtime on random inputs, min/max over all
//   samples, the range always including 0. MaxPool and Flatten outputs keep
//   their input's parameters;
// - softmax runs quantized: its output is uint8 with scale 1/256, zero point 0
//   (the usual fixed range of a probability);
// - a QUANTIZE node at the start and a DEQUANTIZE node at the end give the
//   int8 model the same float interface ("input" f32 -> "probs" f32) as the
//   float model, so the two can be compared and swapped freely.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "quanta/model_writer.hpp"
#include "quanta/quanta.hpp"

namespace quanta::demo {

struct DemoOptions {
  uint32_t weight_seed = 42;
  uint32_t calibration_seed = 1;
  int calibration_samples = 64;
  // Report calibration progress on stderr.
  bool progress = false;
};

// Real-valued range [lo, hi] observed for each activation tensor, by name.
using Ranges = std::map<std::string, std::pair<float, float>>;

// The float model. With `calibration_outputs`, every intermediate activation
// is also a graph output (after the real output "probs").
ModelWriter build_fp32(const DemoOptions& options, bool calibration_outputs = false);

// Runs the calibration variant of the float model on
// `options.calibration_samples` random inputs (uniform in [-1, 1)).
Result<Ranges> calibrate(const DemoOptions& options);

// The int8 model from calibrated ranges (every activation name must be present).
Result<ModelWriter> build_int8(const DemoOptions& options, const Ranges& ranges);

struct DemoPaths {
  std::string fp32;  // <dir>/demo_cnn_fp32.quanta
  std::string int8;  // <dir>/demo_cnn_int8.quanta
};

// Builds, calibrates and writes both models; creates `dir` if needed.
Result<DemoPaths> write_demo_models(const std::string& dir, const DemoOptions& options = {});

}  // namespace quanta::demo
