#include "quanta/model_writer.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <zlib.h>

namespace quanta {
namespace {

std::unique_ptr<fb::QuantizationT> to_fb(const QuantParams& q) {
  if (q.empty()) return nullptr;
  auto out = std::make_unique<fb::QuantizationT>();
  out->scale = q.scale;
  out->zero_point.assign(q.zero_point.begin(), q.zero_point.end());
  out->axis = q.axis;
  out->group_size = q.group_size;
  return out;
}

size_t align64(size_t v) { return (v + 63) & ~size_t{63}; }

}  // namespace

ModelWriter::ModelWriter(std::string producer) {
  model_.version_major = kFormatVersionMajor;
  model_.version_minor = kFormatVersionMinor;
  model_.producer = std::move(producer);
}

int ModelWriter::add_tensor(const std::string& name, std::vector<int64_t> shape, DType dtype,
                            const QuantParams& quant) {
  auto t = std::make_unique<fb::TensorT>();
  t->name = name;
  t->shape = std::move(shape);
  t->dtype = static_cast<fb::DType>(dtype);
  t->quantization = to_fb(quant);
  t->buffer = 0;
  model_.tensors.push_back(std::move(t));
  return static_cast<int>(model_.tensors.size()) - 1;
}

int ModelWriter::add_constant(const std::string& name, std::vector<int64_t> shape, DType dtype,
                              const void* data, size_t bytes, const QuantParams& quant) {
  const int index = add_tensor(name, std::move(shape), dtype, quant);
  const auto* p = static_cast<const uint8_t*>(data);
  blobs_.emplace_back(p, p + bytes);
  model_.tensors.back()->buffer = static_cast<uint32_t>(blobs_.size());
  return index;
}

int ModelWriter::add_constant_f32(const std::string& name, std::vector<int64_t> shape,
                                  const std::vector<float>& v) {
  return add_constant(name, std::move(shape), DType::kF32, v.data(), v.size() * sizeof(float));
}

int ModelWriter::add_constant_i8(const std::string& name, std::vector<int64_t> shape,
                                 const std::vector<int8_t>& v, const QuantParams& quant) {
  return add_constant(name, std::move(shape), DType::kI8, v.data(), v.size(), quant);
}

int ModelWriter::add_constant_i32(const std::string& name, std::vector<int64_t> shape,
                                  const std::vector<int32_t>& v, const QuantParams& quant) {
  return add_constant(name, std::move(shape), DType::kI32, v.data(), v.size() * sizeof(int32_t),
                      quant);
}

int ModelWriter::add_node(OpType op, std::vector<int> inputs, std::vector<int> outputs,
                          fb::OptionsUnion options, const std::string& name,
                          std::vector<std::string> source_nodes) {
  auto n = std::make_unique<fb::NodeT>();
  n->op = static_cast<fb::OpType>(op);
  n->inputs = std::move(inputs);
  n->outputs = std::move(outputs);
  n->options = std::move(options);
  n->name = name;
  n->source_nodes = std::move(source_nodes);
  model_.nodes.push_back(std::move(n));
  return static_cast<int>(model_.nodes.size()) - 1;
}

void ModelWriter::set_inputs(std::vector<int> inputs) { model_.inputs = std::move(inputs); }
void ModelWriter::set_outputs(std::vector<int> outputs) { model_.outputs = std::move(outputs); }
void ModelWriter::set_description(const std::string& text) { model_.description = text; }

std::vector<uint8_t> ModelWriter::finish() const {
  // Buffer entries are fixed-size structs, so the FlatBuffer's size does not
  // depend on their values: pack once to learn the size, then again with the
  // final offsets of the data section.
  // ModelT is move-only (unique_ptr members): rebuild a packed copy through
  // the builder instead of copying the object tree.
  auto pack = [&](const std::vector<fb::Buffer>& buffers) {
    flatbuffers::FlatBufferBuilder fbb(4096);
    auto& mut = const_cast<fb::ModelT&>(model_);
    std::vector<fb::Buffer> saved = std::move(mut.buffers);
    mut.buffers = buffers;
    auto root = fb::Model::Pack(fbb, &mut);
    mut.buffers = std::move(saved);
    fb::FinishModelBuffer(fbb, root);
    return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  };
  std::vector<fb::Buffer> buffers(blobs_.size() + 1, fb::Buffer(0, 0));
  // A writer used for malformed-file tests may have set buffers by hand.
  if (!model_.buffers.empty()) {
    std::vector<uint8_t> out = pack(std::vector<fb::Buffer>(model_.buffers));
    seal(out);
    return out;
  }
  std::vector<uint8_t> head = pack(buffers);
  size_t offset = align64(head.size());
  for (size_t i = 0; i < blobs_.size(); ++i) {
    buffers[i + 1] = fb::Buffer(offset, blobs_[i].size());
    offset = align64(offset + blobs_[i].size());
  }
  head = pack(buffers);
  std::vector<uint8_t> out(head.begin(), head.end());
  out.resize(align64(out.size()), 0);
  for (size_t i = 0; i < blobs_.size(); ++i) {
    out.resize(buffers[i + 1].offset(), 0);
    out.insert(out.end(), blobs_[i].begin(), blobs_[i].end());
  }
  seal(out);
  return out;
}

void ModelWriter::seal(std::vector<uint8_t>& bytes) {
  const uLong crc = crc32_z(crc32_z(0L, Z_NULL, 0), bytes.data(), bytes.size());
  const uint8_t trailer[kTrailerSize] = {
      'Q', 'S', 'U', 'M', static_cast<uint8_t>(crc), static_cast<uint8_t>(crc >> 8),
      static_cast<uint8_t>(crc >> 16), static_cast<uint8_t>(crc >> 24)};
  bytes.insert(bytes.end(), trailer, trailer + kTrailerSize);
}

void ModelWriter::reseal(std::vector<uint8_t>& bytes) {
  if (bytes.size() >= kTrailerSize) bytes.resize(bytes.size() - kTrailerSize);
  seal(bytes);
}

Status ModelWriter::write_file(const std::string& path) const {
  const std::vector<uint8_t> bytes = finish();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    return {StatusCode::kIoError,
            fmt::format("cannot open '{}' for writing: {}", path, std::strerror(errno))};
  }
  const size_t n = std::fwrite(bytes.data(), 1, bytes.size(), f);
  const bool ok = (n == bytes.size()) && std::fclose(f) == 0;
  if (!ok) return {StatusCode::kIoError, fmt::format("cannot write '{}'", path)};
  return Status::Ok();
}

}  // namespace quanta
