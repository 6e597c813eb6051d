// Checks of QuantizeOptions that need only the float graph, so that
// `quanta convert` can refuse a bad --exclude before it calibrates.
#include <algorithm>

#include <fmt/format.h>

#include "graph.hpp"

namespace quanta::convert {

namespace {

Status check_options(const FloatGraph& g, const QuantizeOptions& options) {
  for (const std::string& e : options.exclude) {
    const bool found = std::any_of(g.nodes.begin(), g.nodes.end(), [&](const LNode& n) {
      return n.name == e || std::find(n.source.begin(), n.source.end(), e) != n.source.end();
    });
    if (found) continue;
    constexpr size_t kListed = 12;
    std::string names;
    for (size_t i = 0; i < g.nodes.size() && i < kListed; ++i) {
      names += fmt::format("{}'{}'", i == 0 ? "" : ", ", g.nodes[i].name);
    }
    if (g.nodes.size() > kListed) {
      names += fmt::format(" and {} more (`quanta convert --precision fp32` then `quanta inspect` "
                           "lists them all)", g.nodes.size() - kListed);
    }
    return Status{StatusCode::kInvalidArgument,
                  fmt::format("--exclude '{}': no node of the model has this name; its nodes are {}", e,
                              names)};
  }
  return Status::Ok();
}

}  // namespace

Status check_quantize_options(const FloatGraph& g, const QuantizeOptions& options) {
  return detail::no_exceptions("check_quantize_options", [&] { return check_options(g, options); });
}

}  // namespace quanta::convert
