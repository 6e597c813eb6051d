// Builds small ONNX models in memory for the converter tests.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <onnx/onnx_pb.h>

namespace quanta::test {

class OnnxBuilder {
 public:
  explicit OnnxBuilder(int opset = 13);
  // A float graph input / output with a fixed shape (dim 0 may be symbolic:
  // pass -1 to write dim_param "N").
  OnnxBuilder& input(const std::string& name, const std::vector<int64_t>& shape);
  OnnxBuilder& output(const std::string& name, const std::vector<int64_t>& shape = {});
  OnnxBuilder& initializer(const std::string& name, const std::vector<int64_t>& shape,
                           const std::vector<float>& values);
  // A float initializer whose data is in the file `location` (external data,
  // relative to the model's directory).
  OnnxBuilder& external_initializer(const std::string& name, const std::vector<int64_t>& shape,
                                    const std::string& location);
  OnnxBuilder& initializer_i64(const std::string& name, const std::vector<int64_t>& shape,
                               const std::vector<int64_t>& values);
  // Adds a node; returns it so that attributes can be added.
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "");
  onnx::ModelProto& model() { return model_; }
  std::string bytes() const;

 private:
  onnx::ModelProto model_;
};

void attr_int(onnx::NodeProto& n, const std::string& name, int64_t v);
void attr_float(onnx::NodeProto& n, const std::string& name, float v);
void attr_ints(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v);
void attr_string(onnx::NodeProto& n, const std::string& name, const std::string& v);

// Deterministic values in [lo, hi).
std::vector<float> test_values(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

}  // namespace quanta::test
