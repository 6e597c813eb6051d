// Target 3 (docs/fuzzing.md): a FlatBuffers-aware mutator for .quanta files,
// linked with fuzz_model.cpp's sealed harness into fuzz_model_structured.
//
// A byte-level mutation of a FlatBuffer mostly breaks offsets, which the
// verifier refuses. This mutator instead unpacks the model with the
// generated object API (schema/quanta.fbs), changes one to three fields that
// the validator and the kernels depend on (shapes, dtypes, tensor and buffer
// indices, quantization parameters, op types, options, constant data and its
// size, the node list and graph inputs/outputs), and packs it again through
// quanta::ModelWriter, which lays out the data section and writes the
// integrity trailer. One mutation in four is libFuzzer's own byte-level one,
// re-sealed, so malformed FlatBuffers are still reached.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "quanta/model_writer.hpp"
#include "quanta_generated.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

using namespace quanta;
using Rng = std::minstd_rand;

constexpr size_t kTrailer = ModelWriter::kTrailerSize;
constexpr size_t kMaxBlob = size_t{1} << 20;  // constant data made here, at most

size_t pick(Rng& rng, size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); }
bool one_in(Rng& rng, unsigned n) { return rng() % n == 0; }

// Rewrites the last 8 bytes as the trailer of the bytes before them.
size_t reseal(uint8_t* data, size_t size, size_t max_size) {
  std::vector<uint8_t> bytes(data, data + size);
  ModelWriter::reseal(bytes);
  if (bytes.size() > max_size) return size;
  std::memcpy(data, bytes.data(), bytes.size());
  return bytes.size();
}

// v + d and v * 2 with two's complement wrap-around (no overflow in the
// mutator itself).
int64_t wrap_add(int64_t v, int64_t d) {
  return static_cast<int64_t>(static_cast<uint64_t>(v) + static_cast<uint64_t>(d));
}

// An integer near `v`, or one of the values validators get wrong.
int64_t mutate_int(Rng& rng, int64_t v) {
  switch (pick(rng, 12)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return -1;
    case 3: return wrap_add(v, 1);
    case 4: return wrap_add(v, -1);
    case 5: return wrap_add(v, v);
    case 6: return v / 2;
    case 7: return static_cast<int64_t>(pick(rng, 17));
    case 8: return std::numeric_limits<int32_t>::max();
    case 9: return std::numeric_limits<int32_t>::min();
    case 10: return int64_t{1} << (16 + pick(rng, 48));
    default: return std::numeric_limits<int64_t>::min() + static_cast<int64_t>(pick(rng, 2));
  }
}

template <class T>
void mutate(Rng& rng, T& field) {
  static_assert(std::is_integral_v<T>);
  if constexpr (std::is_same_v<T, bool>) {
    field = !field;
  } else {
    field = static_cast<T>(mutate_int(rng, static_cast<int64_t>(field)));
  }
}

void mutate(Rng& rng, float& f) {
  constexpr float kValues[] = {0.0f, -0.0f, 1.0f, -1.0f, 6.0f, 0.5f, 1e-30f, 1e-40f, 1e30f,
                               std::numeric_limits<float>::max(),
                               std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::quiet_NaN()};
  switch (pick(rng, 4)) {
    case 0: f *= 2.0f; break;
    case 1: f = -f; break;
    default: f = kValues[pick(rng, std::size(kValues))]; break;
  }
}

template <class E>
void mutate_enum(Rng& rng, E& e, int max) {
  // Mostly valid values; sometimes one past the end (or far beyond).
  const int v = one_in(rng, 8) ? max + 1 + static_cast<int>(pick(rng, 100)) : static_cast<int>(pick(rng, max + 1));
  e = static_cast<E>(v);
}

template <class T>
void mutate_vector(Rng& rng, std::vector<T>& v) {
  switch (pick(rng, 4)) {
    case 0: v.push_back(static_cast<T>(v.empty() ? 1 : v[pick(rng, v.size())])); break;
    case 1: if (!v.empty()) v.erase(v.begin() + static_cast<ptrdiff_t>(pick(rng, v.size()))); break;
    case 2: if (v.size() > 1) std::swap(v[pick(rng, v.size())], v[pick(rng, v.size())]); break;
    default: if (!v.empty()) mutate(rng, v[pick(rng, v.size())]); break;
  }
}

void mutate_activation(Rng& rng, fb::Activation& a, float& lo, float& hi) {
  switch (pick(rng, 3)) {
    case 0: mutate_enum(rng, a, static_cast<int>(fb::Activation::MAX)); break;
    case 1: mutate(rng, lo); break;
    default: mutate(rng, hi); break;
  }
}

void mutate_conv(Rng& rng, fb::Conv2DOptionsT& o) {
  int* ints[] = {&o.stride_h, &o.stride_w, &o.dilation_h, &o.dilation_w, &o.pad_top,
                 &o.pad_left, &o.pad_bottom, &o.pad_right, &o.groups};
  if (one_in(rng, 4)) return mutate_activation(rng, o.activation, o.clip_min, o.clip_max);
  mutate(rng, *ints[pick(rng, std::size(ints))]);
}

void mutate_pool(Rng& rng, fb::PoolOptionsT& o) {
  int* ints[] = {&o.kernel_h, &o.kernel_w, &o.stride_h, &o.stride_w, &o.dilation_h,
                 &o.dilation_w, &o.pad_top, &o.pad_left, &o.pad_bottom, &o.pad_right};
  switch (pick(rng, 5)) {
    case 0: return mutate_activation(rng, o.activation, o.clip_min, o.clip_max);
    case 1: o.count_include_pad = !o.count_include_pad; return;
    default: mutate(rng, *ints[pick(rng, std::size(ints))]);
  }
}

// Changes one field of the node's options table (making one first if the
// node has none).
void mutate_options(Rng& rng, fb::OptionsUnion& u) {
  using fb::Options;
  if (u.type == Options::NONE || one_in(rng, 16)) {
    u.Reset();
    switch (static_cast<Options>(1 + pick(rng, static_cast<size_t>(Options::MAX)))) {
      case Options::Conv2DOptions: u.Set(fb::Conv2DOptionsT{}); break;
      case Options::FullyConnectedOptions: u.Set(fb::FullyConnectedOptionsT{}); break;
      case Options::MatMulOptions: u.Set(fb::MatMulOptionsT{}); break;
      case Options::ElementwiseOptions: u.Set(fb::ElementwiseOptionsT{}); break;
      case Options::ConcatOptions: u.Set(fb::ConcatOptionsT{}); break;
      case Options::PoolOptions: u.Set(fb::PoolOptionsT{}); break;
      case Options::ClipOptions: u.Set(fb::ClipOptionsT{}); break;
      case Options::LeakyReluOptions: u.Set(fb::LeakyReluOptionsT{}); break;
      case Options::GeluOptions: u.Set(fb::GeluOptionsT{}); break;
      case Options::SoftmaxOptions: u.Set(fb::SoftmaxOptionsT{}); break;
      case Options::ReshapeOptions: u.Set(fb::ReshapeOptionsT{}); break;
      case Options::SqueezeOptions: u.Set(fb::SqueezeOptionsT{}); break;
      case Options::FlattenOptions: u.Set(fb::FlattenOptionsT{}); break;
      case Options::TransposeOptions: u.Set(fb::TransposeOptionsT{}); break;
      case Options::PadOptions: u.Set(fb::PadOptionsT{}); break;
      default: u.Set(fb::HardSigmoidOptionsT{}); break;
    }
    if (one_in(rng, 2)) return;
  }
  switch (u.type) {
    case Options::Conv2DOptions: return mutate_conv(rng, *u.AsConv2DOptions());
    case Options::FullyConnectedOptions: {
      auto& o = *u.AsFullyConnectedOptions();
      return mutate_activation(rng, o.activation, o.clip_min, o.clip_max);
    }
    case Options::MatMulOptions: {
      auto& o = *u.AsMatMulOptions();
      return mutate_activation(rng, o.activation, o.clip_min, o.clip_max);
    }
    case Options::ElementwiseOptions: {
      auto& o = *u.AsElementwiseOptions();
      return mutate_activation(rng, o.activation, o.clip_min, o.clip_max);
    }
    case Options::ConcatOptions: return mutate(rng, u.AsConcatOptions()->axis);
    case Options::PoolOptions: return mutate_pool(rng, *u.AsPoolOptions());
    case Options::ClipOptions: {
      auto& o = *u.AsClipOptions();
      return mutate(rng, one_in(rng, 2) ? o.min : o.max);
    }
    case Options::LeakyReluOptions: return mutate(rng, u.AsLeakyReluOptions()->alpha);
    case Options::GeluOptions: return mutate(rng, u.AsGeluOptions()->approximate);
    case Options::SoftmaxOptions: {
      auto& o = *u.AsSoftmaxOptions();
      if (one_in(rng, 2)) return mutate(rng, o.axis);
      return mutate(rng, o.beta);
    }
    case Options::ReshapeOptions: return mutate_vector(rng, u.AsReshapeOptions()->new_shape);
    case Options::SqueezeOptions: return mutate_vector(rng, u.AsSqueezeOptions()->axes);
    case Options::FlattenOptions: return mutate(rng, u.AsFlattenOptions()->axis);
    case Options::TransposeOptions: return mutate_vector(rng, u.AsTransposeOptions()->perm);
    case Options::PadOptions: {
      auto& o = *u.AsPadOptions();
      switch (pick(rng, 3)) {
        case 0: return mutate_vector(rng, o.pads);
        case 1: return mutate_enum(rng, o.mode, static_cast<int>(fb::PadMode::MAX));
        default: return mutate(rng, o.value);
      }
    }
    case Options::HardSigmoidOptions: {
      auto& o = *u.AsHardSigmoidOptions();
      return mutate(rng, one_in(rng, 2) ? o.alpha : o.beta);
    }
    default: return;
  }
}

// A tensor index: mostly an existing tensor, sometimes -1 or out of range.
int32_t tensor_index(Rng& rng, const fb::ModelT& m) {
  const auto n = static_cast<int32_t>(m.tensors.size());
  switch (pick(rng, 10)) {
    case 0: return -1;
    case 1: return n;
    default: return n == 0 ? 0 : static_cast<int32_t>(pick(rng, static_cast<size_t>(n)));
  }
}

size_t dtype_bytes(fb::DType t) {
  const size_t s = dtype_size(static_cast<DType>(t));
  return s == 0 ? 1 : s;
}

// Gives tensor `t` a fresh constant of exactly its size (or one byte off),
// filled with small values or, for floats, special ones.
void make_constant(Rng& rng, fb::ModelT& m, std::vector<std::vector<uint8_t>>& blobs, size_t t) {
  fb::TensorT& tensor = *m.tensors[t];
  size_t n = 1;
  for (int64_t d : tensor.shape) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<size_t>(d), &n)) return;
  }
  size_t bytes = 0;
  if (__builtin_mul_overflow(n, dtype_bytes(tensor.dtype), &bytes) || bytes > kMaxBlob) return;
  if (one_in(rng, 8)) {  // one byte short or one too many
    if (bytes > 0 && one_in(rng, 2)) {
      --bytes;
    } else {
      ++bytes;
    }
  }
  std::vector<uint8_t> blob(bytes);
  for (auto& b : blob) b = static_cast<uint8_t>(rng());
  if (tensor.dtype == fb::DType::F32 && one_in(rng, 4) && blob.size() >= 4) {
    float special = 0;
    mutate(rng, special);
    std::memcpy(blob.data() + 4 * pick(rng, blob.size() / 4), &special, 4);
  }
  blobs.push_back(std::move(blob));
  tensor.buffer = static_cast<uint32_t>(blobs.size());
}

void mutate_tensor(Rng& rng, fb::ModelT& m, std::vector<std::vector<uint8_t>>& blobs) {
  if (m.tensors.empty()) return;
  const size_t t = pick(rng, m.tensors.size());
  fb::TensorT& tensor = *m.tensors[t];
  switch (pick(rng, 9)) {
    case 0:
    case 1:  // one dimension, or the rank
      if (!tensor.shape.empty() && !one_in(rng, 4)) {
        int64_t& d = tensor.shape[pick(rng, tensor.shape.size())];
        d = one_in(rng, 2) ? mutate_int(rng, d) : std::max<int64_t>(0, wrap_add(d, one_in(rng, 2) ? 1 : -1));
      } else {
        mutate_vector(rng, tensor.shape);
      }
      return;
    case 2: return mutate_enum(rng, tensor.dtype, static_cast<int>(fb::DType::MAX));
    case 3: {  // quantization parameters
      if (!tensor.quantization || one_in(rng, 8)) {
        tensor.quantization = std::make_unique<fb::QuantizationT>();
        tensor.quantization->scale = {0.05f};
        tensor.quantization->zero_point = {tensor.dtype == fb::DType::U8 ? 128 : 0};
        if (one_in(rng, 2)) return;
      }
      fb::QuantizationT& q = *tensor.quantization;
      switch (pick(rng, 6)) {
        case 0: return mutate_vector(rng, q.scale);
        case 1: return mutate_vector(rng, q.zero_point);
        case 2: return mutate(rng, q.axis);
        case 3: return mutate(rng, q.group_size);
        case 4: {  // per axis, one entry per channel
          if (tensor.shape.empty()) return;
          q.axis = static_cast<int32_t>(pick(rng, tensor.shape.size()));
          const int64_t c = tensor.shape[static_cast<size_t>(q.axis)];
          if (c < 0 || c > 4096) return;
          q.scale.assign(static_cast<size_t>(c), q.scale.empty() ? 0.05f : q.scale[0]);
          q.zero_point.assign(static_cast<size_t>(c), 0);
          return;
        }
        default: tensor.quantization.reset(); return;
      }
    }
    case 4: {  // which buffer
      const size_t n = blobs.size() + 1;
      tensor.buffer = one_in(rng, 8) ? static_cast<uint32_t>(n) : static_cast<uint32_t>(pick(rng, n));
      return;
    }
    case 5: return make_constant(rng, m, blobs, t);
    case 6: {  // the constant's bytes: size or contents
      if (tensor.buffer == 0 || tensor.buffer > blobs.size()) return;
      std::vector<uint8_t>& blob = blobs[tensor.buffer - 1];
      if (one_in(rng, 2) || blob.empty()) {
        blob.resize(one_in(rng, 2) ? blob.size() + 1 + pick(rng, 64) : pick(rng, blob.size() + 1));
      } else {
        blob[pick(rng, blob.size())] = static_cast<uint8_t>(rng());
      }
      return;
    }
    case 7: {  // a copy of the tensor, used as some node's output
      m.tensors.push_back(std::make_unique<fb::TensorT>(tensor));
      if (!m.nodes.empty()) {
        auto& outs = m.nodes[pick(rng, m.nodes.size())]->outputs;
        if (!outs.empty()) outs[pick(rng, outs.size())] = static_cast<int32_t>(m.tensors.size() - 1);
      }
      return;
    }
    default:
      tensor.name = one_in(rng, 2) ? std::string() : m.tensors[pick(rng, m.tensors.size())]->name;
      return;
  }
}

void mutate_node(Rng& rng, fb::ModelT& m) {
  if (m.nodes.empty()) return;
  const size_t k = pick(rng, m.nodes.size());
  fb::NodeT& node = *m.nodes[k];
  switch (pick(rng, 8)) {
    case 0: return mutate_enum(rng, node.op, static_cast<int>(fb::OpType::MAX));
    case 1:
    case 2: {  // an input or output index
      auto& v = one_in(rng, 2) || node.outputs.empty() ? node.inputs : node.outputs;
      if (v.empty() || one_in(rng, 6)) {
        v.push_back(tensor_index(rng, m));
      } else if (one_in(rng, 6)) {
        v.erase(v.begin() + static_cast<ptrdiff_t>(pick(rng, v.size())));
      } else {
        v[pick(rng, v.size())] = tensor_index(rng, m);
      }
      return;
    }
    case 3:
    case 4: return mutate_options(rng, node.options);
    case 5: m.nodes.erase(m.nodes.begin() + static_cast<ptrdiff_t>(k)); return;
    case 6: m.nodes.insert(m.nodes.begin() + static_cast<ptrdiff_t>(pick(rng, m.nodes.size() + 1)),
                           std::make_unique<fb::NodeT>(node));
      return;
    default:
      if (m.nodes.size() > 1) std::swap(m.nodes[k], m.nodes[pick(rng, m.nodes.size())]);
      return;
  }
}

void mutate_graph(Rng& rng, fb::ModelT& m) {
  auto& v = one_in(rng, 2) ? m.inputs : m.outputs;
  switch (pick(rng, 6)) {
    case 0: v.push_back(tensor_index(rng, m)); return;
    case 1: if (!v.empty()) v.erase(v.begin() + static_cast<ptrdiff_t>(pick(rng, v.size()))); return;
    case 2: if (!v.empty()) v[pick(rng, v.size())] = tensor_index(rng, m); return;
    case 3: return mutate(rng, m.version_major);
    case 4: return mutate(rng, m.version_minor);
    default: m.description.assign(pick(rng, 64), 'd'); return;
  }
}

// The model's constants, buffer k >= 1 as blobs[k - 1]; a buffer outside the
// file (a corrupt input) becomes an empty blob.
std::vector<std::vector<uint8_t>> read_blobs(const fb::Model& model, const uint8_t* data,
                                             size_t payload) {
  std::vector<std::vector<uint8_t>> blobs;
  const auto* buffers = model.buffers();
  for (size_t i = 1; buffers != nullptr && i < buffers->size(); ++i) {
    const fb::Buffer* b = buffers->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (b->offset() <= payload && b->size() <= payload - b->offset()) {
      blobs.emplace_back(data + b->offset(), data + b->offset() + b->size());
    } else {
      blobs.emplace_back();
    }
  }
  return blobs;
}

// The verifier checks the alignment of a vector's length, not of its 8-byte
// elements (the loader checks those itself); unpacking a misaligned int64
// vector or buffer table would be undefined behaviour in the mutator.
template <class T>
bool aligned8(const flatbuffers::Vector<T>* v) {
  return v == nullptr || reinterpret_cast<uintptr_t>(v->Data()) % 8 == 0;
}

bool wide_vectors_aligned(const fb::Model& model) {
  if (!aligned8(model.buffers())) return false;
  if (const auto* tensors = model.tensors()) {
    for (const fb::Tensor* t : *tensors) {
      if (!aligned8(t->shape())) return false;
      if (t->quantization() != nullptr && !aligned8(t->quantization()->zero_point())) return false;
    }
  }
  if (const auto* nodes = model.nodes()) {
    for (const fb::Node* n : *nodes) {
      if (const auto* r = n->options_as_ReshapeOptions(); r && !aligned8(r->new_shape())) return false;
      if (const auto* p = n->options_as_PadOptions(); p && !aligned8(p->pads())) return false;
    }
  }
  return true;
}

// A union whose type is set but whose table is absent unpacks to a null
// value that Pack would dereference: such a node gets no options.
void drop_empty_options(fb::ModelT& m) {
  for (auto& node : m.nodes) {
    if (node->options.type != fb::Options::NONE && node->options.value == nullptr) {
      node->options.Reset();
    }
  }
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  Rng rng(seed);
  const size_t payload = size >= kTrailer ? size - kTrailer : 0;
  bool parsed = false;
  if (!one_in(rng, 4) && payload > 0 && fb::ModelBufferHasIdentifier(data)) {
    flatbuffers::Verifier verifier(data, payload);
    parsed = fb::VerifyModelBuffer(verifier) && wide_vectors_aligned(*fb::GetModel(data));
  }
  if (!parsed) return reseal(data, LLVMFuzzerMutate(data, size, max_size), max_size);

  const fb::Model* model = fb::GetModel(data);
  // The tree is unpacked before blobs are read: both only read `data`.
  std::unique_ptr<fb::ModelT> tree(model->UnPack());
  drop_empty_options(*tree);
  std::vector<std::vector<uint8_t>> blobs = read_blobs(*model, data, payload);
  const size_t rounds = 1 + pick(rng, 3);
  for (size_t r = 0; r < rounds; ++r) {
    switch (pick(rng, 8)) {
      case 0: case 1: case 2: mutate_tensor(rng, *tree, blobs); break;
      case 3: case 4: case 5: mutate_node(rng, *tree); break;
      default: mutate_graph(rng, *tree); break;
    }
  }
  ModelWriter writer;
  writer.raw() = std::move(*tree);
  writer.raw().buffers.clear();  // ModelWriter lays the data section out again
  writer.blobs() = std::move(blobs);
  const std::vector<uint8_t> out = writer.finish();
  if (out.size() > max_size) return reseal(data, LLVMFuzzerMutate(data, size, max_size), max_size);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}
