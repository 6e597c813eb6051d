// Loader: turns the untrusted bytes of a .quanta file into a validated
// ModelImpl. Order of the checks (each failure returns at once):
//   1. size and file identifier, FlatBuffers verification, format version;
//   2. buffers (range inside the file, alignment), tensors (dtype, shape,
//      element count, quantization parameters, constant data size);
//   3. graph inputs/outputs and nodes (indices, single producer, execution
//      order, cycles);
//   4. check_graph_semantics (ops/shape_check.cpp): per-op rules and shapes.
// Messages name the offending tensor/node and value; the caller (model.cpp)
// prefixes them with the file name.
#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <fmt/format.h>
#include <zlib.h>

#include "model_impl.hpp"
#include "quanta/op_traits.hpp"

namespace quanta::detail {
namespace {

constexpr size_t kIdentifierOffset = 4;
constexpr size_t kTrailerSize = 8;   // "QSUM" + CRC-32 of everything before it
constexpr size_t kMinFileSize = 8 + kTrailerSize;  // root offset + identifier + trailer
constexpr int kMaxRank = 6;
// No single tensor may be larger than this (1 TiB): keeps every byte count
// far from overflow in later arithmetic.
constexpr int64_t kMaxTensorBytes = int64_t{1} << 40;
constexpr uint64_t kBufferAlignment = 64;
constexpr flatbuffers::uoffset_t kVerifierMaxDepth = 32;
constexpr flatbuffers::uoffset_t kVerifierMaxTables = 4'000'000;

// The public OpType is the file's OpType cast by value: every op of the list
// (quanta/op_list.def) has the file's value, and the list has every value of
// the file's enum.
#define QUANTA_OP(name, fb_name, options, display, impl, traits)                  \
  static_assert(static_cast<int>(fb::OpType::fb_name) == static_cast<int>(OpType::k##name), \
                "quanta/op_list.def: " #name " is not at fb::OpType::" #fb_name "'s position");
#include "quanta/op_list.def"
static_assert(static_cast<int>(fb::OpType::MIN) == 0);
static_assert(static_cast<int>(fb::OpType::MAX) + 1 == static_cast<int>(kOpTypeCount),
              "quanta/op_list.def and fb::OpType have different numbers of ops");

Status invalid(std::string message) { return {StatusCode::kInvalidModel, std::move(message)}; }
Status unsupported(std::string message) { return {StatusCode::kUnsupported, std::move(message)}; }

std::string printable_bytes(const uint8_t* p, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = p[i];
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

template <class T>
size_t vsize(const flatbuffers::Vector<T>* v) {
  return v == nullptr ? 0 : v->size();
}

// The FlatBuffers Verifier (2.0.x) checks the 4-byte alignment of a vector's
// length but not the alignment of 8-byte elements (int64 vectors, the Buffer
// struct). A corrupt file could misalign them; reading them would be UB.
template <class T>
bool elements_aligned(const flatbuffers::Vector<T>* v) {
  return v == nullptr || reinterpret_cast<uintptr_t>(v->Data()) % 8 == 0;
}

Status misaligned(const std::string& what) {
  return invalid(fmt::format(
      "FlatBuffers verification failed: {} is not 8-byte aligned (file is corrupt)", what));
}

// Reads only the root table's version fields, verifying just those. Used when
// full verification fails, so that a file from a newer, incompatible major
// version is reported as such rather than as corrupt.
bool peek_version(const uint8_t* base, size_t len, const flatbuffers::Verifier::Options& opts,
                  uint32_t* major, uint32_t* minor) {
  flatbuffers::Verifier v(base, len, opts);
  if (!v.Verify<flatbuffers::uoffset_t>(0)) return false;
  const auto root = flatbuffers::ReadScalar<flatbuffers::uoffset_t>(base);
  if (root >= len) return false;
  const auto* table = reinterpret_cast<const flatbuffers::Table*>(base + root);
  if (!table->VerifyTableStart(v) ||
      !table->VerifyField<uint32_t>(v, fb::Model::VT_VERSION_MAJOR, 4) ||
      !table->VerifyField<uint32_t>(v, fb::Model::VT_VERSION_MINOR, 4)) {
    return false;
  }
  *major = table->GetField<uint32_t>(fb::Model::VT_VERSION_MAJOR, 1);
  *minor = table->GetField<uint32_t>(fb::Model::VT_VERSION_MINOR, 0);
  return true;
}

Status newer_version(uint32_t major, uint32_t minor) {
  return unsupported(fmt::format(
      "format version {}.{} is newer than this runtime ({}.{}); upgrade quanta", major, minor,
      kFormatVersionMajor, kFormatVersionMinor));
}

// "node 3 ('conv1')": a short form for cycle paths.
std::string short_node(const ModelImpl& m, int n) {
  const std::string& name = m.nodes[n].name;
  return name.empty() ? fmt::format("node {}", n) : fmt::format("node {} ('{}')", n, name);
}

class Decoder {
 public:
  explicit Decoder(ModelImpl& impl) : m_(impl) {}

  Status run() {
    if (Status s = check_header(); !s.ok()) return s;
    if (Status s = decode_buffers(); !s.ok()) return s;
    if (Status s = decode_tensors(); !s.ok()) return s;
    if (Status s = decode_graph_io(); !s.ok()) return s;
    if (Status s = decode_nodes(); !s.ok()) return s;
    if (Status s = check_order(); !s.ok()) return s;
    if (Status s = check_outputs_produced(); !s.ok()) return s;
    return check_every_activation_has_a_source();
  }

 private:
  ModelImpl& m_;
  const fb::Model* fbm_ = nullptr;
  size_t payload_ = 0;  // bytes before the trailer
  std::vector<int> producer_;       // per tensor: producing node or -1
  std::vector<char> is_graph_input_;

  // The integrity trailer catches what no structural check can: a flipped
  // bit in a weight, a scale or a name. Checked after the version, so a file
  // from a newer major version is named as such rather than as corrupt.
  Status check_trailer() {
    const uint8_t* t = m_.base + payload_;
    if (std::memcmp(t, "QSUM", 4) != 0) {
      return invalid(fmt::format(
          "the integrity trailer is missing (last 8 bytes are '{}', expected 'QSUM' and a "
          "CRC-32): the file is truncated or was not written by a Quanta writer",
          printable_bytes(t, 4)));
    }
    const uint32_t stored = static_cast<uint32_t>(t[4]) | (static_cast<uint32_t>(t[5]) << 8) |
                            (static_cast<uint32_t>(t[6]) << 16) |
                            (static_cast<uint32_t>(t[7]) << 24);
    const uint32_t computed =
        static_cast<uint32_t>(crc32_z(crc32_z(0L, Z_NULL, 0), m_.base, payload_));
    if (stored != computed) {
      return invalid(fmt::format(
          "checksum mismatch (stored CRC-32 {:08x}, computed {:08x}): the file is corrupt "
          "(bit-flipped, truncated or edited after it was written)",
          stored, computed));
    }
    return Status::Ok();
  }

  Status check_header() {
    if (m_.base == nullptr || m_.size < kMinFileSize) {
      return invalid(fmt::format("file is too small ({} bytes) to be a .quanta model", m_.size));
    }
    if (std::memcmp(m_.base + kIdentifierOffset, fb::ModelIdentifier(), 4) != 0) {
      return invalid(fmt::format(
          "wrong file identifier '{}' (expected '{}'): not a .quanta model",
          printable_bytes(m_.base + kIdentifierOffset, 4), fb::ModelIdentifier()));
    }
    payload_ = m_.size - kTrailerSize;
    // The FlatBuffer comes first; the data section after it may make the file
    // larger than FlatBuffers can address, so verify at most that much.
    const size_t verify_len =
        std::min<size_t>(payload_, static_cast<size_t>(FLATBUFFERS_MAX_BUFFER_SIZE) - 1);
    flatbuffers::Verifier::Options opts;
    opts.max_depth = kVerifierMaxDepth;
    opts.max_tables = kVerifierMaxTables;
    opts.check_alignment = true;
    flatbuffers::Verifier verifier(m_.base, verify_len, opts);
    if (!fb::VerifyModelBuffer(verifier)) {
      uint32_t major = 0;
      uint32_t minor = 0;
      if (peek_version(m_.base, verify_len, opts, &major, &minor) &&
          major > kFormatVersionMajor) {
        return newer_version(major, minor);
      }
      return invalid("FlatBuffers verification failed: file is truncated or corrupt");
    }
    fbm_ = fb::GetModel(m_.base);
    m_.fb = fbm_;
    if (!elements_aligned(fbm_->buffers())) return misaligned("the buffer table");
    m_.version_major = fbm_->version_major();
    m_.version_minor = fbm_->version_minor();
    if (m_.version_major > kFormatVersionMajor) {
      return newer_version(m_.version_major, m_.version_minor);
    }
    if (m_.version_major == 0) {
      return invalid(fmt::format("format version {}.{} is not valid (major versions start at 1)",
                                 m_.version_major, m_.version_minor));
    }
    if (Status s = check_trailer(); !s.ok()) return s;
    m_.producer = fbm_->producer() ? fbm_->producer()->str() : std::string();
    m_.description = fbm_->description() ? fbm_->description()->str() : std::string();
    return Status::Ok();
  }

  // Every buffer entry must lie inside the file and be 64-byte aligned,
  // whether or not a tensor uses it.
  Status decode_buffers() {
    const auto* buffers = fbm_->buffers();
    const size_t n = vsize(buffers);
    if (n > 0) {
      const fb::Buffer* b0 = buffers->Get(0);
      if (b0->offset() != 0 || b0->size() != 0) {
        return invalid(fmt::format(
            "buffer 0 must be the empty sentinel {{offset 0, size 0}}, found {{offset {}, size {}}}",
            b0->offset(), b0->size()));
      }
    }
    for (size_t i = 1; i < n; ++i) {
      const fb::Buffer* b = buffers->Get(static_cast<flatbuffers::uoffset_t>(i));
      const uint64_t offset = b->offset();
      const uint64_t size = b->size();
      uint64_t end = 0;
      if (__builtin_add_overflow(offset, size, &end)) {
        return invalid(fmt::format("buffer {}: offset {} + size {} overflows", i, offset, size));
      }
      if (end > payload_) {
        return invalid(fmt::format(
            "buffer {}: bytes [{}, {}) lie outside the file ({} bytes); the file may be truncated",
            i, offset, end, payload_));
      }
      if (offset % kBufferAlignment != 0) {
        return invalid(fmt::format("buffer {}: offset {} is not aligned to {} bytes", i, offset,
                                   kBufferAlignment));
      }
    }
    return Status::Ok();
  }

  Status decode_tensors() {
    const auto* tensors = fbm_->tensors();
    const size_t n = vsize(tensors);
    if (n > static_cast<size_t>(INT_MAX)) return invalid(fmt::format("too many tensors ({})", n));
    m_.tensors.assign(n, TensorInfo{});
    m_.const_data.assign(n, nullptr);
    // Names first, so that every message can name any tensor.
    for (size_t i = 0; i < n; ++i) {
      const fb::Tensor* t = tensors->Get(static_cast<flatbuffers::uoffset_t>(i));
      std::string name = t->name() ? t->name()->str() : std::string();
      m_.tensors[i].name = name.empty() ? fmt::format("#{}", i) : std::move(name);
    }
    for (size_t i = 0; i < n; ++i) {
      if (Status s = decode_tensor(static_cast<int>(i),
                                   tensors->Get(static_cast<flatbuffers::uoffset_t>(i)));
          !s.ok()) {
        return s;
      }
    }
    return Status::Ok();
  }

  Status decode_tensor(int index, const fb::Tensor* t) {
    TensorInfo& info = m_.tensors[index];
    const std::string what = describe_tensor(m_, index);

    // dtype
    const int raw_dtype = static_cast<int>(t->dtype());
    if (raw_dtype < static_cast<int>(fb::DType::MIN) || raw_dtype > static_cast<int>(fb::DType::MAX)) {
      return invalid(fmt::format("{}: dtype {} is not a valid DType", what, raw_dtype));
    }
    info.dtype = static_cast<DType>(raw_dtype);

    // shape and element count
    const auto* shape = t->shape();
    if (!elements_aligned(shape)) return misaligned(fmt::format("the shape of {}", what));
    const size_t rank = vsize(shape);
    if (rank > static_cast<size_t>(kMaxRank)) {
      return unsupported(fmt::format("{}: rank {} exceeds the maximum rank {} of this runtime",
                                     what, rank, kMaxRank));
    }
    info.shape.resize(rank);
    for (size_t d = 0; d < rank; ++d) {
      const int64_t dim = shape->Get(static_cast<flatbuffers::uoffset_t>(d));
      if (dim < 0) {
        return invalid(fmt::format("{}: shape[{}] = {} is negative (dynamic dimensions are not "
                                   "supported; shapes must be static)",
                                   what, d, dim));
      }
      info.shape[d] = dim;
    }
    // The non-zero dimensions are bounded too (NumPy's rule), so that no
    // partial product, in any order, overflows where a zero dimension makes
    // the tensor empty: [0, 2^32, 2^32] is refused like [2^32, 2^32].
    int64_t span = 1;
    bool empty = false;
    for (int64_t dim : info.shape) {
      if (dim == 0) {
        empty = true;
        continue;
      }
      if (__builtin_mul_overflow(span, dim, &span) || span > kMaxTensorBytes) {
        return invalid(fmt::format("{}: shape {} has too many elements (the count of its non-zero "
                                   "dimensions overflows or exceeds {})",
                                   what, shape_string(info.shape), kMaxTensorBytes));
      }
    }
    const int64_t elements = empty ? 0 : span;
    info.num_elements = elements;

    switch (info.dtype) {
      case DType::kI4:
      case DType::kF16:
      case DType::kBF16:
      case DType::kI64:
        return unsupported(fmt::format("{}: dtype {} is not supported by this runtime yet", what,
                                       dtype_name(info.dtype)));
      default:
        break;
    }
    int64_t span_bytes = 0;
    if (__builtin_mul_overflow(span, static_cast<int64_t>(dtype_size(info.dtype)), &span_bytes) ||
        span_bytes > kMaxTensorBytes) {
      return invalid(fmt::format("{}: shape {} of {} needs more than {} bytes", what,
                                 shape_string(info.shape), dtype_name(info.dtype),
                                 kMaxTensorBytes));
    }
    const int64_t bytes = empty ? 0 : span_bytes;
    info.num_bytes = static_cast<size_t>(bytes);

    // constant data
    const uint32_t buffer = t->buffer();
    if (buffer != 0) {
      const size_t nbuf = vsize(fbm_->buffers());
      if (buffer >= nbuf) {
        return invalid(fmt::format("{}: buffer index {} is out of range (the model has {} buffers)",
                                   what, buffer, nbuf));
      }
      const fb::Buffer* b = fbm_->buffers()->Get(buffer);
      if (b->size() != static_cast<uint64_t>(bytes)) {
        return invalid(fmt::format(
            "{}: buffer {} holds {} bytes but shape {} of {} needs exactly {} bytes", what, buffer,
            b->size(), shape_string(info.shape), dtype_name(info.dtype), bytes));
      }
      info.is_constant = true;
      m_.const_data[index] = m_.base + b->offset();
    }

    // quantization
    if (const fb::Quantization* q = t->quantization()) {
      if (Status s = decode_quant(index, info, q); !s.ok()) return s;
    }
    return Status::Ok();
  }

  Status decode_quant(int index, TensorInfo& info, const fb::Quantization* q) {
    const std::string what = describe_tensor(m_, index);
    const size_t ns = vsize(q->scale());
    const size_t nz = vsize(q->zero_point());
    if (!elements_aligned(q->zero_point())) {
      return misaligned(fmt::format("the zero points of {}", what));
    }
    if (ns == 0) return invalid(fmt::format("{}: quantization has no scale", what));
    if (nz != ns) {
      return invalid(fmt::format("{}: quantization has {} scale(s) but {} zero point(s); the "
                                 "lengths must be equal",
                                 what, ns, nz));
    }
    const int axis = q->axis();
    const int rank = static_cast<int>(info.shape.size());
    if (axis == -1) {
      if (ns != 1) {
        return invalid(fmt::format("{}: per-tensor quantization (axis -1) has {} scales; expected 1",
                                   what, ns));
      }
    } else if (axis < 0 || axis >= rank) {
      return invalid(fmt::format("{}: quantization axis {} is out of range for rank {} (shape {})",
                                 what, axis, rank, shape_string(info.shape)));
    } else if (ns != 1 && static_cast<int64_t>(ns) != info.shape[axis]) {
      return invalid(fmt::format(
          "{}: per-axis quantization has {} scales; expected 1 or shape[{}] = {}", what, ns, axis,
          info.shape[axis]));
    }
    if (q->group_size() < 0) {
      return invalid(fmt::format("{}: group_size {} is negative", what, q->group_size()));
    }
    if (q->group_size() != 0) {
      return unsupported(fmt::format(
          "{}: per-group quantization (group_size {}) is not supported by this runtime yet", what,
          q->group_size()));
    }
    for (size_t i = 0; i < ns; ++i) {
      const float s = q->scale()->Get(static_cast<flatbuffers::uoffset_t>(i));
      if (!std::isfinite(s)) {
        return invalid(fmt::format("{}: scale[{}] = {} is not finite", what, i, s));
      }
      if (!(s > 0.0f)) {
        return invalid(fmt::format("{}: scale[{}] = {} must be > 0", what, i, s));
      }
      if (s < FLT_MIN) {
        return invalid(fmt::format("{}: scale[{}] = {} is denormal (below FLT_MIN = {})", what, i,
                                   s, FLT_MIN));
      }
    }
    int64_t zmin = INT32_MIN;
    int64_t zmax = INT32_MAX;
    switch (info.dtype) {
      case DType::kU8: zmin = 0; zmax = 255; break;
      case DType::kI8: zmin = -128; zmax = 127; break;
      case DType::kI32: zmin = 0; zmax = 0; break;
      default: break;
    }
    // docs/design.md §1: int8 weights are symmetric.
    if (info.dtype == DType::kI8 && info.is_constant) zmin = zmax = 0;
    for (size_t i = 0; i < nz; ++i) {
      const int64_t z = q->zero_point()->Get(static_cast<flatbuffers::uoffset_t>(i));
      if (z < zmin || z > zmax) {
        if (zmin == zmax) {
          const char* why = info.dtype == DType::kI8 ? "int8 weights are symmetric"
                                                     : "i32 tensors such as biases are symmetric";
          return invalid(
              fmt::format("{}: zero_point[{}] = {} must be 0 ({})", what, i, z, why));
        }
        return invalid(fmt::format("{}: zero_point[{}] = {} is outside the {} range [{}, {}]",
                                   what, i, z, dtype_name(info.dtype), zmin, zmax));
      }
    }
    info.quant.scale.assign(q->scale()->begin(), q->scale()->end());
    info.quant.zero_point.resize(nz);
    for (size_t i = 0; i < nz; ++i) {
      info.quant.zero_point[i] =
          static_cast<int32_t>(q->zero_point()->Get(static_cast<flatbuffers::uoffset_t>(i)));
    }
    info.quant.axis = axis;
    info.quant.group_size = 0;
    return Status::Ok();
  }

  Status decode_graph_io() {
    const int nt = static_cast<int>(m_.tensors.size());
    is_graph_input_.assign(m_.tensors.size(), 0);
    const auto* inputs = fbm_->inputs();
    for (size_t i = 0; i < vsize(inputs); ++i) {
      const int t = inputs->Get(static_cast<flatbuffers::uoffset_t>(i));
      if (t < 0 || t >= nt) {
        return invalid(fmt::format(
            "graph input {}: tensor index {} is out of range (the model has {} tensors)", i, t, nt));
      }
      if (m_.tensors[t].is_constant) {
        return invalid(fmt::format("graph input {} is {}, which is a constant", i,
                                   describe_tensor(m_, t)));
      }
      if (is_graph_input_[t]) {
        return invalid(fmt::format("{} is listed more than once as a graph input",
                                   describe_tensor(m_, t)));
      }
      is_graph_input_[t] = 1;
      m_.inputs.push_back(t);
    }
    const auto* outputs = fbm_->outputs();
    if (vsize(outputs) == 0) return invalid("the model has no graph outputs");
    std::vector<char> seen(m_.tensors.size(), 0);
    for (size_t i = 0; i < vsize(outputs); ++i) {
      const int t = outputs->Get(static_cast<flatbuffers::uoffset_t>(i));
      if (t < 0 || t >= nt) {
        return invalid(fmt::format(
            "graph output {}: tensor index {} is out of range (the model has {} tensors)", i, t,
            nt));
      }
      if (seen[t]) {
        return invalid(fmt::format("{} is listed more than once as a graph output",
                                   describe_tensor(m_, t)));
      }
      seen[t] = 1;
      m_.outputs.push_back(t);
    }
    // Inputs and outputs are bound by name (Session::set_input(name, ...),
    // run(inputs, outputs), the C API, Python): two graph inputs, or two
    // graph outputs, with one name would leave one of them unreachable.
    for (const auto& [list, kind] : {std::pair{&m_.inputs, "input"}, std::pair{&m_.outputs, "output"}}) {
      std::unordered_map<std::string_view, size_t> first;
      for (size_t i = 0; i < list->size(); ++i) {
        const std::string& name = m_.tensors[static_cast<size_t>((*list)[i])].name;
        if (auto [it, fresh] = first.emplace(name, i); !fresh) {
          return invalid(fmt::format("graph {}s {} and {} are both named '{}': graph {} names must "
                                     "be unique",
                                     kind, it->second, i, name, kind));
        }
      }
    }
    return Status::Ok();
  }

  Status decode_nodes() {
    const auto* nodes = fbm_->nodes();
    const size_t n = vsize(nodes);
    if (n > static_cast<size_t>(INT_MAX)) return invalid(fmt::format("too many nodes ({})", n));
    const int nt = static_cast<int>(m_.tensors.size());
    // Names first, so that messages can name any node (cycles).
    m_.nodes.assign(n, NodeInfo{});
    m_.fb_nodes.assign(n, nullptr);
    for (size_t j = 0; j < n; ++j) {
      const fb::Node* node = nodes->Get(static_cast<flatbuffers::uoffset_t>(j));
      NodeInfo& info = m_.nodes[j];
      m_.fb_nodes[j] = node;
      info.name = node->name() ? node->name()->str() : std::string();
      if (const auto* src = node->source_nodes()) {
        for (const auto* s : *src) info.source_nodes.push_back(s ? s->str() : std::string());
      }
    }
    producer_.assign(m_.tensors.size(), -1);
    for (size_t jj = 0; jj < n; ++jj) {
      const int j = static_cast<int>(jj);
      const fb::Node* node = m_.fb_nodes[j];
      NodeInfo& info = m_.nodes[j];
      const int raw_op = static_cast<int>(node->op());
      if (raw_op < static_cast<int>(fb::OpType::MIN) || raw_op > static_cast<int>(fb::OpType::MAX)) {
        return invalid(fmt::format("{}: op type {} is not a valid OpType", describe_node(m_, j),
                                   raw_op));
      }
      info.op = static_cast<OpType>(raw_op);
      // Options holding int64 vectors (read later by the op checks).
      if (const auto* o = node->options_as_ReshapeOptions(); o && !elements_aligned(o->new_shape())) {
        return misaligned(fmt::format("the options of {}", describe_node(m_, j)));
      }
      if (const auto* o = node->options_as_PadOptions(); o && !elements_aligned(o->pads())) {
        return misaligned(fmt::format("the options of {}", describe_node(m_, j)));
      }
      const auto* ins = node->inputs();
      for (size_t k = 0; k < vsize(ins); ++k) {
        const int t = ins->Get(static_cast<flatbuffers::uoffset_t>(k));
        if (t != -1 && (t < 0 || t >= nt)) {
          return invalid(fmt::format(
              "{} ({}): input {} is tensor index {}, out of range (the model has {} tensors)",
              describe_node(m_, j), op_type_name(info.op), k, t, nt));
        }
        info.inputs.push_back(t);
      }
      const auto* outs = node->outputs();
      if (vsize(outs) == 0) {
        return invalid(fmt::format("{} ({}) has no outputs", describe_node(m_, j),
                                   op_type_name(info.op)));
      }
      for (size_t k = 0; k < vsize(outs); ++k) {
        const int t = outs->Get(static_cast<flatbuffers::uoffset_t>(k));
        if (t < 0 || t >= nt) {
          return invalid(fmt::format(
              "{} ({}): output {} is tensor index {}, out of range (the model has {} tensors)",
              describe_node(m_, j), op_type_name(info.op), k, t, nt));
        }
        if (m_.tensors[t].is_constant) {
          return invalid(fmt::format("{} writes {}, which is a constant", describe_node(m_, j),
                                     describe_tensor(m_, t)));
        }
        if (is_graph_input_[t]) {
          return invalid(fmt::format("{} writes {}, which is a graph input", describe_node(m_, j),
                                     describe_tensor(m_, t)));
        }
        if (producer_[t] == j) {
          return invalid(fmt::format("{} lists {} more than once as an output",
                                     describe_node(m_, j), describe_tensor(m_, t)));
        }
        if (producer_[t] >= 0) {
          return invalid(fmt::format("{} is produced twice: by {} and by {}",
                                     describe_tensor(m_, t), describe_node(m_, producer_[t]),
                                     describe_node(m_, j)));
        }
        producer_[t] = j;
        info.outputs.push_back(t);
      }
    }
    return Status::Ok();
  }

  // Nodes are stored in execution order: a node may read only constants,
  // graph inputs and tensors produced by an earlier node.
  Status check_order() {
    const int n = static_cast<int>(m_.nodes.size());
    for (int j = 0; j < n; ++j) {
      for (int t : m_.nodes[j].inputs) {
        if (t < 0 || m_.tensors[t].is_constant || is_graph_input_[t]) continue;
        const int p = producer_[t];
        if (p >= 0 && p < j) continue;
        if (p < 0) {
          return invalid(fmt::format(
              "{} reads {}, which no node produces and which is neither a graph input nor a "
              "constant",
              describe_node(m_, j), describe_tensor(m_, t)));
        }
        std::vector<int> cycle = find_cycle(j, p);
        if (!cycle.empty()) {
          std::string path;
          for (size_t i = 0; i < cycle.size(); ++i) {
            if (i > 0) path += " -> ";
            path += short_node(m_, cycle[i]);
          }
          return invalid(fmt::format("the graph has a cycle: {} (through {})", path,
                                     describe_tensor(m_, t)));
        }
        return invalid(fmt::format(
            "{} reads {} before it is produced (by {}); nodes must be stored in execution order",
            describe_node(m_, j), describe_tensor(m_, t), describe_node(m_, p)));
      }
    }
    return Status::Ok();
  }

  // Node `j` reads a tensor produced by node `p` (an edge p -> j). Returns the
  // cycle j -> ... -> p -> j following data flow, or empty if there is none.
  std::vector<int> find_cycle(int j, int p) const {
    if (p == j) return {j, j};
    const int n = static_cast<int>(m_.nodes.size());
    std::vector<std::vector<int>> consumers(n);
    for (int k = 0; k < n; ++k) {
      for (int t : m_.nodes[k].inputs) {
        if (t >= 0 && producer_[t] >= 0) consumers[producer_[t]].push_back(k);
      }
    }
    // Breadth-first from j along data flow (iterative: graphs may be deep).
    std::vector<int> parent(n, -2);
    std::deque<int> queue{j};
    parent[j] = -1;
    while (!queue.empty()) {
      const int u = queue.front();
      queue.pop_front();
      if (u == p) break;
      for (int v : consumers[u]) {
        if (parent[v] == -2) {
          parent[v] = u;
          queue.push_back(v);
        }
      }
    }
    if (parent[p] == -2) return {};
    std::vector<int> path;
    for (int u = p; u != -1; u = parent[u]) path.push_back(u);
    std::reverse(path.begin(), path.end());
    path.push_back(j);
    return path;
  }

  Status check_outputs_produced() {
    for (size_t i = 0; i < m_.outputs.size(); ++i) {
      const int t = m_.outputs[i];
      if (producer_[t] < 0 && !is_graph_input_[t]) {
        return invalid(fmt::format(
            "graph output {} is {}, which no node produces and which is not a graph input", i,
            describe_tensor(m_, t)));
      }
    }
    return Status::Ok();
  }

  // Every activation is either a graph input or produced by exactly one node
  // (the "exactly one" part is checked in decode_nodes).
  Status check_every_activation_has_a_source() {
    for (size_t t = 0; t < m_.tensors.size(); ++t) {
      if (!m_.tensors[t].is_constant && !is_graph_input_[t] && producer_[t] < 0) {
        return invalid(fmt::format(
            "{} is an activation that no node produces and that is not a graph input",
            describe_tensor(m_, static_cast<int>(t))));
      }
    }
    return Status::Ok();
  }
};

}  // namespace

Status decode_model(ModelImpl& impl) {
  Decoder decoder(impl);
  if (Status s = decoder.run(); !s.ok()) return s;
  return check_graph_semantics(impl);
}

}  // namespace quanta::detail
