// The `quanta` binary, run as a separate process (path from $QUANTA_BIN) on
// the demo models written by the demo generator into a temporary directory.
//
// Every failure case checks that the process exited normally with status 1
// (or 2 for usage errors) and printed "quanta: error: ..." naming the file:
// a crash would show up as a signal, not an exit status.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "demo_model.hpp"
#include "quanta/kernels/tier.h"
#include "quanta/npy.hpp"
#include "support/cli_runner.hpp"
#include "support/model_builders.hpp"

namespace quanta {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

namespace k = quanta::kernels;
using Outcome = test::CliOutcome;
std::string quote(const std::string& s) { return test::shell_quote(s); }
std::string bin() { return test::quanta_bin(); }

// Runs `quanta <args>`; with `stdout_to`, stdout and stderr go to that file.
Outcome quanta(const std::string& args, const std::string& stdout_to = "") {
  return test::run_quanta(args + (stdout_to.empty() ? "" : " > " + quote(stdout_to)));
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (bin().empty()) return;
    dir_ = test::temp_path("cli_models");
    auto paths = demo::write_demo_models(dir_);
    ASSERT_TRUE(paths.ok()) << paths.status().to_string();
    fp32_ = paths->fp32;
    int8_ = paths->int8;
    // A valid input and a few wrong ones.
    std::vector<float> x(16 * 16 * 3);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 200) / 100.0f - 1.0f;
    input_ = dir_ + "/x.npy";
    ASSERT_TRUE(npy::write_file(input_, npy::from_floats({1, 16, 16, 3}, x)).ok());
    ASSERT_TRUE(npy::write_file(dir_ + "/x_nobatch.npy", npy::from_floats({16, 16, 3}, x)).ok());
    ASSERT_TRUE(npy::write_file(dir_ + "/x_flat.npy", npy::from_floats({1, 768}, x)).ok());
  }

  static void TearDownTestSuite() {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void SetUp() override {
    if (bin().empty()) FAIL() << "QUANTA_BIN is not set (run the tests through ctest)";
  }

  static std::string path(const std::string& name) { return dir_ + "/" + name; }

  static inline std::string dir_, fp32_, int8_, input_;
};

TEST_F(CliTest, VersionAndHelp) {
  Outcome v = quanta("--version");
  EXPECT_EXIT_CODE(v, 0);
  EXPECT_THAT(v.output, AllOf(HasSubstr("quanta "), HasSubstr("model format 1.0"), HasSubstr("oneDNN")));
  EXPECT_EXIT_CODE(quanta("--help"), 0);
  for (const char* sub : {"run", "inspect", "bench", "compare", "demo-model"}) {
    SCOPED_TRACE(sub);
    Outcome h = quanta(std::string(sub) + " --help");
    EXPECT_EXIT_CODE(h, 0);
    EXPECT_THAT(h.output, HasSubstr("--help"));
  }
  EXPECT_THAT(quanta("bench --help").output,
              AllOf(HasSubstr("--intra-threads"), HasSubstr("--tier"), HasSubstr("--backend")));
  for (const char* sub : {"run", "eval", "inspect", "compare"}) {
    EXPECT_THAT(quanta(std::string(sub) + " --help").output, HasSubstr("--tier")) << sub;
  }
}

// A QUANTA_TIER value that is not a kernel tier stops every command that runs
// a model (exit 1, the variable, value and accepted names on stderr) instead of
// running the 40x slower reference kernels; --version says so too.
TEST_F(CliTest, BadQuantaTierIsAnError) {
  struct EnvGuard {
    ~EnvGuard() { ::unsetenv("QUANTA_TIER"); }
  } guard;
  ::setenv("QUANTA_TIER", "bogus", 1);  // inherited by the child process
  const std::string why = "QUANTA_TIER='bogus' is not a kernel tier (ref, avx2, avx512vnni)";
  for (const std::string& cmd : {"run " + quote(int8_) + " -i " + quote(input_),
                                 "bench " + quote(int8_) + " --runs 1 --warmup 0"}) {
    SCOPED_TRACE(cmd);
    Outcome o = quanta(cmd);
    EXPECT_EXIT_CODE(o, 1);
    EXPECT_THAT(o.output, AllOf(HasSubstr("quanta: error: "), HasSubstr(why)));
  }
  Outcome v = quanta("--version");
  EXPECT_EXIT_CODE(v, 0);
  EXPECT_THAT(v.output, HasSubstr("tier none: " + why));
  ::setenv("QUANTA_TIER", "ref", 1);
  v = quanta("--version");
  EXPECT_THAT(v.output, HasSubstr("tier ref (best on this CPU: "));
  EXPECT_EXIT_CODE(quanta("run " + quote(int8_) + " -i " + quote(input_)), 0);
}

// The oneDNN backend is a plugin (runtime/src/backends/onednn_plugin.hpp):
// when it cannot load, --backend onednn is an error that says where it looked
// and why, --version says the same, and the default backend still runs.
TEST_F(CliTest, MissingOnednnPluginIsAnError) {
  struct EnvGuard {
    ~EnvGuard() { ::unsetenv("QUANTA_ONEDNN_PLUGIN"); }
  } guard;
  const std::string missing = ::testing::TempDir() + "no_such_dir/libquanta_onednn.so";
  ::setenv("QUANTA_ONEDNN_PLUGIN", missing.c_str(), 1);  // inherited by the child process
  Outcome o = quanta("bench " + quote(int8_) + " --runs 1 --warmup 0 --backend onednn");
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, AllOf(HasSubstr("unsupported: backend onednn"),
                              HasSubstr("QUANTA_ONEDNN_PLUGIN did not load"), HasSubstr(missing)));
  Outcome v = quanta("--version");
  EXPECT_EXIT_CODE(v, 0);
  EXPECT_THAT(v.output, HasSubstr("oneDNN backend not available"));
  EXPECT_EXIT_CODE(quanta("bench " + quote(int8_) + " --runs 1 --warmup 0"), 0);
  // A file that is not a plugin is refused by name too.
  ::setenv("QUANTA_ONEDNN_PLUGIN", int8_.c_str(), 1);
  o = quanta("bench " + quote(int8_) + " --runs 1 --warmup 0 --backend onednn");
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, HasSubstr(int8_));
}

// QUANTA_ISA, the old name of QUANTA_TIER, stops every command that reads the
// environment, with the new name, so that an old script does not silently run
// the default tier.
TEST_F(CliTest, QuantaIsaIsAnErrorNamingQuantaTier) {
  struct EnvGuard {
    ~EnvGuard() { ::unsetenv("QUANTA_ISA"); }
  } guard;
  ::setenv("QUANTA_ISA", "ref", 1);
  const std::string why = "QUANTA_ISA was renamed QUANTA_TIER: unset QUANTA_ISA and set QUANTA_TIER='ref' instead";
  for (const std::string& cmd : {"run " + quote(int8_) + " -i " + quote(input_),
                                 "bench " + quote(int8_) + " --runs 1 --warmup 0"}) {
    SCOPED_TRACE(cmd);
    Outcome o = quanta(cmd);
    EXPECT_EXIT_CODE(o, 1);
    EXPECT_THAT(o.output, AllOf(HasSubstr("quanta: error: "), HasSubstr("invalid argument"), HasSubstr(why)));
  }
  Outcome v = quanta("--version");
  EXPECT_EXIT_CODE(v, 0);
  EXPECT_THAT(v.output, HasSubstr("tier none: " + why));
  // --tier chooses the tier itself and reads neither variable.
  EXPECT_EXIT_CODE(quanta("run " + quote(int8_) + " -i " + quote(input_) + " --tier ref"), 0);
}

// --tier reaches the Session of every command that creates one: with a bad
// QUANTA_TIER in the environment (which only kAuto reads), the command works
// only when --tier names a tier.
TEST_F(CliTest, TierOptionOnEveryCommand) {
  struct EnvGuard {
    ~EnvGuard() { ::unsetenv("QUANTA_TIER"); }
  } guard;
  ::setenv("QUANTA_TIER", "bogus", 1);
  const std::vector<std::string> commands = {
      "run " + quote(int8_) + " -i " + quote(input_),
      "bench " + quote(int8_) + " --warmup 0 --runs 1",
      "eval " + quote(fp32_) + " " + quote(int8_) + " --data " + quote(input_),
      "compare " + quote(fp32_) + " " + quote(int8_) + " --random 2",
  };
  for (const std::string& c : commands) {
    SCOPED_TRACE(c);
    EXPECT_EXIT_CODE(quanta(c), 1);
    EXPECT_EXIT_CODE(quanta(c + " --tier auto"), 1);
    for (k::Tier t : k::kAllTiers) {
      Outcome o = quanta(c + " --tier " + k::tier_name(t));
      if (k::cpu_supports(t)) {
        EXPECT_EXIT_CODE(o, 0);
      } else {
        // The one wording of Session::create, naming the tiers this CPU has.
        EXPECT_EXIT_CODE(o, 1);
        EXPECT_THAT(o.output, AllOf(HasSubstr(std::string("tier ") + k::tier_name(t)), HasSubstr("--tier"),
                                    HasSubstr("this CPU does not support that kernel tier (it supports ref")));
      }
    }
    Outcome bad = quanta(c + " --tier reference");
    EXPECT_EXIT_CODE(bad, 2);
    EXPECT_THAT(bad.output, AllOf(HasSubstr("--tier"), HasSubstr("avx512vnni")));
  }
  ::unsetenv("QUANTA_TIER");
  // The tier in use is reported as "tier" by bench and inspect.
  for (k::Tier t : k::kAllTiers) {
    if (!k::cpu_supports(t)) continue;
    const std::string name = k::tier_name(t);
    SCOPED_TRACE(name);
    Outcome o = quanta("bench " + quote(int8_) + " --warmup 0 --runs 1 --json --tier " + name);
    EXPECT_EXIT_CODE(o, 0);
    auto j = nlohmann::json::parse(o.output, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << o.output;
    EXPECT_EQ(j["tier"], name);
    o = quanta("bench " + quote(int8_) + " --warmup 0 --runs 1 --tier " + name);
    EXPECT_THAT(o.output, HasSubstr("intra-op thread, tier " + name + ", backend own"));
    o = quanta("inspect --json --brief " + quote(int8_) + " --tier " + name);
    EXPECT_EXIT_CODE(o, 0);
    j = nlohmann::json::parse(o.output, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << o.output;
    EXPECT_EQ(j["tier"], name);
    o = quanta("inspect --brief " + quote(int8_) + " --tier " + name);
    EXPECT_THAT(o.output, HasSubstr("node state; tier " + name + ")"));
  }
  // Without --tier: the best tier of this CPU.
  Outcome o = quanta("bench " + quote(int8_) + " --warmup 0 --runs 1 --json");
  auto j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  EXPECT_EQ(j["tier"], k::tier_name(k::best_tier()));
  // Every tier writes the same int8 bytes.
  const std::string want = path("tier_ref.npy");
  ASSERT_EQ(quanta("run " + quote(int8_) + " -i " + quote(input_) + " -o " + quote(want) + " --tier ref").code, 0);
  for (k::Tier t : k::kAllTiers) {
    if (!k::cpu_supports(t)) continue;
    const std::string got = path(std::string("tier_") + k::tier_name(t) + ".npy");
    ASSERT_EQ(quanta("run " + quote(int8_) + " -i " + quote(input_) + " -o " + quote(got) + " --tier " +
                     k::tier_name(t)).code,
              0);
    EXPECT_EQ(read_bytes(got), read_bytes(want)) << k::tier_name(t);
  }
}

TEST_F(CliTest, UsageErrorsExitWithTwo) {
  EXPECT_EXIT_CODE(quanta(""), 2);
  EXPECT_EXIT_CODE(quanta("frobnicate"), 2);
  EXPECT_EXIT_CODE(quanta("inspect"), 2);
  EXPECT_EXIT_CODE(quanta("inspect " + quote(fp32_) + " --bogus"), 2);
  EXPECT_EXIT_CODE(quanta("bench " + quote(fp32_) + " --runs 0"), 2);
  EXPECT_EXIT_CODE(quanta("bench " + quote(fp32_) + " --runs many"), 2);
  EXPECT_EXIT_CODE(quanta("run " + quote(fp32_)), 2);  // --input is required
  Outcome twice = quanta("run " + quote(fp32_) + " --input " + quote(input_) + " --input " + quote(input_));
  EXPECT_EXIT_CODE(twice, 2);
  EXPECT_THAT(twice.output, HasSubstr("too many --input"));
}

TEST_F(CliTest, DemoModelCommandWritesBothModels) {
  const std::string out = path("demo_cmd");
  Outcome o = quanta("demo-model --out " + quote(out));
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_TRUE(std::filesystem::exists(out + "/demo_cnn_fp32.quanta"));
  EXPECT_TRUE(std::filesystem::exists(out + "/demo_cnn_int8.quanta"));
  // Deterministic: the command writes the same bytes as the library call.
  EXPECT_EQ(read_bytes(out + "/demo_cnn_int8.quanta"), read_bytes(int8_));
  EXPECT_EQ(read_bytes(out + "/demo_cnn_fp32.quanta"), read_bytes(fp32_));
}

TEST_F(CliTest, InspectText) {
  Outcome o = quanta("inspect " + quote(int8_));
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, AllOf(HasSubstr("format       1.0"), HasSubstr("quanta demo-model"), HasSubstr("conv1"),
                              HasSubstr("per-axis(0) x8"), HasSubstr("total MACs"), HasSubstr("arena"),
                              HasSubstr("with fp32 constants about"), HasSubstr("input_q")));
  Outcome brief = quanta("inspect --brief " + quote(fp32_));
  EXPECT_EXIT_CODE(brief, 0);
  EXPECT_THAT(brief.output, Not(HasSubstr("tensors (")));
}

TEST_F(CliTest, InspectJson) {
  Outcome o = quanta("inspect --json " + quote(int8_));
  EXPECT_EXIT_CODE(o, 0);
  const auto j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  EXPECT_EQ(j["format_version"], "1.0");
  EXPECT_EQ(j["inputs"].size(), 1u);
  EXPECT_EQ(j["inputs"][0]["dtype"], "f32");
  EXPECT_EQ(j["outputs"][0]["name"], "probs");
  EXPECT_EQ(j["nodes"].size(), 12u);
  EXPECT_GT(j["total_macs"].get<int64_t>(), 100000);
  EXPECT_GT(j["arena_bytes"].get<int64_t>(), 0);
  EXPECT_LE(j["arena_bytes"].get<int64_t>(), j["unplanned_bytes"].get<int64_t>());
  EXPECT_GT(j["weights"]["i8"]["bytes"].get<int64_t>(), 0);
  EXPECT_LT(j["size_ratio_vs_fp32"].get<double>(), 1.0);
}

TEST_F(CliTest, RunPrintsSummaryAndWritesNpy) {
  Outcome o = quanta("run " + quote(int8_) + " --input " + quote(input_));
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, AllOf(HasSubstr("'probs'"), HasSubstr("[1, 10]"), HasSubstr("argmax")));

  const std::string out = path("probs.npy");
  o = quanta("run " + quote(fp32_) + " --input input=" + quote(input_) + " --output " + quote(out));
  EXPECT_EXIT_CODE(o, 0);
  auto arr = npy::read_file(out);
  ASSERT_TRUE(arr.ok()) << arr.status().to_string();
  EXPECT_EQ(arr->type, npy::ElementType::kF32);
  EXPECT_EQ(arr->shape, (std::vector<int64_t>{1, 10}));
  float sum = 0;
  for (float f : npy::to_floats(*arr)) sum += f;
  EXPECT_NEAR(sum, 1.0f, 1e-4f);
}

TEST_F(CliTest, RunRawUint8) {
  const std::string model = path("relu_u8.quanta");
  ASSERT_TRUE(test::make_u8_relu_writer().write_file(model).ok());
  const std::vector<uint8_t> x = {0, 5, 10, 11, 100, 200, 255, 9};
  const std::string in = path("relu_in.npy"), out = path("relu_out.npy");
  ASSERT_TRUE(npy::write_file(in, npy::from_bytes(npy::ElementType::kU8, {1, 8}, x.data(), x.size())).ok());
  Outcome o = quanta("run --raw " + quote(model) + " --input " + quote(in) + " --output " + quote(out));
  EXPECT_EXIT_CODE(o, 0);
  auto arr = npy::read_file(out);
  ASSERT_TRUE(arr.ok()) << arr.status().to_string();
  EXPECT_EQ(arr->type, npy::ElementType::kU8);
  // Relu with zero point 10: max(x, 10).
  EXPECT_EQ(arr->data, (std::vector<uint8_t>{10, 10, 10, 11, 100, 200, 255, 10}));

  // --raw wants the stored dtype: a float file is refused.
  ASSERT_TRUE(npy::write_file(path("relu_f.npy"), npy::from_floats({1, 8}, std::vector<float>(8, 0.5f))).ok());
  o = quanta("run --raw " + quote(model) + " --input " + quote(path("relu_f.npy")));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, AllOf(HasSubstr("quanta: error:"), HasSubstr("relu_f.npy"), HasSubstr("u8")));
}

TEST_F(CliTest, RunRejectsWrongShapesWithBothShapes) {
  // (A batched [2, 16, 16, 3] is two samples: tests/test_cli_data.cpp.)
  for (const char* name : {"x_nobatch.npy", "x_flat.npy"}) {
    SCOPED_TRACE(name);
    Outcome o = quanta("run " + quote(int8_) + " --input " + quote(path(name)));
    EXPECT_EXIT_CODE(o, 1);
    EXPECT_THAT(o.output, AllOf(HasSubstr("quanta: error:"), HasSubstr(name), HasSubstr("[1, 16, 16, 3]")));
  }
  Outcome o = quanta("run " + quote(int8_) + " --input " + quote(path("x_nobatch.npy")));
  EXPECT_THAT(o.output, HasSubstr("[16, 16, 3]"));
}

TEST_F(CliTest, MissingFilesAreErrors) {
  Outcome o = quanta("inspect " + quote(path("no_such_model.quanta")));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, AllOf(HasSubstr("quanta: error:"), HasSubstr("no_such_model.quanta")));
  o = quanta("run " + quote(fp32_) + " --input " + quote(path("no_such_input.npy")));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, AllOf(HasSubstr("quanta: error:"), HasSubstr("no_such_input.npy")));
  // A malformed npy is an error too.
  write_bytes(path("garbage.npy"), {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  o = quanta("run " + quote(fp32_) + " --input " + quote(path("garbage.npy")));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, AllOf(HasSubstr("garbage.npy"), HasSubstr("magic")));
}

TEST_F(CliTest, TruncatedModelIsAnError) {
  const std::vector<uint8_t> bytes = read_bytes(int8_);
  ASSERT_GT(bytes.size(), 256u);
  for (size_t len : {size_t{0}, size_t{3}, size_t{8}, size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    SCOPED_TRACE(len);
    const std::string p = path("truncated.quanta");
    write_bytes(p, std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(len)));
    for (const std::string& cmd : {"inspect " + quote(p), "run " + quote(p) + " --input " + quote(input_),
                                   "bench --warmup 0 --runs 1 " + quote(p)}) {
      Outcome o = quanta(cmd);
      EXPECT_EXIT_CODE(o, 1);
      EXPECT_THAT(o.output, AllOf(HasSubstr("quanta: error:"), HasSubstr("truncated.quanta")));
    }
  }
}

TEST_F(CliTest, BitFlippedIdentifierIsAnError) {
  std::vector<uint8_t> bytes = read_bytes(int8_);
  bytes[5] ^= 0x10;  // "QNTA" -> "Q^TA"
  const std::string p = path("flipped_id.quanta");
  write_bytes(p, bytes);
  Outcome o = quanta("inspect " + quote(p));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, AllOf(HasSubstr("quanta: error:"), HasSubstr("flipped_id.quanta")));
}

TEST_F(CliTest, BitFlipsNeverCrash) {
  // Flip single bits throughout the FlatBuffer part of the file (where the
  // structure is) and a few in the weights. Each run must end with exit 0
  // (a flip the format cannot detect, such as a weight bit) or 1, never with
  // a signal.
  const std::vector<uint8_t> bytes = read_bytes(int8_);
  const std::string p = path("flipped.quanta");
  int errors = 0;
  const size_t step = bytes.size() / 48 + 1;
  for (size_t pos = 0; pos < bytes.size(); pos += (pos < 1024 ? 23 : step)) {
    std::vector<uint8_t> b = bytes;
    b[pos] ^= static_cast<uint8_t>(1u << (pos % 8));
    write_bytes(p, b);
    Outcome o = quanta("run " + quote(p) + " --input " + quote(input_));
    SCOPED_TRACE(pos);
    ASSERT_TRUE(o.exited) << "signal " << o.signal << "\n" << o.output;
    EXPECT_TRUE(o.code == 0 || o.code == 1) << o.output;
    if (o.code == 1) {
      ++errors;
      EXPECT_THAT(o.output, HasSubstr("quanta: error:"));
    }
  }
  EXPECT_GT(errors, 0);
}

TEST_F(CliTest, BenchText) {
  Outcome o = quanta("bench " + quote(int8_) + " --warmup 2 --runs 20");
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, AllOf(HasSubstr("p50"), HasSubstr("p99"), HasSubstr("runs/s"), HasSubstr("GMAC/s")));
  o = quanta("bench " + quote(fp32_) + " --warmup 1 --runs 10 --per-op --threads 2");
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, AllOf(HasSubstr("aggregate"), HasSubstr("per node"), HasSubstr("conv1")));
}

TEST_F(CliTest, BenchJson) {
  Outcome o = quanta("bench " + quote(int8_) + " --warmup 1 --runs 10 --threads 2 --per-op --json");
  EXPECT_EXIT_CODE(o, 0);
  const auto j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["per_thread"].size(), 2u);
  EXPECT_EQ(j["latency_us"]["runs"], 20);
  EXPECT_GT(j["latency_us"]["p50"].get<double>(), 0.0);
  EXPECT_GE(j["latency_us"]["p99"].get<double>(), j["latency_us"]["p50"].get<double>());
  EXPECT_GT(j["aggregate_runs_per_s"].get<double>(), 0.0);
  ASSERT_FALSE(j["per_op"].empty());
  double percent = 0;
  for (const auto& r : j["per_op"]) percent += r["percent"].get<double>();
  EXPECT_NEAR(percent, 100.0, 0.5);
}

TEST_F(CliTest, BenchSessionOptions) {
  Outcome o = quanta("bench " + quote(int8_) +
                     " --warmup 1 --runs 5 --intra-threads 2 --backend onednn --json");
  EXPECT_EXIT_CODE(o, 0);
  const auto j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  EXPECT_EQ(j["intra_threads"], 2);
  EXPECT_EQ(j["backend"], "onednn");
  EXPECT_GT(j["onednn_nodes"].get<int>(), 0);
  o = quanta("bench " + quote(int8_) + " --warmup 1 --runs 5 --intra-threads 2");
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, AllOf(HasSubstr("2 intra-op threads, tier "), HasSubstr(", backend own")));
  EXPECT_EXIT_CODE(quanta("bench " + quote(int8_) + " --backend cuda"), 2);
  EXPECT_EXIT_CODE(quanta("bench " + quote(int8_) + " --intra-threads -1"), 2);
  // `run` takes the same options and writes the same bytes with them.
  const std::string a = path("run_default.npy"), b = path("run_onednn_2t.npy");
  EXPECT_EXIT_CODE(quanta("run " + quote(int8_) + " -i " + quote(input_) + " -o " + quote(a)), 0);
  EXPECT_EXIT_CODE(quanta("run " + quote(int8_) + " -i " + quote(input_) + " -o " + quote(b) +
                          " --intra-threads 2 --backend onednn"),
                   0);
  auto read_all = [](const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  const std::string da = read_all(a), db = read_all(b);
  EXPECT_FALSE(da.empty());
  EXPECT_EQ(da, db);
}

TEST_F(CliTest, CompareInt8AgainstFloat) {
  Outcome o = quanta("compare " + quote(fp32_) + " " + quote(int8_) + " --random 64");
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, AllOf(HasSubstr("SQNR"), HasSubstr("top-1"), HasSubstr("probs")));

  o = quanta("compare " + quote(fp32_) + " " + quote(int8_) + " --random 64 --json");
  EXPECT_EXIT_CODE(o, 0);
  const auto j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  ASSERT_EQ(j["outputs"].size(), 1u);
  const auto& r = j["outputs"][0];
  EXPECT_EQ(r["rows"], 64);
  // int8 must track float closely on this network.
  EXPECT_GT(r["sqnr_db"].get<double>(), 15.0);
  EXPECT_GT(r["cosine"].get<double>(), 0.97);
  EXPECT_GE(r["top1_agreement"].get<double>(), 0.8);

  o = quanta("compare " + quote(fp32_) + " " + quote(fp32_) + " --input " + quote(input_) + " --json");
  EXPECT_EXIT_CODE(o, 0);
  const auto same = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(same.is_discarded()) << o.output;
  EXPECT_EQ(same["outputs"][0]["identical"], true);
  EXPECT_TRUE(same["outputs"][0]["sqnr_db"].is_null());
  EXPECT_EQ(same["outputs"][0]["top1_agreement"], 1.0);

  o = quanta("compare " + quote(fp32_) + " " + quote(path("relu_u8_missing.quanta")));
  EXPECT_EXIT_CODE(o, 1);
}

// A model for the memory-limit options: x u8 [1, 2048] padded to
// [1, 2048 + 2^21] (a 2 MiB activation) and multiplied by a constant i8
// [2048, 512] (transposed once at prepare: 1 MiB of prepared state).
std::string write_limits_model(const std::string& path) {
  ModelWriter w("quanta-tests");
  const QuantParams q = test::per_tensor(0.02f, 128);
  const int64_t k = 2048, n = 512, pad = int64_t{1} << 21;
  const int x = w.add_tensor("x", {1, k}, DType::kU8, q);
  const int p = w.add_tensor("padded", {1, k + pad}, DType::kU8, q);
  QuantParams qb = test::per_tensor(0.01f, 0);
  std::vector<int8_t> b(static_cast<size_t>(k * n));
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<int8_t>(static_cast<int>(i % 7) - 3);
  const int bt = w.add_constant_i8("b", {k, n}, b, qb);
  const int y = w.add_tensor("y", {1, n}, DType::kU8, test::per_tensor(0.5f, 128));
  fb::OptionsUnion po;
  fb::PadOptionsT pads;
  pads.pads = {0, 0, 0, pad};
  po.Set(pads);
  w.add_node(OpType::kPad, {x}, {p}, std::move(po), "pad");
  fb::OptionsUnion mo;
  mo.Set(fb::MatMulOptionsT{});
  w.add_node(OpType::kMatMul, {x, bt}, {y}, std::move(mo), "mm");
  w.set_inputs({x});
  w.set_outputs({p, y});
  EXPECT_TRUE(w.write_file(path).ok());
  return path;
}

// --max-arena-mb and --max-prepared-mb reach the Session of every command
// that creates one; a refused model names the limit and the option.
TEST_F(CliTest, MemoryLimitOptionsOnEveryCommand) {
  const std::string model = write_limits_model(path("limits.quanta"));
  const std::string data = path("limits_x.npy");
  ASSERT_TRUE(npy::write_file(data, npy::from_floats({2, 2048}, std::vector<float>(4096, 0.25f))).ok());
  const std::vector<std::string> commands = {
      "run " + quote(model) + " -i " + quote(data),
      "bench " + quote(model) + " --warmup 0 --runs 1",
      "eval " + quote(model) + " --data " + quote(data),
      "compare " + quote(model) + " " + quote(model) + " --random 2",
  };
  for (const std::string& c : commands) {
    SCOPED_TRACE(c);
    Outcome o = quanta(c + " --max-arena-mb 1");
    EXPECT_EXIT_CODE(o, 1);
    EXPECT_THAT(o.output, AllOf(HasSubstr("quanta: error: " + model), HasSubstr("activation arena needs"),
                                HasSubstr("max_arena_bytes = 1048576 bytes (1.0 MiB, set in SessionOptions)"),
                                HasSubstr("--max-arena-mb")));
    o = quanta(c + " --max-prepared-mb 1");
    EXPECT_EXIT_CODE(o, 1);
    EXPECT_THAT(o.output, AllOf(HasSubstr("node 1 ('mm')"), HasSubstr("the transposed weights"),
                                HasSubstr("max_prepared_bytes = 1048576 bytes"), HasSubstr("--max-prepared-mb")));
    EXPECT_EXIT_CODE(quanta(c + " --max-arena-mb 3 --max-prepared-mb 4"), 0);
    EXPECT_EXIT_CODE(quanta(c), 0);  // the defaults (1 GiB) are far above
    EXPECT_EXIT_CODE(quanta(c + " --max-arena-mb -1"), 2);
  }
  // inspect describes a model it cannot prepare, and says why.
  Outcome o = quanta("inspect --brief " + quote(model) + " --max-arena-mb 1");
  EXPECT_EXIT_CODE(o, 0);
  EXPECT_THAT(o.output, AllOf(HasSubstr("arena        unavailable"), HasSubstr("max_arena_bytes")));
  o = quanta("inspect --json " + quote(model) + " --max-prepared-mb 1");
  EXPECT_EXIT_CODE(o, 0);
  auto j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  EXPECT_TRUE(j["prepared_bytes"].is_null());
  EXPECT_THAT(j["session_error"].get<std::string>(), HasSubstr("max_prepared_bytes"));
  o = quanta("inspect --json " + quote(model));
  EXPECT_EXIT_CODE(o, 0);
  j = nlohmann::json::parse(o.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.output;
  EXPECT_GT(j["arena_bytes"].get<int64_t>(), 1 << 21);
  EXPECT_GT(j["prepared_bytes"].get<int64_t>(), 1 << 20);
  // The environment sets the default (for `convert` too, whose calibration
  // sessions have no options); a non-zero option overrides it.
  ASSERT_EQ(setenv("QUANTA_MAX_ARENA_MB", "1", 1), 0);
  o = quanta("run " + quote(model) + " -i " + quote(data));
  EXPECT_EXIT_CODE(o, 1);
  EXPECT_THAT(o.output, HasSubstr("set by QUANTA_MAX_ARENA_MB=1"));
  EXPECT_EXIT_CODE(quanta("run " + quote(model) + " -i " + quote(data) + " --max-arena-mb 4"), 0);
  unsetenv("QUANTA_MAX_ARENA_MB");
}

}  // namespace
}  // namespace quanta
