// --backend and the oneDNN backend's per-node decisions in the reports of
// `quanta bench` and `quanta inspect` (docs/cli.md, docs/onednn.md).
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"

namespace quanta::cli {

Backend backend_from_arg(const std::string& backend) {
  return backend == "own"      ? Backend::kOwn
         : backend == "onednn" ? Backend::kOnednn
                               : Backend::kAuto;
}

namespace {

const NodeInfo& node_of(const Session& s, const BackendNote& n) {
  return s.model().nodes()[static_cast<size_t>(n.node)];
}

}  // namespace

std::string backend_summary(const Session& s) {
  const std::vector<BackendNote> notes = s.backend_notes();
  if (notes.empty()) return "";
  int taken = 0;
  for (const BackendNote& n : notes) taken += n.onednn ? 1 : 0;
  return fmt::format("{} of {} offered node{} on oneDNN", taken, notes.size(),
                     notes.size() == 1 ? "" : "s");
}

std::string backend_notes_table(const Session& s, bool refused_only) {
  std::vector<std::vector<std::string>> rows;
  for (const BackendNote& n : s.backend_notes()) {
    if (refused_only && n.onednn) continue;
    const NodeInfo& node = node_of(s, n);
    rows.push_back({std::to_string(n.node), op_type_name(node.op), node.name,
                    n.onednn ? "onednn" : "own", n.detail});
  }
  if (rows.empty()) return "";
  return format_table({"  #", "op", "name", "backend", "oneDNN implementation, or why not"}, rows,
                      {0});
}

nlohmann::ordered_json backend_notes_json(const Session& s) {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (const BackendNote& n : s.backend_notes()) {
    const NodeInfo& node = node_of(s, n);
    a.push_back({{"node", n.node},
                 {"op", op_type_name(node.op)},
                 {"name", node.name},
                 {"backend", n.onednn ? "onednn" : "own"},
                 {"detail", n.detail}});
  }
  return a;
}

}  // namespace quanta::cli
