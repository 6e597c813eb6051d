// The C API (quanta/quanta.h) over the public C++ API (quanta/quanta.hpp).
//
// Every entry point checks its arguments before touching the C++ API (which
// trusts its caller for pointers), converts enums by value after a range
// check, and runs inside guarded(): no exception crosses the C boundary
// (std::bad_alloc becomes QUANTA_ERROR_RESOURCE_EXHAUSTED, anything else
// QUANTA_ERROR_INTERNAL). A failure stores "<status name>: <function>:
// <message>" in a thread-local string that quanta_last_error() returns.
#include <algorithm>
#include <cstddef>
#include <exception>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "quanta/quanta.h"
#include "quanta/quanta.hpp"

#ifndef QUANTA_VERSION_STRING
#error "QUANTA_VERSION_STRING is defined by CMakeLists.txt"
#endif

// Handles. A model handle owns a reference to the shared Model; a session
// owns its Session and a handle of its own on the same Model, which
// quanta_session_model() lends out (`borrowed`: quanta_model_free ignores it).
struct quanta_model {
  std::shared_ptr<const quanta::Model> model;
  bool borrowed = false;
};

struct quanta_session {
  std::unique_ptr<quanta::Session> session;
  quanta_model model;
};

namespace {

using quanta::StatusCode;

// ------------------------------------------------------------ enum checks

#define QUANTA_SAME_VALUE(c, cpp) static_assert(static_cast<int>(c) == static_cast<int>(cpp), #c)
QUANTA_SAME_VALUE(QUANTA_OK, StatusCode::kOk);
QUANTA_SAME_VALUE(QUANTA_ERROR_INVALID_ARGUMENT, StatusCode::kInvalidArgument);
QUANTA_SAME_VALUE(QUANTA_ERROR_NOT_FOUND, StatusCode::kNotFound);
QUANTA_SAME_VALUE(QUANTA_ERROR_IO, StatusCode::kIoError);
QUANTA_SAME_VALUE(QUANTA_ERROR_INVALID_MODEL, StatusCode::kInvalidModel);
QUANTA_SAME_VALUE(QUANTA_ERROR_UNSUPPORTED, StatusCode::kUnsupported);
QUANTA_SAME_VALUE(QUANTA_ERROR_INTERNAL, StatusCode::kInternal);
QUANTA_SAME_VALUE(QUANTA_ERROR_RESOURCE_EXHAUSTED, StatusCode::kResourceExhausted);
QUANTA_SAME_VALUE(QUANTA_DTYPE_F32, quanta::DType::kF32);
QUANTA_SAME_VALUE(QUANTA_DTYPE_F16, quanta::DType::kF16);
QUANTA_SAME_VALUE(QUANTA_DTYPE_BF16, quanta::DType::kBF16);
QUANTA_SAME_VALUE(QUANTA_DTYPE_U8, quanta::DType::kU8);
QUANTA_SAME_VALUE(QUANTA_DTYPE_I8, quanta::DType::kI8);
QUANTA_SAME_VALUE(QUANTA_DTYPE_I32, quanta::DType::kI32);
QUANTA_SAME_VALUE(QUANTA_DTYPE_I4, quanta::DType::kI4);
QUANTA_SAME_VALUE(QUANTA_DTYPE_I64, quanta::DType::kI64);
QUANTA_SAME_VALUE(QUANTA_TIER_AUTO, quanta::KernelTier::kAuto);
QUANTA_SAME_VALUE(QUANTA_TIER_REF, quanta::KernelTier::kRef);
QUANTA_SAME_VALUE(QUANTA_TIER_AVX2, quanta::KernelTier::kAvx2);
QUANTA_SAME_VALUE(QUANTA_TIER_AVX512VNNI, quanta::KernelTier::kAvx512Vnni);
QUANTA_SAME_VALUE(QUANTA_BACKEND_AUTO, quanta::Backend::kAuto);
QUANTA_SAME_VALUE(QUANTA_BACKEND_OWN, quanta::Backend::kOwn);
QUANTA_SAME_VALUE(QUANTA_BACKEND_ONEDNN, quanta::Backend::kOnednn);
#undef QUANTA_SAME_VALUE

// C gives these enums an int-sized type too (every value fits an int), so
// C and C++ agree on the layout of the structs that hold them.
static_assert(sizeof(quanta_status) == sizeof(int) && sizeof(quanta_tier) == sizeof(int) &&
              sizeof(quanta_backend) == sizeof(int) && sizeof(quanta_dtype) == sizeof(int));

constexpr int kLastStatus = QUANTA_ERROR_RESOURCE_EXHAUSTED;
constexpr int kLastDType = QUANTA_DTYPE_I64;
constexpr int kLastTier = QUANTA_TIER_AVX512VNNI;
constexpr int kLastBackend = QUANTA_BACKEND_ONEDNN;

// ------------------------------------------------------------ errors

thread_local std::string t_last_error;

// Stores `text` as this thread's last error; never throws.
void store_error(std::string_view text) noexcept {
  try {
    t_last_error.assign(text);
  } catch (...) {
    // "out of memory" fits the small-string buffer: assigning it after
    // clear() does not allocate.
    t_last_error.clear();
    t_last_error.assign("out of memory");
  }
}

// Records a failure of `fn` ("<status>: <fn>: <message><detail>") and
// returns its code.
quanta_status fail(StatusCode code, const char* fn, std::string_view message,
                   std::string_view detail = {}) noexcept {
  try {
    std::string text = quanta::status_code_name(code);
    text += ": ";
    text += fn;
    text += ": ";
    text += message;
    text += detail;
    store_error(text);
  } catch (...) {
    store_error("out of memory");
  }
  return static_cast<quanta_status>(static_cast<int>(code));
}

quanta_status invalid(const char* fn, std::string_view message) noexcept {
  return fail(StatusCode::kInvalidArgument, fn, message);
}

// Converts a C++ Status; records it when it is a failure.
quanta_status from_status(const quanta::Status& s, const char* fn) noexcept {
  if (s.ok()) return QUANTA_OK;
  return fail(s.code(), fn, s.message());
}

// Runs `body` (returning quanta_status) with every exception turned into an
// error code: no exception may cross the C boundary.
template <class F>
quanta_status guarded(const char* fn, F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(StatusCode::kResourceExhausted, fn, "out of memory");
  } catch (const std::exception& e) {
    return fail(StatusCode::kInternal, fn, "unexpected exception: ", e.what());
  } catch (...) {
    return fail(StatusCode::kInternal, fn, "unexpected exception of unknown type");
  }
}

std::string null_arg(const char* what) { return std::string(what) + " is NULL"; }

std::string null_data(const char* size_name, size_t size) {
  return std::string("data is NULL but ") + size_name + " is " + std::to_string(size);
}

std::string index_error(const char* kind, size_t index, size_t count) {
  return std::string(kind) + " index " + std::to_string(index) + " out of range: the model has " +
         std::to_string(count) + " " + kind + "(s)";
}

// "'a', 'b'" or "none".
std::string tensor_names(const quanta::Model& m, bool inputs) {
  std::string out;
  const size_t n = inputs ? m.num_inputs() : m.num_outputs();
  for (size_t i = 0; i < n; ++i) {
    const quanta::TensorInfo& t = inputs ? m.input(i) : m.output(i);
    out += (out.empty() ? "'" : ", '") + t.name + "'";
  }
  return out.empty() ? "none" : out;
}

void fill_info(const quanta::TensorInfo& t, quanta_tensor_info* out) {
  quanta_tensor_info info{};
  info.name = t.name.c_str();
  info.rank = t.shape.size();
  info.shape = t.shape.empty() ? nullptr : t.shape.data();
  info.dtype = static_cast<quanta_dtype>(static_cast<int>(t.dtype));
  info.num_elements = t.num_elements > 0 ? static_cast<size_t>(t.num_elements) : 0;
  info.num_bytes = t.num_bytes;
  const size_t n = std::min(t.quant.scale.size(), t.quant.zero_point.size());
  info.num_scales = n;
  info.scales = n ? t.quant.scale.data() : nullptr;
  info.zero_points = n ? t.quant.zero_point.data() : nullptr;
  info.quant_axis = t.quant.axis;
  *out = info;
}

quanta_status model_info(const quanta_model* model, size_t index, quanta_tensor_info* out,
                         bool input, const char* fn) {
  return guarded(fn, [&] {
    if (model == nullptr) return invalid(fn, null_arg("model"));
    if (out == nullptr) return invalid(fn, null_arg("out"));
    const quanta::Model& m = *model->model;
    const size_t n = input ? m.num_inputs() : m.num_outputs();
    if (index >= n) return invalid(fn, index_error(input ? "input" : "output", index, n));
    fill_info(input ? m.input(index) : m.output(index), out);
    return QUANTA_OK;
  });
}

quanta_status model_find(const quanta_model* model, const char* name, size_t* index, bool input,
                         const char* fn) {
  return guarded(fn, [&] {
    if (model == nullptr) return invalid(fn, null_arg("model"));
    if (name == nullptr) return invalid(fn, null_arg("name"));
    if (index == nullptr) return invalid(fn, null_arg("index"));
    const quanta::Model& m = *model->model;
    const int i = input ? m.find_input(name) : m.find_output(name);
    if (i < 0) {
      return invalid(fn, std::string("no ") + (input ? "input" : "output") + " named '" + name +
                             "': the model's " + (input ? "inputs" : "outputs") + " are " +
                             tensor_names(m, input));
    }
    *index = static_cast<size_t>(i);
    return QUANTA_OK;
  });
}

// sizeof the first version's quanta_session_options, whose last field is
// max_prepared_bytes: the smallest struct_size accepted (fields appended
// later do not change it). The layout has no padding, so an appended field
// always lies beyond it.
constexpr size_t kOptionsV1Size =
    offsetof(quanta_session_options, max_prepared_bytes) + sizeof(size_t);
static_assert(kOptionsV1Size == sizeof(quanta_session_options),
              "quanta_session_options must have no padding");
// struct_size above this is taken for garbage (an options struct that was
// never initialized) rather than read.
constexpr size_t kOptionsMaxSize = 1024;

// Reads the caller's options (NULL: defaults) into `out`.
quanta_status convert_options(const quanta_session_options* in, quanta::SessionOptions* out,
                              const char* fn) {
  *out = quanta::SessionOptions{};
  if (in == nullptr) return QUANTA_OK;
  const size_t size = in->struct_size;
  if (size < kOptionsV1Size || size > kOptionsMaxSize) {
    return invalid(fn, "options->struct_size = " + std::to_string(size) +
                           " is not the size of a quanta_session_options (at least " +
                           std::to_string(kOptionsV1Size) +
                           "): fill the struct with quanta_session_options_init first");
  }
  // Fields of a later version this library does not know: accepted only
  // when they hold their default (all zero bytes), as the caller's init
  // left them.
  const auto* bytes = reinterpret_cast<const unsigned char*>(in);
  for (size_t k = sizeof(quanta_session_options); k < size; ++k) {
    if (bytes[k] != 0) {
      return fail(StatusCode::kUnsupported, fn,
                  "options->struct_size = " + std::to_string(size) +
                      ": this library (" QUANTA_VERSION_STRING ") knows the first " +
                      std::to_string(sizeof(quanta_session_options)) +
                      " bytes of quanta_session_options, and byte " + std::to_string(k) +
                      " is set; it needs a newer library");
    }
  }
  const int tier = static_cast<int>(in->tier);
  if (tier < 0 || tier > kLastTier) {
    return invalid(fn, "options->tier = " + std::to_string(tier) +
                           " is not a quanta_tier (QUANTA_TIER_AUTO .. QUANTA_TIER_AVX512VNNI)");
  }
  const int backend = static_cast<int>(in->backend);
  if (backend < 0 || backend > kLastBackend) {
    return invalid(fn, "options->backend = " + std::to_string(backend) +
                           " is not a quanta_backend (QUANTA_BACKEND_AUTO .. "
                           "QUANTA_BACKEND_ONEDNN)");
  }
  out->threads = in->threads;  // range checked by Session::create
  out->tier = static_cast<quanta::KernelTier>(tier);
  out->backend = static_cast<quanta::Backend>(backend);
  out->max_arena_bytes = in->max_arena_bytes;
  out->max_prepared_bytes = in->max_prepared_bytes;
  out->profile = in->profile != 0;
  return QUANTA_OK;
}

// A session query: checks `session` and `out`, then stores get(session).
template <class T, class Get>
quanta_status session_query(const char* fn, const quanta_session* session, T* out, Get get) {
  return guarded(fn, [&] {
    if (session == nullptr) return invalid(fn, null_arg("session"));
    if (out == nullptr) return invalid(fn, null_arg("out"));
    *out = get(*session->session);
    return QUANTA_OK;
  });
}

}  // namespace

extern "C" {

// ------------------------------------------------------------ status, names

const char* quanta_status_name(quanta_status status) {
  const int v = static_cast<int>(status);
  if (v < 0 || v > kLastStatus) return "unknown status";
  return quanta::status_code_name(static_cast<StatusCode>(v));
}

const char* quanta_last_error(void) { return t_last_error.c_str(); }

const char* quanta_version(void) { return QUANTA_VERSION_STRING; }

const char* quanta_dtype_name(quanta_dtype dtype) {
  const int v = static_cast<int>(dtype);
  if (v < 0 || v > kLastDType) return "unknown";
  return quanta::dtype_name(static_cast<quanta::DType>(v));
}

size_t quanta_dtype_size(quanta_dtype dtype) {
  const int v = static_cast<int>(dtype);
  if (v < 0 || v > kLastDType) return 0;
  return quanta::dtype_size(static_cast<quanta::DType>(v));
}

const char* quanta_tier_name(quanta_tier tier) {
  const int v = static_cast<int>(tier);
  if (v < 0 || v > kLastTier) return "unknown";
  return quanta::kernel_tier_name(static_cast<quanta::KernelTier>(v));
}

quanta_status quanta_tier_parse(const char* name, quanta_tier* tier) {
  static const char* const fn = "quanta_tier_parse";
  return guarded(fn, [&] {
    if (name == nullptr) return invalid(fn, null_arg("name"));
    if (tier == nullptr) return invalid(fn, null_arg("tier"));
    quanta::KernelTier t{};
    if (!quanta::parse_kernel_tier(name, &t)) {
      return invalid(
          fn, std::string("'") + name + "' is not a kernel tier (auto, ref, avx2, avx512vnni)");
    }
    *tier = static_cast<quanta_tier>(static_cast<int>(t));
    return QUANTA_OK;
  });
}

const char* quanta_backend_name(quanta_backend backend) {
  const int v = static_cast<int>(backend);
  if (v < 0 || v > kLastBackend) return "unknown";
  return quanta::backend_name(static_cast<quanta::Backend>(v));
}

// ------------------------------------------------------------ model

quanta_status quanta_model_load_file(const char* path, quanta_model** out) {
  static const char* const fn = "quanta_model_load_file";
  if (out != nullptr) *out = nullptr;
  return guarded(fn, [&] {
    if (path == nullptr) return invalid(fn, null_arg("path"));
    if (out == nullptr) return invalid(fn, null_arg("out"));
    auto loaded = quanta::Model::load_file(path);
    if (!loaded) return from_status(loaded.status(), fn);
    auto handle = std::make_unique<quanta_model>();
    handle->model = std::move(loaded.value());
    *out = handle.release();
    return QUANTA_OK;
  });
}

quanta_status quanta_model_load_buffer(const void* data, size_t size, int copy,
                                       quanta_model** out) {
  static const char* const fn = "quanta_model_load_buffer";
  if (out != nullptr) *out = nullptr;
  return guarded(fn, [&] {
    if (data == nullptr) return invalid(fn, null_arg("data"));
    if (out == nullptr) return invalid(fn, null_arg("out"));
    auto loaded = quanta::Model::load_buffer(data, size, copy != 0);
    if (!loaded) return from_status(loaded.status(), fn);
    auto handle = std::make_unique<quanta_model>();
    handle->model = std::move(loaded.value());
    *out = handle.release();
    return QUANTA_OK;
  });
}

void quanta_model_free(quanta_model* model) {
  if (model == nullptr || model->borrowed) return;
  delete model;
}

quanta_status quanta_model_num_inputs(const quanta_model* model, size_t* out) {
  static const char* const fn = "quanta_model_num_inputs";
  return guarded(fn, [&] {
    if (model == nullptr) return invalid(fn, null_arg("model"));
    if (out == nullptr) return invalid(fn, null_arg("out"));
    *out = model->model->num_inputs();
    return QUANTA_OK;
  });
}

quanta_status quanta_model_num_outputs(const quanta_model* model, size_t* out) {
  static const char* const fn = "quanta_model_num_outputs";
  return guarded(fn, [&] {
    if (model == nullptr) return invalid(fn, null_arg("model"));
    if (out == nullptr) return invalid(fn, null_arg("out"));
    *out = model->model->num_outputs();
    return QUANTA_OK;
  });
}

quanta_status quanta_model_input_info(const quanta_model* model, size_t index,
                                      quanta_tensor_info* out) {
  return model_info(model, index, out, true, "quanta_model_input_info");
}

quanta_status quanta_model_output_info(const quanta_model* model, size_t index,
                                       quanta_tensor_info* out) {
  return model_info(model, index, out, false, "quanta_model_output_info");
}

quanta_status quanta_model_find_input(const quanta_model* model, const char* name, size_t* index) {
  return model_find(model, name, index, true, "quanta_model_find_input");
}

quanta_status quanta_model_find_output(const quanta_model* model, const char* name, size_t* index) {
  return model_find(model, name, index, false, "quanta_model_find_output");
}

quanta_status quanta_model_num_nodes(const quanta_model* model, size_t* out) {
  static const char* const fn = "quanta_model_num_nodes";
  return guarded(fn, [&] {
    if (model == nullptr) return invalid(fn, null_arg("model"));
    if (out == nullptr) return invalid(fn, null_arg("out"));
    *out = model->model->nodes().size();
    return QUANTA_OK;
  });
}

quanta_status quanta_model_node_info(const quanta_model* model, size_t index, const char** name,
                                     const char** op, int64_t* macs) {
  static const char* const fn = "quanta_model_node_info";
  return guarded(fn, [&] {
    if (model == nullptr) return invalid(fn, null_arg("model"));
    const auto& nodes = model->model->nodes();
    if (index >= nodes.size()) return invalid(fn, index_error("node", index, nodes.size()));
    const quanta::NodeInfo& n = nodes[index];
    if (name != nullptr) *name = n.name.c_str();
    if (op != nullptr) *op = quanta::op_type_name(n.op);
    if (macs != nullptr) *macs = n.macs;
    return QUANTA_OK;
  });
}

// ------------------------------------------------------------ session

void quanta_session_options_init(quanta_session_options* options) {
  if (options == nullptr) return;
  const quanta::SessionOptions d;
  quanta_session_options o{};
  o.struct_size = sizeof(quanta_session_options);
  o.threads = d.threads;
  o.tier = static_cast<quanta_tier>(static_cast<int>(d.tier));
  o.backend = static_cast<quanta_backend>(static_cast<int>(d.backend));
  o.max_arena_bytes = d.max_arena_bytes;
  o.max_prepared_bytes = d.max_prepared_bytes;
  o.profile = d.profile ? 1 : 0;
  *options = o;
}

quanta_status quanta_session_create(const quanta_model* model,
                                    const quanta_session_options* options, quanta_session** out) {
  static const char* const fn = "quanta_session_create";
  if (out != nullptr) *out = nullptr;
  return guarded(fn, [&] {
    if (model == nullptr) return invalid(fn, null_arg("model"));
    if (out == nullptr) return invalid(fn, null_arg("out"));
    quanta::SessionOptions opts;
    if (quanta_status st = convert_options(options, &opts, fn); st != QUANTA_OK) return st;
    auto created = quanta::Session::create(model->model, opts);
    if (!created) return from_status(created.status(), fn);
    auto handle = std::make_unique<quanta_session>();
    handle->session = std::move(created.value());
    handle->model.model = model->model;
    handle->model.borrowed = true;
    *out = handle.release();
    return QUANTA_OK;
  });
}

void quanta_session_free(quanta_session* session) { delete session; }

const quanta_model* quanta_session_model(const quanta_session* session) {
  return session == nullptr ? nullptr : &session->model;
}

quanta_status quanta_session_tier(const quanta_session* session, quanta_tier* out) {
  return session_query("quanta_session_tier", session, out,
                       [](const quanta::Session& s) {
                         return static_cast<quanta_tier>(static_cast<int>(s.tier()));
                       });
}

quanta_status quanta_session_backend(const quanta_session* session, quanta_backend* out) {
  return session_query("quanta_session_backend", session, out,
                       [](const quanta::Session& s) {
                         return static_cast<quanta_backend>(static_cast<int>(s.backend()));
                       });
}

quanta_status quanta_session_threads(const quanta_session* session, int* out) {
  return session_query("quanta_session_threads", session, out,
                       [](const quanta::Session& s) { return s.threads(); });
}

quanta_status quanta_session_arena_bytes(const quanta_session* session, size_t* out) {
  return session_query("quanta_session_arena_bytes", session, out,
                       [](const quanta::Session& s) { return s.arena_bytes(); });
}

quanta_status quanta_session_set_input_f32(quanta_session* session, size_t index, const float* data,
                                           size_t count) {
  static const char* const fn = "quanta_session_set_input_f32";
  return guarded(fn, [&] {
    if (session == nullptr) return invalid(fn, null_arg("session"));
    if (data == nullptr && count != 0) return invalid(fn, null_data("count", count));
    return from_status(session->session->set_input(index, std::span<const float>(data, count)), fn);
  });
}

quanta_status quanta_session_set_input_f32_by_name(quanta_session* session, const char* name,
                                                   const float* data, size_t count) {
  static const char* const fn = "quanta_session_set_input_f32_by_name";
  return guarded(fn, [&] {
    if (session == nullptr) return invalid(fn, null_arg("session"));
    if (name == nullptr) return invalid(fn, null_arg("name"));
    if (data == nullptr && count != 0) return invalid(fn, null_data("count", count));
    return from_status(
        session->session->set_input(std::string_view(name), std::span<const float>(data, count)),
        fn);
  });
}

quanta_status quanta_session_set_input_raw(quanta_session* session, size_t index, const void* data,
                                           size_t bytes) {
  static const char* const fn = "quanta_session_set_input_raw";
  return guarded(fn, [&] {
    if (session == nullptr) return invalid(fn, null_arg("session"));
    if (data == nullptr && bytes != 0) return invalid(fn, null_data("bytes", bytes));
    return from_status(session->session->set_input_raw(index, data, bytes), fn);
  });
}

quanta_status quanta_session_run(quanta_session* session) {
  static const char* const fn = "quanta_session_run";
  return guarded(fn, [&] {
    if (session == nullptr) return invalid(fn, null_arg("session"));
    return from_status(session->session->run(), fn);
  });
}

quanta_status quanta_session_get_output_f32(const quanta_session* session, size_t index,
                                            float* data, size_t count) {
  static const char* const fn = "quanta_session_get_output_f32";
  return guarded(fn, [&] {
    if (session == nullptr) return invalid(fn, null_arg("session"));
    if (data == nullptr && count != 0) return invalid(fn, null_data("count", count));
    return from_status(session->session->get_output(index, std::span<float>(data, count)), fn);
  });
}

quanta_status quanta_session_get_output_f32_by_name(const quanta_session* session, const char* name,
                                                    float* data, size_t count) {
  static const char* const fn = "quanta_session_get_output_f32_by_name";
  return guarded(fn, [&] {
    if (session == nullptr) return invalid(fn, null_arg("session"));
    if (name == nullptr) return invalid(fn, null_arg("name"));
    if (data == nullptr && count != 0) return invalid(fn, null_data("count", count));
    return from_status(
        session->session->get_output(std::string_view(name), std::span<float>(data, count)), fn);
  });
}

quanta_status quanta_session_get_output_raw(const quanta_session* session, size_t index, void* data,
                                            size_t bytes) {
  static const char* const fn = "quanta_session_get_output_raw";
  return guarded(fn, [&] {
    if (session == nullptr) return invalid(fn, null_arg("session"));
    if (data == nullptr && bytes != 0) return invalid(fn, null_data("bytes", bytes));
    return from_status(session->session->get_output_raw(index, data, bytes), fn);
  });
}

quanta_status quanta_session_input_data(quanta_session* session, size_t index, void** data,
                                        size_t* bytes) {
  static const char* const fn = "quanta_session_input_data";
  return guarded(fn, [&] {
    if (session == nullptr) return invalid(fn, null_arg("session"));
    if (data == nullptr) return invalid(fn, null_arg("data"));
    if (bytes == nullptr) return invalid(fn, null_arg("bytes"));
    const size_t n = session->session->model().num_inputs();
    if (index >= n) return invalid(fn, index_error("input", index, n));
    const quanta::TensorView v = session->session->input(index);
    *data = v.info->num_bytes ? v.data : nullptr;
    *bytes = v.info->num_bytes;
    return QUANTA_OK;
  });
}

quanta_status quanta_session_output_data(const quanta_session* session, size_t index,
                                         const void** data, size_t* bytes) {
  static const char* const fn = "quanta_session_output_data";
  return guarded(fn, [&] {
    if (session == nullptr) return invalid(fn, null_arg("session"));
    if (data == nullptr) return invalid(fn, null_arg("data"));
    if (bytes == nullptr) return invalid(fn, null_arg("bytes"));
    const size_t n = session->session->model().num_outputs();
    if (index >= n) return invalid(fn, index_error("output", index, n));
    // Session::output() is non-const because TensorView carries a mutable
    // pointer (unique_ptr's -> does not propagate const); the C API hands
    // out a const one.
    const quanta::TensorView v = session->session->output(index);
    *data = v.info->num_bytes ? v.data : nullptr;
    *bytes = v.info->num_bytes;
    return QUANTA_OK;
  });
}

quanta_status quanta_session_node_timing(const quanta_session* session, size_t index,
                                         double* total_ns, int64_t* runs) {
  static const char* const fn = "quanta_session_node_timing";
  return guarded(fn, [&] {
    if (session == nullptr) return invalid(fn, null_arg("session"));
    const auto& timings = session->session->timings();
    if (index >= timings.size()) return invalid(fn, index_error("node", index, timings.size()));
    if (total_ns != nullptr) *total_ns = timings[index].total_ns;
    if (runs != nullptr) *runs = timings[index].runs;
    return QUANTA_OK;
  });
}

quanta_status quanta_session_reset_timings(quanta_session* session) {
  static const char* const fn = "quanta_session_reset_timings";
  return guarded(fn, [&] {
    if (session == nullptr) return invalid(fn, null_arg("session"));
    session->session->reset_timings();
    return QUANTA_OK;
  });
}

}  // extern "C"
