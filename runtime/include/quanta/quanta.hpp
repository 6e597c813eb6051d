// Quanta public C++ API.
//
// Nothing in this header throws on bad input: every fallible call returns a
// Status or a Result<T>. (std::bad_alloc from the standard library may still
// escape when the process is out of memory.)
//
//   auto model = quanta::Model::load_file("net.quanta");
//   if (!model) { std::cerr << model.status().message() << "\n"; return 1; }
//   auto session = quanta::Session::create(*model);
//   if (!session) { ... }
//   (*session)->set_input(0, input_floats);
//   (*session)->run();
//   (*session)->get_output(0, output_floats);
//
// A Model is immutable after load and may be shared by any number of Sessions
// on any number of threads. A Session is used by one thread at a time; it owns
// the activation arena and all prepared per-node state, and run() does not
// allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "quanta/export.h"

namespace quanta {

// ---------------------------------------------------------------- Status

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // a caller passed a wrong index, size or value
  kNotFound,         // a file does not exist
  kIoError,          // a file exists but cannot be read or mapped
  kInvalidModel,     // the model file is malformed or inconsistent
  kUnsupported,      // valid, but this runtime cannot execute it
  kInternal,
  kResourceExhausted,  // a memory limit (SessionOptions) would be exceeded
};

QUANTA_API const char* status_code_name(StatusCode code);

class [[nodiscard]] QUANTA_API Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid model: tensor 3 ('conv1.weight'): scale[2] = nan is not finite"
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

// ---------------------------------------------------------------- Tensors

enum class DType : uint8_t { kF32 = 0, kF16, kBF16, kU8, kI8, kI32, kI4, kI64 };

QUANTA_API const char* dtype_name(DType t);
// Bytes per element; 0 for sub-byte types (kI4).
QUANTA_API size_t dtype_size(DType t);

// Real value r = scale * (q - zero_point).
struct QuantParams {
  std::vector<float> scale;          // empty: not quantized
  std::vector<int32_t> zero_point;   // same length as scale
  int axis = -1;                     // -1: per tensor
  int group_size = 0;                // 0: no grouping
  bool empty() const { return scale.empty(); }
  bool per_tensor() const { return scale.size() == 1; }
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::kF32;
  QuantParams quant;
  bool is_constant = false;   // weights / constants stored in the file
  int64_t num_elements = 0;
  size_t num_bytes = 0;
};

// A view of a tensor's memory inside a Session (inputs and outputs).
struct TensorView {
  const TensorInfo* info = nullptr;
  void* data = nullptr;
  template <class T> T* as() const { return static_cast<T*>(data); }
};

// ---------------------------------------------------------------- Model

// kConv2D = 0, kFullyConnected, ... in the order of quanta/op_list.def (the
// values are the file's OpType values and never change).
enum class OpType : uint8_t {
#define QUANTA_OP(name, fb_name, options, display, impl, traits) k##name,
#include "quanta/op_list.def"
};
QUANTA_API const char* op_type_name(OpType op);
// The op whose op_type_name() is `name` (false, *op unchanged, for any other
// text). The converter maps ONNX ops without attributes whose name is the
// runtime op's name (Relu, Sigmoid, ...) through it.
QUANTA_API bool op_type_from_name(std::string_view name, OpType* op);

struct NodeInfo {
  OpType op;
  std::string name;
  std::vector<std::string> source_nodes;  // names in the source (ONNX) model
  std::vector<int> inputs;                // tensor indices, -1 = omitted
  std::vector<int> outputs;
  int64_t macs = 0;                       // multiply-accumulates per run
};

namespace detail { struct ModelImpl; }

class QUANTA_API Model {
 public:
  // Maps the file read-only; constant tensors are used in place.
  static Result<std::shared_ptr<const Model>> load_file(const std::string& path);
  // Uses the caller's bytes in place when `copy` is false: they must outlive
  // the Model and every Session made from it. With `copy` true the bytes are
  // copied into a 64-byte aligned buffer the Model owns.
  static Result<std::shared_ptr<const Model>> load_buffer(const void* data, size_t size,
                                                          bool copy = false);

  uint32_t version_major() const;
  uint32_t version_minor() const;
  const std::string& producer() const;
  const std::string& description() const;
  size_t file_size() const;

  const std::vector<TensorInfo>& tensors() const;
  const std::vector<NodeInfo>& nodes() const;
  const std::vector<int>& input_indices() const;
  const std::vector<int>& output_indices() const;
  size_t num_inputs() const { return input_indices().size(); }
  size_t num_outputs() const { return output_indices().size(); }
  const TensorInfo& input(size_t i) const { return tensors()[input_indices()[i]]; }
  const TensorInfo& output(size_t i) const { return tensors()[output_indices()[i]]; }
  // Index of the graph input/output with this name, or -1.
  int find_input(std::string_view name) const;
  int find_output(std::string_view name) const;

  const detail::ModelImpl& impl() const { return *impl_; }
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

 private:
  explicit Model(std::unique_ptr<detail::ModelImpl> impl);
  std::unique_ptr<detail::ModelImpl> impl_;
  friend struct detail::ModelImpl;
};

// ---------------------------------------------------------------- Session

// Which kernels a Session uses (docs/runtime.md, "Kernel tiers").
enum class KernelTier : uint8_t {
  kAuto = 0,    // QUANTA_TIER=ref|avx2|avx512vnni when set (another value, or
                // QUANTA_ISA set, makes Session::create fail), else the best
                // tier the CPU supports
  kRef,         // the scalar reference kernels (the specification)
  kAvx2,
  kAvx512Vnni,
};
// "auto", "ref", "avx2", "avx512vnni": the spellings of QUANTA_TIER and of
// the quanta CLI's --tier.
QUANTA_API const char* kernel_tier_name(KernelTier tier);
// The tier of a kernel_tier_name() spelling; false (and *tier unchanged) for
// any other text.
QUANTA_API bool parse_kernel_tier(std::string_view name, KernelTier* tier);

// Which implementation runs the convolutions and GEMMs (docs/runtime.md,
// "Backends").
enum class Backend : uint8_t {
  kAuto = 0,  // QUANTA_BACKEND=own|onednn when set, else kOwn
  kOwn,       // Quanta's kernels for every node
  kOnednn,    // Conv2D, FullyConnected and MatMul with constant weights through
              // oneDNN where it accepts the node exactly; other nodes: kOwn
};
QUANTA_API const char* backend_name(Backend backend);

// Default memory limits of a Session (SessionOptions::max_arena_bytes and
// max_prepared_bytes; docs/runtime.md, "Memory limits").
inline constexpr size_t kDefaultMaxArenaBytes = size_t{1} << 30;     // 1 GiB
inline constexpr size_t kDefaultMaxPreparedBytes = size_t{1} << 30;  // 1 GiB

struct SessionOptions {
  // Record per-node wall time on every run (small cost per node).
  bool profile = false;
  // A tier the CPU does not support makes Session::create fail (kUnsupported).
  // Quantized kernels give the same bytes on every tier; float kernels differ
  // from the reference by rounding (FMA, summation order).
  KernelTier tier = KernelTier::kAuto;
  // Threads per run(): 1 runs everything on the calling thread; T > 1 gives
  // the session T - 1 worker threads that large ops (convolutions and GEMMs
  // above about 0.25 M multiply-adds) split their output with; 0 means one per
  // hardware thread. Results are identical for every value (docs/runtime.md,
  // "Threads"). Values outside [0, 256] make Session::create fail.
  int threads = 1;
  // kAuto picks Quanta's own kernels: on every layer benchmarked they are as
  // fast or faster than oneDNN 2.6's exact int8 path (docs/onednn.md). An
  // unknown QUANTA_BACKEND value makes Session::create fail.
  Backend backend = Backend::kAuto;
  // Memory limits, checked by Session::create before it allocates: a model
  // that needs more fails with kResourceExhausted, naming the limit, the size
  // asked for and how to raise it. 0 means the default: the environment
  // variable (QUANTA_MAX_ARENA_MB, QUANTA_MAX_PREPARED_MB: a whole number of
  // MiB, at least 1; another value makes Session::create fail) when it is
  // set, else kDefaultMaxArenaBytes / kDefaultMaxPreparedBytes. SIZE_MAX: no
  // limit.
  // The activation arena (Session::arena_bytes()).
  size_t max_arena_bytes = 0;
  // Prepared state (Session::prepared_bytes()): packed weights, folded
  // biases and multipliers, offset and lookup tables, each node's state.
  // The oneDNN backend's own memory is not counted.
  size_t max_prepared_bytes = 0;
};

struct NodeTiming {
  int node = 0;
  double total_ns = 0;  // summed over runs since the last reset
  int64_t runs = 0;
};

// What the oneDNN backend did with one node (Session::backend_notes()).
struct BackendNote {
  int node = 0;         // index into Model::nodes()
  bool onednn = false;  // true: oneDNN runs the node; false: Quanta's kernels
  // oneDNN's implementation name(s) when `onednn` (e.g. "brg:avx512_core_vnni",
  // "a + b" when the int8 weights were split), otherwise why oneDNN did not
  // take the node (docs/onednn.md, "Admission").
  std::string detail;
};

// A caller-owned buffer for Session::run(inputs, outputs), bound to a graph
// input or output by name. `dtype` says what the bytes are: kF32 is the float
// boundary (quantized on the way in, dequantized on the way out, as
// set_input / get_output do); the tensor's own dtype (TensorInfo::dtype)
// copies its raw bytes (as set_input_raw). `bytes` must be exactly the
// tensor's element count times dtype_size(dtype). The buffers stay the
// caller's: run() reads or writes them only during the call.
struct InputBuffer {
  std::string_view name;
  const void* data = nullptr;
  size_t bytes = 0;
  DType dtype = DType::kF32;
};
struct OutputBuffer {
  std::string_view name;
  void* data = nullptr;
  size_t bytes = 0;
  DType dtype = DType::kF32;
};

namespace detail { struct SessionImpl; }

class QUANTA_API Session {
 public:
  static Result<std::unique_ptr<Session>> create(std::shared_ptr<const Model> model,
                                                 const SessionOptions& options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const Model& model() const;
  // Threads per run() (SessionOptions::threads resolved), and the kernel
  // tier and the backend in use (never kAuto).
  int threads() const;
  KernelTier tier() const;
  Backend backend() const;
  // Nodes run by oneDNN (0 unless the backend is kOnednn).
  int onednn_nodes() const;
  // With the kOnednn backend: one note per node offered to oneDNN (Conv2D,
  // FullyConnected, MatMul with constant B), in node order, saying which
  // oneDNN implementation runs it or why Quanta's kernels do. Empty with kOwn.
  std::vector<BackendNote> backend_notes() const;
  // Residual Adds computed inside the convolution or GEMM before them
  // (docs/runtime.md, "Fused residual Add").
  int fused_adds() const;
  // Bytes of the activation arena planned for this session.
  size_t arena_bytes() const;
  // Bytes the arena would need without reuse (every tensor its own space).
  size_t unplanned_bytes() const;
  // Bytes of prepared state counted against SessionOptions::max_prepared_bytes.
  size_t prepared_bytes() const;

  // Raw access to the input/output memory in the session's arena: write
  // inputs in their stored dtype (for example uint8 for a quantized input)
  // before run(), read outputs after it.
  TensorView input(size_t i);
  TensorView output(size_t i);

  // Float boundary: quantizes (or copies) `data` into input i. A NaN anywhere
  // is refused (kInvalidArgument naming the input and the element index; the
  // input is left unchanged); +-inf saturate to 0 / 255 on a quantized input
  // and are copied as they are on a float one. The span length must equal
  // the element count.
  Status set_input(size_t i, std::span<const float> data);
  // Raw boundary: copies bytes already in the input's dtype.
  Status set_input_raw(size_t i, const void* data, size_t bytes);

  Status run();

  // Graph input/output index of `name` (Model::find_input/find_output), -1
  // when there is none.
  int input_index(std::string_view name) const { return model().find_input(name); }
  int output_index(std::string_view name) const { return model().find_output(name); }
  // Shape, dtype and quantization of input/output i (Model::input/output);
  // nullptr when i is out of range.
  const TensorInfo* input_info(size_t i) const;
  const TensorInfo* output_info(size_t i) const;

  // set_input / get_output by tensor name (kInvalidArgument naming the
  // inputs or outputs the model has when there is no such name).
  Status set_input(std::string_view name, std::span<const float> data);
  Status get_output(std::string_view name, std::span<float> data) const;
  // Raw boundary: copies output i's bytes in its stored dtype.
  Status get_output_raw(size_t i, void* data, size_t bytes) const;

  // One inference on caller-owned buffers: every graph input bound exactly
  // once, any subset of the outputs (each at most once). Every binding is
  // checked (known name, no duplicate, dtype kF32 or the tensor's own, exact
  // size, no NaN in float inputs) before anything is copied or run; the
  // first problem is returned and nothing runs. The inputs are copied into
  // the session's arena, the outputs copied out of it after the run.
  Status run(std::span<const InputBuffer> inputs, std::span<const OutputBuffer> outputs);

  // Float boundary: dequantizes (or copies) output i into `data`.
  Status get_output(size_t i, std::span<float> data) const;

  // Per-node timings (only with SessionOptions::profile).
  const std::vector<NodeTiming>& timings() const;
  void reset_timings();

 private:
  explicit Session(std::unique_ptr<detail::SessionImpl> impl);
  std::unique_ptr<detail::SessionImpl> impl_;
};

// The format version this runtime writes and reads.
inline constexpr uint32_t kFormatVersionMajor = 1;
inline constexpr uint32_t kFormatVersionMinor = 0;

}  // namespace quanta
