#include "fuzz_common.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

#include "model_impl.hpp"

namespace quanta::fuzz {
namespace {

int64_t sat_add(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

int64_t sat_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

// Output elements x window area of a pooling node (its cost beyond the
// elements themselves).
int64_t pool_work(const detail::ModelImpl& m, size_t node) {
  const NodeInfo& n = m.nodes[node];
  if (n.op != OpType::kMaxPool && n.op != OpType::kAveragePool) return 0;
  const fb::PoolOptions* o = m.fb_nodes[node]->options_as_PoolOptions();
  const int64_t area = o == nullptr ? 1 : sat_mul(o->kernel_h(), o->kernel_w());
  int64_t work = 0;
  for (int t : n.outputs) {
    if (t >= 0) work = sat_add(work, sat_mul(m.tensors[static_cast<size_t>(t)].num_elements, area));
  }
  return work;
}

void fill_input(Session& session, size_t i) {
  TensorView v = session.input(i);
  const TensorInfo& info = *v.info;
  if (info.dtype == DType::kF32) {
    std::vector<float> values(static_cast<size_t>(info.num_elements));
    for (size_t k = 0; k < values.size(); ++k) values[k] = pattern_value(i, k);
    if (Status s = session.set_input(i, values); !s.ok()) {
      fail("Session::set_input refused finite values of the right count", s.to_string());
    }
    return;
  }
  // Any other dtype: a fixed byte pattern written as it is.
  std::vector<uint8_t> bytes(info.num_bytes);
  for (size_t k = 0; k < bytes.size(); ++k) bytes[k] = static_cast<uint8_t>(k * 37 + i * 11);
  if (Status s = session.set_input_raw(i, bytes.data(), bytes.size()); !s.ok()) {
    fail("Session::set_input_raw refused a buffer of exactly num_bytes", s.to_string());
  }
}

}  // namespace

void fail(const std::string& what, const std::string& detail) {
  std::fprintf(stderr, "\n==== quanta fuzz harness: %s\n%s\n", what.c_str(), detail.c_str());
  std::fflush(stderr);
  std::abort();
}

void check_error(const Status& status, const char* call) {
  if (status.ok()) return;
  if (status.message().empty()) {
    fail(fmt::format("{} failed without a message", call), status.to_string());
  }
}

bool limits_disabled() {
  static const bool disabled = [] {
    const char* v = std::getenv("QUANTA_FUZZ_NO_LIMITS");
    return v != nullptr && std::string(v) == "1";
  }();
  return disabled;
}

std::string over_limits(const Model& model) {
  if (limits_disabled()) return {};
  const detail::ModelImpl& m = model.impl();
  int64_t work = 0;
  for (const TensorInfo& t : m.tensors) {
    if (!t.is_constant) work = sat_add(work, t.num_elements);
  }
  for (size_t n = 0; n < m.nodes.size(); ++n) {
    work = sat_add(work, sat_add(m.nodes[n].macs, pool_work(m, n)));
  }
  if (work > kMaxWork) return fmt::format("one run costs more than {} operations", kMaxWork);
  return {};
}

float pattern_value(size_t input, size_t k) {
  // A fixed, well-spread sequence in [-2, 2): multiplicative hashing.
  const uint32_t h = static_cast<uint32_t>((k + 1) * 2654435761u + input * 40503u);
  return static_cast<float>(h >> 8) / static_cast<float>(1u << 24) * 4.0f - 2.0f;
}

bool run_model(const std::shared_ptr<const Model>& model) {
  if (!over_limits(*model).empty()) return false;
  SessionOptions options;
  options.threads = 1;
  options.backend = Backend::kOwn;
  options.tier = KernelTier::kAuto;
  if (!limits_disabled()) {
    options.max_arena_bytes = kMaxSessionBytes;
    options.max_prepared_bytes = kMaxSessionBytes;
  }
  auto session = Session::create(model, options);
  if (!session) {
    check_error(session.status(), "Session::create");
    return true;
  }
  Session& s = **session;
  for (size_t i = 0; i < model->num_inputs(); ++i) fill_input(s, i);
  if (Status st = s.run(); !st.ok()) {
    check_error(st, "Session::run");
    return true;
  }
  for (size_t i = 0; i < model->num_outputs(); ++i) {
    std::vector<float> out(static_cast<size_t>(model->output(i).num_elements));
    check_error(s.get_output(i, out), "Session::get_output");
  }
  return true;
}

const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string templ = (base / "quanta-fuzz-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) fail("cannot make a scratch directory", templ);
    static const std::string made = templ;
    std::atexit([] {
      std::error_code rm_ec;
      std::filesystem::remove_all(made, rm_ec);
    });
    return templ;
  }();
  return dir;
}

std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) fail("cannot write a scratch file", path);
  const bool ok = (size == 0 || std::fwrite(data, 1, size, f) == size);
  if (std::fclose(f) != 0 || !ok) fail("cannot write a scratch file", path);
  return path;
}

}  // namespace quanta::fuzz
