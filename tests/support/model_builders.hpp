// Small models built with ModelWriter, shared by the tests.
//
// Each make_*_writer() returns a writer that is ready to finish(); tests may
// edit it first (through raw() and blobs()) to build malformed files. Tensor
// indices are fixed and listed with each builder.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "quanta/model_writer.hpp"
#include "quanta/quanta.hpp"

namespace quanta::test {

// Float FullyConnected, node "fc" (from ONNX "Gemm_0"):
//   0 "x"  f32 [1, 4]   graph input
//   1 "w"  f32 [3, 4]   constant (buffer 1)
//   2 "b"  f32 [3]      constant (buffer 2)
//   3 "y"  f32 [1, 3]   graph output
ModelWriter make_float_fc_writer();

// The same FullyConnected 4 -> 3 on a batch of 2:
//   0 "x"  f32 [2, 4]   graph input
//   3 "y"  f32 [2, 3]   graph output
ModelWriter make_float_fc_batch2_writer();

// Quantized Relu, node "relu" (from ONNX "Relu_0"):
//   0 "x"  u8 [1, 8]  scale 0.05, zero point 10   graph input
//   1 "y"  u8 [1, 8]  same quantization           graph output
// No constants, so the file is the FlatBuffer alone (padded to 64 bytes).
ModelWriter make_u8_relu_writer();

// Quantized FullyConnected, node "fc" (from ONNX "Gemm_0"):
//   0 "x"  u8  [1, 4]  scale 0.02, zero point 128         graph input
//   1 "w"  i8  [3, 4]  per-channel (axis 0) scales, zp 0   constant (buffer 1)
//   2 "b"  i32 [3]     scale s_x * s_w[c], zp 0           constant (buffer 2)
//   3 "y"  u8  [1, 3]  scale 0.05, zero point 100         graph output
ModelWriter make_u8_fc_writer();

// Per-tensor quantization parameters.
QuantParams per_tensor(float scale, int32_t zero_point);

// finish() of the writer.
std::vector<uint8_t> to_bytes(const ModelWriter& writer);

// Loads bytes through Model::load_buffer (copied: no alignment concern).
Result<std::shared_ptr<const Model>> load_bytes(const std::vector<uint8_t>& bytes);
Result<std::shared_ptr<const Model>> load_writer(const ModelWriter& writer);

// A path in a fresh per-process temporary directory ($TMPDIR or /tmp); the
// directory is not cleaned up automatically, callers remove what they write.
std::string temp_path(const std::string& file_name);

}  // namespace quanta::test
