#include "support/onnx_builder.hpp"

#include <random>

namespace quanta::test {

OnnxBuilder::OnnxBuilder(int opset) {
  model_.set_ir_version(opset >= 13 ? 7 : 6);
  model_.set_producer_name("quanta-tests");
  auto* os = model_.add_opset_import();
  os->set_domain("");
  os->set_version(opset);
  model_.mutable_graph()->set_name("test");
}

namespace {
void set_shape(onnx::ValueInfoProto* v, const std::vector<int64_t>& shape) {
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  auto* s = tt->mutable_shape();
  for (int64_t d : shape) {
    auto* dim = s->add_dim();
    if (d < 0) {
      dim->set_dim_param("N");
    } else {
      dim->set_dim_value(d);
    }
  }
}
}  // namespace

OnnxBuilder& OnnxBuilder::input(const std::string& name, const std::vector<int64_t>& shape) {
  auto* v = model_.mutable_graph()->add_input();
  v->set_name(name);
  set_shape(v, shape);
  return *this;
}

OnnxBuilder& OnnxBuilder::output(const std::string& name, const std::vector<int64_t>& shape) {
  auto* v = model_.mutable_graph()->add_output();
  v->set_name(name);
  set_shape(v, shape);
  return *this;
}

OnnxBuilder& OnnxBuilder::initializer(const std::string& name, const std::vector<int64_t>& shape,
                                      const std::vector<float>& values) {
  auto* t = model_.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : shape) t->add_dims(d);
  for (float v : values) t->add_float_data(v);
  return *this;
}

OnnxBuilder& OnnxBuilder::external_initializer(const std::string& name,
                                               const std::vector<int64_t>& shape,
                                               const std::string& location) {
  auto* t = model_.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : shape) t->add_dims(d);
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* kv = t->add_external_data();
  kv->set_key("location");
  kv->set_value(location);
  return *this;
}

OnnxBuilder& OnnxBuilder::initializer_i64(const std::string& name, const std::vector<int64_t>& shape,
                                          const std::vector<int64_t>& values) {
  auto* t = model_.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : shape) t->add_dims(d);
  for (int64_t v : values) t->add_int64_data(v);
  return *this;
}

onnx::NodeProto& OnnxBuilder::node(const std::string& op, const std::vector<std::string>& inputs,
                                   const std::vector<std::string>& outputs, const std::string& name) {
  auto* n = model_.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name.empty() ? op + "_" + std::to_string(model_.graph().node_size()) : name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return *n;
}

std::string OnnxBuilder::bytes() const { return model_.SerializeAsString(); }

void attr_int(onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void attr_float(onnx::NodeProto& n, const std::string& name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
void attr_ints(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void attr_string(onnx::NodeProto& n, const std::string& name, const std::string& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

std::vector<float> test_values(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::vector<float> v(n);
  for (float& x : v) {
    const float u = static_cast<float>(rng() >> 8) * (1.0f / 16777216.0f);
    x = lo + (hi - lo) * u;
  }
  return v;
}

}  // namespace quanta::test
