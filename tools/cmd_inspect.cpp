// `quanta inspect`: what a model file contains, in text or JSON.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"

namespace quanta::cli {
namespace {

using json = nlohmann::ordered_json;

json quant_json(const QuantParams& q) {
  if (q.empty()) return nullptr;
  json j;
  j["axis"] = q.axis;
  if (q.group_size > 0) j["group_size"] = q.group_size;
  j["scale"] = q.scale;
  j["zero_point"] = q.zero_point;
  return j;
}

json tensor_json(const TensorInfo& t, int index) {
  json j;
  j["index"] = index;
  j["name"] = t.name;
  j["shape"] = t.shape;
  j["dtype"] = dtype_name(t.dtype);
  j["constant"] = t.is_constant;
  j["elements"] = t.num_elements;
  j["bytes"] = t.num_bytes;
  j["quantization"] = quant_json(t.quant);
  return j;
}

std::string tensor_ref(const Model& m, int idx) {
  if (idx < 0) return "-";
  return m.tensors()[static_cast<size_t>(idx)].name;
}

}  // namespace

int run_inspect(const InspectArgs& a) {
  auto model = load_model_or_throw(a.model);
  const Model& m = *model;
  const auto& tensors = m.tensors();
  const auto& nodes = m.nodes();

  // Weights: bytes per dtype, and the size the same model would have with
  // every non-float constant stored as fp32 (4 bytes per element).
  std::map<std::string, size_t> weight_bytes;
  std::map<std::string, int64_t> weight_elems;
  size_t const_bytes = 0;
  size_t quantized_const_bytes = 0;
  int64_t quantized_const_elems = 0;
  for (const TensorInfo& t : tensors) {
    if (!t.is_constant) continue;
    weight_bytes[dtype_name(t.dtype)] += t.num_bytes;
    weight_elems[dtype_name(t.dtype)] += t.num_elements;
    const_bytes += t.num_bytes;
    if (t.dtype != DType::kF32) {
      quantized_const_bytes += t.num_bytes;
      quantized_const_elems += t.num_elements;
    }
  }
  const double fp32_size = static_cast<double>(m.file_size()) - static_cast<double>(quantized_const_bytes) +
                           4.0 * static_cast<double>(quantized_const_elems);
  int64_t total_macs = 0;
  for (const NodeInfo& n : nodes) total_macs += n.macs;

  // A session tells the planned arena size (and whether the model can run)
  // and, with the onednn backend, which nodes oneDNN takes.
  std::string session_error;
  size_t arena = 0, unplanned = 0, prepared = 0;
  SessionOptions options;
  options.tier = tier_from_arg(a.tier);
  options.backend = backend_from_arg(a.backend);
  apply_limits(a.limits, &options);
  auto created = Session::create(model, options);
  std::unique_ptr<Session> session;
  if (created) {
    session = std::move(*created);
    arena = session->arena_bytes();
    unplanned = session->unplanned_bytes();
    prepared = session->prepared_bytes();
  } else {
    session_error = created.status().to_string();
  }
  const bool onednn = session && session->backend() == Backend::kOnednn;

  if (a.json) {
    json j;
    j["file"] = a.model;
    j["file_size"] = m.file_size();
    j["format_version"] = fmt::format("{}.{}", m.version_major(), m.version_minor());
    j["producer"] = m.producer();
    j["description"] = m.description();
    json ins = json::array(), outs = json::array();
    for (size_t i = 0; i < m.num_inputs(); ++i) ins.push_back(tensor_json(m.input(i), m.input_indices()[i]));
    for (size_t i = 0; i < m.num_outputs(); ++i) outs.push_back(tensor_json(m.output(i), m.output_indices()[i]));
    j["inputs"] = ins;
    j["outputs"] = outs;
    json jn = json::array();
    for (size_t k = 0; k < nodes.size(); ++k) {
      const NodeInfo& n = nodes[k];
      json e;
      e["index"] = k;
      e["op"] = op_type_name(n.op);
      e["name"] = n.name;
      e["source_nodes"] = n.source_nodes;
      e["inputs"] = n.inputs;
      e["outputs"] = n.outputs;
      e["macs"] = n.macs;
      jn.push_back(e);
    }
    j["nodes"] = jn;
    json jt = json::array();
    for (size_t k = 0; k < tensors.size(); ++k) jt.push_back(tensor_json(tensors[k], static_cast<int>(k)));
    j["tensors"] = jt;
    json jw = json::object();
    for (const auto& [dt, bytes] : weight_bytes) jw[dt] = {{"bytes", bytes}, {"elements", weight_elems[dt]}};
    j["weights"] = jw;
    j["weight_bytes"] = const_bytes;
    j["total_macs"] = total_macs;
    if (session_error.empty()) {
      j["arena_bytes"] = arena;
      j["unplanned_bytes"] = unplanned;
      j["prepared_bytes"] = prepared;
      j["tier"] = kernel_tier_name(session->tier());
    } else {
      j["arena_bytes"] = nullptr;
      j["unplanned_bytes"] = nullptr;
      j["prepared_bytes"] = nullptr;
      j["tier"] = nullptr;
      j["session_error"] = session_error;
    }
    if (onednn) {
      j["backend"] = backend_name(session->backend());
      j["onednn_nodes"] = session->onednn_nodes();
      j["backend_notes"] = backend_notes_json(*session);
    }
    j["fp32_equivalent_bytes"] = static_cast<int64_t>(fp32_size);
    j["size_ratio_vs_fp32"] = fp32_size > 0 ? static_cast<double>(m.file_size()) / fp32_size : 0.0;
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }

  std::cout << fmt::format("model        {}\n", a.model);
  std::cout << fmt::format("format       {}.{}\n", m.version_major(), m.version_minor());
  std::cout << fmt::format("producer     {}\n", m.producer());
  if (!m.description().empty()) std::cout << fmt::format("description  {}\n", m.description());
  std::cout << "\n";
  for (int pass = 0; pass < 2; ++pass) {
    const size_t count = pass == 0 ? m.num_inputs() : m.num_outputs();
    std::vector<std::vector<std::string>> rows;
    for (size_t i = 0; i < count; ++i) {
      const TensorInfo& t = pass == 0 ? m.input(i) : m.output(i);
      rows.push_back({std::to_string(i), t.name, shape_str(t.shape), quant_str(t)});
    }
    std::cout << (pass == 0 ? "inputs\n" : "outputs\n");
    std::cout << format_table({"  #", "name", "shape", "dtype / quantization"}, rows, {0}) << "\n";
  }

  if (!a.brief) {
    std::vector<std::vector<std::string>> rows;
    for (size_t k = 0; k < nodes.size(); ++k) {
      const NodeInfo& n = nodes[k];
      std::vector<std::string> in, out;
      for (int t : n.inputs) in.push_back(tensor_ref(m, t));
      for (int t : n.outputs) out.push_back(tensor_ref(m, t));
      rows.push_back({std::to_string(k), op_type_name(n.op), n.name,
                      n.source_nodes.empty() ? "-" : fmt::format("{}", fmt::join(n.source_nodes, ",")),
                      fmt::format("{} -> {}", fmt::join(in, ", "), fmt::join(out, ", ")),
                      group_digits(n.macs)});
    }
    std::cout << fmt::format("nodes ({})\n", nodes.size());
    std::cout << format_table({"  #", "op", "name", "source", "inputs -> outputs", "MACs"}, rows, {0, 5})
              << "\n";

    rows.clear();
    for (size_t k = 0; k < tensors.size(); ++k) {
      const TensorInfo& t = tensors[k];
      rows.push_back({std::to_string(k), t.name, shape_str(t.shape), t.is_constant ? "const" : "act",
                      quant_str(t), group_digits(static_cast<int64_t>(t.num_bytes))});
    }
    std::cout << fmt::format("tensors ({})\n", tensors.size());
    std::cout << format_table({"  #", "name", "shape", "kind", "dtype / quantization", "bytes"}, rows, {0, 5})
              << "\n";
  }

  std::cout << "weights";
  if (weight_bytes.empty()) std::cout << "      none";
  bool first = true;
  for (const auto& [dt, bytes] : weight_bytes) {
    std::cout << fmt::format("{}{} {} ({} elements)", first ? "      " : ", ", dt, human_bytes(static_cast<double>(bytes)),
                             group_digits(weight_elems[dt]));
    first = false;
  }
  std::cout << "\n";
  std::cout << fmt::format("total MACs   {}\n", group_digits(total_macs));
  if (session_error.empty()) {
    std::cout << fmt::format("arena        {} planned ({} without reuse)\n", human_bytes(static_cast<double>(arena)),
                             human_bytes(static_cast<double>(unplanned)));
    std::cout << fmt::format("prepared     {} (packed weights, tables, node state; tier {})\n",
                             human_bytes(static_cast<double>(prepared)), kernel_tier_name(session->tier()));
  } else {
    std::cout << fmt::format("arena        unavailable: the model cannot run here: {}\n", session_error);
  }
  if (onednn) {
    const std::string summary = backend_summary(*session);
    std::cout << fmt::format("backend      onednn: {}\n", summary.empty() ? "no node offered" : summary);
    std::cout << backend_notes_table(*session, false);
  }
  std::cout << fmt::format("file size    {} ({} bytes); with fp32 constants about {} ({:.2f}x smaller)\n",
                           human_bytes(static_cast<double>(m.file_size())), group_digits(static_cast<int64_t>(m.file_size())),
                           human_bytes(fp32_size),
                           m.file_size() > 0 ? fp32_size / static_cast<double>(m.file_size()) : 0.0);
  return kExitOk;
}

}  // namespace quanta::cli
