// Loader tests: every class of malformed .quanta file gets a clear error
// (status code + a message naming the offending thing), never a crash.
// The truncation and bit-flip sweeps are the fuzz-style checks; run them
// under -DQUANTA_SANITIZE=ON to catch out-of-bounds reads. The LoaderCorruption
// sweeps also prepare and run every flipped file that loads (bundled and
// converted models).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "model_impl.hpp"
#include "ops/op.hpp"
#include "ops/op_common.hpp"
#include "ops/registry.hpp"
#include "quanta/converter.hpp"
#include "support/model_builders.hpp"

namespace quanta {
namespace {

using test::load_bytes;
using test::load_writer;
using test::make_float_fc_writer;
using test::make_u8_fc_writer;
using test::make_u8_relu_writer;
using test::to_bytes;
using ModelResult = Result<std::shared_ptr<const Model>>;

// The load failed with `code` and the message contains every fragment.
::testing::AssertionResult Fails(const ModelResult& r, StatusCode code,
                                 std::initializer_list<std::string> fragments) {
  if (r.ok()) return ::testing::AssertionFailure() << "loaded, expected an error";
  const Status& s = r.status();
  if (s.code() != code) {
    return ::testing::AssertionFailure()
           << "code " << status_code_name(s.code()) << ", expected " << status_code_name(code)
           << "; message: " << s.message();
  }
  for (const std::string& f : fragments) {
    if (s.message().find(f) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "message lacks \"" << f << "\"; message: " << s.message();
    }
  }
  return ::testing::AssertionSuccess() << s.message();
}

::testing::AssertionResult Invalid(const ModelResult& r,
                                   std::initializer_list<std::string> fragments) {
  return Fails(r, StatusCode::kInvalidModel, fragments);
}

// Loads from an exact-size heap copy, used in place (copy = false), so that
// AddressSanitizer flags any read past the end of the file.
ModelResult load_in_place(const std::vector<uint8_t>& bytes) {
  return Model::load_buffer(bytes.empty() ? nullptr : bytes.data(), bytes.size(), false);
}

// The FlatBuffer's buffer table as written by a normal finish().
std::vector<fb::Buffer> buffers_of(const std::vector<uint8_t>& bytes) {
  const auto* v = fb::GetModel(bytes.data())->buffers();
  std::vector<fb::Buffer> out;
  for (const fb::Buffer* b : *v) out.push_back(*b);
  return out;
}

// `file` with its buffer table overwritten in place by `buffers` (same
// count): the data section stays where it is.
std::vector<uint8_t> with_buffers(const std::vector<uint8_t>& file,
                                  const std::vector<fb::Buffer>& buffers) {
  std::vector<uint8_t> out = file;
  const auto* v = fb::GetModel(out.data())->buffers();
  EXPECT_EQ(v->size(), buffers.size());
  const size_t at = static_cast<size_t>(reinterpret_cast<const uint8_t*>(v->Data()) - out.data());
  std::memcpy(out.data() + at, buffers.data(),
              std::min<size_t>(v->size(), buffers.size()) * sizeof(fb::Buffer));
  ModelWriter::reseal(out);  // the edit is the defect under test, not the checksum
  return out;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << path;
}

// ---------------------------------------------------------------- valid models

TEST(Loader, FloatFcLoadsWithAllFields) {
  const std::vector<uint8_t> bytes = to_bytes(make_float_fc_writer());
  auto r = load_bytes(bytes);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const Model& m = **r;
  EXPECT_EQ(m.version_major(), kFormatVersionMajor);
  EXPECT_EQ(m.version_minor(), kFormatVersionMinor);
  EXPECT_EQ(m.producer(), "quanta-tests");
  EXPECT_EQ(m.description(), "tiny float FullyConnected");
  EXPECT_EQ(m.file_size(), bytes.size());
  ASSERT_EQ(m.tensors().size(), 4u);
  const TensorInfo& w = m.tensors()[1];
  EXPECT_EQ(w.name, "w");
  EXPECT_EQ(w.shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(w.dtype, DType::kF32);
  EXPECT_TRUE(w.is_constant);
  EXPECT_EQ(w.num_elements, 12);
  EXPECT_EQ(w.num_bytes, 48u);
  EXPECT_FALSE(m.tensors()[0].is_constant);
  EXPECT_EQ(m.tensors()[3].num_bytes, 12u);
  ASSERT_EQ(m.nodes().size(), 1u);
  const NodeInfo& n = m.nodes()[0];
  EXPECT_EQ(n.op, OpType::kFullyConnected);
  EXPECT_EQ(n.name, "fc");
  EXPECT_EQ(n.source_nodes, std::vector<std::string>{"Gemm_0"});
  EXPECT_EQ(n.inputs, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(n.outputs, std::vector<int>{3});
  EXPECT_EQ(m.input_indices(), std::vector<int>{0});
  EXPECT_EQ(m.output_indices(), std::vector<int>{3});
  EXPECT_EQ(m.find_input("x"), 0);
  EXPECT_EQ(m.find_input("y"), -1);
  EXPECT_EQ(m.find_output("y"), 0);
  EXPECT_EQ(m.find_output("nope"), -1);
  EXPECT_EQ(&m.input(0), &m.tensors()[0]);
  EXPECT_EQ(&m.output(0), &m.tensors()[3]);

  const detail::ModelImpl& impl = m.impl();
  ASSERT_EQ(impl.const_data.size(), 4u);
  EXPECT_EQ(impl.const_data[0], nullptr);
  ASSERT_NE(impl.const_data[1], nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(impl.const_data[1]) % 64, 0u);
  const auto* wv = static_cast<const float*>(impl.const_data[1]);
  EXPECT_EQ(wv[0], 0.5f);
  EXPECT_EQ(wv[11], -1.0f);
  const auto* bv = static_cast<const float*>(impl.const_data[2]);
  EXPECT_EQ(bv[2], 0.3f);
  EXPECT_EQ(impl.fb_nodes.size(), 1u);
  EXPECT_EQ(impl.fb_nodes[0]->options_type(), fb::Options::FullyConnectedOptions);
}

TEST(Loader, U8ModelsDecodeQuantization) {
  auto relu = load_writer(make_u8_relu_writer());
  ASSERT_TRUE(relu.ok()) << relu.status().to_string();
  const QuantParams& q = (*relu)->tensors()[0].quant;
  EXPECT_EQ(q.scale, std::vector<float>{0.05f});
  EXPECT_EQ(q.zero_point, std::vector<int32_t>{10});
  EXPECT_EQ(q.axis, -1);
  EXPECT_EQ((*relu)->nodes()[0].op, OpType::kRelu);

  auto fc = load_writer(make_u8_fc_writer());
  ASSERT_TRUE(fc.ok()) << fc.status().to_string();
  const QuantParams& qw = (*fc)->tensors()[1].quant;
  EXPECT_EQ(qw.axis, 0);
  EXPECT_EQ(qw.scale.size(), 3u);
  EXPECT_EQ(qw.zero_point, (std::vector<int32_t>{0, 0, 0}));
  EXPECT_EQ((*fc)->tensors()[2].dtype, DType::kI32);
  EXPECT_EQ((*fc)->tensors()[2].num_bytes, 12u);
}

TEST(Loader, DescribeNodeAndTensor) {
  auto r = load_writer(make_float_fc_writer());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const detail::ModelImpl& impl = (*r)->impl();
  EXPECT_EQ(detail::describe_node(impl, 0), "node 0 ('fc', from ONNX 'Gemm_0')");
  EXPECT_EQ(detail::describe_tensor(impl, 1), "tensor 1 ('w')");
  EXPECT_EQ(detail::describe_tensor(impl, 99), "tensor 99");
  EXPECT_EQ(detail::describe_node(impl, 5), "node 5");
}

TEST(Loader, UnnamedTensorGetsIndexName) {
  ModelWriter w = make_u8_relu_writer();
  w.raw().tensors[1]->name.clear();
  auto r = load_writer(w);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)->tensors()[1].name, "#1");
  EXPECT_EQ((*r)->find_output("#1"), 0);
}

TEST(Loader, NamesOfEnumsAndStatus) {
  EXPECT_STREQ(op_type_name(OpType::kConv2D), "Conv2D");
  EXPECT_STREQ(op_type_name(OpType::kFullyConnected), "FullyConnected");
  EXPECT_STREQ(op_type_name(OpType::kDequantize), "Dequantize");
  EXPECT_STREQ(op_type_name(OpType::kLogSoftmax), "LogSoftmax");
  EXPECT_STREQ(op_type_name(OpType::kHardSigmoid), "HardSigmoid");
  EXPECT_STREQ(dtype_name(DType::kU8), "u8");
  EXPECT_STREQ(dtype_name(DType::kBF16), "bf16");
  EXPECT_EQ(dtype_size(DType::kF32), 4u);
  EXPECT_EQ(dtype_size(DType::kI8), 1u);
  EXPECT_EQ(dtype_size(DType::kI64), 8u);
  EXPECT_EQ(dtype_size(DType::kI4), 0u);
  EXPECT_EQ(Status::Ok().to_string(), "ok");
  EXPECT_EQ(Status(StatusCode::kInvalidModel, "x: bad").to_string(), "invalid model: x: bad");
  EXPECT_STREQ(status_code_name(StatusCode::kNotFound), "not found");
}

// op_type_from_name is op_type_name's inverse over the whole op list.
TEST(Loader, OpTypeFromNameInvertsOpTypeName) {
  int ops = 0;
#define QUANTA_OP(name, fb_name, options, display, impl, traits)         \
  {                                                                      \
    OpType got = OpType::kDequantize;                                    \
    EXPECT_TRUE(op_type_from_name(display, &got)) << display;            \
    EXPECT_EQ(got, OpType::k##name) << display;                          \
    ++ops;                                                               \
  }
#include "quanta/op_list.def"
  EXPECT_GT(ops, 20);
  OpType unchanged = OpType::kAdd;
  EXPECT_FALSE(op_type_from_name("Upsample", &unchanged));
  EXPECT_FALSE(op_type_from_name("relu", &unchanged));  // names are case-sensitive
  EXPECT_FALSE(op_type_from_name("", &unchanged));
  EXPECT_EQ(unchanged, OpType::kAdd);
}

// ---------------------------------------------------------------- indices

TEST(Loader, NodeInputIndexOutOfRange) {
  ModelWriter w = make_float_fc_writer();
  w.raw().nodes[0]->inputs[1] = 99;
  EXPECT_TRUE(Invalid(load_writer(w), {"node 0 ('fc', from ONNX 'Gemm_0')", "input 1",
                                       "tensor index 99", "out of range"}));
  w.raw().nodes[0]->inputs[1] = -2;
  EXPECT_TRUE(Invalid(load_writer(w), {"node 0 ('fc'", "tensor index -2"}));
}

TEST(Loader, OmittedInputMinusOneIsAccepted) {
  ModelWriter w = make_float_fc_writer();
  w.raw().nodes[0]->inputs[2] = -1;  // no bias
  auto r = load_writer(w);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)->nodes()[0].inputs, (std::vector<int>{0, 1, -1}));
}

TEST(Loader, NodeOutputIndexOutOfRange) {
  ModelWriter w = make_float_fc_writer();
  w.raw().nodes[0]->outputs[0] = 17;
  EXPECT_TRUE(Invalid(load_writer(w), {"node 0 ('fc'", "output 0", "tensor index 17"}));
  w.raw().nodes[0]->outputs[0] = -1;  // -1 only means "omitted" for inputs
  EXPECT_TRUE(Invalid(load_writer(w), {"node 0 ('fc'", "output 0", "tensor index -1"}));
}

TEST(Loader, GraphInputIndexOutOfRange) {
  ModelWriter w = make_float_fc_writer();
  w.set_inputs({42});
  EXPECT_TRUE(Invalid(load_writer(w), {"graph input 0", "tensor index 42", "4 tensors"}));
}

TEST(Loader, GraphOutputIndexOutOfRange) {
  ModelWriter w = make_float_fc_writer();
  w.set_outputs({3, -3});
  EXPECT_TRUE(Invalid(load_writer(w), {"graph output 1", "tensor index -3"}));
}

TEST(Loader, GraphInputOutputListRules) {
  {
    ModelWriter w = make_float_fc_writer();
    w.set_outputs({});
    EXPECT_TRUE(Invalid(load_writer(w), {"no graph outputs"}));
  }
  {
    ModelWriter w = make_float_fc_writer();
    w.set_inputs({0, 1});
    EXPECT_TRUE(Invalid(load_writer(w), {"graph input 1", "tensor 1 ('w')", "constant"}));
  }
  {
    ModelWriter w = make_float_fc_writer();
    w.set_inputs({0, 0});
    EXPECT_TRUE(Invalid(load_writer(w), {"tensor 0 ('x')", "more than once", "graph input"}));
  }
  {
    ModelWriter w = make_float_fc_writer();
    w.set_outputs({3, 3});
    EXPECT_TRUE(Invalid(load_writer(w), {"tensor 3 ('y')", "more than once", "graph output"}));
  }
  // Inputs and outputs are bound by name: two of one kind with one name are refused.
  {
    ModelWriter w = make_u8_relu_writer();
    const int x2 = w.add_tensor("x", {1, 8}, DType::kU8, test::per_tensor(0.05f, 10));
    w.set_inputs({0, x2});
    EXPECT_TRUE(Invalid(load_writer(w), {"graph inputs 0 and 1 are both named 'x'", "unique"}));
  }
  {
    ModelWriter w = make_u8_relu_writer();
    const int y2 = w.add_tensor("y", {1, 8}, DType::kU8, test::per_tensor(0.05f, 10));
    w.add_node(OpType::kRelu, {0}, {y2}, {}, "relu2");
    w.set_outputs({1, y2});
    EXPECT_TRUE(Invalid(load_writer(w), {"graph outputs 0 and 1 are both named 'y'", "unique"}));
  }
  {  // An input and an output may share a name: they are bound separately.
    ModelWriter w = make_u8_relu_writer();
    w.raw().tensors[1]->name = "x";
    auto r = load_writer(w);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ((*r)->find_input("x"), 0);
    EXPECT_EQ((*r)->find_output("x"), 0);
  }
}

// ---------------------------------------------------------------- buffers

TEST(Loader, BufferIndexOutOfRange) {
  ModelWriter w = make_float_fc_writer();
  w.raw().tensors[1]->buffer = 9;
  EXPECT_TRUE(Invalid(load_writer(w), {"tensor 1 ('w')", "buffer index 9", "3 buffers"}));
}

TEST(Loader, BufferTooShort) {
  ModelWriter w = make_float_fc_writer();
  w.blobs()[0].resize(40);
  EXPECT_TRUE(Invalid(load_writer(w), {"tensor 1 ('w')", "holds 40 bytes", "needs exactly 48"}));
}

TEST(Loader, BufferTooLong) {
  ModelWriter w = make_float_fc_writer();
  w.blobs()[1].resize(16);
  EXPECT_TRUE(Invalid(load_writer(w), {"tensor 2 ('b')", "holds 16 bytes", "needs exactly 12"}));
}

TEST(Loader, BufferOffsetOutsideFile) {
  const std::vector<uint8_t> file = to_bytes(make_float_fc_writer());
  std::vector<fb::Buffer> b = buffers_of(file);
  ASSERT_EQ(b.size(), 3u);
  b[1] = fb::Buffer(1u << 20, 48);
  EXPECT_TRUE(Invalid(load_bytes(with_buffers(file, b)), {"buffer 1", "1048576", "outside the file"}));
  // Starts inside, ends one byte past the end.
  b = buffers_of(file);
  b[2] = fb::Buffer(b[2].offset(), file.size() - b[2].offset() + 1);
  EXPECT_TRUE(Invalid(load_bytes(with_buffers(file, b)), {"buffer 2", "outside the file"}));
}

TEST(Loader, BufferOffsetPlusSizeOverflows) {
  const std::vector<uint8_t> file = to_bytes(make_float_fc_writer());
  std::vector<fb::Buffer> b = buffers_of(file);
  const uint64_t offset = std::numeric_limits<uint64_t>::max() - 63;  // 64-aligned
  b[1] = fb::Buffer(offset, 128);
  EXPECT_TRUE(Invalid(load_bytes(with_buffers(file, b)),
                      {"buffer 1", std::to_string(offset), "overflows"}));
}

TEST(Loader, MisalignedBufferOffset) {
  const std::vector<uint8_t> file = to_bytes(make_float_fc_writer());
  std::vector<fb::Buffer> b = buffers_of(file);
  b[1] = fb::Buffer(b[1].offset() + 4, 48);
  const std::string off = std::to_string(b[1].offset());
  EXPECT_TRUE(Invalid(load_bytes(with_buffers(file, b)),
                      {"buffer 1", "offset " + off, "not aligned to 64"}));
}

TEST(Loader, BufferZeroMustBeEmptySentinel) {
  const std::vector<uint8_t> file = to_bytes(make_float_fc_writer());
  std::vector<fb::Buffer> b = buffers_of(file);
  b[0] = fb::Buffer(0, 8);
  EXPECT_TRUE(Invalid(load_bytes(with_buffers(file, b)), {"buffer 0", "sentinel"}));
}

// ---------------------------------------------------------------- shapes and dtypes

TEST(Loader, ShapeProductOverflow) {
  ModelWriter w = make_float_fc_writer();
  w.raw().tensors[3]->shape = {int64_t{1} << 32, int64_t{1} << 32};
  EXPECT_TRUE(Invalid(load_writer(w), {"tensor 3 ('y')", "too many elements", "overflow"}));
  // No int64 overflow, but far beyond any real tensor.
  w.raw().tensors[3]->shape = {int64_t{1} << 21, int64_t{1} << 21};
  EXPECT_TRUE(Invalid(load_writer(w), {"tensor 3 ('y')", "[2097152, 2097152]"}));
  // Element count fits, byte count (x4 for f32) does not.
  w.raw().tensors[3]->shape = {int64_t{1} << 20, int64_t{1} << 19};
  EXPECT_TRUE(Invalid(load_writer(w), {"tensor 3 ('y')", "bytes"}));
}

// A zero dimension empties a tensor but must not excuse huge other ones: the
// kernels and prepare code multiply dimensions in every order (rows, batch
// counts, strides), and a product of the others could overflow.
TEST(Loader, ZeroDimensionDoesNotHideHugeOthers) {
  ModelWriter w = make_float_fc_writer();
  w.raw().tensors[3]->shape = {0, int64_t{1} << 32, int64_t{1} << 32};
  EXPECT_TRUE(Invalid(load_writer(w), {"tensor 3 ('y')", "[0, 4294967296, 4294967296]",
                                       "non-zero dimensions"}));
  w.raw().tensors[3]->shape = {int64_t{1} << 21, 0, int64_t{1} << 21};
  EXPECT_TRUE(Invalid(load_writer(w), {"tensor 3 ('y')", "[2097152, 0, 2097152]"}));
  // The byte count of the non-zero dimensions (x4 for f32) counts too.
  w.raw().tensors[3]->shape = {int64_t{1} << 20, int64_t{1} << 19, 0};
  EXPECT_TRUE(Invalid(load_writer(w), {"tensor 3 ('y')", "[1048576, 524288, 0]", "bytes"}));
}

TEST(Loader, NegativeDimension) {
  ModelWriter w = make_float_fc_writer();
  w.raw().tensors[0]->shape = {1, -4};
  EXPECT_TRUE(Invalid(load_writer(w), {"tensor 0 ('x')", "shape[1] = -4", "negative"}));
}

TEST(Loader, RankAboveSixIsUnsupported) {
  ModelWriter w = make_float_fc_writer();
  w.raw().tensors[3]->shape = {1, 1, 1, 1, 1, 1, 3};
  EXPECT_TRUE(Fails(load_writer(w), StatusCode::kUnsupported, {"tensor 3 ('y')", "rank 7"}));
}

TEST(Loader, InvalidDTypeValue) {
  ModelWriter w = make_float_fc_writer();
  w.raw().tensors[3]->dtype = static_cast<fb::DType>(42);
  EXPECT_TRUE(Invalid(load_writer(w), {"tensor 3 ('y')", "dtype 42"}));
}

TEST(Loader, UnsupportedDTypesAreNamed) {
  for (DType t : {DType::kF16, DType::kBF16, DType::kI4, DType::kI64}) {
    ModelWriter w = make_float_fc_writer();
    w.raw().tensors[3]->dtype = static_cast<fb::DType>(t);
    EXPECT_TRUE(Fails(load_writer(w), StatusCode::kUnsupported,
                      {"tensor 3 ('y')", dtype_name(t), "not supported by this runtime yet"}));
  }
}

// ---------------------------------------------------------------- quantization

class BadScale : public ::testing::TestWithParam<float> {};

TEST_P(BadScale, IsRefusedWithIndexAndValue) {
  ModelWriter w = make_u8_fc_writer();
  w.raw().tensors[1]->quantization->scale[2] = GetParam();  // weight, channel 2
  auto r = load_writer(w);
  EXPECT_TRUE(Invalid(r, {"tensor 1 ('w')", "scale[2] = "}));
  if (!r.ok() && std::isnan(GetParam())) {
    EXPECT_NE(r.status().message().find("= nan is not finite"), std::string::npos);
  }
  if (!r.ok() && std::isinf(GetParam())) {
    EXPECT_NE(r.status().message().find("inf is not finite"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(Loader, BadScale,
                         ::testing::Values(0.0f, -0.0f, -0.5f,
                                           std::numeric_limits<float>::quiet_NaN(),
                                           std::numeric_limits<float>::infinity(),
                                           -std::numeric_limits<float>::infinity(),
                                           std::numeric_limits<float>::denorm_min(),
                                           1e-40f));

TEST(Loader, SmallestNormalScaleIsAccepted) {
  ModelWriter w = make_u8_relu_writer();
  w.raw().tensors[0]->quantization->scale[0] = std::numeric_limits<float>::min();
  w.raw().tensors[1]->quantization->scale[0] = std::numeric_limits<float>::min();
  auto r = load_writer(w);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
}

TEST(Loader, ZeroPointOutOfRange) {
  {
    ModelWriter w = make_u8_relu_writer();
    w.raw().tensors[0]->quantization->zero_point[0] = 300;
    EXPECT_TRUE(Invalid(load_writer(w), {"tensor 0 ('x')", "zero_point[0] = 300", "[0, 255]"}));
  }
  {
    ModelWriter w = make_u8_relu_writer();
    w.raw().tensors[1]->quantization->zero_point[0] = -1;
    EXPECT_TRUE(Invalid(load_writer(w), {"tensor 1 ('y')", "zero_point[0] = -1"}));
  }
  {
    ModelWriter w = make_u8_fc_writer();  // i8 weights are symmetric
    w.raw().tensors[1]->quantization->zero_point[1] = 3;
    EXPECT_TRUE(Invalid(load_writer(w), {"tensor 1 ('w')", "zero_point[1] = 3", "symmetric"}));
  }
  {
    ModelWriter w = make_u8_fc_writer();  // i32 bias has zero point 0
    w.raw().tensors[2]->quantization->zero_point[0] = 5;
    EXPECT_TRUE(Invalid(load_writer(w), {"tensor 2 ('b')", "zero_point[0] = 5"}));
  }
  {
    ModelWriter w = make_u8_relu_writer();  // i8 activation: [-128, 127]
    w.raw().tensors[0]->dtype = fb::DType::I8;
    w.raw().tensors[0]->quantization->zero_point[0] = -129;
    EXPECT_TRUE(Invalid(load_writer(w), {"tensor 0 ('x')", "zero_point[0] = -129", "[-128, 127]"}));
  }
}

TEST(Loader, QuantizationArrayLengths) {
  {
    ModelWriter w = make_u8_fc_writer();  // per-axis: 2 entries for 3 channels
    auto& q = *w.raw().tensors[1]->quantization;
    q.scale.resize(2);
    q.zero_point.resize(2);
    EXPECT_TRUE(Invalid(load_writer(w), {"tensor 1 ('w')", "2 scales", "expected 1 or shape[0] = 3"}));
  }
  {
    ModelWriter w = make_u8_fc_writer();  // zero_point length differs from scale
    w.raw().tensors[1]->quantization->zero_point.resize(1);
    EXPECT_TRUE(Invalid(load_writer(w), {"tensor 1 ('w')", "3 scale(s) but 1 zero point(s)"}));
  }
  {
    ModelWriter w = make_u8_relu_writer();  // per tensor with 2 scales
    auto& q = *w.raw().tensors[0]->quantization;
    q.scale = {0.1f, 0.2f};
    q.zero_point = {1, 2};
    EXPECT_TRUE(Invalid(load_writer(w), {"tensor 0 ('x')", "axis -1", "2 scales"}));
  }
  {
    ModelWriter w = make_u8_relu_writer();
    auto& q = *w.raw().tensors[0]->quantization;
    q.scale.clear();
    q.zero_point.clear();
    EXPECT_TRUE(Invalid(load_writer(w), {"tensor 0 ('x')", "no scale"}));
  }
  {
    ModelWriter w = make_u8_fc_writer();  // per-axis of length 1 is fine
    auto& q = *w.raw().tensors[1]->quantization;
    q.scale.resize(1);
    q.zero_point.resize(1);
    auto& qb = *w.raw().tensors[2]->quantization;
    qb.scale = {0.02f * 0.01f};
    qb.zero_point = {0};
    qb.axis = -1;
    auto r = load_writer(w);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
  }
}

TEST(Loader, QuantizationAxisOutOfRange) {
  ModelWriter w = make_u8_fc_writer();
  w.raw().tensors[1]->quantization->axis = 2;
  EXPECT_TRUE(Invalid(load_writer(w), {"tensor 1 ('w')", "axis 2", "rank 2"}));
  w.raw().tensors[1]->quantization->axis = -2;
  EXPECT_TRUE(Invalid(load_writer(w), {"tensor 1 ('w')", "axis -2"}));
}

TEST(Loader, GroupSizeIsUnsupported) {
  ModelWriter w = make_u8_fc_writer();
  w.raw().tensors[1]->quantization->group_size = 2;
  EXPECT_TRUE(Fails(load_writer(w), StatusCode::kUnsupported,
                    {"tensor 1 ('w')", "group_size 2", "not supported by this runtime yet"}));
}

// ---------------------------------------------------------------- graph order

// x -> relu "a" -> t -> relu "b" -> y, with the node list given explicitly.
ModelWriter two_relus(bool reversed) {
  ModelWriter w("quanta-tests");
  const QuantParams q = test::per_tensor(0.05f, 10);
  const int x = w.add_tensor("x", {1, 8}, DType::kU8, q);
  const int t = w.add_tensor("t", {1, 8}, DType::kU8, q);
  const int y = w.add_tensor("y", {1, 8}, DType::kU8, q);
  if (reversed) {
    w.add_node(OpType::kRelu, {t}, {y}, {}, "b", {"Relu_1"});
    w.add_node(OpType::kRelu, {x}, {t}, {}, "a", {"Relu_0"});
  } else {
    w.add_node(OpType::kRelu, {x}, {t}, {}, "a", {"Relu_0"});
    w.add_node(OpType::kRelu, {t}, {y}, {}, "b", {"Relu_1"});
  }
  w.set_inputs({x});
  w.set_outputs({y});
  return w;
}

TEST(Loader, TwoNodeChainInOrderLoads) {
  auto r = load_writer(two_relus(false));
  EXPECT_TRUE(r.ok()) << r.status().to_string();
}

TEST(Loader, NodeReadsTensorBeforeItIsProduced) {
  EXPECT_TRUE(Invalid(load_writer(two_relus(true)),
                      {"node 0 ('b', from ONNX 'Relu_1') reads tensor 1 ('t') before it is produced",
                       "node 1 ('a'", "execution order"}));
}

TEST(Loader, CycleIsReportedAsCycle) {
  ModelWriter w("quanta-tests");
  const QuantParams q = test::per_tensor(0.05f, 10);
  const int t1 = w.add_tensor("t1", {1, 8}, DType::kU8, q);
  const int t2 = w.add_tensor("t2", {1, 8}, DType::kU8, q);
  const int t3 = w.add_tensor("t3", {1, 8}, DType::kU8, q);
  w.add_node(OpType::kRelu, {t3}, {t1}, {}, "a");
  w.add_node(OpType::kRelu, {t1}, {t2}, {}, "b");
  w.add_node(OpType::kRelu, {t2}, {t3}, {}, "c");
  w.set_outputs({t3});
  EXPECT_TRUE(Invalid(load_writer(w),
                      {"cycle: node 0 ('a') -> node 1 ('b') -> node 2 ('c') -> node 0 ('a')"}));
}

TEST(Loader, SelfLoopIsReportedAsCycle) {
  ModelWriter w("quanta-tests");
  const QuantParams q = test::per_tensor(0.05f, 10);
  const int t = w.add_tensor("t", {1, 8}, DType::kU8, q);
  w.add_node(OpType::kRelu, {t}, {t}, {}, "loop");
  w.set_outputs({t});
  EXPECT_TRUE(Invalid(load_writer(w), {"cycle: node 0 ('loop') -> node 0 ('loop')"}));
}

TEST(Loader, TensorProducedTwice) {
  ModelWriter w = two_relus(false);
  w.raw().nodes[1]->outputs[0] = 1;  // "b" also writes t
  w.set_outputs({1});
  EXPECT_TRUE(Invalid(load_writer(w), {"tensor 1 ('t') is produced twice", "node 0 ('a'",
                                       "node 1 ('b'"}));
}

TEST(Loader, NodeReadsTensorNobodyProduces) {
  ModelWriter w = two_relus(false);
  w.set_inputs({});
  EXPECT_TRUE(Invalid(load_writer(w), {"node 0 ('a'", "reads tensor 0 ('x')", "no node produces"}));
}

TEST(Loader, GraphOutputNotProduced) {
  ModelWriter w = two_relus(false);
  const int z = w.add_tensor("z", {1, 8}, DType::kU8, test::per_tensor(0.05f, 10));
  w.set_outputs({2, z});
  EXPECT_TRUE(Invalid(load_writer(w), {"graph output 1", "tensor 3 ('z')", "no node produces"}));
}

TEST(Loader, DanglingActivationIsRefused) {
  ModelWriter w = two_relus(false);
  w.add_tensor("unused", {1, 8}, DType::kU8, test::per_tensor(0.05f, 10));
  EXPECT_TRUE(Invalid(load_writer(w), {"tensor 3 ('unused')", "no node produces"}));
}

TEST(Loader, NodeWritesConstantOrGraphInput) {
  {
    ModelWriter w = make_float_fc_writer();
    w.raw().nodes[0]->outputs[0] = 1;
    EXPECT_TRUE(Invalid(load_writer(w), {"node 0 ('fc'", "writes tensor 1 ('w')", "constant"}));
  }
  {
    ModelWriter w = make_float_fc_writer();
    w.raw().nodes[0]->outputs[0] = 0;
    EXPECT_TRUE(Invalid(load_writer(w), {"node 0 ('fc'", "writes tensor 0 ('x')", "graph input"}));
  }
}

TEST(Loader, InvalidOpType) {
  ModelWriter w = make_u8_relu_writer();
  w.raw().nodes[0]->op = static_cast<fb::OpType>(200);
  EXPECT_TRUE(Invalid(load_writer(w), {"node 0 ('relu'", "op type 200"}));
}

// The op list (quanta/op_list.def): every op type has a name, an
// implementation and its options type; only the reshape family aliases.
TEST(Loader, OpListCoversEveryOpType) {
  ASSERT_EQ(detail::kOpTypeCount, static_cast<size_t>(fb::OpType::MAX) + 1);
  for (size_t i = 0; i < detail::kOpTypeCount; ++i) {
    const auto op = static_cast<OpType>(i);
    SCOPED_TRACE(op_type_name(op));
    EXPECT_STRNE(op_type_name(op), "Unknown");
    const detail::OpDef* def = detail::find_op(op);
    ASSERT_NE(def, nullptr);
    EXPECT_NE(def->check, nullptr);
    EXPECT_NE(def->prepare, nullptr);
  }
  EXPECT_EQ(detail::find_op(static_cast<OpType>(detail::kOpTypeCount)), nullptr);
  EXPECT_STREQ(op_type_name(static_cast<OpType>(200)), "Unknown");
  EXPECT_STREQ(op_type_name(OpType::kGlobalAveragePool), "GlobalAveragePool");
  EXPECT_EQ(detail::expected_options(OpType::kUnsqueeze), fb::Options::SqueezeOptions);
  EXPECT_EQ(detail::expected_options(OpType::kRelu), fb::Options::NONE);
  EXPECT_EQ(detail::expected_options(OpType::kLogSoftmax), fb::Options::SoftmaxOptions);
  for (OpType op : {OpType::kReshape, OpType::kFlatten, OpType::kSqueeze, OpType::kUnsqueeze}) {
    EXPECT_TRUE(detail::op_output_may_alias_input(op));
  }
  EXPECT_FALSE(detail::op_output_may_alias_input(OpType::kTranspose));
  EXPECT_TRUE(detail::op_has(OpType::kMaxPool, detail::kOpKeepsQuant));
  EXPECT_FALSE(detail::op_has(OpType::kAveragePool, detail::kOpKeepsQuant));
  EXPECT_TRUE(detail::op_has(OpType::kConv2D, detail::kOpAbsorbsAdd));
  EXPECT_FALSE(detail::op_has(OpType::kMatMul, detail::kOpAbsorbsAdd));
}

// Ops appended to the format keep their values (files written with them must
// read the same forever) and their options survive the round trip.
TEST(Loader, AppendedOpsKeepValuesAndOptions) {
  EXPECT_EQ(static_cast<int>(OpType::kDequantize), 25);
  EXPECT_EQ(static_cast<int>(OpType::kLogSoftmax), 26);
  EXPECT_EQ(static_cast<int>(OpType::kHardSigmoid), 27);
  EXPECT_EQ(static_cast<int>(fb::OpType::LOG_SOFTMAX), 26);
  EXPECT_EQ(static_cast<int>(fb::OpType::HARD_SIGMOID), 27);
  EXPECT_EQ(static_cast<int>(fb::Options::PadOptions), 15);
  EXPECT_EQ(static_cast<int>(fb::Options::HardSigmoidOptions), 16);
  // Neither op may write over its input: only the reshape family aliases.
  EXPECT_FALSE(detail::op_output_may_alias_input(OpType::kLogSoftmax));
  EXPECT_FALSE(detail::op_output_may_alias_input(OpType::kHardSigmoid));
  EXPECT_FALSE(detail::op_output_may_alias_input(OpType::kSoftmax));

  ModelWriter w("test");
  const int x = w.add_tensor("x", {2, 5}, DType::kF32);
  const int t = w.add_tensor("t", {2, 5}, DType::kF32);
  const int y = w.add_tensor("y", {2, 5}, DType::kF32);
  fb::OptionsUnion hs;
  fb::HardSigmoidOptionsT hso;
  hso.alpha = 0.3f;
  hso.beta = 0.4f;
  hs.Set(hso);
  w.add_node(OpType::kHardSigmoid, {x}, {t}, std::move(hs), "hsig", {"HardSigmoid_0"});
  fb::OptionsUnion sm;
  fb::SoftmaxOptionsT smo;
  smo.axis = 0;
  sm.Set(smo);
  w.add_node(OpType::kLogSoftmax, {t}, {y}, std::move(sm), "logsm", {"LogSoftmax_1"});
  w.set_inputs({x});
  w.set_outputs({y});
  auto r = load_writer(w);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)->nodes()[0].op, OpType::kHardSigmoid);
  EXPECT_EQ((*r)->nodes()[1].op, OpType::kLogSoftmax);
  const detail::ModelImpl& impl = (*r)->impl();
  const auto* o0 = impl.fb_nodes[0]->options_as_HardSigmoidOptions();
  ASSERT_NE(o0, nullptr);
  EXPECT_EQ(o0->alpha(), 0.3f);
  EXPECT_EQ(o0->beta(), 0.4f);
  const auto* o1 = impl.fb_nodes[1]->options_as_SoftmaxOptions();
  ASSERT_NE(o1, nullptr);
  EXPECT_EQ(o1->axis(), 0);
  EXPECT_EQ(o1->beta(), 1.f);

  // The first value past the last op is refused by name.
  const int past = static_cast<int>(fb::OpType::MAX) + 1;
  w.raw().nodes[1]->op = static_cast<fb::OpType>(past);
  EXPECT_TRUE(Invalid(load_writer(w), {"node 1 ('logsm', from ONNX 'LogSoftmax_1')",
                                       "op type " + std::to_string(past) + " is not a valid OpType"}));
}

// ---------------------------------------------------------------- file header

TEST(Loader, WrongIdentifier) {
  std::vector<uint8_t> bytes = to_bytes(make_u8_relu_writer());
  std::memcpy(bytes.data() + 4, "ONNX", 4);
  EXPECT_TRUE(Invalid(load_bytes(bytes), {"'ONNX'", "expected 'QNTA'"}));
  bytes[4] = 0x01;
  bytes[5] = 0xff;
  EXPECT_TRUE(Invalid(load_bytes(bytes), {"'\\x01\\xffNX'"}));
}

TEST(Loader, NewerMajorVersionIsRefusedNewerMinorAccepted) {
  {
    ModelWriter w = make_u8_relu_writer();
    w.raw().version_major = 2;
    w.raw().version_minor = 0;
    EXPECT_TRUE(Fails(load_writer(w), StatusCode::kUnsupported,
                      {"format version 2.0 is newer than this runtime (1.0)", "upgrade quanta"}));
  }
  {
    ModelWriter w = make_u8_relu_writer();
    w.raw().version_minor = 1;
    auto r = load_writer(w);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ((*r)->version_major(), 1u);
    EXPECT_EQ((*r)->version_minor(), 1u);
  }
}

TEST(Loader, NewerMajorVersionIsNamedEvenIfTheRestDoesNotVerify) {
  // A future major version may change the layout: the runtime must still say
  // "newer version" rather than "corrupt" when it can read the version.
  ModelWriter w = make_float_fc_writer();
  w.raw().version_major = 3;
  w.raw().version_minor = 2;
  std::vector<uint8_t> bytes = to_bytes(w);
  const size_t fb_end = static_cast<size_t>(buffers_of(bytes)[1].offset());
  bytes.resize(fb_end / 2);
  EXPECT_TRUE(Fails(load_bytes(bytes), StatusCode::kUnsupported, {"format version 3.2 is newer"}));
  // Version 1 with the same damage is reported as corrupt.
  w.raw().version_major = 1;
  bytes = to_bytes(w);
  bytes.resize(fb_end / 2);
  EXPECT_TRUE(Invalid(load_bytes(bytes), {"FlatBuffers verification failed"}));
}

TEST(Loader, ChecksumCatchesDamageTheValidatorCannotSee) {
  // A flipped bit inside a weight leaves a structurally perfect file.
  std::vector<uint8_t> bytes = to_bytes(make_float_fc_writer());
  const size_t weight_at = static_cast<size_t>(buffers_of(bytes)[1].offset());
  bytes[weight_at + 5] ^= 0x10;
  EXPECT_TRUE(Invalid(load_bytes(bytes), {"checksum mismatch", "corrupt"}));
  // Resealed (an intentional edit), the same bytes load.
  ModelWriter::reseal(bytes);
  EXPECT_TRUE(load_bytes(bytes).ok());
  // No trailer at all.
  bytes.resize(bytes.size() - ModelWriter::kTrailerSize);
  bytes.resize(bytes.size() + ModelWriter::kTrailerSize, 0);
  EXPECT_TRUE(Invalid(load_bytes(bytes), {"integrity trailer is missing"}));
}

TEST(Loader, TooSmallAndGarbage) {
  EXPECT_TRUE(Invalid(load_bytes(std::vector<uint8_t>(7, 0)), {"too small", "7 bytes"}));
  std::vector<uint8_t> garbage(256, 0xab);
  std::memcpy(garbage.data() + 4, "QNTA", 4);
  EXPECT_TRUE(Invalid(load_bytes(garbage), {"FlatBuffers verification failed"}));
}

TEST(Loader, EveryTruncationFailsCleanly) {
  const std::vector<uint8_t> bytes = to_bytes(make_float_fc_writer());
  ASSERT_TRUE(load_in_place(bytes).ok());
  for (size_t len = 0; len < bytes.size(); ++len) {
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(len));
    auto r = load_in_place(prefix);
    ASSERT_FALSE(r.ok()) << "prefix of " << len << " bytes loaded";
    ASSERT_NE(r.status().code(), StatusCode::kOk);
    ASSERT_FALSE(r.status().message().empty()) << len;
  }
}

// Every load of a corrupted file returns ok or an error; a model that loads
// must satisfy the invariants the rest of the runtime relies on.
void check_loaded_or_error(const std::vector<uint8_t>& bytes, size_t* ok_count, size_t* err_count) {
  auto r = load_in_place(bytes);
  if (!r.ok()) {
    ASSERT_NE(r.status().code(), StatusCode::kOk);
    ASSERT_FALSE(r.status().message().empty());
    ++*err_count;
    return;
  }
  ++*ok_count;
  const Model& m = **r;
  const detail::ModelImpl& impl = m.impl();
  const int nt = static_cast<int>(m.tensors().size());
  ASSERT_EQ(impl.const_data.size(), m.tensors().size());
  uint32_t sum = 0;
  for (int t = 0; t < nt; ++t) {
    const TensorInfo& info = m.tensors()[t];
    ASSERT_EQ(info.is_constant, impl.const_data[t] != nullptr);
    if (impl.const_data[t] != nullptr) {
      const auto* p = static_cast<const uint8_t*>(impl.const_data[t]);
      ASSERT_GE(p, bytes.data());
      ASSERT_LE(p + info.num_bytes, bytes.data() + bytes.size());
      for (size_t i = 0; i < info.num_bytes; ++i) sum += p[i];  // ASan checks the reads
    }
  }
  for (const NodeInfo& n : m.nodes()) {
    for (int t : n.inputs) ASSERT_TRUE(t == -1 || (t >= 0 && t < nt));
    for (int t : n.outputs) ASSERT_TRUE(t >= 0 && t < nt);
  }
  for (int t : m.input_indices()) ASSERT_TRUE(t >= 0 && t < nt);
  for (int t : m.output_indices()) ASSERT_TRUE(t >= 0 && t < nt);
  (void)sum;
}

TEST(Loader, BitFlipSweepNeverCrashes) {
  for (auto make : {make_u8_fc_writer, make_float_fc_writer}) {
    const std::vector<uint8_t> bytes = to_bytes(make());
    ASSERT_TRUE(load_in_place(bytes).ok());
    // The FlatBuffer part ends where the first buffer starts.
    const size_t fb_end = static_cast<size_t>(buffers_of(bytes)[1].offset());
    ASSERT_LE(fb_end, bytes.size());
    size_t ok = 0;
    size_t err = 0;
    for (size_t i = 0; i < fb_end; ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::vector<uint8_t> copy = bytes;
        copy[i] ^= static_cast<uint8_t>(1u << bit);
        ModelWriter::reseal(copy);  // exercise the validator behind the checksum
        ASSERT_NO_FATAL_FAILURE(check_loaded_or_error(copy, &ok, &err)) << "byte " << i << " bit " << bit;
      }
    }
    // Without resealing, the checksum refuses every damaged byte, weights
    // and the trailer included.
    for (size_t i = 0; i < bytes.size(); ++i) {
      std::vector<uint8_t> copy = bytes;
      copy[i] ^= 0xff;
      auto r = load_in_place(copy);
      ASSERT_FALSE(r.ok()) << "byte " << i << " ^ 0xff was not detected";
    }
    // Even behind a valid checksum, most flips must be detected by the
    // validator (identifier, offsets, indices, enums...).
    EXPECT_GT(err, 8 * fb_end / 4) << "ok " << ok << ", errors " << err;
  }
}

// ---------------------------------------------------------------- prepare and run
// A flipped-and-resealed file that loads is a model like any other: the
// rest of the runtime must cope with it too. Session::create either refuses
// it with a message or prepares it, and a prepared session runs (under
// ASan/UBSan in CI: no out-of-bounds access, no undefined behaviour).

struct FlipCounts {
  size_t variants = 0, loaded = 0, prepared = 0;
};

// Loads `bytes` in place; when that works, creates a session (small memory
// limits: a flip may ask for a large arena, which only needs to be refused)
// and runs it once on deterministic inputs.
void load_prepare_run(const std::vector<uint8_t>& bytes, FlipCounts* counts) {
  ++counts->variants;
  auto model = load_in_place(bytes);
  if (!model.ok()) {
    ASSERT_FALSE(model.status().message().empty());
    return;
  }
  ++counts->loaded;
  SessionOptions options;
  options.max_arena_bytes = size_t{16} << 20;
  options.max_prepared_bytes = size_t{16} << 20;
  auto session = Session::create(*model, options);
  if (!session.ok()) {
    ASSERT_NE(session.status().code(), StatusCode::kOk);
    ASSERT_FALSE(session.status().message().empty());
    return;
  }
  ++counts->prepared;
  Session& s = **session;
  const Model& m = **model;
  for (size_t i = 0; i < m.num_inputs(); ++i) {
    const TensorInfo& t = m.input(i);
    if (t.dtype == DType::kF32 || (t.dtype == DType::kU8 && t.quant.per_tensor())) {
      std::vector<float> x(static_cast<size_t>(t.num_elements));
      for (size_t k = 0; k < x.size(); ++k) x[k] = static_cast<float>(k % 17) / 8.0f - 1.0f;
      ASSERT_TRUE(s.set_input(i, x).ok());
    } else {
      std::vector<uint8_t> raw(t.num_bytes);
      for (size_t k = 0; k < raw.size(); ++k) raw[k] = static_cast<uint8_t>(k * 37 + 11);
      ASSERT_TRUE(s.set_input_raw(i, raw.data(), raw.size()).ok());
    }
  }
  ASSERT_TRUE(s.run().ok());
  for (size_t o = 0; o < m.num_outputs(); ++o) {
    std::vector<float> y(static_cast<size_t>(m.output(o).num_elements));
    (void)s.get_output(o, y);  // not every dtype reads as float; none may crash
  }
}

std::vector<uint8_t> read_model_file(const std::string& name) {
  std::ifstream f(std::string(QUANTA_SOURCE_DIR) + "/models/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// The int8 conversion of a zoo model (min-max calibration on 8 samples).
std::vector<uint8_t> convert_zoo_int8(const std::string& onnx, const std::string& calib) {
  namespace qc = quanta::convert;
  const std::string zoo = std::string(QUANTA_SOURCE_DIR) + "/tests/data/zoo/";
  auto g = qc::import_onnx(zoo + onnx);
  EXPECT_TRUE(g.ok()) << g.status().message();
  if (!g.ok()) return {};
  auto samples = qc::open_npy_samples({zoo + calib}, qc::graph_inputs(**g));
  EXPECT_TRUE(samples.ok()) << samples.status().message();
  if (!samples.ok()) return {};
  auto limited = qc::limit_samples(std::move(*samples), 8);
  qc::CalibrationOptions co;
  co.method = qc::CalibrationMethod::kMinMax;
  auto cal = qc::calibrate(**g, *limited, co);
  EXPECT_TRUE(cal.ok()) << cal.status().message();
  if (!cal.ok()) return {};
  auto int8 = qc::build_int8(**g, *cal, {}, nullptr);
  EXPECT_TRUE(int8.ok()) << int8.status().message();
  return int8.ok() ? *int8 : std::vector<uint8_t>{};
}

// Flips `bit` of byte i, reseals the trailer, loads, prepares and runs the
// variant, then flips the bit back. False (with a failure naming the byte)
// when that ended in a fatal failure.
bool flip_and_run(std::vector<uint8_t>& copy, size_t i, uint8_t bit, FlipCounts* counts) {
  copy[i] ^= bit;
  ModelWriter::reseal(copy);
  load_prepare_run(copy, counts);
  copy[i] ^= bit;
  if (::testing::Test::HasFatalFailure()) {
    ADD_FAILURE() << "byte " << i << " ^ " << int(bit);
    return false;
  }
  return true;
}

// About `count` variants spread over the file: bytes at a fixed stride, the
// flipped bit rotating, the FlatBuffer part (metadata: shapes, indices,
// options, quantization) 4 times as densely as the data section.
FlipCounts flip_sampled(const std::vector<uint8_t>& bytes, size_t count) {
  FlipCounts counts;
  const size_t payload = bytes.size() - ModelWriter::kTrailerSize;
  const auto* buffers = fb::GetModel(bytes.data())->buffers();
  size_t fb_end = payload;
  for (const fb::Buffer* b : *buffers) {
    if (b->size() > 0) fb_end = std::min<size_t>(fb_end, static_cast<size_t>(b->offset()));
  }
  const size_t weighted = 4 * fb_end + (payload - fb_end);
  const size_t stride = std::max<size_t>(1, weighted / count);
  std::vector<uint8_t> copy = bytes;
  size_t step = 0;
  for (size_t w = 0; w < weighted; w += stride, ++step) {
    const size_t i = w < 4 * fb_end ? w / 4 : fb_end + (w - 4 * fb_end);
    if (!flip_and_run(copy, i, static_cast<uint8_t>(1u << (step % 8)), &counts)) return counts;
  }
  return counts;
}

// Every byte of each file gets flipped (one bit per variant; `bits_per_byte`
// bits, chosen from the byte's index so that every bit position occurs), the
// trailer resealed, and the variant loaded, prepared and run.
FlipCounts flip_every_byte(const std::vector<uint8_t>& bytes, int bits_per_byte) {
  FlipCounts counts;
  const size_t payload = bytes.size() - ModelWriter::kTrailerSize;
  std::vector<uint8_t> copy = bytes;
  for (size_t i = 0; i < payload; ++i) {
    for (int j = 0; j < bits_per_byte; ++j) {
      const auto bit = static_cast<uint8_t>(1u << ((i + static_cast<size_t>(j) * 3) % 8));
      if (!flip_and_run(copy, i, bit, &counts)) return counts;
    }
  }
  return counts;
}

TEST(LoaderCorruption, FlippedModelsPrepareAndRunOrFailCleanly) {
  struct Case {
    std::string name;
    std::vector<uint8_t> bytes;
    int bits_per_byte;
  };
  const std::vector<Case> cases = {
      {"demo_cnn_fp32.quanta", read_model_file("demo_cnn_fp32.quanta"), 2},
      {"demo_cnn_int8.quanta", read_model_file("demo_cnn_int8.quanta"), 2},
      {"u8 FullyConnected", to_bytes(make_u8_fc_writer()), 8},
      {"float FullyConnected", to_bytes(make_float_fc_writer()), 8},
      {"u8 Relu", to_bytes(make_u8_relu_writer()), 8},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_GT(c.bytes.size(), ModelWriter::kTrailerSize);
    FlipCounts unflipped;
    load_prepare_run(c.bytes, &unflipped);
    ASSERT_EQ(unflipped.prepared, 1u) << "the unflipped file must load, prepare and run";
    const FlipCounts n = flip_every_byte(c.bytes, c.bits_per_byte);
    ASSERT_FALSE(HasFailure());
    // Flips in weights and scales load and prepare: the sweep really runs
    // sessions, it does not only collect load errors.
    EXPECT_GT(n.prepared, n.variants / 4) << n.variants << " variants, " << n.loaded << " loaded, "
                                          << n.prepared << " prepared";
    std::printf("%s: %zu variants, %zu load, %zu prepare and run\n", c.name.c_str(), n.variants,
                n.loaded, n.prepared);
  }
}

// Converted zoo models have what the demo models lack (fused residual Adds,
// Concat, 1x1 and depthwise convolutions of several shapes, MatMul...):
// sampled, deterministically, to keep the sweep short under ASan.
TEST(LoaderCorruption, FlippedConvertedModelsPrepareAndRunOrFailCleanly) {
  for (const auto& [onnx, calib] : {std::pair{"resnet8_op13.onnx", "data_cifar_calib.npy"},
                                    std::pair{"mobilenetv2_op13.onnx", "data_cifar_calib.npy"}}) {
    SCOPED_TRACE(onnx);
    const std::vector<uint8_t> bytes = convert_zoo_int8(onnx, calib);
    ASSERT_FALSE(bytes.empty());
    FlipCounts unflipped;
    load_prepare_run(bytes, &unflipped);
    ASSERT_EQ(unflipped.prepared, 1u);
    const FlipCounts n = flip_sampled(bytes, 2000);
    ASSERT_FALSE(HasFailure());
    EXPECT_GT(n.prepared, n.variants / 4) << n.variants << " variants, " << n.loaded << " loaded";
    std::printf("%s (int8, %zu bytes): %zu variants, %zu load, %zu prepare and run\n", onnx,
                bytes.size(), n.variants, n.loaded, n.prepared);
  }
}

// ---------------------------------------------------------------- files

TEST(LoaderFile, LoadsValidFileAndPrefixesErrorsWithPath) {
  const std::string path = test::temp_path("loader_valid.quanta");
  ASSERT_TRUE(make_float_fc_writer().write_file(path).ok());
  auto r = Model::load_file(path);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)->file_size(), static_cast<size_t>(std::filesystem::file_size(path)));
  const auto* w = static_cast<const float*>((*r)->impl().const_data[1]);
  EXPECT_EQ(w[3], 2.0f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w) % 64, 0u);

  ModelWriter bad = make_float_fc_writer();
  bad.raw().tensors[0]->shape = {1, -4};
  const std::string bad_path = test::temp_path("loader_bad.quanta");
  ASSERT_TRUE(bad.write_file(bad_path).ok());
  auto rb = Model::load_file(bad_path);
  ASSERT_FALSE(rb.ok());
  EXPECT_EQ(rb.status().message().rfind(bad_path + ": tensor 0 ('x')", 0), 0u)
      << rb.status().message();
  EXPECT_EQ(rb.status().to_string().rfind("invalid model: " + bad_path, 0), 0u);
  std::remove(path.c_str());
  std::remove(bad_path.c_str());
}

TEST(LoaderFile, MissingFile) {
  const std::string path = test::temp_path("does_not_exist.quanta");
  EXPECT_TRUE(Fails(Model::load_file(path), StatusCode::kNotFound,
                    {"cannot open '" + path + "'", "No such file or directory"}));
}

TEST(LoaderFile, EmptyFile) {
  const std::string path = test::temp_path("empty.quanta");
  write_file(path, {});
  EXPECT_TRUE(Fails(Model::load_file(path), StatusCode::kInvalidModel, {path, "file is empty"}));
  std::remove(path.c_str());
}

TEST(LoaderFile, Directory) {
  const std::string dir = test::temp_path("a_directory.quanta");
  std::filesystem::create_directories(dir);
  EXPECT_TRUE(Fails(Model::load_file(dir), StatusCode::kIoError, {"'" + dir + "'", "directory"}));
  std::filesystem::remove(dir);
}

TEST(LoaderFile, UnreadableFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can read any file";
  const std::string path = test::temp_path("unreadable.quanta");
  ASSERT_TRUE(make_u8_relu_writer().write_file(path).ok());
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  EXPECT_TRUE(Fails(Model::load_file(path), StatusCode::kIoError, {path, "Permission denied"}));
  std::remove(path.c_str());
}

TEST(LoaderFile, TruncatedFileOnDisk) {
  std::vector<uint8_t> bytes = to_bytes(make_float_fc_writer());
  bytes.resize(bytes.size() - 5);
  const std::string path = test::temp_path("truncated.quanta");
  write_file(path, bytes);
  EXPECT_TRUE(Invalid(Model::load_file(path), {path + ": ", "trailer is missing", "truncated"}));
  std::remove(path.c_str());
}

// ---------------------------------------------------------------- buffers in memory

TEST(LoaderBuffer, CopyOwnsTheBytes) {
  std::vector<uint8_t> bytes = to_bytes(make_float_fc_writer());
  auto r = Model::load_buffer(bytes.data(), bytes.size(), /*copy=*/true);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const auto* w = static_cast<const float*>((*r)->impl().const_data[1]);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w) % 64, 0u);
  const auto* lo = bytes.data();
  const auto* hi = bytes.data() + bytes.size();
  EXPECT_FALSE(reinterpret_cast<const uint8_t*>(w) >= lo && reinterpret_cast<const uint8_t*>(w) < hi);
  std::fill(bytes.begin(), bytes.end(), uint8_t{0});
  bytes.clear();
  bytes.shrink_to_fit();
  EXPECT_EQ(w[0], 0.5f);
  EXPECT_EQ((*r)->tensors()[1].name, "w");
}

TEST(LoaderBuffer, InPlaceUsesCallerBytes) {
  const std::vector<uint8_t> bytes = to_bytes(make_float_fc_writer());
  // 64-aligned storage, and an 8-aligned (not 64-aligned) placement.
  std::vector<uint64_t> storage(bytes.size() / 8 + 16);
  for (size_t shift : {size_t{0}, size_t{8}}) {
    auto* base = reinterpret_cast<uint8_t*>(storage.data()) + shift;
    std::memcpy(base, bytes.data(), bytes.size());
    auto r = Model::load_buffer(base, bytes.size(), /*copy=*/false);
    ASSERT_TRUE(r.ok()) << "shift " << shift << ": " << r.status().to_string();
    const size_t offset = static_cast<size_t>(buffers_of(bytes)[1].offset());
    EXPECT_EQ((*r)->impl().const_data[1], base + offset);
    EXPECT_EQ((*r)->impl().base, base);
  }
}

TEST(LoaderBuffer, MisalignedInPlaceIsRefused) {
  const std::vector<uint8_t> bytes = to_bytes(make_float_fc_writer());
  std::vector<uint64_t> storage(bytes.size() / 8 + 16);
  auto* base = reinterpret_cast<uint8_t*>(storage.data()) + 4;
  std::memcpy(base, bytes.data(), bytes.size());
  EXPECT_TRUE(Fails(Model::load_buffer(base, bytes.size(), false), StatusCode::kInvalidArgument,
                    {"<memory>", "not 8-byte aligned", "copy=true"}));
  // The same bytes load when copied.
  auto r = Model::load_buffer(base, bytes.size(), true);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
}

TEST(LoaderBuffer, EmptyOrNullBuffer) {
  EXPECT_TRUE(Fails(Model::load_buffer(nullptr, 0), StatusCode::kInvalidModel, {"<memory>", "empty"}));
  EXPECT_TRUE(Fails(Model::load_buffer(nullptr, 16), StatusCode::kInvalidArgument, {"<memory>", "null"}));
}

TEST(LoaderBuffer, ErrorsArePrefixedWithMemoryOrigin) {
  ModelWriter w = make_u8_relu_writer();
  w.raw().tensors[0]->quantization->zero_point[0] = 300;
  auto r = load_writer(w);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("<memory>: tensor 0 ('x'): zero_point[0] = 300", 0), 0u)
      << r.status().message();
}

}  // namespace
}  // namespace quanta
