// Python bindings of Quanta: the `_quanta` extension module of the `quanta`
// package (python/quanta/__init__.py re-exports it; docs/python.md).
//
// Only the public headers are used: quanta/quanta.hpp (Model, Session) and
// quanta/converter.hpp (ONNX import, calibration, quantization).
//
// Copies: Session.run() reads a float32 C-contiguous input in place (any
// other array is converted once by NumPy) and writes every output straight
// into a freshly allocated NumPy array (Session::run(inputs, outputs): one
// quantize per input, one dequantize per output, nothing in between).
// Session.input_array() / output_array() are views of the session's arena
// (no copy at all) that keep the Session alive through their base object.
//
// The GIL is released while a model loads, a session is prepared or runs,
// and while a model converts. Calls on one Session are serialized by a mutex
// (a Session runs one inference at a time); use one Session per thread to
// run in parallel.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "quanta/converter.hpp"
#include "quanta/quanta.hpp"

// quanta.__version__: the project version (CMakeLists.txt defines it for
// every target that reports it).
#ifndef QUANTA_VERSION_STRING
#error "QUANTA_VERSION_STRING is defined by CMakeLists.txt"
#endif

namespace py = pybind11;
namespace qc = quanta::convert;
using quanta::DType;
using quanta::Status;
using quanta::StatusCode;
using quanta::TensorInfo;

namespace {

// ------------------------------------------------------------------ errors

// A failed Status on its way to Python: the translator registered in the
// module raises the quanta.* exception of its code with its message.
struct StatusError : std::exception {
  explicit StatusError(Status s) : status(std::move(s)) {}
  const char* what() const noexcept override { return status.message().c_str(); }
  Status status;
};

void check(const Status& s) {
  if (!s.ok()) throw StatusError(s);
}

[[noreturn]] void fail(StatusCode code, std::string message) {
  throw StatusError(Status(code, std::move(message)));
}

// quanta.Error and one subclass per StatusCode (index = the code's value).
// Created once at import; the references are kept for the process lifetime.
constexpr int kNumCodes = static_cast<int>(StatusCode::kResourceExhausted) + 1;
PyObject* g_error = nullptr;
PyObject* g_errors[kNumCodes] = {};

void raise_status(const Status& s) {
  const int c = static_cast<int>(s.code());
  PyObject* type = (c > 0 && c < kNumCodes && g_errors[c] != nullptr) ? g_errors[c] : g_error;
  py::object exc = py::reinterpret_borrow<py::object>(type)(s.message());
  exc.attr("code") = quanta::status_code_name(s.code());
  PyErr_SetObject(type, exc.ptr());
}

PyObject* make_error(py::module_& m, const char* name, const char* doc, StatusCode code,
                     std::vector<PyObject*> extra_bases) {
  py::tuple bases(1 + extra_bases.size());
  bases[0] = py::reinterpret_borrow<py::object>(g_error);
  for (size_t i = 0; i < extra_bases.size(); ++i) {
    bases[i + 1] = py::reinterpret_borrow<py::object>(extra_bases[i]);
  }
  py::dict dict;
  dict["code"] = quanta::status_code_name(code);
  const std::string qualified = std::string("quanta.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), dict.ptr());
  if (type == nullptr) throw py::error_already_set();
  m.attr(name) = py::reinterpret_borrow<py::object>(type);
  g_errors[static_cast<int>(code)] = type;  // the module attribute holds a reference too
  return type;
}

// ------------------------------------------------------------------ helpers

std::string fspath(py::handle path) {
  py::object p = py::module_::import("os").attr("fspath")(path);
  return p.cast<std::string>();  // str or bytes
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

py::tuple shape_tuple(const std::vector<int64_t>& shape) {
  py::tuple t(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) t[i] = py::int_(shape[i]);
  return t;
}

// The NumPy type name of a runtime dtype, or nullptr when NumPy has none
// (bf16, i4: reserved in the format, refused by this runtime).
const char* numpy_name(DType t) {
  switch (t) {
    case DType::kF32: return "float32";
    case DType::kF16: return "float16";
    case DType::kU8: return "uint8";
    case DType::kI8: return "int8";
    case DType::kI32: return "int32";
    case DType::kI64: return "int64";
    case DType::kBF16:
    case DType::kI4: break;
  }
  return nullptr;
}

py::dtype numpy_dtype(const TensorInfo& t, const char* what) {
  const char* n = numpy_name(t.dtype);
  if (n == nullptr) {
    fail(StatusCode::kUnsupported, std::string(what) + " '" + t.name + "': dtype " +
                                       quanta::dtype_name(t.dtype) + " has no NumPy equivalent");
  }
  return py::dtype(n);
}

// NumPy compatibility: pybind11 2.10 (Debian 12) reads a dtype's item size
// from the NumPy 1.x struct layout, which NumPy 2 changed, so
// dtype::itemsize(), array::nbytes() and the default strides of the array
// constructors are wrong under NumPy 2. This module never asks pybind11 for
// them: sizes come from the tensor's own dtype and strides are passed
// explicitly (c_strides).
std::vector<py::ssize_t> c_strides(const std::vector<py::ssize_t>& shape, size_t item) {
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t step = static_cast<py::ssize_t>(item);
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = step;
    step *= shape[d];
  }
  return strides;
}

// Bytes of a C-contiguous array whose elements are `item` bytes.
size_t array_bytes(const py::array& a, size_t item) { return static_cast<size_t>(a.size()) * item; }

py::object dtype_object(DType t) {
  const char* n = numpy_name(t);
  if (n == nullptr) return py::str(quanta::dtype_name(t));
  return py::dtype(n);
}

std::string quoted_names(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "'" : ", '") + n + "'";
  return s.empty() ? "none" : s;
}

std::string type_name(const py::handle& h) {
  return py::str(py::type::handle_of(h).attr("__name__"));
}

// An int (or anything with __index__, such as numpy.int64; not bool).
std::optional<int64_t> as_index(const py::handle& h) {
  if (py::isinstance<py::bool_>(h) || !PyIndex_Check(h.ptr())) return std::nullopt;
  auto i = py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr()));
  if (!i) throw py::error_already_set();
  return i.cast<int64_t>();
}

// Number of MiB from a Python memory limit: None or 0 = the runtime default.
size_t limit_bytes(const py::object& mb, const char* option) {
  if (mb.is_none()) return 0;
  const std::optional<int64_t> n = as_index(mb);
  if (!n) {
    fail(StatusCode::kInvalidArgument,
         std::string(option) + " must be None or a whole number of MiB, not " + type_name(mb));
  }
  const int64_t v = *n;
  if (v < 0 || v > (int64_t{1} << 40)) {
    fail(StatusCode::kInvalidArgument, std::string(option) + " = " + std::to_string(v) +
                                           " is outside [0, 2^40] MiB (0 or None: the default)");
  }
  return static_cast<size_t>(v) << 20;
}

// ------------------------------------------------------------------ Model

struct PyModel {
  std::shared_ptr<const quanta::Model> model;
};

struct PyNode {
  std::string op, name;
  std::vector<std::string> inputs, outputs, source_nodes;
  int64_t macs = 0;
};

PyModel load_model(const std::string& path) {
  quanta::Result<std::shared_ptr<const quanta::Model>> r = Status{};
  {
    py::gil_scoped_release nogil;
    r = quanta::Model::load_file(path);
  }
  check(r.status());
  return PyModel{std::move(*r)};
}

PyModel model_from_bytes(const py::buffer& b) {
  Py_buffer view;
  if (PyObject_GetBuffer(b.ptr(), &view, PyBUF_SIMPLE) != 0) throw py::error_already_set();
  quanta::Result<std::shared_ptr<const quanta::Model>> r = Status{};
  {
    py::gil_scoped_release nogil;
    r = quanta::Model::load_buffer(view.buf, static_cast<size_t>(view.len), /*copy=*/true);
  }
  PyBuffer_Release(&view);
  check(r.status());
  return PyModel{std::move(*r)};
}

std::vector<TensorInfo> model_io(const quanta::Model& m, bool inputs) {
  std::vector<TensorInfo> v;
  const size_t n = inputs ? m.num_inputs() : m.num_outputs();
  for (size_t i = 0; i < n; ++i) v.push_back(inputs ? m.input(i) : m.output(i));
  return v;
}

std::vector<PyNode> model_nodes(const quanta::Model& m) {
  std::vector<PyNode> out;
  const auto& tensors = m.tensors();
  const auto names = [&](const std::vector<int>& idx) {
    std::vector<std::string> v;
    for (int i : idx) v.push_back(i >= 0 && static_cast<size_t>(i) < tensors.size() ? tensors[i].name : "");
    return v;
  };
  for (const quanta::NodeInfo& n : m.nodes()) {
    out.push_back({quanta::op_type_name(n.op), n.name, names(n.inputs), names(n.outputs),
                   n.source_nodes, n.macs});
  }
  return out;
}

// ------------------------------------------------------------------ Session

struct PySession {
  std::shared_ptr<const quanta::Model> model;
  std::unique_ptr<quanta::Session> session;
  std::mutex mu;  // one inference at a time (Session is single-threaded)
};

std::unique_ptr<PySession> make_session(const py::object& model_or_path, int threads,
                                        const std::string& tier, const std::string& backend,
                                        bool profile, const py::object& max_arena_mb,
                                        const py::object& max_prepared_mb) {
  quanta::SessionOptions o;
  o.threads = threads;
  o.profile = profile;
  if (!quanta::parse_kernel_tier(tier, &o.tier)) {
    fail(StatusCode::kInvalidArgument,
         "tier '" + tier + "' is not a kernel tier (auto, ref, avx2, avx512vnni)");
  }
  if (backend == "auto") {
    o.backend = quanta::Backend::kAuto;
  } else if (backend == "own") {
    o.backend = quanta::Backend::kOwn;
  } else if (backend == "onednn") {
    o.backend = quanta::Backend::kOnednn;
  } else {
    fail(StatusCode::kInvalidArgument, "backend '" + backend + "' is not a backend (auto, own, onednn)");
  }
  o.max_arena_bytes = limit_bytes(max_arena_mb, "max_arena_mb");
  o.max_prepared_bytes = limit_bytes(max_prepared_mb, "max_prepared_mb");

  auto s = std::make_unique<PySession>();
  if (py::isinstance<PyModel>(model_or_path)) {
    s->model = model_or_path.cast<const PyModel&>().model;
  } else {
    s->model = load_model(fspath(model_or_path)).model;
  }
  quanta::Result<std::unique_ptr<quanta::Session>> r = Status{};
  {
    py::gil_scoped_release nogil;
    r = quanta::Session::create(s->model, o);
  }
  check(r.status());
  s->session = std::move(*r);
  return s;
}

std::vector<TensorInfo> session_io(const PySession& s, bool inputs) {
  return model_io(s.session->model(), inputs);
}

// A graph input or output by index or name; the library's message otherwise.
size_t resolve(PySession& s, const py::object& key, bool input) {
  const quanta::Model& m = s.session->model();
  const size_t n = input ? m.num_inputs() : m.num_outputs();
  const char* kind = input ? "input" : "output";
  if (py::isinstance<py::str>(key)) {
    const std::string name = key.cast<std::string>();
    const int i = input ? s.session->input_index(name) : s.session->output_index(name);
    if (i < 0) {
      // The lookup fails before anything is touched: the runtime's own words.
      check(input ? s.session->set_input(name, std::span<const float>{})
                  : s.session->get_output(name, std::span<float>{}));
    }
    return static_cast<size_t>(i);
  }
  if (const std::optional<int64_t> index = as_index(key)) {
    const int64_t i = *index;
    if (i < 0 || static_cast<size_t>(i) >= n) {
      fail(StatusCode::kInvalidArgument, std::string(kind) + " index " + std::to_string(i) +
                                             " out of range: the model has " + std::to_string(n) +
                                             " " + kind + "(s)");
    }
    return static_cast<size_t>(i);
  }
  throw py::type_error(std::string(kind) + " must be given by name (str) or index (int)");
}

// A view of input/output i in the session's arena (stored dtype, tensor
// shape); `owner` (the Python Session) is the array's base.
py::array arena_view(const py::object& owner, PySession& s, const py::object& key, bool input) {
  const size_t i = resolve(s, key, input);
  const quanta::TensorView v = input ? s.session->input(i) : s.session->output(i);
  const TensorInfo& t = *v.info;
  py::dtype dt = numpy_dtype(t, input ? "input" : "output");
  std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
  const std::vector<py::ssize_t> strides = c_strides(shape, quanta::dtype_size(t.dtype));
  if (v.data == nullptr || t.num_bytes == 0) return py::array(dt, shape, strides);  // empty tensor
  py::array a(dt, shape, strides, v.data, owner);
  if (!input) a.attr("setflags")(py::arg("write") = false);
  return a;
}

// A feed converted for input `t`: float32 (raw=false) or the stored dtype,
// C-contiguous, shape checked. No copy for an array that already fits.
py::array prepare_feed(const TensorInfo& t, const py::handle& value, bool raw) {
  const char* what = "input";
  py::array a;
  if (!raw) {
    a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(value);
    if (!a) {
      fail(StatusCode::kInvalidArgument,
           "input '" + t.name + "': cannot convert a " + type_name(value) + " to float32");
    }
  } else {
    py::dtype dt = numpy_dtype(t, what);
    py::module_ np = py::module_::import("numpy");
    if (py::isinstance<py::array>(value)) {
      py::array given = py::reinterpret_borrow<py::array>(value);
      if (given.dtype().not_equal(dt)) {
        fail(StatusCode::kInvalidArgument,
             "input '" + t.name + "': raw=True takes the tensor's stored dtype " +
                 std::string(py::str(dt)) + ", got " + std::string(py::str(given.dtype())));
      }
      a = np.attr("ascontiguousarray")(given);
    } else {
      a = np.attr("ascontiguousarray")(value, py::arg("dtype") = dt);
    }
  }
  std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
  const bool exact = shape == t.shape;
  const bool no_batch = !t.shape.empty() && t.shape[0] == 1 &&
                        shape == std::vector<int64_t>(t.shape.begin() + 1, t.shape.end());
  if (!exact && !no_batch) {
    fail(StatusCode::kInvalidArgument,
         "input '" + t.name + "': got an array of shape " + shape_text(shape) +
             ", the tensor's shape is " + shape_text(t.shape) +
             (!t.shape.empty() && t.shape[0] == 1 ? " (the leading batch dimension of 1 may be omitted)"
                                                   : ""));
  }
  return a;
}

void run_locked(PySession& s, std::span<const quanta::InputBuffer> in,
                std::span<const quanta::OutputBuffer> out, bool in_place) {
  Status st;
  {
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(s.mu);
    st = in_place ? s.session->run() : s.session->run(in, out);
  }
  check(st);
}

py::dict session_run(PySession& s, const py::object& feeds_obj, const py::object& outputs_obj,
                     bool raw) {
  const quanta::Model& m = s.session->model();
  // Feeds: a mapping name -> array, or one array for a single-input model.
  std::vector<std::pair<std::string, py::object>> feeds;
  if (PyDict_Check(feeds_obj.ptr()) ||
      py::isinstance(feeds_obj, py::module_::import("collections.abc").attr("Mapping"))) {
    for (py::handle key : feeds_obj) {
      if (!py::isinstance<py::str>(key)) throw py::type_error("feed names must be str");
      feeds.emplace_back(key.cast<std::string>(), feeds_obj[key]);
    }
  } else if (m.num_inputs() == 1) {
    feeds.emplace_back(m.input(0).name, feeds_obj);
  } else {
    throw py::type_error("feeds must be a dict of input name -> array (the model has " +
                         std::to_string(m.num_inputs()) + " inputs)");
  }
  // Unknown names first, in the runtime's words (nothing is touched).
  for (const auto& [name, value] : feeds) {
    if (s.session->input_index(name) < 0) check(s.session->set_input(name, std::span<const float>{}));
  }
  std::vector<py::array> keep;  // the converted feeds, alive until the run returns
  std::vector<quanta::InputBuffer> in;
  keep.reserve(feeds.size());
  for (const auto& [name, value] : feeds) {
    const TensorInfo& t = *s.session->input_info(static_cast<size_t>(s.session->input_index(name)));
    keep.push_back(prepare_feed(t, value, raw));
    const py::array& a = keep.back();
    const DType as = raw ? t.dtype : DType::kF32;
    in.push_back({name, a.data(), array_bytes(a, quanta::dtype_size(as)), as});
  }

  std::vector<std::string> names;
  if (outputs_obj.is_none()) {
    for (size_t i = 0; i < m.num_outputs(); ++i) names.push_back(m.output(i).name);
  } else if (py::isinstance<py::str>(outputs_obj)) {
    names.push_back(outputs_obj.cast<std::string>());
  } else {
    for (py::handle h : outputs_obj) {
      if (!py::isinstance<py::str>(h)) throw py::type_error("output names must be str");
      names.push_back(h.cast<std::string>());
    }
  }
  std::vector<py::array> results;
  std::vector<quanta::OutputBuffer> out;
  for (const std::string& name : names) {
    const int i = s.session->output_index(name);
    if (i < 0) check(s.session->get_output(name, std::span<float>{}));
    const TensorInfo& t = *s.session->output_info(static_cast<size_t>(i));
    std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
    const DType as = raw ? t.dtype : DType::kF32;
    results.emplace_back(raw ? numpy_dtype(t, "output") : py::dtype("float32"), shape,
                         c_strides(shape, quanta::dtype_size(as)));
    out.push_back({name, results.back().mutable_data(), array_bytes(results.back(), quanta::dtype_size(as)),
                   as});
  }
  run_locked(s, in, out, false);
  py::dict result;
  for (size_t k = 0; k < names.size(); ++k) result[py::str(names[k])] = results[k];
  return result;
}

// ------------------------------------------------------------------ convert

// Calibration samples from NumPy arrays (float32, C-contiguous), one per
// graph input, with the shapes open_npy_samples accepts for .npy files.
class ArraySource final : public qc::SampleSource {
 public:
  struct Input {
    std::string name;
    const float* data = nullptr;
    int64_t elements = 0;  // per sample
  };
  ArraySource(std::vector<Input> inputs, int64_t samples)
      : inputs_(std::move(inputs)), samples_(samples) {}

  int64_t size() const override { return samples_; }

  quanta::Result<bool> next(std::vector<std::vector<float>>& sample) override {
    if (index_ >= samples_) return false;
    sample.resize(inputs_.size());
    for (size_t i = 0; i < inputs_.size(); ++i) {
      const Input& in = inputs_[i];
      const float* p = in.data + index_ * in.elements;
      for (int64_t k = 0; k < in.elements; ++k) {
        if (!std::isfinite(p[k])) {
          return Status(StatusCode::kInvalidArgument,
                        "calibration array for input '" + in.name + "': sample " +
                            std::to_string(index_) + " has a non-finite value (" +
                            (std::isnan(p[k]) ? "nan" : p[k] > 0 ? "inf" : "-inf") +
                            ") at element " + std::to_string(k) + " of the sample");
        }
      }
      sample[i].assign(p, p + in.elements);
    }
    ++index_;
    return true;
  }

  Status rewind() override {
    index_ = 0;
    return Status::Ok();
  }

 private:
  std::vector<Input> inputs_;
  int64_t samples_;
  int64_t index_ = 0;
};

// Samples of `input` in an array of shape `a` (the rules of open_npy_samples).
int64_t samples_in(const std::vector<int64_t>& a, const qc::InputSpec& input) {
  const std::vector<int64_t>& s = input.shape;
  if (a == s) return 1;
  if (!s.empty() && a.size() == s.size() && std::equal(a.begin() + 1, a.end(), s.begin() + 1)) {
    if (s[0] <= 0 || a[0] % s[0] != 0) {
      fail(StatusCode::kInvalidArgument,
           "calibration array of shape " + shape_text(a) + " holds " + std::to_string(a[0]) +
               " rows, not a multiple of the batch size " + std::to_string(s[0]) + " of input '" +
               input.name + "' (shape " + shape_text(s) + ")");
    }
    return a[0] / s[0];
  }
  if (a.size() == s.size() + 1 && std::equal(a.begin() + 1, a.end(), s.begin())) return a[0];
  std::string rows = "(N";
  for (size_t k = 1; k < s.size(); ++k) rows += ", " + std::to_string(s[k]);
  std::string stacked = "(N";
  for (int64_t d : s) stacked += ", " + std::to_string(d);
  fail(StatusCode::kInvalidArgument,
       "calibration array of shape " + shape_text(a) + " does not match input '" + input.name +
           "': expected " + shape_text(s) +
           (s.empty() ? "" : ", " + rows + (s.size() == 1 ? ",)" : ")") + " with N a multiple of " +
                                 std::to_string(s[0])) +
           " or " + stacked + (s.empty() ? ",)" : ")"));
}

std::unique_ptr<qc::SampleSource> array_source(const std::vector<std::pair<std::string, py::array>>& arrays,
                                               const std::vector<qc::InputSpec>& inputs) {
  if (inputs.empty()) fail(StatusCode::kInvalidArgument, "calibration data: the model has no inputs");
  std::vector<std::string> names;
  for (const qc::InputSpec& in : inputs) names.push_back(in.name);
  std::vector<ArraySource::Input> bound(inputs.size());
  std::vector<int64_t> counts(inputs.size(), -1);
  for (const auto& [name, a] : arrays) {
    size_t target = inputs.size();
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].name == name) target = i;
    }
    if (name.empty()) {
      if (inputs.size() > 1) {
        fail(StatusCode::kInvalidArgument,
             "calibration array: the model has " + std::to_string(inputs.size()) + " inputs (" +
                 quoted_names(names) + "); give calib as a dict of input name -> array");
      }
      target = 0;
    } else if (target == inputs.size()) {
      fail(StatusCode::kInvalidArgument, "calibration array '" + name + "': not a model input (inputs: " +
                                             quoted_names(names) + ")");
    }
    if (counts[target] >= 0) {
      fail(StatusCode::kInvalidArgument, "calibration array for input '" + inputs[target].name + "' given twice");
    }
    int64_t elements = 1;
    for (int64_t d : inputs[target].shape) elements *= d;
    const std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
    counts[target] = samples_in(shape, inputs[target]);
    bound[target] = {inputs[target].name, static_cast<const float*>(a.data()), elements};
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (counts[i] < 0) {
      fail(StatusCode::kInvalidArgument, "calibration data: no array for input '" + inputs[i].name + "'");
    }
    if (counts[i] != counts[0]) {
      fail(StatusCode::kInvalidArgument,
           "calibration data: input '" + inputs[0].name + "' has " + std::to_string(counts[0]) +
               " samples but input '" + inputs[i].name + "' has " + std::to_string(counts[i]) +
               "; every input needs the same number");
    }
  }
  if (counts[0] == 0) fail(StatusCode::kInvalidArgument, "calibration data: the array holds no samples");
  return std::make_unique<ArraySource>(std::move(bound), counts[0]);
}

// The conversion pipeline of `quanta convert` (tools/cmd_convert.cpp) on
// arguments already checked and normalized by quanta.convert() in
// python/quanta/__init__.py. Returns the summary (the keys of `quanta convert
// --json`) with the model bytes under "data".
py::dict convert(const std::string& model_path, const std::string& precision,
                 const std::vector<std::string>& calib_files, const py::object& calib_arrays,
                 const std::string& calib_dir, int64_t calib_limit, const std::string& method,
                 double percentile, int bins, bool per_tensor, const std::vector<std::string>& exclude,
                 const std::map<std::string, std::vector<int64_t>>& input_shapes, int resize, bool no_crop,
                 const std::vector<float>& mean, const std::vector<float>& stdev, double scale, bool bgr,
                 const std::string& layout, const py::object& max_arena_mb,
                 const py::object& max_prepared_mb, const py::object& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool int8 = precision == "int8";
  qc::ImportOptions io;
  io.input_shapes = input_shapes;
  quanta::SessionOptions limits;
  limits.max_arena_bytes = limit_bytes(max_arena_mb, "max_arena_mb");
  limits.max_prepared_bytes = limit_bytes(max_prepared_mb, "max_prepared_mb");

  // Calibration arrays: (name or "", float32 C-contiguous array) pairs, kept
  // alive here while the GIL is released.
  std::vector<std::pair<std::string, py::array>> arrays;
  if (!calib_arrays.is_none()) {
    for (py::handle item : calib_arrays) {
      auto pair = item.cast<py::tuple>();
      arrays.emplace_back(pair[0].cast<std::string>(),
                          py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(pair[1]));
      if (!arrays.back().second) throw py::type_error("calibration arrays must be numeric");
    }
  }

  quanta::Result<qc::FloatGraphPtr> graph = Status{};
  {
    py::gil_scoped_release nogil;
    graph = qc::import_onnx(model_path, io);
  }
  check(graph.status());
  const qc::FloatGraph& g = **graph;
  const qc::ImportLog& log = qc::import_log(g);

  std::vector<uint8_t> bytes;
  qc::QuantizeReport report;
  qc::Calibration calib;
  std::vector<std::string> calib_warnings;
  if (!int8) {
    quanta::Result<std::vector<uint8_t>> b = Status{};
    {
      py::gil_scoped_release nogil;
      b = qc::build_fp32(g);
    }
    check(b.status());
    bytes = std::move(*b);
  } else {
    qc::QuantizeOptions qo;
    qo.per_channel = !per_tensor;
    qo.exclude = exclude;
    qo.session.max_arena_bytes = limits.max_arena_bytes;
    qo.session.max_prepared_bytes = limits.max_prepared_bytes;
    check(qc::check_quantize_options(g, qo));

    std::unique_ptr<qc::SampleSource> samples;
    if (!arrays.empty()) {
      samples = array_source(arrays, qc::graph_inputs(g));
    } else {
      quanta::Result<std::unique_ptr<qc::SampleSource>> src = Status{};
      {
      py::gil_scoped_release nogil;
      if (!calib_files.empty()) {
        src = qc::open_npy_samples(calib_files, qc::graph_inputs(g));
      } else {
        qc::ImagePreprocess pre;
        pre.resize_shorter = resize;
        pre.crop = !no_crop;
        pre.scale = static_cast<float>(scale);
        if (!mean.empty()) pre.mean = mean;
        if (!stdev.empty()) pre.std = stdev;
        pre.order = bgr ? qc::ChannelOrder::kBGR : qc::ChannelOrder::kRGB;
        pre.layout = layout == "nhwc" ? qc::ImageLayout::kNHWC : qc::ImageLayout::kNCHW;
        src = qc::open_image_dir(calib_dir, qc::graph_inputs(g), pre);
      }
      }
      check(src.status());
      samples = std::move(*src);
    }
    if (calib_limit > 0) samples = qc::limit_samples(std::move(samples), calib_limit);

    qc::CalibrationOptions co;
    co.method = method == "minmax"       ? qc::CalibrationMethod::kMinMax
                : method == "percentile" ? qc::CalibrationMethod::kPercentile
                                         : qc::CalibrationMethod::kMse;
    co.percentile = percentile;
    co.bins = bins;
    co.session.max_arena_bytes = limits.max_arena_bytes;
    co.session.max_prepared_bytes = limits.max_prepared_bytes;
    // After every sample: Ctrl-C, then the caller's progress callback. A
    // Python exception from either stops the calibration (the converter
    // turns the C++ exception into a Status) and is raised again here.
    std::optional<py::error_already_set> raised;
    co.progress = [&](const qc::CalibrationProgress& p) {
      py::gil_scoped_acquire gil;
      try {
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        if (!progress.is_none()) {
          py::dict d;
          d["pass"] = p.pass;
          d["passes"] = p.passes;
          d["what"] = p.what;
          d["done"] = p.done;
          d["total"] = p.total;
          progress(d);
        }
      } catch (py::error_already_set& e) {
        raised.emplace(std::move(e));
        throw std::runtime_error("interrupted from Python");
      }
    };
    quanta::Result<qc::Calibration> c = Status{};
    {
      py::gil_scoped_release nogil;
      c = qc::calibrate(g, *samples, co);
    }
    if (raised) throw std::move(*raised);
    check(c.status());
    calib = std::move(*c);
    for (const auto& [name, r] : calib.ranges) {
      if (r.non_finite > 0) {
        calib_warnings.push_back("tensor '" + name + "' had " + std::to_string(r.non_finite) +
                                 " non-finite values during calibration (ignored)");
      }
    }
    quanta::Result<std::vector<uint8_t>> b = Status{};
    {
      py::gil_scoped_release nogil;
      b = qc::build_int8(g, calib, qo, &report);
    }
    check(b.status());
    bytes = std::move(*b);
  }

  py::dict j;
  j["precision"] = precision;
  j["opset"] = log.opset;
  j["producer"] = log.producer;
  j["onnx_nodes"] = log.onnx_nodes;
  j["runtime_nodes"] = qc::graph_node_count(g);
  j["inputs"] = [&] {
    py::list l;
    for (const qc::InputSpec& in : qc::graph_inputs(g)) {
      py::dict d;
      d["name"] = in.name;
      d["shape"] = shape_tuple(in.shape);
      l.append(d);
    }
    return l;
  }();
  j["rewrites"] = log.rewrites;
  j["warnings"] = log.warnings;
  j["output_bytes"] = bytes.size();
  if (int8) {
    py::dict cal;
    cal["method"] = qc::calibration_method_name(calib.method);
    cal["samples"] = calib.samples;
    j["calibration"] = cal;
    py::list nodes;
    for (const qc::NodeSummary& n : report.nodes) {
      py::dict d;
      d["name"] = n.name;
      d["op"] = n.op;
      d["precision"] = n.precision;
      d["weights"] = n.weights;
      d["output"] = n.output;
      d["floored_channels"] = n.floored_channels;
      nodes.append(d);
    }
    j["nodes"] = nodes;
    j["quantize_warnings"] = report.warnings;
    j["calibration_warnings"] = calib_warnings;
  }
  j["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  j["data"] = py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return j;
}

// The shortest text that reads back as the same float ("0.05", not
// "0.05000000074505806").
std::string float_text(float f) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, f);
  return std::string(buf, r.ptr);
}

std::string tensor_repr(const TensorInfo& t) {
  std::string s = "TensorInfo(name='" + t.name + "', shape=" + shape_text(t.shape) + ", dtype=" +
                  (numpy_name(t.dtype) ? numpy_name(t.dtype) : quanta::dtype_name(t.dtype));
  if (!t.quant.empty()) {
    if (t.quant.per_tensor()) {
      s += ", scale=" + float_text(t.quant.scale[0]) +
           ", zero_point=" + std::to_string(t.quant.zero_point[0]);
    } else {
      s += ", per-axis(" + std::to_string(t.quant.axis) + ") x" + std::to_string(t.quant.scale.size());
    }
  }
  return s + ")";
}

}  // namespace

PYBIND11_MODULE(_quanta, m) {
  m.doc() = "Quanta int8 inference runtime and ONNX converter (C++ extension; use the `quanta` package)";
  m.attr("__version__") = QUANTA_VERSION_STRING;
  m.attr("format_version") = py::make_tuple(quanta::kFormatVersionMajor, quanta::kFormatVersionMinor);
  // The ranges `quanta convert` checks (quanta.convert() checks them too).
  m.attr("_percentile_range") = py::make_tuple(qc::kMinPercentile, qc::kMaxPercentile);
  m.attr("_bins_range") = py::make_tuple(qc::kMinBins, qc::kMaxBins);

  // ---------------------------------------------------------------- errors
  {
    py::dict dict;
    dict["code"] = py::none();
    g_error = PyErr_NewExceptionWithDoc(
        "quanta.Error",
        "Base class of Quanta's errors. str(e) is the library's message; e.code names the "
        "status code (\"invalid argument\", \"not found\", ...).",
        PyExc_Exception, dict.ptr());
    if (g_error == nullptr) throw py::error_already_set();
    m.attr("Error") = py::reinterpret_borrow<py::object>(g_error);
  }
  make_error(m, "InvalidArgument", "A wrong value, name, shape or option (also a ValueError).",
             StatusCode::kInvalidArgument, {PyExc_ValueError});
  make_error(m, "NotFound", "A file does not exist (also a FileNotFoundError).", StatusCode::kNotFound,
             {PyExc_FileNotFoundError});
  make_error(m, "IoError", "A file exists but cannot be read or written (also an OSError).",
             StatusCode::kIoError, {PyExc_OSError});
  make_error(m, "InvalidModel", "A malformed or inconsistent model file.", StatusCode::kInvalidModel, {});
  make_error(m, "Unsupported", "Valid, but not supported by this runtime or converter.",
             StatusCode::kUnsupported, {});
  make_error(m, "InternalError", "A bug in Quanta.", StatusCode::kInternal, {});
  make_error(m, "ResourceExhausted", "A memory limit would be exceeded (also a MemoryError).",
             StatusCode::kResourceExhausted, {PyExc_MemoryError});
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      raise_status(e.status);
    }
  });

  // ---------------------------------------------------------------- TensorInfo
  py::class_<TensorInfo>(m, "TensorInfo",
                         "Name, shape, stored dtype and quantization of a graph input or output.")
      .def_property_readonly("name", [](const TensorInfo& t) { return t.name; })
      .def_property_readonly("shape", [](const TensorInfo& t) { return shape_tuple(t.shape); },
                             "The shape, a tuple of ints.")
      .def_property_readonly("dtype", [](const TensorInfo& t) { return dtype_object(t.dtype); },
                             "The stored dtype as a numpy.dtype (compares equal to 'float32', "
                             "'uint8', ...).")
      .def_property_readonly("quantized", [](const TensorInfo& t) { return !t.quant.empty(); })
      .def_property_readonly("scale", [](const TensorInfo& t) { return t.quant.scale; },
                             "Quantization scales (empty list: not quantized). Real value = "
                             "scale * (q - zero_point).")
      .def_property_readonly("zero_point", [](const TensorInfo& t) { return t.quant.zero_point; })
      .def_property_readonly("axis", [](const TensorInfo& t) { return t.quant.axis; },
                             "Quantization axis; -1: per tensor.")
      .def_property_readonly("num_elements", [](const TensorInfo& t) { return t.num_elements; })
      .def_property_readonly("num_bytes", [](const TensorInfo& t) { return t.num_bytes; })
      .def("__repr__", &tensor_repr);

  py::class_<PyNode>(m, "Node", "One node of a model's graph.")
      .def_readonly("op", &PyNode::op, "The runtime op type, e.g. 'Conv2D'.")
      .def_readonly("name", &PyNode::name)
      .def_readonly("inputs", &PyNode::inputs, "Input tensor names ('' for an omitted input).")
      .def_readonly("outputs", &PyNode::outputs)
      .def_readonly("source_nodes", &PyNode::source_nodes, "Names of the ONNX nodes it came from.")
      .def_readonly("macs", &PyNode::macs, "Multiply-accumulates per run.")
      .def("__repr__", [](const PyNode& n) { return "Node(op='" + n.op + "', name='" + n.name + "')"; });

  // ---------------------------------------------------------------- Model
  py::class_<PyModel>(m, "Model",
                      "A loaded .quanta model (immutable; may be shared by any number of Sessions).\n\n"
                      "Model(path) maps the file read-only; Model.from_bytes(data) copies the bytes.")
      .def(py::init([](const py::object& path) { return load_model(fspath(path)); }), py::arg("path"))
      .def_static("from_bytes", &model_from_bytes, py::arg("data"),
                  "Loads a model from a bytes-like object (the bytes are copied).")
      .def_property_readonly("inputs", [](const PyModel& pm) { return model_io(*pm.model, true); },
                             "Graph inputs: a list of TensorInfo.")
      .def_property_readonly("outputs", [](const PyModel& pm) { return model_io(*pm.model, false); },
                             "Graph outputs: a list of TensorInfo.")
      .def_property_readonly("producer", [](const PyModel& pm) { return pm.model->producer(); })
      .def_property_readonly("description", [](const PyModel& pm) { return pm.model->description(); })
      .def_property_readonly("file_size", [](const PyModel& pm) { return pm.model->file_size(); })
      .def_property_readonly("version", [](const PyModel& pm) {
        return py::make_tuple(pm.model->version_major(), pm.model->version_minor());
      }, "The file's format version (major, minor).")
      .def_property_readonly("nodes", [](const PyModel& pm) { return model_nodes(*pm.model); },
                             "The graph's nodes in execution order: a list of Node.")
      .def_property_readonly("macs", [](const PyModel& pm) {
        int64_t total = 0;
        for (const quanta::NodeInfo& n : pm.model->nodes()) total += n.macs;
        return total;
      }, "Multiply-accumulates per run, all nodes.")
      .def("__repr__", [](const PyModel& pm) {
        return "<quanta.Model '" + pm.model->producer() + "', " + std::to_string(pm.model->num_inputs()) +
               " input(s), " + std::to_string(pm.model->num_outputs()) + " output(s), " +
               std::to_string(pm.model->nodes().size()) + " nodes>";
      });

  // ---------------------------------------------------------------- Session
  py::class_<PySession>(m, "Session",
                        "An inference session: the prepared model and its activation memory.\n\n"
                        "Session(model_or_path, threads=1, tier='auto', backend='auto', profile=False,\n"
                        "        max_arena_mb=None, max_prepared_mb=None)\n\n"
                        "Calls on one Session are serialized; use one Session per thread to run in\n"
                        "parallel (the GIL is released while a session runs).")
      .def(py::init(&make_session), py::arg("model"), py::arg("threads") = 1, py::arg("tier") = "auto",
           py::arg("backend") = "auto", py::arg("profile") = false, py::arg("max_arena_mb") = py::none(),
           py::arg("max_prepared_mb") = py::none())
      .def_property_readonly("model", [](const PySession& s) { return PyModel{s.model}; })
      .def_property_readonly("inputs", [](const PySession& s) { return session_io(s, true); })
      .def_property_readonly("outputs", [](const PySession& s) { return session_io(s, false); })
      .def_property_readonly("tier", [](const PySession& s) {
        return quanta::kernel_tier_name(s.session->tier());
      }, "The kernel tier in use: 'ref', 'avx2' or 'avx512vnni'.")
      .def_property_readonly("backend", [](const PySession& s) {
        return quanta::backend_name(s.session->backend());
      }, "The backend in use: 'own' or 'onednn'.")
      .def_property_readonly("threads", [](const PySession& s) { return s.session->threads(); })
      .def_property_readonly("arena_bytes", [](const PySession& s) { return s.session->arena_bytes(); },
                             "Bytes of the activation arena.")
      .def_property_readonly("prepared_bytes",
                             [](const PySession& s) { return s.session->prepared_bytes(); },
                             "Bytes of prepared state (packed weights, tables).")
      .def("run", &session_run, py::arg("feeds"), py::arg("outputs") = py::none(), py::arg("raw") = false,
           "run(feeds, outputs=None, raw=False) -> dict[str, numpy.ndarray]\n\n"
           "One inference. feeds: {input name: array} (or one array for a single-input model);\n"
           "every input must be given. Arrays are converted to float32 C order (no copy when they\n"
           "already are) and must have the tensor's shape, or that shape without a leading batch\n"
           "dimension of 1. outputs: names to return (default: all). raw=True: feeds and results\n"
           "in the tensors' stored dtypes (e.g. uint8), no quantization.")
      .def("run_in_place", [](PySession& s) { run_locked(s, {}, {}, true); },
           "Runs on the inputs already in the session's memory (written through input_array())\n"
           "and leaves the results there (read them through output_array()). Nothing is copied.")
      .def("input_array", [](const py::object& self, const py::object& key) {
        return arena_view(self, self.cast<PySession&>(), key, true);
      }, py::arg("key"),
           "A writable numpy view (stored dtype, tensor shape) of input `key` (name or index)\n"
           "inside the session's memory; it keeps the Session alive.")
      .def("output_array", [](const py::object& self, const py::object& key) {
        return arena_view(self, self.cast<PySession&>(), key, false);
      }, py::arg("key"),
           "A read-only numpy view of output `key` (name or index) inside the session's memory;\n"
           "its values change with every run.")
      .def("timings", [](PySession& s) {
        std::vector<quanta::NodeTiming> timings;
        {
          std::lock_guard<std::mutex> lock(s.mu);  // not while another thread runs it
          timings = s.session->timings();
        }
        py::list l;
        const auto& nodes = s.session->model().nodes();
        for (const quanta::NodeTiming& t : timings) {
          py::dict d;
          d["node"] = t.node;
          if (t.node >= 0 && static_cast<size_t>(t.node) < nodes.size()) {
            d["name"] = nodes[t.node].name;
            d["op"] = quanta::op_type_name(nodes[t.node].op);
          }
          d["runs"] = t.runs;
          d["total_ns"] = t.total_ns;
          l.append(d);
        }
        return l;
      }, "Per-node wall time summed over the runs since the last reset (profile=True only).")
      .def("reset_timings", [](PySession& s) {
        std::lock_guard<std::mutex> lock(s.mu);
        s.session->reset_timings();
      })
      .def("__repr__", [](const PySession& s) {
        return "<quanta.Session tier=" + std::string(quanta::kernel_tier_name(s.session->tier())) +
               " backend=" + quanta::backend_name(s.session->backend()) +
               " threads=" + std::to_string(s.session->threads()) +
               " arena=" + std::to_string(s.session->arena_bytes()) + "B>";
      });

  m.def("_convert", &convert, py::arg("model"), py::arg("precision"), py::arg("calib_files"),
        py::arg("calib_arrays"), py::arg("calib_dir"), py::arg("calib_limit"), py::arg("method"),
        py::arg("percentile"), py::arg("bins"), py::arg("per_tensor"), py::arg("exclude"),
        py::arg("input_shapes"), py::arg("resize"), py::arg("no_crop"), py::arg("mean"), py::arg("std"),
        py::arg("scale"), py::arg("bgr"), py::arg("layout"), py::arg("max_arena_mb"),
        py::arg("max_prepared_mb"), py::arg("progress"),
        "The conversion pipeline on checked arguments; use quanta.convert().");
}
