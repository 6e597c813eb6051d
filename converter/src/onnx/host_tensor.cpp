// Constant tensors of the ONNX importer: reading TensorProto (inline or
// external data) and folding the ops of shape computations.
#include "host_tensor.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <fmt/format.h>
#include <numeric>

#include <onnx/onnx_pb.h>

#include "limits.hpp"

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

// External data: a regular file inside the model's directory. The directory
// and the file are resolved (following every symlink) and the file's path
// must continue the directory's path component by component, so that neither
// "..", an absolute path, a symlink leading out, nor a sibling directory
// whose name merely starts with the directory's name can reach other files.
// `expected` is the byte size of the tensor's shape: the stored length must
// equal it, and the file must hold it, before anything is read.
Result<std::string> read_external(const onnx::TensorProto& t, const std::string& base_dir,
                                  const std::string& what, int64_t expected) {
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
      errno = 0;
      const long long v = std::strtoll(kv.value().c_str(), &end, 10);
      if (kv.value().empty() || *end != '\0' || v < 0 || errno == ERANGE) {
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
  const fs::path base = fs::canonical(fs::path(base_dir), ec);
  if (ec) {
    return Status{StatusCode::kIoError, fmt::format("{}: the model's directory '{}' cannot be "
                                                    "resolved: {}", what, base_dir, ec.message())};
  }
  const fs::path full = fs::canonical(base / rel, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) {
      return Status{StatusCode::kNotFound,
                    fmt::format("{}: external data file '{}' does not exist in the model's "
                                "directory '{}'", what, location, base.string())};
    }
    return Status{StatusCode::kIoError, fmt::format("{}: external data file '{}' cannot be "
                                                    "resolved: {}", what, location, ec.message())};
  }
  const auto diverge = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (diverge.first != base.end()) {
    return unsupported(fmt::format("{}: external data '{}' resolves to '{}', outside the model's "
                                   "directory '{}'", what, location, full.string(), base.string()));
  }
  if (!fs::is_regular_file(full, ec)) {
    return unsupported(fmt::format("{}: external data '{}' is not a regular file", what, location));
  }
  const auto size = fs::file_size(full, ec);
  if (ec) {
    return Status{StatusCode::kIoError, fmt::format("{}: cannot read the size of '{}': {}", what,
                                                    location, ec.message())};
  }
  const int64_t file_size = static_cast<int64_t>(size);
  if (length < 0) length = expected;
  if (length != expected) {
    return bad(fmt::format("{}: external data length {} does not match its shape ({} bytes)", what,
                           length, expected));
  }
  if (offset > file_size || length > file_size - offset) {
    return bad(fmt::format("{}: external data [{}, +{}) is beyond the end of '{}' ({} bytes)",
                           what, offset, length, location, file_size));
  }
  std::ifstream in(full, std::ios::binary);
  if (!in) {
    return Status{StatusCode::kIoError,
                  fmt::format("{}: external data file '{}' cannot be opened", what, location)};
  }
  std::string data(static_cast<size_t>(length), '\0');
  in.seekg(offset);
  in.read(data.data(), length);
  if (!in) return Status{StatusCode::kIoError, fmt::format("{}: cannot read '{}'", what, location)};
  return data;
}

// The values stored in a typed field (float_data, int64_data, ...).
int64_t typed_count(const onnx::TensorProto& t) {
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT: return t.float_data_size();
    case onnx::TensorProto::DOUBLE: return t.double_data_size();
    case onnx::TensorProto::INT64: return t.int64_data_size();
    case onnx::TensorProto::UINT32:
    case onnx::TensorProto::UINT64: return t.uint64_data_size();
    default: return t.int32_data_size();  // int32, int16, int8, uint16, uint8, bool, float16, bfloat16
  }
}

double typed_value(const onnx::TensorProto& t, int i) {
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT: return t.float_data(i);
    case onnx::TensorProto::DOUBLE: return t.double_data(i);
    case onnx::TensorProto::INT64: return static_cast<double>(t.int64_data(i));
    case onnx::TensorProto::UINT32:
    case onnx::TensorProto::UINT64: return static_cast<double>(t.uint64_data(i));
    case onnx::TensorProto::FLOAT16: return half_to_float(static_cast<uint16_t>(t.int32_data(i)));
    case onnx::TensorProto::BFLOAT16: return bf16_to_float(static_cast<uint16_t>(t.int32_data(i)));
    default: return t.int32_data(i);
  }
}

std::string number(double elements) {
  return std::fabs(elements) < 1e15 ? fmt::format("{:.0f}", elements) : fmt::format("{}", elements);
}

}  // namespace

int64_t HostTensor::size() const { return shape_size(shape); }

std::vector<float> HostTensor::floats() const {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i]);
  return out;
}

Result<std::vector<int64_t>> int_values(const HostTensor& t, const std::string& what) {
  constexpr double kTwo63 = 9223372036854775808.0;
  std::vector<int64_t> out(t.v.size());
  for (size_t i = 0; i < t.v.size(); ++i) {
    const double x = t.v[i];
    if (!std::isfinite(x) || (!t.is_int && !(x > -kTwo63 - 1 && x < kTwo63))) {
      return bad(fmt::format("{} holds {}, which is not an int64 value", what, x));
    }
    out[i] = x >= kTwo63 ? INT64_MAX : static_cast<int64_t>(x);
  }
  return out;
}

Status FoldBudget::charge(double elements, const std::string& where) {
  const std::string size = fmt::format("{} elements ({} as float32)", number(elements),
                                       byte_size(elements * 4.0));
  if (!(elements <= static_cast<double>(per_tensor))) {
    return unsupported(fmt::format("{}: folding would create {}, above the {} limit for one folded "
                                   "constant", where, size, limit_size(static_cast<double>(per_tensor) * 4.0)));
  }
  const int64_t n = static_cast<int64_t>(elements);
  if (n > total - used) {
    return unsupported(fmt::format("{}: folding would create {}, which takes the constants folded "
                                   "so far past the {} limit for all folded constants together",
                                   where, size, limit_size(static_cast<double>(total) * 4.0)));
  }
  used += n;
  return Status::Ok();
}

Result<HostTensor> tensor_from_proto(const onnx::TensorProto& t, const std::string& base_dir,
                                     const std::string& what) {
  HostTensor h;
  const int type = t.data_type();
  h.shape.assign(t.dims().begin(), t.dims().end());
  if (std::string p = shape_problem(h.shape, false); !p.empty()) {
    return bad(fmt::format("{}: shape {} {}", what, shape_str(h.shape), p));
  }
  const int64_t n = bounded_elements(h.shape);
  const size_t eb = elem_bytes(type);
  if (eb == 0) {
    return unsupported(fmt::format("{} has data type {} ({}); supported: float, double, float16, "
                                   "bfloat16 and integer types",
                                   what, onnx_type_name(type), type));
  }
  h.is_int = is_int_type(type);
  // The data must be there before anything is allocated for it.
  const int64_t need = n * static_cast<int64_t>(eb);
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
    if (raw->size() != static_cast<size_t>(need)) {
      return bad(fmt::format("{}: {} bytes of data for shape [{}] of {} (expected {})", what,
                             raw->size(), fmt::join(h.shape, ","), onnx_type_name(type), need));
    }
    h.v.resize(static_cast<size_t>(n));
    const auto* p = reinterpret_cast<const uint8_t*>(raw->data());
    for (int64_t i = 0; i < n; ++i) h.v[i] = decode(type, p + i * static_cast<int64_t>(eb));
    return h;
  }
  if (const int64_t have = typed_count(t); have != n) {
    return bad(fmt::format("{}: {} values stored for shape [{}] ({} expected)", what, have,
                           fmt::join(h.shape, ","), n));
  }
  h.v.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) h.v[i] = typed_value(t, static_cast<int>(i));
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

// Slice of one axis: the first index, the step and the count, with ONNX's
// clamping, in arithmetic that cannot overflow.
struct SliceAxis {
  int64_t begin = 0, step = 1, count = 0;
};
SliceAxis slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step) {
  SliceAxis s;
  // Every step of magnitude >= dim takes at most one element: clamping keeps
  // -step and the index arithmetic below inside int64.
  s.step = std::clamp<int64_t>(step, -std::max<int64_t>(dim, 1), std::max<int64_t>(dim, 1));
  if (dim == 0) return s;
  const int64_t s0 = start < 0 ? start + dim : start;  // no overflow: dim >= 0
  const int64_t e0 = end < 0 ? end + dim : end;
  if (s.step > 0) {
    const int64_t b = std::clamp<int64_t>(s0, 0, dim), e = std::clamp<int64_t>(e0, 0, dim);
    s.begin = b;
    s.count = e > b ? (e - b - 1) / s.step + 1 : 0;
  } else {
    const int64_t b = std::clamp<int64_t>(s0, 0, dim - 1), e = std::clamp<int64_t>(e0, -1, dim - 1);
    s.begin = b;
    s.count = b > e ? (b - e - 1) / -s.step + 1 : 0;
  }
  return s;
}

}  // namespace

HostTensor shape_of(const std::vector<int64_t>& shape, const onnx::NodeProto& node) {
  const int64_t r = static_cast<int64_t>(shape.size());
  int64_t start = attr_i(node, "start", 0), end = attr_i(node, "end", r);
  if (start < 0) start = std::max<int64_t>(start, -r) + r;
  if (end < 0) end = std::max<int64_t>(end, -r) + r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, start, r);
  HostTensor o;
  o.is_int = true;
  o.shape = {end - start};
  for (int64_t i = start; i < end; ++i) o.v.push_back(static_cast<double>(shape[i]));
  return o;
}

Result<std::vector<int64_t>> squeeze_shape(const std::vector<int64_t>& shape,
                                           const std::vector<int64_t>& axes, bool unsqueeze,
                                           const std::string& where) {
  const int64_t in_rank = static_cast<int64_t>(shape.size());
  const int64_t rank = unsqueeze ? in_rank + static_cast<int64_t>(axes.size()) : in_rank;
  std::vector<bool> marked(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    auto ax = norm_axis(a, rank, where);
    if (!ax) return ax.status();
    if (marked[*ax]) return bad(fmt::format("{}: axes {} repeat an axis", where, shape_str(axes)));
    marked[*ax] = true;
    if (!unsqueeze && shape[*ax] != 1) {
      return bad(fmt::format("{}: cannot squeeze axis {} of shape {} (size {} is not 1)", where, a,
                             shape_str(shape), shape[*ax]));
    }
  }
  std::vector<int64_t> out;
  if (unsqueeze) {
    auto next = shape.begin();
    for (int64_t d = 0; d < rank; ++d) out.push_back(marked[d] ? 1 : *next++);
    return out;
  }
  for (int64_t d = 0; d < rank; ++d) {
    const bool drop = axes.empty() ? shape[d] == 1 : marked[d];
    if (!drop) out.push_back(shape[d]);
  }
  return out;
}

Result<std::vector<HostTensor>> fold_constant(const onnx::NodeProto& node, int opset,
                                              const std::vector<const HostTensor*>& in,
                                              const std::string& where, FoldBudget& budget,
                                              bool* handled) {
  *handled = true;
  const std::string& op = node.op_type();
  for (const HostTensor* t : in) {
    if (t != nullptr && (bounded_elements(t->shape) < 0 ||
                         t->v.size() != static_cast<size_t>(bounded_elements(t->shape)))) {
      return Status{StatusCode::kInternal,
                    fmt::format("{}: a constant input of shape {} holds {} values", where,
                                shape_str(t->shape), t->v.size())};
    }
  }
  auto need = [&](size_t k) -> Status {
    if (in.size() >= k && std::all_of(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(k),
                                      [](const HostTensor* t) { return t != nullptr; })) {
      return Status::Ok();
    }
    return bad(fmt::format("{} needs {} inputs, has {}", where, k, in.size()));
  };
  auto ints_of = [&](size_t i, const char* role) {
    return int_values(*in[i], fmt::format("{}: input {} ({})", where, i, role));
  };
  // The output's shape must be bounded and its size fit the budget before it is computed.
  auto reserve = [&](const std::vector<int64_t>& shape) -> Status {
    if (std::string p = shape_problem(shape, false); !p.empty()) {
      return bad(fmt::format("{}: the folded shape {} {}", where, shape_str(shape), p));
    }
    return budget.charge(static_cast<double>(bounded_elements(shape)), where);
  };
  std::vector<HostTensor> out(1);
  HostTensor& o = out[0];

  if (op == "Identity" || op == "Dropout") {
    if (Status s = need(1); !s.ok()) return s;
    if (Status s = reserve(in[0]->shape); !s.ok()) return s;
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
    if (Status s = reserve(shape); !s.ok()) return s;
    o = binary(*in[0], *in[1], shape, op);
    return out;
  }
  if (op == "Neg" || op == "Sqrt" || op == "Reciprocal" || op == "Relu" || op == "Abs" ||
      op == "Exp" || op == "Floor" || op == "Ceil" || op == "Not") {
    if (Status s = need(1); !s.ok()) return s;
    if (Status s = reserve(in[0]->shape); !s.ok()) return s;
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
    if (Status s = reserve(in[0]->shape); !s.ok()) return s;
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
    o = shape_of(in[0]->shape, node);
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
    auto idx = ints_of(1, "indices");
    if (!idx) return idx.status();
    const int64_t dim = data.shape[axis];
    for (int64_t& k : *idx) {
      if (k < -dim || k >= dim) {
        return bad(fmt::format("{}: index {} is out of range for dimension {}", where, k, dim));
      }
      if (k < 0) k += dim;
    }
    o.is_int = data.is_int;
    o.shape.assign(data.shape.begin(), data.shape.begin() + axis);
    o.shape.insert(o.shape.end(), in[1]->shape.begin(), in[1]->shape.end());
    o.shape.insert(o.shape.end(), data.shape.begin() + axis + 1, data.shape.end());
    if (Status s = reserve(o.shape); !s.ok()) return s;
    int64_t outer = 1, inner = 1;  // partial products of a bounded shape
    for (int64_t d = 0; d < axis; ++d) outer *= data.shape[d];
    for (int64_t d = axis + 1; d < rank; ++d) inner *= data.shape[d];
    o.v.reserve(static_cast<size_t>(bounded_elements(o.shape)));
    for (int64_t a = 0; a < outer; ++a) {
      for (int64_t j : *idx) {
        for (int64_t b = 0; b < inner; ++b) o.v.push_back(data.v[(a * dim + j) * inner + b]);
      }
    }
    return out;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    if (Status s = need(1); !s.ok()) return s;
    std::vector<int64_t> axes = attr_ints(node, "axes");
    if (opset >= 13 && in.size() >= 2 && in[1] != nullptr) {
      auto a = ints_of(1, "axes");
      if (!a) return a.status();
      axes = std::move(*a);
    }
    auto shape = squeeze_shape(in[0]->shape, axes, op == "Unsqueeze", where);
    if (!shape) return shape.status();
    if (Status s = reserve(*shape); !s.ok()) return s;
    o = *in[0];
    o.shape = std::move(*shape);
    return out;
  }
  if (op == "Concat") {
    if (in.empty()) return bad(where + " has no inputs");
    for (const HostTensor* t : in) {
      if (!t) return bad(where + ": an input is missing");
    }
    const std::vector<int64_t>& s0 = in[0]->shape;
    const int64_t rank = static_cast<int64_t>(s0.size());
    auto ax = norm_axis(attr_i(node, "axis", 0), rank, where);
    if (!ax) return ax.status();
    const int64_t axis = *ax;
    o.is_int = in[0]->is_int;
    o.shape = s0;
    o.shape[axis] = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      const std::vector<int64_t>& s = in[i]->shape;
      if (static_cast<int64_t>(s.size()) != rank) {
        return bad(fmt::format("{}: input {} has shape {}; every input must have rank {}", where,
                               i, shape_str(s), rank));
      }
      for (int64_t d = 0; d < rank; ++d) {
        if (d != axis && s[d] != s0[d]) {
          return bad(fmt::format("{}: input {} has shape {}, which differs from {} outside axis {}",
                                 where, i, shape_str(s), shape_str(s0), axis));
        }
      }
      if (!checked_add(o.shape[axis], s[axis], &o.shape[axis])) {
        return bad(fmt::format("{}: the concatenated axis overflows", where));
      }
    }
    if (Status s = reserve(o.shape); !s.ok()) return s;
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= o.shape[d];
    if (outer == 0) return out;
    for (int64_t a = 0; a < outer; ++a) {
      for (const HostTensor* t : in) {
        const int64_t chunk = t->size() / outer;
        o.v.insert(o.v.end(), t->v.begin() + a * chunk, t->v.begin() + (a + 1) * chunk);
      }
    }
    return out;
  }
  if (op == "Reshape" || op == "Flatten") {
    if (Status s = need(1); !s.ok()) return s;
    const std::vector<int64_t>& s0 = in[0]->shape;
    const int64_t r = static_cast<int64_t>(s0.size());
    const int64_t size = in[0]->size();
    std::vector<int64_t> shape;
    if (op == "Flatten") {
      int64_t axis = attr_i(node, "axis", 1);
      if (axis < -r || axis > r) {
        return bad(fmt::format("{}: axis {} is out of range for rank {}", where, axis, r));
      }
      if (axis < 0) axis += r;
      int64_t a = 1, b = 1;  // partial products of a bounded shape
      for (int64_t d = 0; d < r; ++d) (d < axis ? a : b) *= s0[d];
      shape = {a, b};
    } else {
      if (Status s = need(2); !s.ok()) return s;
      auto spec = ints_of(1, "shape");
      if (!spec) return spec.status();
      const std::vector<int64_t> given = std::move(*spec);
      shape = given;
      const bool allowzero = attr_i(node, "allowzero", 0) != 0;
      int64_t known = 1, infer = -1;
      for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 0 && !allowzero) {
          if (static_cast<int64_t>(d) >= r) {
            return bad(fmt::format("{}: shape {} copies dimension {} that the input {} does not "
                                   "have", where, shape_str(given), d, shape_str(s0)));
          }
          shape[d] = s0[d];
        }
        if (shape[d] == -1) {
          if (infer >= 0) return bad(fmt::format("{}: shape {} has more than one -1", where, shape_str(given)));
          infer = static_cast<int64_t>(d);
        } else if (shape[d] < 0) {
          return bad(fmt::format("{}: shape {} has the invalid dimension {}", where,
                                 shape_str(given), shape[d]));
        } else if (!checked_mul(known, shape[d], &known) || known > kMaxTensorElements) {
          return bad(fmt::format("{}: cannot reshape {} to {}", where, shape_str(s0),
                                 shape_str(given)));
        }
      }
      if (infer >= 0) {
        if (known == 0 || size % known != 0) {
          return bad(fmt::format("{}: cannot reshape {} to {}", where, shape_str(s0),
                                 shape_str(given)));
        }
        shape[infer] = size / known;
      }
      if (bounded_elements(shape) != size) {
        return bad(fmt::format("{}: cannot reshape {} elements to {}", where, size,
                               shape_str(shape)));
      }
    }
    if (Status s = reserve(shape); !s.ok()) return s;
    o = *in[0];
    o.shape = std::move(shape);
    return out;
  }
  if (op == "Transpose") {
    if (Status s = need(1); !s.ok()) return s;
    const size_t rank = in[0]->shape.size();
    std::vector<int64_t> perm = attr_ints(node, "perm");
    if (perm.empty()) {
      for (size_t d = rank; d-- > 0;) perm.push_back(static_cast<int64_t>(d));
    }
    std::vector<int64_t> sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    for (size_t d = 0; d < sorted.size() || d < rank; ++d) {
      if (sorted.size() != rank || sorted[d] != static_cast<int64_t>(d)) {
        return bad(fmt::format("{}: perm {} is not a permutation of the {} axes", where,
                               shape_str(perm), rank));
      }
    }
    if (Status s = reserve(in[0]->shape); !s.ok()) return s;
    o = transpose(*in[0], perm);
    return out;
  }
  if (op == "ConstantOfShape") {
    if (Status s = need(1); !s.ok()) return s;
    auto shape = ints_of(0, "shape");
    if (!shape) return shape.status();
    if (Status s = reserve(*shape); !s.ok()) return s;
    o.shape = std::move(*shape);
    o.is_int = false;
    double value = 0;
    if (const auto* a = find_attr(node, "value"); a && a->has_t()) {
      auto t = tensor_from_proto(a->t(), "", where + " value");
      if (!t) return t.status();
      o.is_int = t->is_int;
      if (!t->v.empty()) value = t->v[0];
    }
    o.v.assign(static_cast<size_t>(bounded_elements(o.shape)), value);
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
      const char* roles[] = {"starts", "ends", "axes", "steps"};
      std::vector<int64_t>* dst[] = {&starts, &ends, &axes, &steps};
      for (size_t i = 1; i < 5 && i < in.size(); ++i) {
        if (in[i] == nullptr) continue;
        auto v = ints_of(i, roles[i - 1]);
        if (!v) return v.status();
        *dst[i - 1] = std::move(*v);
      }
    }
    if (axes.empty()) {
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    }
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
      return bad(fmt::format("{}: starts, ends, axes and steps have {}, {}, {} and {} values; they "
                             "must have one per sliced axis", where, starts.size(), ends.size(),
                             axes.size(), steps.size()));
    }
    std::vector<int64_t> b(static_cast<size_t>(rank), 0), st(static_cast<size_t>(rank), 1),
        cnt = data.shape;
    std::vector<bool> seen(static_cast<size_t>(rank), false);
    for (size_t i = 0; i < axes.size(); ++i) {
      auto ax = norm_axis(axes[i], rank, where);
      if (!ax) return ax.status();
      if (seen[*ax]) return bad(fmt::format("{}: axes {} repeat an axis", where, shape_str(axes)));
      seen[*ax] = true;
      if (steps[i] == 0) return bad(where + ": slice step 0");
      const SliceAxis s = slice_axis(data.shape[*ax], starts[i], ends[i], steps[i]);
      b[*ax] = s.begin;
      st[*ax] = s.step;
      cnt[*ax] = s.count;
    }
    if (Status s = reserve(cnt); !s.ok()) return s;
    o.is_int = data.is_int;
    o.shape = cnt;
    const auto dst = strides_of(data.shape);
    const int64_t n = bounded_elements(cnt);
    std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
    o.v.reserve(static_cast<size_t>(n));
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
    const char* roles[] = {"start", "limit", "delta"};
    for (size_t i = 0; i < 3; ++i) {
      if (in[i]->v.size() != 1) {
        return bad(fmt::format("{}: {} has {} values; start, limit and delta must be scalars",
                               where, roles[i], in[i]->v.size()));
      }
    }
    const double start = in[0]->v[0], limit = in[1]->v[0], delta = in[2]->v[0];
    if (delta == 0) return bad(where + ": Range delta 0");
    const double count = std::max(0.0, std::ceil((limit - start) / delta));
    if (!std::isfinite(count)) {
      return bad(fmt::format("{}: the element count ceil((limit - start) / delta) = {} is not "
                             "finite", where, count));
    }
    if (Status s = budget.charge(count, where); !s.ok()) return s;
    const int64_t n = static_cast<int64_t>(count);
    o.is_int = in[0]->is_int;
    o.v.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) o.v.push_back(start + static_cast<double>(i) * delta);
    o.shape = {n};
    return out;
  }
  *handled = false;
  return out;
}

}  // namespace quanta::convert::detail
