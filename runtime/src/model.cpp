// Model: loading a .quanta file (mmap or caller memory), names of enums,
// Status formatting, and the helpers that name nodes and tensors in errors.
//
// Memory and alignment of a loaded model:
// - load_file maps the file read-only (MAP_PRIVATE); the mapping is page
//   aligned, so every constant buffer (64-byte aligned offsets, checked by the
//   loader) is 64-byte aligned in memory.
// - load_buffer(copy = true) copies into a 64-byte aligned block: same result.
// - load_buffer(copy = false) uses the caller's bytes in place. They must be
//   at least 8-byte aligned (FlatBuffers reads 8-byte scalars in place; a
//   misaligned buffer is refused with kInvalidArgument). When they are not
//   64-byte aligned, constant tensors are only 8-byte aligned: kernels and
//   prepare code must not assume more than the natural alignment of the
//   element type for constant data (they copy/pack weights at prepare time).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <fmt/format.h>

#include "model_impl.hpp"

namespace quanta {

// ---------------------------------------------------------------- names

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kIoError: return "I/O error";
    case StatusCode::kInvalidModel: return "invalid model";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kInternal: return "internal error";
    case StatusCode::kResourceExhausted: return "resource limit exceeded";
  }
  return "unknown status";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  if (message_.empty()) return status_code_name(code_);
  return fmt::format("{}: {}", status_code_name(code_), message_);
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kU8: return "u8";
    case DType::kI8: return "i8";
    case DType::kI32: return "i32";
    case DType::kI4: return "i4";
    case DType::kI64: return "i64";
  }
  return "unknown";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kU8: return 1;
    case DType::kI8: return 1;
    case DType::kI32: return 4;
    case DType::kI4: return 0;
    case DType::kI64: return 8;
  }
  return 0;
}

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::kAuto: return "auto";
    case Backend::kOwn: return "own";
    case Backend::kOnednn: return "onednn";
  }
  return "?";
}

const char* kernel_tier_name(KernelTier tier) {
  switch (tier) {
    case KernelTier::kAuto: return "auto";
    case KernelTier::kRef: return "ref";
    case KernelTier::kAvx2: return "avx2";
    case KernelTier::kAvx512Vnni: return "avx512vnni";
  }
  return "?";
}

bool parse_kernel_tier(std::string_view name, KernelTier* tier) {
  for (KernelTier t : {KernelTier::kAuto, KernelTier::kRef, KernelTier::kAvx2, KernelTier::kAvx512Vnni}) {
    if (name == kernel_tier_name(t)) {
      *tier = t;
      return true;
    }
  }
  return false;
}

const char* op_type_name(OpType op) {
  static constexpr const char* kNames[] = {
#define QUANTA_OP(name, fb_name, options, display, impl, traits) display,
#include "quanta/op_list.def"
  };
  const size_t i = static_cast<size_t>(op);
  return i < std::size(kNames) ? kNames[i] : "Unknown";
}

bool op_type_from_name(std::string_view name, OpType* op) {
  static constexpr OpType kOps[] = {
#define QUANTA_OP(name, fb_name, options, display, impl, traits) OpType::k##name,
#include "quanta/op_list.def"
  };
  for (OpType o : kOps) {
    if (name == op_type_name(o)) {
      *op = o;
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------- Model

Model::Model(std::unique_ptr<detail::ModelImpl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

uint32_t Model::version_major() const { return impl_->version_major; }
uint32_t Model::version_minor() const { return impl_->version_minor; }
const std::string& Model::producer() const { return impl_->producer; }
const std::string& Model::description() const { return impl_->description; }
size_t Model::file_size() const { return impl_->size; }
const std::vector<TensorInfo>& Model::tensors() const { return impl_->tensors; }
const std::vector<NodeInfo>& Model::nodes() const { return impl_->nodes; }
const std::vector<int>& Model::input_indices() const { return impl_->inputs; }
const std::vector<int>& Model::output_indices() const { return impl_->outputs; }

int Model::find_input(std::string_view name) const {
  for (size_t i = 0; i < impl_->inputs.size(); ++i) {
    if (impl_->tensors[impl_->inputs[i]].name == name) return static_cast<int>(i);
  }
  return -1;
}

int Model::find_output(std::string_view name) const {
  for (size_t i = 0; i < impl_->outputs.size(); ++i) {
    if (impl_->tensors[impl_->outputs[i]].name == name) return static_cast<int>(i);
  }
  return -1;
}

namespace {

using detail::ModelImpl;

// Decodes and validates `impl` (bytes already set) and wraps it. Every error
// message is prefixed with the origin ("net.quanta: ..." or "<memory>: ...").
Result<std::shared_ptr<const Model>> finish_load(std::unique_ptr<ModelImpl> impl) {
  Status st = detail::decode_model(*impl);
  if (!st.ok()) return Status(st.code(), fmt::format("{}: {}", impl->origin, st.message()));
  return ModelImpl::wrap(std::move(impl));
}

}  // namespace

Result<std::shared_ptr<const Model>> Model::load_file(const std::string& path) {
  auto mapped = detail::MappedFile::open(path);
  if (!mapped) return mapped.status();
  auto impl = std::make_unique<ModelImpl>();
  impl->mapped = std::move(mapped.value());
  impl->base = impl->mapped->data();
  impl->size = impl->mapped->size();
  impl->origin = path;
  return finish_load(std::move(impl));
}

Result<std::shared_ptr<const Model>> Model::load_buffer(const void* data, size_t size,
                                                        bool copy) {
  static const char* const kOrigin = "<memory>";
  if (size == 0) return Status(StatusCode::kInvalidModel, fmt::format("{}: buffer is empty", kOrigin));
  if (data == nullptr) {
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("{}: data is null but size is {}", kOrigin, size));
  }
  auto impl = std::make_unique<ModelImpl>();
  impl->origin = kOrigin;
  impl->size = size;
  if (copy) {
    const size_t rounded = (size + 63) & ~size_t{63};
    if (rounded < size) {
      return Status(StatusCode::kInvalidArgument,
                    fmt::format("{}: buffer size {} is too large", kOrigin, size));
    }
    auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, rounded));
    if (p == nullptr) {
      return Status(StatusCode::kIoError,
                    fmt::format("{}: cannot allocate {} bytes for a copy of the model", kOrigin,
                                size));
    }
    std::memcpy(p, data, size);
    std::memset(p + size, 0, rounded - size);
    impl->owned.reset(p);
    impl->base = p;
  } else {
    const auto addr = reinterpret_cast<uintptr_t>(data);
    if (addr % 8 != 0) {
      return Status(StatusCode::kInvalidArgument,
                    fmt::format("{}: buffer address {:#x} is not 8-byte aligned; a model used "
                                "in place needs at least 8-byte (ideally 64-byte) alignment. "
                                "Align the buffer or pass copy=true",
                                kOrigin, addr));
    }
    impl->base = static_cast<const uint8_t*>(data);
  }
  return finish_load(std::move(impl));
}

namespace detail {

// ---------------------------------------------------------------- MappedFile

Result<std::unique_ptr<MappedFile>> MappedFile::open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not hang; it is refused below anyway.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    const StatusCode code =
        (err == ENOENT || err == ENOTDIR) ? StatusCode::kNotFound : StatusCode::kIoError;
    return Status(code, fmt::format("cannot open '{}': {}", path, std::strerror(err)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status(StatusCode::kIoError, fmt::format("cannot stat '{}': {}", path, std::strerror(err)));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Status(StatusCode::kIoError, fmt::format("cannot read '{}': it is a directory", path));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status(StatusCode::kIoError,
                  fmt::format("cannot read '{}': not a regular file", path));
  }
  if (st.st_size <= 0) {
    ::close(fd);
    return Status(StatusCode::kInvalidModel, fmt::format("{}: file is empty", path));
  }
  const auto size = static_cast<size_t>(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping stays valid after close
  if (p == MAP_FAILED) {
    return Status(StatusCode::kIoError, fmt::format("cannot map '{}': {}", path, std::strerror(err)));
  }
  std::unique_ptr<MappedFile> file(new MappedFile());
  file->data_ = static_cast<const uint8_t*>(p);
  file->size_ = size;
  return file;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

void AlignedFree::operator()(uint8_t* p) const { std::free(p); }

std::shared_ptr<const Model> ModelImpl::wrap(std::unique_ptr<ModelImpl> impl) {
  return std::shared_ptr<const Model>(new Model(std::move(impl)));
}

// ---------------------------------------------------------------- descriptions

std::string describe_node(const ModelImpl& m, int node_index) {
  std::string out = fmt::format("node {}", node_index);
  if (node_index < 0 || static_cast<size_t>(node_index) >= m.nodes.size()) return out;
  const NodeInfo& n = m.nodes[node_index];
  std::string inner;
  if (!n.name.empty()) inner = fmt::format("'{}'", n.name);
  if (!n.source_nodes.empty()) {
    if (!inner.empty()) inner += ", ";
    inner += "from ONNX ";
    for (size_t i = 0; i < n.source_nodes.size(); ++i) {
      if (i > 0) inner += ", ";
      inner += fmt::format("'{}'", n.source_nodes[i]);
    }
  }
  if (!inner.empty()) out += fmt::format(" ({})", inner);
  return out;
}

std::string describe_tensor(const ModelImpl& m, int tensor_index) {
  if (tensor_index < 0 || static_cast<size_t>(tensor_index) >= m.tensors.size()) {
    return fmt::format("tensor {}", tensor_index);
  }
  return fmt::format("tensor {} ('{}')", tensor_index, m.tensors[tensor_index].name);
}

}  // namespace detail
}  // namespace quanta
