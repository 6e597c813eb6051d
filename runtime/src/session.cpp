// Session: arena, prepared nodes, and the run loop.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <new>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "backends/onednn_plugin.hpp"
#include "model_impl.hpp"
#include "ops/op.hpp"
#include "planner.hpp"
#include "thread_pool.hpp"
#include "quanta/kernels/ref.h"
#include "quanta/kernels/config.h"
#include "quanta/kernels/tier.h"

namespace quanta {
namespace detail {

struct Step {
  RunFn fn = nullptr;
  const void* state = nullptr;
  int node = 0;
};

struct SessionImpl {
  std::shared_ptr<const Model> model;
  SessionOptions options;
  std::unique_ptr<uint8_t, AlignedFree> arena;
  size_t arena_bytes = 0;
  size_t unplanned_bytes = 0;
  size_t prepared_bytes = 0;
  std::vector<void*> tensor_data;
  std::vector<PreparedOp> prepared;  // keeps every node's state alive
  std::vector<Step> steps;           // only nodes with work to do, in order
  std::vector<NodeTiming> timings;
  std::vector<TensorView> inputs;
  std::vector<TensorView> outputs;
  // Scratch of run(inputs, outputs): the binding of each input/output.
  std::vector<int> input_binding;
  std::vector<int> output_binding;
  KernelTier tier = KernelTier::kRef;
  Backend backend = Backend::kOwn;
  // Declared last so that it is destroyed first: no worker outlives the
  // prepared states it may be reading.
  std::unique_ptr<ThreadPool> pool;
};

}  // namespace detail

namespace {

using detail::ModelImpl;

constexpr int kMaxThreads = 256;

std::string io_name(const char* kind, size_t i, const TensorInfo& t) {
  return fmt::format("{} {} ('{}')", kind, i, t.name);
}

// Non-finite check at the float boundary. NaN has no meaningful quantized or
// float result, so it is refused with the index of the first offender;
// infinities are accepted (they saturate when quantized, docs/design.md §1).
Status check_no_nan(std::span<const float> data, const char* kind, size_t i, const TensorInfo& t) {
  for (size_t k = 0; k < data.size(); ++k) {
    if (std::isnan(data[k])) {
      return {StatusCode::kInvalidArgument,
              fmt::format("{}: element {} is NaN; inputs must not contain NaN",
                          io_name(kind, i, t), k)};
    }
  }
  return Status::Ok();
}

// "1.1 GiB" for 1207959552; "" below 1 KiB.
std::string binary_units(uint64_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return "";
  double v = static_cast<double>(bytes) / 1024;
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, kUnits[u]);
}

// "168 bytes", "1207959552 bytes (1.1 GiB)"; with `note`: "(..., note)".
std::string size_text(uint64_t bytes, const std::string& note = "") {
  std::string in = binary_units(bytes);
  if (!note.empty()) in += in.empty() ? note : ", " + note;
  return in.empty() ? fmt::format("{} bytes", bytes) : fmt::format("{} bytes ({})", bytes, in);
}

// One memory limit of SessionOptions, resolved: the option, else the
// environment variable, else the default.
struct Limit {
  size_t bytes = 0;
  std::string text;  // "max_arena_bytes = 1073741824 bytes (1.0 GiB, the default)"
};

Status resolve_limit(size_t option, const char* option_name, const char* env_name,
                     size_t default_bytes, Limit* out) {
  constexpr size_t kMiB = size_t{1} << 20;
  out->bytes = option;
  std::string source = "set in SessionOptions";
  if (option == 0) {
    out->bytes = default_bytes;
    source = "the default";
    if (const char* env = std::getenv(env_name); env != nullptr && *env != '\0') {
      // A whole number of MiB, at least 1.
      const std::string v = env;
      uint64_t mib = 0;
      bool valid = v.size() <= 19;
      for (char c : v) valid = valid && c >= '0' && c <= '9';
      if (valid) mib = std::stoull(v);
      if (!valid || mib == 0 || mib > SIZE_MAX / kMiB) {
        return Status{StatusCode::kInvalidArgument,
                      fmt::format("{}='{}' is not a memory limit: expected a whole number of MiB "
                                  "from 1 to {}",
                                  env_name, v, SIZE_MAX / kMiB)};
      }
      out->bytes = static_cast<size_t>(mib) * kMiB;
      source = fmt::format("set by {}={}", env_name, v);
    }
  }
  out->text = out->bytes == SIZE_MAX ? fmt::format("{} = {} (no limit)", option_name, out->bytes)
                                     : fmt::format("{} = {}", option_name,
                                                   size_text(out->bytes, source));
  return Status::Ok();
}

// How to raise a limit, for messages.
std::string raise_hint(const char* option_name, const char* env_name, const char* flag) {
  return fmt::format("raise SessionOptions::{} (or the environment variable {}; the quanta "
                     "CLI: {} N)",
                     option_name, env_name, flag);
}

}  // namespace

namespace detail {

Status PrepareBudget::take(uint64_t bytes, const std::string& what) {
  uint64_t total = 0;
  if (!__builtin_add_overflow(used_, bytes, &total) && total <= limit_) {
    used_ = total;
    return Status::Ok();
  }
  return {StatusCode::kResourceExhausted,
          fmt::format("preparing {} takes {}; with the {} prepared before, that passes {}: {}",
                      what, size_text(bytes), size_text(used_), limit_text_,
                      raise_hint("max_prepared_bytes", "QUANTA_MAX_PREPARED_MB",
                                 "--max-prepared-mb"))};
}

}  // namespace detail

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model,
                                                 const SessionOptions& options) {
  if (!model) return Status{StatusCode::kInvalidArgument, "Session::create: model is null"};
  auto impl = std::make_unique<detail::SessionImpl>();
  impl->model = model;
  impl->options = options;
  const ModelImpl& m = model->impl();

  // Limits first: nothing is allocated for a model that passes one.
  Limit arena_limit, prepared_limit;
  if (Status s = resolve_limit(options.max_arena_bytes, "max_arena_bytes", "QUANTA_MAX_ARENA_MB",
                               kDefaultMaxArenaBytes, &arena_limit);
      !s.ok()) {
    return s;
  }
  if (Status s = resolve_limit(options.max_prepared_bytes, "max_prepared_bytes",
                               "QUANTA_MAX_PREPARED_MB", kDefaultMaxPreparedBytes, &prepared_limit);
      !s.ok()) {
    return s;
  }
  const detail::MemoryPlan plan = detail::plan_memory(m);
  if (plan.arena_bytes > arena_limit.bytes) {
    int largest = -1;
    for (size_t t = 0; t < m.tensors.size(); ++t) {
      if (plan.offset[t] < 0) continue;
      if (largest < 0 || m.tensors[t].num_bytes > m.tensors[static_cast<size_t>(largest)].num_bytes) {
        largest = static_cast<int>(t);
      }
    }
    const TensorInfo& big = m.tensors[static_cast<size_t>(std::max(largest, 0))];
    return Status{StatusCode::kResourceExhausted,
                  fmt::format("the activation arena needs {}, more than {}; its largest "
                              "tensor is {} [{}] {} ({} bytes): {}",
                              size_text(plan.arena_bytes), arena_limit.text,
                              detail::describe_tensor(m, std::max(largest, 0)),
                              fmt::join(big.shape, ", "), dtype_name(big.dtype), big.num_bytes,
                              raise_hint("max_arena_bytes", "QUANTA_MAX_ARENA_MB", "--max-arena-mb"))};
  }
  impl->arena_bytes = plan.arena_bytes;
  impl->unplanned_bytes = plan.unplanned_bytes;
  const size_t alloc = std::max<size_t>(detail::kArenaAlignment, plan.arena_bytes);
  auto* raw = static_cast<uint8_t*>(std::aligned_alloc(detail::kArenaAlignment, alloc));
  if (!raw) {
    return Status{StatusCode::kInternal,
                  fmt::format("cannot allocate an arena of {} bytes", plan.arena_bytes)};
  }
  std::memset(raw, 0, alloc);  // deterministic contents before the first run
  impl->arena.reset(raw);

  impl->tensor_data.assign(m.tensors.size(), nullptr);
  for (size_t t = 0; t < m.tensors.size(); ++t) {
    if (m.const_data[t] != nullptr) {
      impl->tensor_data[t] = const_cast<void*>(m.const_data[t]);
    } else if (plan.offset[t] >= 0) {
      impl->tensor_data[t] = raw + plan.offset[t];
    }
  }

  kernels::Tier tier = kernels::Tier::kRef;
  switch (options.tier) {
    case KernelTier::kAuto: {
      // Like QUANTA_BACKEND: a tier name that cannot be honoured is refused,
      // never replaced by another tier (docs/runtime.md, "Kernel tiers").
      std::string why;
      switch (kernels::active_tier(&tier, &why)) {
        case kernels::TierChoice::kOk: break;
        case kernels::TierChoice::kUnknownName: return Status{StatusCode::kInvalidArgument, why};
        case kernels::TierChoice::kUnsupportedTier: return Status{StatusCode::kUnsupported, why};
        case kernels::TierChoice::kRenamedVariable: return Status{StatusCode::kInvalidArgument, why};
      }
      break;
    }
    case KernelTier::kRef: tier = kernels::Tier::kRef; break;
    case KernelTier::kAvx2: tier = kernels::Tier::kAvx2; break;
    case KernelTier::kAvx512Vnni: tier = kernels::Tier::kAvx512Vnni; break;
  }
  if (!kernels::cpu_supports(tier)) {
    return Status{StatusCode::kUnsupported,
                  kernels::unsupported_tier_error(
                      fmt::format("tier {} (SessionOptions::tier; the quanta CLI: --tier)",
                                  kernels::tier_name(tier)))};
  }
  // The kernels every node of this session uses (ops read the table's slots).
  const kernels::KernelConfig* kernel_table =
      kernels::kernel_config(tier, kernels::WeightFormat::kInt8PerChannel);
  if (kernel_table == nullptr) {
    return Status{StatusCode::kUnsupported,
                  fmt::format("tier {} has no kernel table for int8 per-channel weights",
                              kernels::tier_name(tier))};
  }
  switch (tier) {
    case kernels::Tier::kRef: impl->tier = KernelTier::kRef; break;
    case kernels::Tier::kAvx2: impl->tier = KernelTier::kAvx2; break;
    case kernels::Tier::kAvx512Vnni: impl->tier = KernelTier::kAvx512Vnni; break;
  }
  if (options.threads < 0 || options.threads > kMaxThreads) {
    return Status{StatusCode::kInvalidArgument,
                  fmt::format("threads = {}: must be 0 (one per hardware thread) or 1..{}",
                              options.threads, kMaxThreads)};
  }
  int threads = options.threads;
  if (threads == 0) threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  if (threads > 1) impl->pool = std::make_unique<detail::ThreadPool>(threads);
  Backend backend = options.backend;
  if (backend == Backend::kAuto) {
    backend = Backend::kOwn;
    if (const char* env = std::getenv("QUANTA_BACKEND"); env != nullptr && *env != '\0') {
      const std::string v = env;
      if (v == "onednn") {
        backend = Backend::kOnednn;
      } else if (v != "own") {
        return Status{StatusCode::kInvalidArgument,
                      fmt::format("QUANTA_BACKEND='{}' is not a backend (own, onednn)", v)};
      }
    }
  }
  if (backend == Backend::kOnednn) {
    std::string why;
    if (detail::onednn::plugin(&why) == nullptr) {
      return Status{StatusCode::kUnsupported, "backend onednn: " + why};
    }
  }
  impl->backend = backend;
  // Residual-Add fusion candidates (docs/runtime.md, "Fused residual Add").
  std::vector<int> readers(m.tensors.size(), 0);
  for (const NodeInfo& n : m.nodes) {
    for (int t : n.inputs) {
      if (t >= 0) ++readers[static_cast<size_t>(t)];
    }
  }
  for (int t : m.outputs) ++readers[static_cast<size_t>(t)];
  const auto fusable_add = [&](size_t j) -> int {
    if (j + 1 >= m.nodes.size()) return -1;
    const NodeInfo& producer = m.nodes[j];
    const NodeInfo& add = m.nodes[j + 1];
    if (!detail::op_has(producer.op, detail::kOpAbsorbsAdd)) return -1;
    if (add.op != OpType::kAdd || add.inputs.size() != 2 || add.outputs.size() != 1) return -1;
    const int t = producer.outputs[0];
    const int a = add.inputs[0], b = add.inputs[1];
    if ((a == t) == (b == t) || readers[static_cast<size_t>(t)] != 1) return -1;
    const TensorInfo& y = m.tensors[static_cast<size_t>(add.outputs[0])];
    for (int in : {a, b}) {
      const TensorInfo& ti = m.tensors[static_cast<size_t>(in)];
      if (ti.dtype != DType::kU8 || ti.shape != y.shape || !ti.quant.per_tensor()) return -1;
    }
    return y.dtype == DType::kU8 && y.quant.per_tensor() ? static_cast<int>(j + 1) : -1;
  };
  detail::PrepareBudget budget(prepared_limit.bytes, prepared_limit.text);
  impl->prepared.reserve(m.nodes.size());
  for (size_t i = 0; i < m.nodes.size(); ++i) {
    if (i > 0 && impl->prepared[i - 1].absorbed_next) {
      impl->prepared.push_back({});  // computed by node i - 1
      continue;
    }
    detail::OpContext ctx{m,       static_cast<int>(i), impl->tensor_data.data(),
                          kernel_table, impl->pool.get(), backend == Backend::kOnednn,
                          threads, fusable_add(i),       &budget};
    Result<detail::PreparedOp> op = detail::prepare_op(ctx);
    if (!op) return op.status();
    if (Status s = budget.take(op->state_bytes, "its state"); !s.ok()) {
      return Status{s.code(), fmt::format("{}: {}", detail::describe_node(m, static_cast<int>(i)),
                                          s.message())};
    }
    if (op->run) impl->steps.push_back({op->run, op->state.get(), static_cast<int>(i)});
    impl->prepared.push_back(std::move(*op));
  }
  impl->prepared_bytes = budget.used();
  impl->timings.resize(m.nodes.size());
  for (size_t i = 0; i < m.nodes.size(); ++i) impl->timings[i].node = static_cast<int>(i);

  for (int t : m.inputs) impl->inputs.push_back({&m.tensors[t], impl->tensor_data[t]});
  for (int t : m.outputs) impl->outputs.push_back({&m.tensors[t], impl->tensor_data[t]});
  impl->input_binding.assign(impl->inputs.size(), -1);
  impl->output_binding.assign(impl->outputs.size(), -1);
  return std::unique_ptr<Session>(new Session(std::move(impl)));
}

Session::Session(std::unique_ptr<detail::SessionImpl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

const Model& Session::model() const { return *impl_->model; }
size_t Session::arena_bytes() const { return impl_->arena_bytes; }
int Session::fused_adds() const {
  int n = 0;
  for (const detail::PreparedOp& op : impl_->prepared) n += op.absorbed_next ? 1 : 0;
  return n;
}
int Session::onednn_nodes() const {
  int n = 0;
  for (const detail::PreparedOp& op : impl_->prepared) n += op.onednn ? 1 : 0;
  return n;
}
std::vector<BackendNote> Session::backend_notes() const {
  std::vector<BackendNote> notes;
  for (size_t i = 0; i < impl_->prepared.size(); ++i) {
    const detail::PreparedOp& op = impl_->prepared[i];
    if (op.offered_onednn) notes.push_back({static_cast<int>(i), op.onednn, op.onednn_note});
  }
  return notes;
}
int Session::threads() const { return impl_->pool ? impl_->pool->threads() : 1; }
KernelTier Session::tier() const { return impl_->tier; }
Backend Session::backend() const { return impl_->backend; }
size_t Session::unplanned_bytes() const { return impl_->unplanned_bytes; }
size_t Session::prepared_bytes() const { return impl_->prepared_bytes; }

TensorView Session::input(size_t i) {
  return i < impl_->inputs.size() ? impl_->inputs[i] : TensorView{};
}
TensorView Session::output(size_t i) {
  return i < impl_->outputs.size() ? impl_->outputs[i] : TensorView{};
}

namespace {

// Whether input/output tensor `t` can cross the float boundary: float32
// itself, or uint8 quantized per tensor.
bool has_float_boundary(const TensorInfo& t) {
  return t.dtype == DType::kF32 || (t.dtype == DType::kU8 && t.quant.per_tensor());
}

// Writes checked float values into input view `v` (quantizing a u8 input).
void write_float_input(const TensorView& v, std::span<const float> data) {
  const TensorInfo& t = *v.info;
  if (t.dtype == DType::kF32) {
    // An empty tensor's span may have a null data(): memcpy must not see it.
    if (!data.empty()) std::memcpy(v.data, data.data(), data.size() * sizeof(float));
  } else {
    kernels::qu8_quantize__ref(t.num_elements, data.data(), t.quant.scale[0],
                               t.quant.zero_point[0], v.as<uint8_t>());
  }
}

// Reads output view `v` as float into a buffer of the right size.
void read_float_output(const TensorView& v, std::span<float> data) {
  const TensorInfo& t = *v.info;
  if (t.dtype == DType::kF32) {
    if (!data.empty()) std::memcpy(data.data(), v.data, data.size() * sizeof(float));
  } else {
    kernels::qu8_dequantize__ref(t.num_elements, v.as<const uint8_t>(), t.quant.scale[0],
                                 t.quant.zero_point[0], data.data());
  }
}

std::string names_of(const std::vector<TensorView>& views) {
  std::string out;
  for (const TensorView& v : views) out += (out.empty() ? "'" : ", '") + v.info->name + "'";
  return out.empty() ? "none" : out;
}

// The refusals shared by the index, name and raw boundary calls; `kind` is
// "input" or "output", `views` the session's inputs or outputs.
Status index_out_of_range(const char* kind, size_t i, const std::vector<TensorView>& views) {
  return {StatusCode::kInvalidArgument,
          fmt::format("{} index {} out of range: the model has {} {}(s)", kind, i, views.size(),
                      kind)};
}

Status no_such_name(const char* kind, std::string_view name, const std::vector<TensorView>& views) {
  return {StatusCode::kInvalidArgument, fmt::format("no {} named '{}': the model's {}s are {}", kind,
                                                    name, kind, names_of(views))};
}

// set_input_raw / get_output_raw: index, exact byte count, data pointer.
Status check_raw(const char* kind, const char* holds, size_t i,
                 const std::vector<TensorView>& views, const void* data, size_t bytes) {
  if (i >= views.size()) return index_out_of_range(kind, i, views);
  const TensorInfo& t = *views[i].info;
  if (bytes != t.num_bytes) {
    return {StatusCode::kInvalidArgument,
            fmt::format("{}: {} {} bytes, the tensor has {} ({} x {})", io_name(kind, i, t), holds,
                        bytes, t.num_bytes, t.num_elements, dtype_name(t.dtype))};
  }
  if (bytes != 0 && data == nullptr) {
    return {StatusCode::kInvalidArgument, fmt::format("{}: data is null", io_name(kind, i, t))};
  }
  return Status::Ok();
}

}  // namespace

Status Session::set_input(size_t i, std::span<const float> data) {
  if (i >= impl_->inputs.size()) return index_out_of_range("input", i, impl_->inputs);
  const TensorView& v = impl_->inputs[i];
  const TensorInfo& t = *v.info;
  if (static_cast<int64_t>(data.size()) != t.num_elements) {
    return {StatusCode::kInvalidArgument,
            fmt::format("{}: got {} values, the tensor has {}", io_name("input", i, t),
                        data.size(), t.num_elements)};
  }
  if (Status s = check_no_nan(data, "input", i, t); !s.ok()) return s;
  if (!has_float_boundary(t)) {
    return {StatusCode::kUnsupported,
            fmt::format("{}: dtype {} cannot be set from float; use set_input_raw",
                        io_name("input", i, t), dtype_name(t.dtype))};
  }
  write_float_input(v, data);
  return Status::Ok();
}

Status Session::set_input(std::string_view name, std::span<const float> data) {
  const int i = input_index(name);
  if (i < 0) return no_such_name("input", name, impl_->inputs);
  return set_input(static_cast<size_t>(i), data);
}

const TensorInfo* Session::input_info(size_t i) const {
  return i < impl_->inputs.size() ? impl_->inputs[i].info : nullptr;
}
const TensorInfo* Session::output_info(size_t i) const {
  return i < impl_->outputs.size() ? impl_->outputs[i].info : nullptr;
}

Status Session::set_input_raw(size_t i, const void* data, size_t bytes) {
  if (Status st = check_raw("input", "got", i, impl_->inputs, data, bytes); !st.ok()) return st;
  if (bytes) std::memcpy(impl_->inputs[i].data, data, bytes);
  return Status::Ok();
}

Status Session::run() {
  detail::SessionImpl& s = *impl_;
  if (!s.options.profile) {
    for (const detail::Step& step : s.steps) step.fn(step.state);
    return Status::Ok();
  }
  for (const detail::Step& step : s.steps) {
    const auto t0 = std::chrono::steady_clock::now();
    step.fn(step.state);
    const auto t1 = std::chrono::steady_clock::now();
    NodeTiming& nt = s.timings[step.node];
    nt.total_ns += std::chrono::duration<double, std::nano>(t1 - t0).count();
    nt.runs += 1;
  }
  return Status::Ok();
}

Status Session::get_output(size_t i, std::span<float> data) const {
  if (i >= impl_->outputs.size()) return index_out_of_range("output", i, impl_->outputs);
  const TensorView& v = impl_->outputs[i];
  const TensorInfo& t = *v.info;
  if (static_cast<int64_t>(data.size()) != t.num_elements) {
    return {StatusCode::kInvalidArgument,
            fmt::format("{}: buffer holds {} values, the tensor has {}",
                        io_name("output", i, t), data.size(), t.num_elements)};
  }
  if (!has_float_boundary(t)) {
    return {StatusCode::kUnsupported,
            fmt::format("{}: dtype {} cannot be read as float; use output({}).data",
                        io_name("output", i, t), dtype_name(t.dtype), i)};
  }
  read_float_output(v, data);
  return Status::Ok();
}

Status Session::get_output(std::string_view name, std::span<float> data) const {
  const int i = output_index(name);
  if (i < 0) return no_such_name("output", name, impl_->outputs);
  return get_output(static_cast<size_t>(i), data);
}

Status Session::get_output_raw(size_t i, void* data, size_t bytes) const {
  if (Status st = check_raw("output", "buffer holds", i, impl_->outputs, data, bytes); !st.ok()) {
    return st;
  }
  if (bytes) std::memcpy(data, impl_->outputs[i].data, bytes);
  return Status::Ok();
}

namespace {

// Checks one binding of Session::run(inputs, outputs) against the tensor it
// names; `as_float` tells whether it crosses the float boundary.
Status check_binding(const char* kind, size_t i, const TensorInfo& t, const void* data,
                     size_t bytes, DType dtype) {
  const bool as_float = dtype == DType::kF32 && t.dtype != DType::kF32;
  if (dtype != t.dtype && !as_float) {
    return {StatusCode::kInvalidArgument,
            fmt::format("{}: buffer dtype {} is neither float32 nor the tensor's {}",
                        io_name(kind, i, t), dtype_name(dtype), dtype_name(t.dtype))};
  }
  if (as_float && !has_float_boundary(t)) {
    return {StatusCode::kUnsupported,
            fmt::format("{}: dtype {} has no float boundary; pass its own dtype {}",
                        io_name(kind, i, t), dtype_name(t.dtype), dtype_name(t.dtype))};
  }
  const size_t want = dtype == DType::kF32 ? static_cast<size_t>(t.num_elements) * sizeof(float)
                                           : t.num_bytes;
  if (bytes != want) {
    return {StatusCode::kInvalidArgument,
            fmt::format("{}: buffer holds {} bytes, the tensor needs {} ({} x {})",
                        io_name(kind, i, t), bytes, want, t.num_elements, dtype_name(dtype))};
  }
  if (bytes != 0 && data == nullptr) {
    return {StatusCode::kInvalidArgument, fmt::format("{}: data is null", io_name(kind, i, t))};
  }
  return Status::Ok();
}

}  // namespace

Status Session::run(std::span<const InputBuffer> inputs, std::span<const OutputBuffer> outputs) {
  detail::SessionImpl& s = *impl_;
  // Which binding each graph input/output has (-1: none), in vectors sized
  // at create: this call allocates nothing unless it fails.
  std::vector<int>& in_binding = s.input_binding;
  std::vector<int>& out_binding = s.output_binding;
  std::fill(in_binding.begin(), in_binding.end(), -1);
  std::fill(out_binding.begin(), out_binding.end(), -1);
  for (size_t b = 0; b < inputs.size(); ++b) {
    const InputBuffer& ib = inputs[b];
    const int i = input_index(ib.name);
    if (i < 0) {
      const Status st = no_such_name("input", ib.name, s.inputs);
      return {st.code(), fmt::format("input binding {}: {}", b, st.message())};
    }
    if (in_binding[i] >= 0) {
      return {StatusCode::kInvalidArgument,
              fmt::format("input '{}' is bound twice (bindings {} and {})", ib.name, in_binding[i],
                          b)};
    }
    in_binding[i] = static_cast<int>(b);
    const TensorInfo& t = *s.inputs[i].info;
    if (Status st = check_binding("input", i, t, ib.data, ib.bytes, ib.dtype); !st.ok()) return st;
    if (ib.dtype == DType::kF32) {
      const std::span<const float> v(static_cast<const float*>(ib.data),
                                     static_cast<size_t>(t.num_elements));
      if (Status st = check_no_nan(v, "input", i, t); !st.ok()) return st;
    }
  }
  for (size_t i = 0; i < s.inputs.size(); ++i) {
    if (in_binding[i] < 0) {
      return {StatusCode::kInvalidArgument,
              fmt::format("{} is not bound: run() needs a buffer for every input",
                          io_name("input", i, *s.inputs[i].info))};
    }
  }
  for (size_t b = 0; b < outputs.size(); ++b) {
    const OutputBuffer& ob = outputs[b];
    const int i = output_index(ob.name);
    if (i < 0) {
      const Status st = no_such_name("output", ob.name, s.outputs);
      return {st.code(), fmt::format("output binding {}: {}", b, st.message())};
    }
    if (out_binding[i] >= 0) {
      return {StatusCode::kInvalidArgument, fmt::format("output '{}' is bound twice", ob.name)};
    }
    out_binding[i] = static_cast<int>(b);
    if (Status st = check_binding("output", i, *s.outputs[i].info, ob.data, ob.bytes, ob.dtype);
        !st.ok()) {
      return st;
    }
  }
  for (size_t i = 0; i < s.inputs.size(); ++i) {
    const InputBuffer& ib = inputs[static_cast<size_t>(in_binding[i])];
    const TensorView& v = s.inputs[i];
    if (ib.dtype == DType::kF32) {
      write_float_input(v, {static_cast<const float*>(ib.data),
                            static_cast<size_t>(v.info->num_elements)});
    } else if (ib.bytes) {
      std::memcpy(v.data, ib.data, ib.bytes);
    }
  }
  if (Status st = run(); !st.ok()) return st;
  for (size_t i = 0; i < s.outputs.size(); ++i) {
    if (out_binding[i] < 0) continue;
    const OutputBuffer& ob = outputs[static_cast<size_t>(out_binding[i])];
    const TensorView& v = s.outputs[i];
    if (ob.dtype == DType::kF32) {
      read_float_output(v, {static_cast<float*>(ob.data), static_cast<size_t>(v.info->num_elements)});
    } else if (ob.bytes) {
      std::memcpy(ob.data, v.data, ob.bytes);
    }
  }
  return Status::Ok();
}

const std::vector<NodeTiming>& Session::timings() const { return impl_->timings; }

void Session::reset_timings() {
  for (NodeTiming& t : impl_->timings) {
    t.total_ns = 0;
    t.runs = 0;
  }
}

}  // namespace quanta
