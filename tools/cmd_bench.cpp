// `quanta bench`: latency of Session::run() and, optionally, per node.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <latch>
#include <memory>
#include <numeric>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"

namespace quanta::cli {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kInputSeed = 12345;

struct Stats {
  size_t runs = 0;
  double min = 0, p50 = 0, p90 = 0, p99 = 0, mean = 0, max = 0;  // microseconds
};

Stats stats_of(std::vector<double> us) {
  Stats s;
  s.runs = us.size();
  if (us.empty()) return s;
  std::sort(us.begin(), us.end());
  s.min = us.front();
  s.max = us.back();
  s.p50 = percentile_sorted(us, 50);
  s.p90 = percentile_sorted(us, 90);
  s.p99 = percentile_sorted(us, 99);
  s.mean = std::accumulate(us.begin(), us.end(), 0.0) / static_cast<double>(us.size());
  return s;
}

json stats_json(const Stats& s) {
  return {{"runs", s.runs}, {"min", s.min},   {"p50", s.p50}, {"p90", s.p90},
          {"p99", s.p99},   {"mean", s.mean}, {"max", s.max},
          {"runs_per_s", s.mean > 0 ? 1e6 / s.mean : 0.0}};
}

struct ThreadResult {
  std::vector<double> us;
  Clock::time_point start, end;
  Status error;
};

// Warm-up, then timed runs until both `runs` and `min_time_ms` are reached.
void bench_loop(Session& s, const BenchArgs& a, std::latch* go, ThreadResult* r) {
  r->us.reserve(static_cast<size_t>(a.runs));
  if (go) go->arrive_and_wait();
  for (int i = 0; i < a.warmup; ++i) {
    if (Status st = s.run(); !st.ok()) {
      r->error = st;
      return;
    }
  }
  const auto min_time = std::chrono::duration<double, std::milli>(a.min_time_ms);
  r->start = Clock::now();
  for (size_t i = 0;; ++i) {
    const auto t0 = Clock::now();
    const Status st = s.run();
    const auto t1 = Clock::now();
    if (!st.ok()) {
      r->error = st;
      break;
    }
    r->us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    if (i + 1 >= static_cast<size_t>(a.runs) && (t1 - r->start) >= min_time) break;
  }
  r->end = Clock::now();
}

std::unique_ptr<Session> make_session(const std::shared_ptr<const Model>& model, const std::string& path,
                                      const SessionOptions& options) {
  auto s = create_session_or_throw(model, path, options);
  Rng rng(kInputSeed);
  for (size_t i = 0; i < model->num_inputs(); ++i) fill_random_input(*s, i, rng);
  return s;
}

struct OpRow {
  int node = 0;
  std::string op, name;
  int64_t macs = 0;
  double mean_us = 0, percent = 0, gmacs = 0;
};

std::vector<OpRow> per_op_profile(const std::shared_ptr<const Model>& model, const BenchArgs& a) {
  SessionOptions options = session_options(a.session);
  options.profile = true;
  auto s = make_session(model, a.model, options);
  for (int i = 0; i < a.warmup; ++i) check(s->run(), fmt::format("{}: run", a.model));
  s->reset_timings();
  for (int i = 0; i < a.runs; ++i) check(s->run(), fmt::format("{}: run", a.model));
  std::vector<OpRow> rows;
  double total = 0;
  for (const NodeTiming& t : s->timings()) {
    if (t.runs <= 0 || t.node < 0 || static_cast<size_t>(t.node) >= model->nodes().size()) continue;
    const NodeInfo& n = model->nodes()[static_cast<size_t>(t.node)];
    OpRow r;
    r.node = t.node;
    r.op = op_type_name(n.op);
    r.name = n.name;
    r.macs = n.macs;
    r.mean_us = t.total_ns / static_cast<double>(t.runs) / 1000.0;
    r.gmacs = r.mean_us > 0 ? static_cast<double>(n.macs) / (r.mean_us * 1000.0) : 0.0;
    total += r.mean_us;
    rows.push_back(r);
  }
  for (OpRow& r : rows) r.percent = total > 0 ? 100.0 * r.mean_us / total : 0.0;
  std::sort(rows.begin(), rows.end(), [](const OpRow& x, const OpRow& y) { return x.mean_us > y.mean_us; });
  return rows;
}

std::vector<std::string> stats_cells(const std::string& label, const Stats& s) {
  return {label,
          group_digits(static_cast<int64_t>(s.runs)),
          fmt::format("{:.2f}", s.min),
          fmt::format("{:.2f}", s.p50),
          fmt::format("{:.2f}", s.p90),
          fmt::format("{:.2f}", s.p99),
          fmt::format("{:.2f}", s.mean),
          fmt::format("{:.0f}", s.mean > 0 ? 1e6 / s.mean : 0.0)};
}

}  // namespace

int run_bench(const BenchArgs& a) {
  auto model = load_model_or_throw(a.model);
  int64_t total_macs = 0;
  for (const NodeInfo& n : model->nodes()) total_macs += n.macs;

  // Sessions are created (and inputs set) before any thread starts.
  std::vector<std::unique_ptr<Session>> sessions;
  for (int t = 0; t < a.threads; ++t) sessions.push_back(make_session(model, a.model, session_options(a.session)));

  std::vector<ThreadResult> results(static_cast<size_t>(a.threads));
  if (a.threads == 1) {
    bench_loop(*sessions[0], a, nullptr, &results[0]);
  } else {
    std::latch go(a.threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < a.threads; ++t) {
      pool.emplace_back(bench_loop, std::ref(*sessions[static_cast<size_t>(t)]), std::cref(a), &go,
                        &results[static_cast<size_t>(t)]);
    }
    for (std::thread& th : pool) th.join();
  }
  for (size_t t = 0; t < results.size(); ++t) {
    if (!results[t].error.ok()) check(results[t].error, fmt::format("{}: run (thread {})", a.model, t));
  }

  std::vector<Stats> per_thread;
  std::vector<double> all_us;
  Clock::time_point first = results[0].start, last = results[0].end;
  size_t total_runs = 0;
  for (const ThreadResult& r : results) {
    per_thread.push_back(stats_of(r.us));
    all_us.insert(all_us.end(), r.us.begin(), r.us.end());
    first = std::min(first, r.start);
    last = std::max(last, r.end);
    total_runs += r.us.size();
  }
  const Stats all = stats_of(all_us);
  const double wall_s = std::chrono::duration<double>(last - first).count();
  const double aggregate = wall_s > 0 ? static_cast<double>(total_runs) / wall_s : 0.0;
  const double gmacs_p50 = all.p50 > 0 ? static_cast<double>(total_macs) / (all.p50 * 1000.0) : 0.0;

  std::vector<OpRow> ops;
  if (a.per_op) ops = per_op_profile(model, a);

  if (a.json) {
    json j;
    j["model"] = a.model;
    j["total_macs"] = total_macs;
    j["threads"] = a.threads;
    j["intra_threads"] = sessions[0]->threads();
    j["tier"] = kernel_tier_name(sessions[0]->tier());
    j["backend"] = backend_name(sessions[0]->backend());
    j["onednn_nodes"] = sessions[0]->onednn_nodes();
    j["backend_notes"] = backend_notes_json(*sessions[0]);
    j["warmup"] = a.warmup;
    j["runs"] = a.runs;
    j["min_time_ms"] = a.min_time_ms;
    j["latency_us"] = stats_json(all);
    j["gmacs_at_p50"] = gmacs_p50;
    j["aggregate_runs_per_s"] = aggregate;
    j["wall_s"] = wall_s;
    json pt = json::array();
    for (size_t t = 0; t < per_thread.size(); ++t) {
      json e = stats_json(per_thread[t]);
      e["thread"] = t;
      pt.push_back(e);
    }
    j["per_thread"] = pt;
    if (a.per_op) {
      json po = json::array();
      for (const OpRow& r : ops) {
        po.push_back({{"node", r.node}, {"op", r.op}, {"name", r.name}, {"macs", r.macs},
                      {"mean_us", r.mean_us}, {"percent", r.percent}, {"gmacs", r.gmacs}});
      }
      j["per_op"] = po;
    }
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }

  std::cout << fmt::format("model      {} ({} MACs per run)\n", a.model, group_digits(total_macs));
  std::cout << fmt::format("setup      {} thread{} (one Session each), {} warm-up runs, {} measured runs{}\n",
                           a.threads, a.threads == 1 ? "" : "s", a.warmup, all.runs,
                           a.min_time_ms > 0 ? fmt::format(" (at least {} ms)", a.min_time_ms) : "");
  const std::string onednn = backend_summary(*sessions[0]);
  std::cout << fmt::format("session    {} intra-op thread{}, tier {}, backend {}{}\n", sessions[0]->threads(),
                           sessions[0]->threads() == 1 ? "" : "s", kernel_tier_name(sessions[0]->tier()),
                           backend_name(sessions[0]->backend()),
                           onednn.empty() ? "" : " (" + onednn + ")");
  if (const std::string refused = backend_notes_table(*sessions[0], true); !refused.empty()) {
    std::cout << "refused by oneDNN (Quanta's kernels run these nodes):\n" << refused;
  }
  std::cout << fmt::format("latency    min {:.2f} us  p50 {:.2f} us  p90 {:.2f} us  p99 {:.2f} us  mean {:.2f} us\n",
                           all.min, all.p50, all.p90, all.p99, all.mean);
  if (a.threads == 1) {
    std::cout << fmt::format("throughput {:.0f} runs/s, {:.2f} GMAC/s at p50\n", aggregate, gmacs_p50);
  } else {
    std::vector<std::vector<std::string>> rows;
    for (size_t t = 0; t < per_thread.size(); ++t) rows.push_back(stats_cells(fmt::format("{}", t), per_thread[t]));
    rows.push_back(stats_cells("all", all));
    std::cout << "\n" << format_table({"thread", "runs", "min us", "p50 us", "p90 us", "p99 us", "mean us", "runs/s"},
                                      rows, {1, 2, 3, 4, 5, 6, 7});
    std::cout << fmt::format("\naggregate  {:.0f} runs/s over {} threads ({:.2f}x one thread's mean rate)\n",
                             aggregate, a.threads, all.mean > 0 ? aggregate / (1e6 / all.mean) : 0.0);
  }
  if (a.per_op) {
    std::vector<std::vector<std::string>> rows;
    for (const OpRow& r : ops) {
      rows.push_back({std::to_string(r.node), r.op, r.name, group_digits(r.macs), fmt::format("{:.3f}", r.mean_us),
                      fmt::format("{:.1f}", r.percent), fmt::format("{:.2f}", r.gmacs)});
    }
    std::cout << fmt::format("\nper node ({} profiled runs, sorted by time)\n", a.runs);
    std::cout << format_table({"node", "op", "name", "MACs", "mean us", "%", "GMAC/s"}, rows, {0, 3, 4, 5, 6});
  }
  return kExitOk;
}

}  // namespace quanta::cli
