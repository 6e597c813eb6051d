// Builds .quanta files: the FlatBuffer followed by a 64-byte aligned data
// section (docs/format.md). Used by the converter, the demo-model generator
// and the tests. Not needed to run models.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quanta/quanta.hpp"
#include "quanta_generated.h"

namespace quanta {

class ModelWriter {
 public:
  explicit ModelWriter(std::string producer = "quanta");

  // An activation (no data). Returns the tensor index.
  int add_tensor(const std::string& name, std::vector<int64_t> shape, DType dtype,
                 const QuantParams& quant = {});
  // A constant; `bytes` are copied into the data section.
  int add_constant(const std::string& name, std::vector<int64_t> shape, DType dtype,
                   const void* data, size_t bytes, const QuantParams& quant = {});
  int add_constant_f32(const std::string& name, std::vector<int64_t> shape,
                       const std::vector<float>& v);
  int add_constant_i8(const std::string& name, std::vector<int64_t> shape,
                      const std::vector<int8_t>& v, const QuantParams& quant);
  int add_constant_i32(const std::string& name, std::vector<int64_t> shape,
                       const std::vector<int32_t>& v, const QuantParams& quant = {});

  // `options` is a flatc object-API union, for example
  //   fb::OptionsUnion u; u.Set(fb::Conv2DOptionsT{...});
  int add_node(OpType op, std::vector<int> inputs, std::vector<int> outputs,
               fb::OptionsUnion options = {}, const std::string& name = "",
               std::vector<std::string> source_nodes = {});

  void set_inputs(std::vector<int> inputs);
  void set_outputs(std::vector<int> outputs);
  void set_description(const std::string& text);

  // Direct access to the object tree (tests use it to write malformed files).
  fb::ModelT& raw() { return model_; }
  const fb::ModelT& raw() const { return model_; }
  // Constant blobs, one per buffer index >= 1 (blob i is buffer i + 1).
  std::vector<std::vector<uint8_t>>& blobs() { return blobs_; }

  // The complete file image, sealed with the integrity trailer.
  std::vector<uint8_t> finish() const;

  // The trailer (docs/format.md): the last 8 bytes of a file are "QSUM" and
  // the CRC-32 (zlib) of every byte before them, little-endian.
  static constexpr size_t kTrailerSize = 8;
  // Appends the trailer to `bytes`.
  static void seal(std::vector<uint8_t>& bytes);
  // Recomputes the trailer of an already sealed image (tests edit bytes).
  static void reseal(std::vector<uint8_t>& bytes);
  Status write_file(const std::string& path) const;

 private:
  fb::ModelT model_;
  std::vector<std::vector<uint8_t>> blobs_;
};

}  // namespace quanta
