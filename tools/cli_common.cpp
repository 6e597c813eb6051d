// Helpers shared by the subcommands of the `quanta` CLI.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include <fmt/format.h>

#include <limits>

#include "backends/onednn.hpp"
#include "cli.hpp"
#include "quanta/kernels/tier.h"

#ifndef QUANTA_VERSION_STRING
#error "QUANTA_VERSION_STRING is defined by CMakeLists.txt"
#endif

namespace quanta::cli {

std::string version_text() {
  kernels::Tier tier = kernels::Tier::kRef;
  std::string tier_error;
  const bool tier_ok = kernels::active_tier(&tier, &tier_error) == kernels::TierChoice::kOk;
  // The oneDNN line comes from the plugin (loaded here) or says why there is none.
  return fmt::format("quanta {}\nmodel format {}.{}\n{}\n", QUANTA_VERSION_STRING,
                     kFormatVersionMajor, kFormatVersionMinor, detail::onednn::describe()) +
         (tier_ok ? fmt::format("tier {} (best on this CPU: {})\n", kernels::tier_name(tier),
                                kernels::tier_name(kernels::best_tier()))
                  : fmt::format("tier none: {}; every command that runs a model without --tier will "
                                "refuse it\n",
                                tier_error));
}

// ------------------------------------------------------------ helpers

void check(const Status& status, const std::string& context) {
  if (!status.ok()) throw Error(fmt::format("{}: {}", context, status.to_string()));
}

std::shared_ptr<const Model> load_model_or_throw(const std::string& path) {
  auto model = Model::load_file(path);
  if (!model) {
    const std::string msg = model.status().to_string();
    // The loader usually names the file already; do not say it twice.
    if (msg.find(path) != std::string::npos) throw Error(msg);
    throw Error(fmt::format("{}: {}", path, msg));
  }
  return *model;
}

void apply_limits(const LimitArgs& a, SessionOptions* o) {
  // The options are range-checked (at most 2^40 MiB), so no product overflows.
  o->max_arena_bytes = static_cast<size_t>(a.max_arena_mb) << 20;
  o->max_prepared_bytes = static_cast<size_t>(a.max_prepared_mb) << 20;
}

KernelTier tier_from_arg(const std::string& tier) {
  KernelTier t = KernelTier::kAuto;
  if (!parse_kernel_tier(tier, &t)) throw UsageError(fmt::format("--tier {}: not a kernel tier", tier));
  return t;
}

SessionOptions session_options(const SessionArgs& a) {
  SessionOptions o;
  o.threads = a.intra_threads;
  o.tier = tier_from_arg(a.tier);
  o.backend = backend_from_arg(a.backend);
  apply_limits(a.limits, &o);
  return o;
}

std::unique_ptr<Session> create_session_or_throw(const std::shared_ptr<const Model>& model,
                                                 const std::string& path,
                                                 const SessionOptions& options) {
  auto session = Session::create(model, options);
  if (!session) {
    const std::string msg = session.status().to_string();
    if (msg.find(path) != std::string::npos) throw Error(msg);
    throw Error(fmt::format("{}: cannot prepare a session: {}", path, msg));
  }
  return std::move(*session);
}

std::string shape_str(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

std::string quant_str(const TensorInfo& t) {
  const QuantParams& q = t.quant;
  if (q.empty()) return dtype_name(t.dtype);
  if (q.scale.size() == 1) {
    const int32_t zp = q.zero_point.empty() ? 0 : q.zero_point[0];
    return fmt::format("{} s={:.6g} zp={}", dtype_name(t.dtype), q.scale[0], zp);
  }
  const auto [smin, smax] = std::minmax_element(q.scale.begin(), q.scale.end());
  std::string zp;
  if (!q.zero_point.empty()) {
    const auto [zmin, zmax] = std::minmax_element(q.zero_point.begin(), q.zero_point.end());
    zp = *zmin == *zmax ? fmt::format("{}", *zmin) : fmt::format("[{}, {}]", *zmin, *zmax);
  }
  return fmt::format("{} per-axis({}) x{} s=[{:.4g}, {:.4g}] zp={}", dtype_name(t.dtype), q.axis,
                     q.scale.size(), *smin, *smax, zp);
}

Rng::Rng(uint32_t seed) : engine_(seed) {}

float Rng::uniform(float lo, float hi) {
  // 24 random bits -> [0, 1) exactly representable in float.
  const float u = static_cast<float>(next() >> 8) * (1.0f / 16777216.0f);
  return lo + (hi - lo) * u;
}

void fill_random_input(Session& session, size_t i, Rng& rng) {
  const TensorInfo& t = session.model().input(i);
  const auto n = static_cast<size_t>(t.num_elements);
  if (t.dtype == DType::kF32 || (t.dtype == DType::kU8 && t.quant.per_tensor())) {
    float lo = -1.0f;
    float hi = 1.0f;
    if (t.dtype == DType::kU8) {
      const float s = t.quant.scale[0];
      const float z = static_cast<float>(t.quant.zero_point.empty() ? 0 : t.quant.zero_point[0]);
      lo = s * (0.0f - z);
      hi = s * (255.0f - z);
    }
    std::vector<float> v(n);
    for (float& x : v) x = rng.uniform(lo, hi);
    check(session.set_input(i, v), fmt::format("input {} ('{}')", i, t.name));
    return;
  }
  std::vector<uint8_t> bytes(t.num_bytes);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng.next() >> 24);
  check(session.set_input_raw(i, bytes.data(), bytes.size()),
        fmt::format("input {} ('{}')", i, t.name));
}

size_t argmax(const float* v, size_t n) {
  size_t best = 0;
  for (size_t k = 1; k < n; ++k) {
    if (v[k] > v[best] || (std::isnan(v[best]) && !std::isnan(v[k]))) best = k;
  }
  return best;
}

std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows,
                         const std::vector<size_t>& right) {
  std::vector<size_t> width(header.size(), 0);
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& r : rows) {
    for (size_t c = 0; c < r.size() && c < width.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      const bool r = std::find(right.begin(), right.end(), c) != right.end();
      const bool last = c + 1 == width.size();
      if (c > 0) out += "  ";
      if (r) {
        out += std::string(width[c] - cell.size(), ' ') + cell;
      } else {
        out += cell;
        if (!last) out += std::string(width[c] - cell.size(), ' ');
      }
    }
    out += "\n";
    return out;
  };
  std::string out = line(header);
  for (const auto& r : rows) out += line(r);
  return out;
}

std::string group_digits(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string human_bytes(double bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, kUnits[u]);
}

double percentile_sorted(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const double pos = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

void ErrorStats::add(const std::vector<float>& ref, const std::vector<float>& cand) {
  for (size_t k = 0; k < ref.size() && k < cand.size(); ++k) {
    const double x = ref[k], y = cand[k];
    if (!std::isfinite(x) || !std::isfinite(y)) {
      nonfinite = true;
      continue;
    }
    const double e = y - x;
    ref2 += x * x;
    cand2 += y * y;
    err2 += e * e;
    dot += x * y;
    abs_err += std::fabs(e);
    max_abs_err = std::max(max_abs_err, std::fabs(e));
    ++count;
  }
}

double ErrorStats::sqnr_db() const {
  if (err2 == 0) return std::numeric_limits<double>::infinity();
  if (ref2 == 0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(ref2 / err2);
}

double ErrorStats::cosine() const {
  if (ref2 == 0 || cand2 == 0) return ref2 == cand2 ? 1.0 : 0.0;
  return dot / std::sqrt(ref2 * cand2);
}

}  // namespace quanta::cli
