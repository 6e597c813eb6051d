// Internal: the decoded, validated form of a .quanta file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "quanta/quanta.hpp"
#include "quanta_generated.h"

namespace quanta::detail {

// Read-only memory map of a whole file (RAII).
class MappedFile {
 public:
  static Result<std::unique_ptr<MappedFile>> open(const std::string& path);
  ~MappedFile();
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

struct AlignedFree {
  void operator()(uint8_t* p) const;
};

struct ModelImpl {
  // Exactly one of these owns the bytes (or neither: a borrowed buffer).
  std::unique_ptr<MappedFile> mapped;
  std::unique_ptr<uint8_t, AlignedFree> owned;
  const uint8_t* base = nullptr;
  size_t size = 0;
  std::string origin;  // file path or "<memory>", used in error messages

  const fb::Model* fb = nullptr;
  uint32_t version_major = 0;
  uint32_t version_minor = 0;
  std::string producer;
  std::string description;

  std::vector<TensorInfo> tensors;
  // Per tensor: pointer to constant bytes in the file, or nullptr.
  std::vector<const void*> const_data;
  std::vector<NodeInfo> nodes;
  std::vector<const fb::Node*> fb_nodes;  // same order as nodes (for options)
  // Per node: the geometry its op's check computed for its prepare step (a
  // struct of the op's own file, ops/<op>.cpp: NodeChecker::set_geometry,
  // OpContext::geometry), or null.
  std::vector<std::shared_ptr<const void>> geometry;
  std::vector<int> inputs;
  std::vector<int> outputs;

  // Builds the Model object around a fully validated impl.
  static std::shared_ptr<const Model> wrap(std::unique_ptr<ModelImpl> impl);
};

// loader.cpp: FlatBuffers verification and structural validation, filling
// every field of `impl` except the bytes. Then runs check_graph_semantics.
Status decode_model(ModelImpl& impl);

// ops/shape_check.cpp: per-op semantic checks (input count, dtypes,
// quantization requirements, options) and static shape inference: each
// output's inferred shape must equal the shape stored in the file. Also fills
// NodeInfo::macs and ModelImpl::geometry.
Status check_graph_semantics(ModelImpl& impl);

// Formats "node 4 ('conv1', from ONNX 'Conv_3')" for error messages.
std::string describe_node(const ModelImpl& m, int node_index);
// Formats "tensor 7 ('conv1.weight')".
std::string describe_tensor(const ModelImpl& m, int tensor_index);

}  // namespace quanta::detail
