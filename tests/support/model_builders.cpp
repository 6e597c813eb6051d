#include "support/model_builders.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace quanta::test {

QuantParams per_tensor(float scale, int32_t zero_point) {
  QuantParams q;
  q.scale = {scale};
  q.zero_point = {zero_point};
  q.axis = -1;
  return q;
}

namespace {

ModelWriter float_fc_writer(int64_t batch) {
  ModelWriter w("quanta-tests");
  const int x = w.add_tensor("x", {batch, 4}, DType::kF32);
  const int wt = w.add_constant_f32("w", {3, 4},
                                    {0.5f, -1.0f, 0.25f, 2.0f,   //
                                     1.0f, 0.0f, -0.5f, 0.75f,   //
                                     -2.0f, 1.5f, 0.125f, -1.0f});
  const int b = w.add_constant_f32("b", {3}, {0.1f, -0.2f, 0.3f});
  const int y = w.add_tensor("y", {batch, 3}, DType::kF32);
  fb::OptionsUnion opts;
  opts.Set(fb::FullyConnectedOptionsT{});
  w.add_node(OpType::kFullyConnected, {x, wt, b}, {y}, std::move(opts), "fc", {"Gemm_0"});
  w.set_inputs({x});
  w.set_outputs({y});
  w.set_description("tiny float FullyConnected");
  return w;
}

}  // namespace

ModelWriter make_float_fc_writer() { return float_fc_writer(1); }
ModelWriter make_float_fc_batch2_writer() { return float_fc_writer(2); }

ModelWriter make_u8_relu_writer() {
  ModelWriter w("quanta-tests");
  const QuantParams q = per_tensor(0.05f, 10);
  const int x = w.add_tensor("x", {1, 8}, DType::kU8, q);
  const int y = w.add_tensor("y", {1, 8}, DType::kU8, q);
  w.add_node(OpType::kRelu, {x}, {y}, {}, "relu", {"Relu_0"});
  w.set_inputs({x});
  w.set_outputs({y});
  w.set_description("tiny quantized Relu");
  return w;
}

ModelWriter make_u8_fc_writer() {
  ModelWriter w("quanta-tests");
  const float sx = 0.02f;
  const std::vector<float> sw = {0.01f, 0.02f, 0.005f};
  const int x = w.add_tensor("x", {1, 4}, DType::kU8, per_tensor(sx, 128));
  QuantParams qw;
  qw.scale = sw;
  qw.zero_point = {0, 0, 0};
  qw.axis = 0;
  const int wt = w.add_constant_i8("w", {3, 4},
                                   {10, -20, 30, -127,  //
                                    127, 0, -5, 7,      //
                                    -1, 2, -3, 4},
                                   qw);
  QuantParams qb;
  for (float s : sw) {
    qb.scale.push_back(sx * s);
    qb.zero_point.push_back(0);
  }
  qb.axis = 0;
  const int b = w.add_constant_i32("b", {3}, {100, -50, 0}, qb);
  const int y = w.add_tensor("y", {1, 3}, DType::kU8, per_tensor(0.05f, 100));
  fb::OptionsUnion opts;
  opts.Set(fb::FullyConnectedOptionsT{});
  w.add_node(OpType::kFullyConnected, {x, wt, b}, {y}, std::move(opts), "fc", {"Gemm_0"});
  w.set_inputs({x});
  w.set_outputs({y});
  w.set_description("tiny quantized FullyConnected");
  return w;
}

std::vector<uint8_t> to_bytes(const ModelWriter& writer) { return writer.finish(); }

Result<std::shared_ptr<const Model>> load_bytes(const std::vector<uint8_t>& bytes) {
  return Model::load_buffer(bytes.data(), bytes.size(), /*copy=*/true);
}

Result<std::shared_ptr<const Model>> load_writer(const ModelWriter& writer) {
  return load_bytes(writer.finish());
}

std::string temp_path(const std::string& file_name) {
  static const std::filesystem::path dir = [] {
    const char* env = std::getenv("TMPDIR");
    std::filesystem::path base = (env != nullptr && *env != '\0') ? env : "/tmp";
    std::filesystem::path d = base / ("quanta-tests-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return (dir / file_name).string();
}

}  // namespace quanta::test
