// Constant tensors of the ONNX importer: reading TensorProto (inline or
// external data) and folding the ops of shape computations.
#include "host_tensor.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <fmt/format.h>
#include <numeric>

#include <onnx/onnx_pb.h>

namespace quanta::convert::detail {
namespace {

Status bad(const std::string& msg) { return Status{StatusCode::kInvalidModel, msg}; }
Status unsupported(const std::string& msg) { return Status{StatusCode::kUnsupported, msg}; }

const char* onnx_type_name(int t) {
  switch (t) {
    case onnx::TensorProto::FLOAT: return "float";
    case onnx::TensorProto::UINT8: return "uint8";
    case onnx::TensorProto::INT8: return "int8";
    case onnx::TensorProto::UINT16: return "uint16";
    case onnx::TensorProto::INT16: return "int16";
    case onnx::TensorProto::INT32: return "int32";
    case onnx::TensorProto::INT64: return "int64";
    case onnx::TensorProto::STRING: return "string";
    case onnx::TensorProto::BOOL: return "bool";
    case onnx::TensorProto::FLOAT16: return "float16";
    case onnx::TensorProto::DOUBLE: return "double";
    case onnx::TensorProto::UINT32: return "uint32";
    case onnx::TensorProto::UINT64: return "uint64";
    case onnx::TensorProto::BFLOAT16: return "bfloat16";
    default: return "an unknown type";
  }
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  float v = 0;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(man), -24);
  } else if (exp == 31) {
    v = man ? std::nanf("") : INFINITY;
  } else {
    v = std::ldexp(static_cast<float>(man | 0x400), static_cast<int>(exp) - 25);
  }
  return sign ? -v : v;
}

float bf16_to_float(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

size_t elem_bytes(int t) {
  switch (t) {
    case onnx::TensorProto::FLOAT: case onnx::TensorProto::INT32: case onnx::TensorProto::UINT32: return 4;
    case onnx::TensorProto::UINT8: case onnx::TensorProto::INT8: case onnx::TensorProto::BOOL: return 1;
    case onnx::TensorProto::UINT16: case onnx::TensorProto::INT16: case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16: return 2;
    case onnx::TensorProto::INT64: case onnx::TensorProto::DOUBLE: case onnx::TensorProto::UINT64: return 8;
    default: return 0;
  }
}

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

double decode(int t, const uint8_t* p) {
  switch (t) {
    case onnx::TensorProto::FLOAT: return load<float>(p);
    case onnx::TensorProto::DOUBLE: return load<double>(p);
    case onnx::TensorProto::UINT8: return p[0];
    case onnx::TensorProto::INT8: return static_cast<int8_t>(p[0]);
    case onnx::TensorProto::BOOL: return p[0] != 0;
    case onnx::TensorProto::UINT16: return load<uint16_t>(p);
    case onnx::TensorProto::INT16: return load<int16_t>(p);
    case onnx::TensorProto::INT32: return load<int32_t>(p);
    case onnx::TensorProto::UINT32: return load<uint32_t>(p);
    case onnx::TensorProto::INT64: return static_cast<double>(load<int64_t>(p));
    case onnx::TensorProto::UINT64: return static_cast<double>(load<uint64_t>(p));
    case onnx::TensorProto::FLOAT16: return half_to_float(load<uint16_t>(p));
    case onnx::TensorProto::BFLOAT16: return bf16_to_float(load<uint16_t>(p));
    default: return 0;
  }
}

bool is_int_type(int t) {
  return t != onnx::TensorProto::FLOAT && t != onnx::TensorProto::DOUBLE &&
         t != onnx::TensorProto::FLOAT16 && t != onnx::TensorProto::BFLOAT16;
}

// External data: a file beside the model, never outside its directory.
Result<std::string> read_external(const onnx::TensorProto& t, const std::string& base_dir,
                                  const std::string& what, size_t expected) {
  if (base_dir.empty()) {
    return unsupported(fmt::format(
        "{} stores its data in an external file; external data can only be read when the model "
        "is loaded from a file (it is read from the model's directory)",
        what));
  }
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : t.external_data()) {
    if (kv.key() == "location") {
      location = kv.value();
    } else if (kv.key() == "offset" || kv.key() == "length") {
      char* end = nullptr;
      const long long v = std::strtoll(kv.value().c_str(), &end, 10);
      if (kv.value().empty() || *end != '\0' || v < 0) {
        return bad(fmt::format("{}: external data {} = '{}' is not a non-negative integer", what,
                               kv.key(), kv.value()));
      }
      (kv.key() == "offset" ? offset : length) = v;
    }
  }
  namespace fs = std::filesystem;
  const fs::path rel(location);
  if (location.empty() || rel.is_absolute() ||
      std::any_of(rel.begin(), rel.end(), [](const fs::path& p) { return p == ".."; })) {
    return unsupported(fmt::format(
        "{}: external data location '{}' is refused: it must be a relative path inside the "
        "model's directory (no absolute paths, no '..')",
        what, location));
  }
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(fs::path(base_dir), ec);
  const fs::path full = fs::weakly_canonical(base / rel, ec);
  const std::string b = base.string(), f = full.string();
  if (ec || f.compare(0, b.size(), b) != 0) {
    return unsupported(fmt::format("{}: external data '{}' resolves outside the model's directory",
                                   what, location));
  }
  std::ifstream in(full, std::ios::binary);
  if (!in) {
    return Status{StatusCode::kNotFound,
                  fmt::format("{}: external data file '{}' cannot be opened", what, f)};
  }
  in.seekg(0, std::ios::end);
  const int64_t file_size = static_cast<int64_t>(in.tellg());
  if (length < 0) length = static_cast<int64_t>(expected);
  if (offset > file_size || length > file_size - offset) {
    return bad(fmt::format("{}: external data [{}, +{}) is beyond the end of '{}' ({} bytes)",
                           what, offset, length, location, file_size));
  }
  std::string data(static_cast<size_t>(length), '\0');
  in.seekg(offset);
  in.read(data.data(), length);
  if (!in) return Status{StatusCode::kIoError, fmt::format("{}: cannot read '{}'", what, f)};
  return data;
}

}  // namespace

int64_t shape_size(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t HostTensor::size() const { return shape_size(shape); }

std::vector<int64_t> HostTensor::ints() const {
  std::vector<int64_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<int64_t>(v[i]);
  return out;
}

std::vector<float> HostTensor::floats() const {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i]);
  return out;
}

Result<HostTensor> tensor_from_proto(const onnx::TensorProto& t, const std::string& base_dir,
                                     const std::string& what) {
  HostTensor h;
  const int type = t.data_type();
  for (int64_t d : t.dims()) {
    if (d < 0) return bad(fmt::format("{} has a negative dimension {}", what, d));
    h.shape.push_back(d);
  }
  int64_t n = 1;
  for (int64_t d : h.shape) {
    if (d != 0 && n > (int64_t{1} << 40) / d) {
      return bad(fmt::format("{} has an absurd element count (shape too large)", what));
    }
    n *= d;
  }
  const size_t eb = elem_bytes(type);
  if (eb == 0) {
    return unsupported(fmt::format("{} has data type {} ({}); supported: float, double, float16, "
                                   "bfloat16 and integer types",
                                   what, onnx_type_name(type), type));
  }
  h.is_int = is_int_type(type);
  h.v.resize(static_cast<size_t>(n));
  const size_t need = static_cast<size_t>(n) * eb;
  std::string external;
  const std::string* raw = nullptr;
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    auto r = read_external(t, base_dir, what, need);
    if (!r) return r.status();
    external = std::move(*r);
    raw = &external;
  } else if (t.has_raw_data()) {
    raw = &t.raw_data();
  }
  if (raw != nullptr) {
    if (raw->size() != need) {
      return bad(fmt::format("{}: {} bytes of data for shape [{}] of {} (expected {})", what,
                             raw->size(), fmt::join(h.shape, ","), onnx_type_name(type), need));
    }
    const auto* p = reinterpret_cast<const uint8_t*>(raw->data());
    for (int64_t i = 0; i < n; ++i) h.v[i] = decode(type, p + i * eb);
    return h;
  }
  auto check_count = [&](int64_t have) -> Status {
    if (have == n) return Status::Ok();
    return bad(fmt::format("{}: {} values stored for shape [{}] ({} expected)", what, have,
                           fmt::join(h.shape, ","), n));
  };
  switch (type) {
    case onnx::TensorProto::FLOAT:
      if (Status s = check_count(t.float_data_size()); !s.ok()) return s;
      for (int64_t i = 0; i < n; ++i) h.v[i] = t.float_data(static_cast<int>(i));
      break;
    case onnx::TensorProto::DOUBLE:
      if (Status s = check_count(t.double_data_size()); !s.ok()) return s;
      for (int64_t i = 0; i < n; ++i) h.v[i] = t.double_data(static_cast<int>(i));
      break;
    case onnx::TensorProto::INT64:
      if (Status s = check_count(t.int64_data_size()); !s.ok()) return s;
      for (int64_t i = 0; i < n; ++i) h.v[i] = static_cast<double>(t.int64_data(static_cast<int>(i)));
      break;
    case onnx::TensorProto::UINT32:
    case onnx::TensorProto::UINT64:
      if (Status s = check_count(t.uint64_data_size()); !s.ok()) return s;
      for (int64_t i = 0; i < n; ++i) h.v[i] = static_cast<double>(t.uint64_data(static_cast<int>(i)));
      break;
    default:  // int32, int16, int8, uint16, uint8, bool, float16, bfloat16 live in int32_data
      if (Status s = check_count(t.int32_data_size()); !s.ok()) return s;
      for (int64_t i = 0; i < n; ++i) {
        const int32_t raw_v = t.int32_data(static_cast<int>(i));
        if (type == onnx::TensorProto::FLOAT16) {
          h.v[i] = half_to_float(static_cast<uint16_t>(raw_v));
        } else if (type == onnx::TensorProto::BFLOAT16) {
          h.v[i] = bf16_to_float(static_cast<uint16_t>(raw_v));
        } else {
          h.v[i] = raw_v;
        }
      }
      break;
  }
  return h;
}

bool broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                      std::vector<int64_t>* out) {
  const size_t r = std::max(a.size(), b.size());
  out->assign(r, 1);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) return false;
    (*out)[i] = da == 1 ? db : da;
  }
  return true;
}

namespace {
std::vector<int64_t> strides_of(const std::vector<int64_t>& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}
}  // namespace

HostTensor broadcast_to(const HostTensor& t, const std::vector<int64_t>& shape) {
  HostTensor o;
  o.is_int = t.is_int;
  o.shape = shape;
  const size_t r = shape.size();
  std::vector<int64_t> src(r, 1);
  for (size_t i = 0; i < t.shape.size(); ++i) src[r - t.shape.size() + i] = t.shape[i];
  const auto sst = strides_of(src);
  const int64_t n = shape_size(shape);
  o.v.resize(static_cast<size_t>(n));
  std::vector<int64_t> idx(r, 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < r; ++d) off += (src[d] == 1 ? 0 : idx[d]) * sst[d];
    o.v[i] = t.v[off];
    for (size_t d = r; d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return o;
}

HostTensor transpose(const HostTensor& t, const std::vector<int64_t>& perm) {
  HostTensor o;
  o.is_int = t.is_int;
  const size_t r = perm.size();
  o.shape.resize(r);
  for (size_t k = 0; k < r; ++k) o.shape[k] = t.shape[perm[k]];
  const auto ist = strides_of(t.shape);
  const int64_t n = t.size();
  o.v.resize(static_cast<size_t>(n));
  std::vector<int64_t> idx(r, 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (size_t k = 0; k < r; ++k) off += idx[k] * ist[perm[k]];
    o.v[i] = t.v[off];
    for (size_t d = r; d-- > 0;) {
      if (++idx[d] < o.shape[d]) break;
      idx[d] = 0;
    }
  }
  return o;
}

// ------------------------------------------------------------------ folding

namespace {

const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const char* name) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}
int64_t attr_i(const onnx::NodeProto& n, const char* name, int64_t def) {
  const auto* a = find_attr(n, name);
  return a ? a->i() : def;
}
std::vector<int64_t> attr_ints(const onnx::NodeProto& n, const char* name) {
  const auto* a = find_attr(n, name);
  if (!a) return {};
  return {a->ints().begin(), a->ints().end()};
}

Result<int64_t> norm_axis(int64_t axis, int64_t rank, const std::string& where) {
  if (axis < -rank || axis >= rank) {
    return bad(fmt::format("{}: axis {} is out of range for rank {}", where, axis, rank));
  }
  return axis < 0 ? axis + rank : axis;
}

HostTensor binary(const HostTensor& a, const HostTensor& b, const std::vector<int64_t>& shape,
                  const std::string& op) {
  const HostTensor x = broadcast_to(a, shape), y = broadcast_to(b, shape);
  HostTensor o;
  o.is_int = a.is_int && b.is_int;
  o.shape = shape;
  o.v.resize(x.v.size());
  for (size_t i = 0; i < x.v.size(); ++i) {
    const double p = x.v[i], q = y.v[i];
    double r = 0;
    if (op == "Add") r = p + q;
    else if (op == "Sub") r = p - q;
    else if (op == "Mul") r = p * q;
    else if (op == "Div") r = o.is_int ? (q == 0 ? 0 : std::trunc(p / q)) : p / q;
    else if (op == "Pow") r = std::pow(p, q);
    else if (op == "Equal") r = p == q;
    else if (op == "Less") r = p < q;
    else if (op == "Greater") r = p > q;
    else if (op == "Min") r = std::min(p, q);
    else if (op == "Max") r = std::max(p, q);
    // float32 arithmetic: one rounding to float per op.
    o.v[i] = o.is_int ? r : static_cast<double>(static_cast<float>(r));
  }
  if (op == "Equal" || op == "Less" || op == "Greater") o.is_int = true;
  return o;
}

}  // namespace

Result<std::vector<HostTensor>> fold_constant(const onnx::NodeProto& node, int opset,
                                              const std::vector<const HostTensor*>& in,
                                              const std::string& where, bool* handled) {
  *handled = true;
  const std::string& op = node.op_type();
  auto need = [&](size_t k) -> Status {
    if (in.size() >= k && std::all_of(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(k),
                                      [](const HostTensor* t) { return t != nullptr; })) {
      return Status::Ok();
    }
    return bad(fmt::format("{} needs {} inputs, has {}", where, k, in.size()));
  };
  std::vector<HostTensor> out(1);
  HostTensor& o = out[0];

  if (op == "Identity" || op == "Dropout") {
    if (Status s = need(1); !s.ok()) return s;
    o = *in[0];
    return out;
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow" || op == "Equal" ||
      op == "Less" || op == "Greater" || op == "Min" || op == "Max") {
    if (Status s = need(2); !s.ok()) return s;
    if (in.size() != 2 && (op == "Min" || op == "Max")) { *handled = false; return out; }
    std::vector<int64_t> shape;
    if (!broadcast_shapes(in[0]->shape, in[1]->shape, &shape)) {
      return bad(fmt::format("{}: shapes [{}] and [{}] do not broadcast", where,
                             fmt::join(in[0]->shape, ","), fmt::join(in[1]->shape, ",")));
    }
    o = binary(*in[0], *in[1], shape, op);
    return out;
  }
  if (op == "Neg" || op == "Sqrt" || op == "Reciprocal" || op == "Relu" || op == "Abs" ||
      op == "Exp" || op == "Floor" || op == "Ceil" || op == "Not") {
    if (Status s = need(1); !s.ok()) return s;
    o = *in[0];
    for (double& v : o.v) {
      if (op == "Neg") v = -v;
      else if (op == "Sqrt") v = std::sqrt(v);
      else if (op == "Reciprocal") v = 1.0 / v;
      else if (op == "Relu") v = std::max(v, 0.0);
      else if (op == "Abs") v = std::fabs(v);
      else if (op == "Exp") v = std::exp(v);
      else if (op == "Floor") v = std::floor(v);
      else if (op == "Ceil") v = std::ceil(v);
      else if (op == "Not") v = v == 0;
      if (!o.is_int) v = static_cast<float>(v);
    }
    return out;
  }
  if (op == "Cast") {
    if (Status s = need(1); !s.ok()) return s;
    const int64_t to = attr_i(node, "to", 0);
    o = *in[0];
    o.is_int = is_int_type(static_cast<int>(to));
    for (double& v : o.v) {
      if (o.is_int) v = std::trunc(v);
      else if (to == onnx::TensorProto::FLOAT) v = static_cast<float>(v);
      if (to == onnx::TensorProto::BOOL) v = v != 0;
    }
    return out;
  }
  if (op == "Shape") {
    if (Status s = need(1); !s.ok()) return s;
    const int64_t r = static_cast<int64_t>(in[0]->shape.size());
    int64_t start = attr_i(node, "start", 0), end = attr_i(node, "end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::clamp<int64_t>(start, 0, r);
    end = std::clamp<int64_t>(end, start, r);
    o.is_int = true;
    o.shape = {end - start};
    for (int64_t i = start; i < end; ++i) o.v.push_back(static_cast<double>(in[0]->shape[i]));
    return out;
  }
  if (op == "Size") {
    if (Status s = need(1); !s.ok()) return s;
    o.is_int = true;
    o.v = {static_cast<double>(in[0]->size())};
    return out;
  }
  if (op == "Gather") {
    if (Status s = need(2); !s.ok()) return s;
    const HostTensor& data = *in[0];
    const int64_t rank = static_cast<int64_t>(data.shape.size());
    auto ax = norm_axis(attr_i(node, "axis", 0), rank, where);
    if (!ax) return ax.status();
    const int64_t axis = *ax;
    const auto idx = in[1]->ints();
    o.is_int = data.is_int;
    o.shape.assign(data.shape.begin(), data.shape.begin() + axis);
    o.shape.insert(o.shape.end(), in[1]->shape.begin(), in[1]->shape.end());
    o.shape.insert(o.shape.end(), data.shape.begin() + axis + 1, data.shape.end());
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= data.shape[d];
    for (int64_t d = axis + 1; d < rank; ++d) inner *= data.shape[d];
    const int64_t dim = data.shape[axis];
    for (int64_t a = 0; a < outer; ++a) {
      for (int64_t k : idx) {
        const int64_t j = k < 0 ? k + dim : k;
        if (j < 0 || j >= dim) {
          return bad(fmt::format("{}: index {} is out of range for dimension {}", where, k, dim));
        }
        for (int64_t b = 0; b < inner; ++b) o.v.push_back(data.v[(a * dim + j) * inner + b]);
      }
    }
    return out;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    if (Status s = need(1); !s.ok()) return s;
    std::vector<int64_t> axes = attr_ints(node, "axes");
    if (opset >= 13 && in.size() >= 2 && in[1] != nullptr) axes = in[1]->ints();
    o = *in[0];
    if (op == "Unsqueeze") {
      const int64_t r = static_cast<int64_t>(o.shape.size() + axes.size());
      std::vector<int64_t> norm;
      for (int64_t a : axes) {
        auto ax = norm_axis(a, r, where);
        if (!ax) return ax.status();
        norm.push_back(*ax);
      }
      std::sort(norm.begin(), norm.end());
      for (int64_t a : norm) o.shape.insert(o.shape.begin() + a, 1);
    } else {
      const int64_t r = static_cast<int64_t>(o.shape.size());
      std::vector<bool> drop(static_cast<size_t>(r), false);
      if (axes.empty()) {
        for (int64_t d = 0; d < r; ++d) drop[d] = o.shape[d] == 1;
      }
      for (int64_t a : axes) {
        auto ax = norm_axis(a, r, where);
        if (!ax) return ax.status();
        drop[*ax] = true;
      }
      std::vector<int64_t> s;
      for (int64_t d = 0; d < r; ++d) {
        if (!drop[d]) s.push_back(o.shape[d]);
      }
      o.shape = s;
    }
    return out;
  }
  if (op == "Concat") {
    if (in.empty()) return bad(where + " has no inputs");
    for (const HostTensor* t : in) {
      if (!t) return bad(where + ": an input is missing");
    }
    const int64_t rank = static_cast<int64_t>(in[0]->shape.size());
    auto ax = norm_axis(attr_i(node, "axis", 0), rank, where);
    if (!ax) return ax.status();
    const int64_t axis = *ax;
    o.is_int = in[0]->is_int;
    o.shape = in[0]->shape;
    o.shape[axis] = 0;
    for (const HostTensor* t : in) o.shape[axis] += t->shape[axis];
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= o.shape[d];
    for (int64_t a = 0; a < outer; ++a) {
      for (const HostTensor* t : in) {
        const int64_t chunk = t->size() / std::max<int64_t>(outer, 1);
        o.v.insert(o.v.end(), t->v.begin() + a * chunk, t->v.begin() + (a + 1) * chunk);
      }
    }
    return out;
  }
  if (op == "Reshape" || op == "Flatten") {
    if (Status s = need(1); !s.ok()) return s;
    o = *in[0];
    if (op == "Flatten") {
      const int64_t r = static_cast<int64_t>(o.shape.size());
      int64_t axis = attr_i(node, "axis", 1);
      if (axis < 0) axis += r;
      int64_t a = 1;
      for (int64_t d = 0; d < axis; ++d) a *= o.shape[d];
      o.shape = {a, o.size() / std::max<int64_t>(a, 1)};
      return out;
    }
    if (Status s = need(2); !s.ok()) return s;
    std::vector<int64_t> shape = in[1]->ints();
    int64_t known = 1, infer = -1;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == 0 && attr_i(node, "allowzero", 0) == 0) shape[d] = in[0]->shape.at(d);
      if (shape[d] == -1) infer = static_cast<int64_t>(d);
      else known *= shape[d];
    }
    if (infer >= 0) shape[infer] = known ? o.size() / known : 0;
    if (shape_size(shape) != o.size()) {
      return bad(fmt::format("{}: cannot reshape {} elements to [{}]", where, o.size(),
                             fmt::join(shape, ",")));
    }
    o.shape = shape;
    return out;
  }
  if (op == "Transpose") {
    if (Status s = need(1); !s.ok()) return s;
    std::vector<int64_t> perm = attr_ints(node, "perm");
    if (perm.empty()) {
      for (size_t d = in[0]->shape.size(); d-- > 0;) perm.push_back(static_cast<int64_t>(d));
    }
    o = transpose(*in[0], perm);
    return out;
  }
  if (op == "ConstantOfShape") {
    if (Status s = need(1); !s.ok()) return s;
    o.shape = in[0]->ints();
    o.is_int = false;
    double value = 0;
    if (const auto* a = find_attr(node, "value"); a && a->has_t()) {
      auto t = tensor_from_proto(a->t(), "", where + " value");
      if (!t) return t.status();
      o.is_int = t->is_int;
      if (!t->v.empty()) value = t->v[0];
    }
    o.v.assign(static_cast<size_t>(shape_size(o.shape)), value);
    return out;
  }
  if (op == "Slice") {
    if (Status s = need(1); !s.ok()) return s;
    const HostTensor& data = *in[0];
    const int64_t rank = static_cast<int64_t>(data.shape.size());
    std::vector<int64_t> starts, ends, axes, steps;
    if (opset < 10) {
      starts = attr_ints(node, "starts");
      ends = attr_ints(node, "ends");
      axes = attr_ints(node, "axes");
    } else {
      if (Status s = need(3); !s.ok()) return s;
      starts = in[1]->ints();
      ends = in[2]->ints();
      if (in.size() > 3 && in[3]) axes = in[3]->ints();
      if (in.size() > 4 && in[4]) steps = in[4]->ints();
    }
    if (axes.empty()) {
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    }
    if (steps.empty()) steps.assign(starts.size(), 1);
    std::vector<int64_t> b(static_cast<size_t>(rank), 0), st(static_cast<size_t>(rank), 1),
        cnt = data.shape;
    for (size_t i = 0; i < axes.size() && i < starts.size() && i < ends.size(); ++i) {
      auto ax = norm_axis(axes[i], rank, where);
      if (!ax) return ax.status();
      const int64_t dim = data.shape[*ax], step = steps[i];
      if (step == 0) return bad(where + ": slice step 0");
      int64_t s0 = starts[i] < 0 ? starts[i] + dim : starts[i];
      int64_t e0 = ends[i] < 0 ? ends[i] + dim : ends[i];
      if (step > 0) {
        s0 = std::clamp<int64_t>(s0, 0, dim);
        e0 = std::clamp<int64_t>(e0, 0, dim);
        cnt[*ax] = std::max<int64_t>(0, (e0 - s0 + step - 1) / step);
      } else {
        s0 = std::clamp<int64_t>(s0, 0, dim - 1);
        e0 = std::clamp<int64_t>(e0, -1, dim - 1);
        cnt[*ax] = std::max<int64_t>(0, (s0 - e0 - step - 1) / -step);
      }
      b[*ax] = s0;
      st[*ax] = step;
    }
    o.is_int = data.is_int;
    o.shape = cnt;
    const auto dst = strides_of(data.shape);
    const int64_t n = shape_size(cnt);
    std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
    for (int64_t i = 0; i < n; ++i) {
      int64_t off = 0;
      for (int64_t d = 0; d < rank; ++d) off += (b[d] + idx[d] * st[d]) * dst[d];
      o.v.push_back(data.v[off]);
      for (int64_t d = rank; d-- > 0;) {
        if (++idx[d] < cnt[d]) break;
        idx[d] = 0;
      }
    }
    return out;
  }
  if (op == "Range") {
    if (Status s = need(3); !s.ok()) return s;
    const double start = in[0]->v.at(0), limit = in[1]->v.at(0), delta = in[2]->v.at(0);
    if (delta == 0) return bad(where + ": Range delta 0");
    o.is_int = in[0]->is_int;
    const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((limit - start) / delta)));
    for (int64_t i = 0; i < n; ++i) o.v.push_back(start + static_cast<double>(i) * delta);
    o.shape = {n};
    return out;
  }
  *handled = false;
  return out;
}

}  // namespace quanta::convert::detail
