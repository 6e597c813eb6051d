// The converter on hostile ONNX input (issue 11, a libFuzzer + ASan + UBSan
// campaign): every model here is a minimal reproducer built in the test.
// Each conversion runs in a forked child whose memory is capped (RLIMIT_AS,
// or an allocation hook under AddressSanitizer, which reserves too much
// address space for RLIMIT_AS), so a crash, an escaped exception or a huge
// allocation fails the test instead of taking the test binary (or the
// machine) down. docs/converter.md, "Hostile input", states the guarantees.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <new>
#include <stdexcept>

#include <fmt/format.h>

#include "graph.hpp"
#include "limits.hpp"
#include "quanta/converter.hpp"
#include "support/onnx_builder.hpp"
#include "support/vector_source.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define QUANTA_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QUANTA_TEST_ASAN 1
#endif
#endif

#ifdef QUANTA_TEST_ASAN
extern "C" int __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void*, size_t), void (*free_hook)(const volatile void*));
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace quanta {
namespace {

namespace qc = quanta::convert;
namespace fs = std::filesystem;
using test::attr_float;
using test::attr_int;
using test::attr_ints;
using test::attr_string;
using test::OnnxBuilder;

// ------------------------------------------------------------------ the bounded child

// What the child may allocate beyond what it had when it started.
constexpr size_t kMemoryBudget = size_t{256} << 20;
constexpr int kOverBudget = 90;   // the child went past kMemoryBudget
constexpr int kEscaped = 91;      // an exception left the converter

#ifdef QUANTA_TEST_ASAN
size_t g_heap_at_start = 0;
void over_budget_hook(const volatile void*, size_t size) {
  if (size > kMemoryBudget ||
      __sanitizer_get_current_allocated_bytes() > g_heap_at_start + kMemoryBudget) {
    static const char msg[] = "child: allocation past the memory budget\n";
    [[maybe_unused]] ssize_t w = ::write(2, msg, sizeof msg - 1);
    ::_exit(kOverBudget);
  }
}
void no_free_hook(const volatile void*) {}
#endif

void cap_memory() {
#ifdef QUANTA_TEST_ASAN
  g_heap_at_start = __sanitizer_get_current_allocated_bytes();
  // Both hooks are needed: the call installs nothing when one is null.
  if (__sanitizer_install_malloc_and_free_hooks(over_budget_hook, no_free_hook) == 0) {
    ::_exit(kOverBudget + 2);
  }
#else
  // Address space in use now (statm's first field, in pages) + the budget.
  long pages = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  const rlim_t cap =
      static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + kMemoryBudget;
  const rlimit r = {cap, cap};
  ::setrlimit(RLIMIT_AS, &r);
#endif
}

struct Outcome {
  bool exited = false;  // exited normally with status 0
  int status = 0;       // raw wait status
  std::string text;     // what the child returned
  double seconds = 0;
  std::string describe() const {
    if (WIFSIGNALED(status)) {
      return fmt::format("child killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
    }
    const int code = WEXITSTATUS(status);
    if (code == kOverBudget) return "child went past the memory budget";
    if (code == kEscaped) return "an exception escaped: " + text;
    if (code != 0) return fmt::format("child exited with {} (sanitizer report?)", code);
    return "ok: " + text;
  }
};

// Runs fn in a forked child with capped memory and a 60 s alarm; returns its text.
Outcome in_child(const std::function<std::string()>& fn) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  std::fflush(nullptr);
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ::alarm(60);
    cap_memory();
    std::string text;
    int code = 0;
    try {
      text = fn();
    } catch (const std::exception& e) {
      text = e.what();
      code = kEscaped;
    } catch (...) {
      text = "an exception of unknown type";
      code = kEscaped;
    }
    for (size_t done = 0; done < text.size();) {
      const ssize_t w = ::write(fds[1], text.data() + done, text.size() - done);
      if (w <= 0) break;
      done += static_cast<size_t>(w);
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  Outcome o;
  char buf[4096];
  for (ssize_t r; (r = ::read(fds[0], buf, sizeof buf)) > 0;) o.text.append(buf, static_cast<size_t>(r));
  ::close(fds[0]);
  ::waitpid(pid, &o.status, 0);
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  o.exited = WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0;
  return o;
}

std::string message_of(const Status& s) { return s.ok() ? "OK" : s.message(); }

// "OK" or the import error, from a child.
Outcome import_in_child(const std::string& bytes) {
  return in_child([&] {
    auto g = qc::import_onnx_bytes(bytes.data(), bytes.size());
    return g.ok() ? std::string("OK") : g.status().message();
  });
}

// The import fails, quickly and in bounded memory, with every `needles` substring in its message.
void expect_refused(const OnnxBuilder& b, const std::vector<std::string>& needles) {
  const Outcome o = import_in_child(b.bytes());
  ASSERT_TRUE(o.exited) << o.describe();
  ASSERT_NE(o.text, "OK") << "the model was accepted";
  for (const std::string& n : needles) {
    EXPECT_NE(o.text.find(n), std::string::npos) << "'" << n << "' not in: " << o.text;
  }
  EXPECT_LT(o.seconds, 30.0);
}

// ------------------------------------------------------------------ model pieces

void add_graph_attr(onnx::NodeProto& n, const std::string& name, const onnx::GraphProto& g) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::GRAPH);
  *a->mutable_g() = g;
}

// A float initializer with the given dims and raw bytes (any length).
onnx::TensorProto& raw_initializer(OnnxBuilder& b, const std::string& name,
                                   const std::vector<int64_t>& dims, const std::string& raw,
                                   int type = onnx::TensorProto::FLOAT) {
  auto* t = b.model().mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(raw);
  return *t;
}

std::string floats_raw(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

std::string doubles_raw(const std::vector<double>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
}

// ConstantOfShape(shape) -> out, filled with `value`.
void constant_of_shape(OnnxBuilder& b, const std::string& shape_name, const std::vector<int64_t>& shape,
                       const std::string& out, const std::string& node, float value = 1.0f) {
  b.initializer_i64(shape_name, {static_cast<int64_t>(shape.size())}, shape);
  auto& n = b.node("ConstantOfShape", {shape_name}, {out}, node);
  auto* a = n.add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
  a->mutable_t()->add_dims(1);
  a->mutable_t()->add_float_data(value);
}

// ------------------------------------------------------------------ 1. shape products

TEST(ConverterHostile, FlattenWhoseLeadingDimensionsOverflowIsRefusedAtTheInput) {
  // 4294967296 * 4294967296 wrapped to 0 and was divided by (SIGFPE).
  OnnxBuilder b;
  b.input("x", {4294967296, 4294967296, 1}).output("y");
  attr_int(b.node("Flatten", {"x"}, {"y"}, "flat"), "axis", 2);
  expect_refused(b, {"graph input 'x'", "[4294967296, 4294967296, 1]", "more than 4294967296 elements"});
}

TEST(ConverterHostile, ShapeProductsInsideTheGraphAreChecked) {
  {  // Reshape to a shape whose known dimensions overflow
    OnnxBuilder b;
    b.input("x", {1, 4}).output("y");
    b.initializer_i64("s", {3}, {4294967296, 4294967296, -1});
    b.node("Reshape", {"x", "s"}, {"y"}, "r");
    expect_refused(b, {"node 'r' (Reshape)", "[4294967296, 4294967296, -1]"});
  }
  {  // Pad past int64
    OnnxBuilder b;
    b.input("x", {1, 1, 2, 2}).output("y");
    b.initializer_i64("p", {8}, {0, 0, 0, int64_t{1} << 62, 0, 0, 0, int64_t{1} << 62});
    b.node("Pad", {"x", "p"}, {"y"}, "pad");
    expect_refused(b, {"node 'pad' (Pad)", "pads"});
  }
  {  // an output shape over the element limit: [65536, 1] * [1, 65537]
    OnnxBuilder b;
    b.input("x", {65536, 1}).output("y");
    constant_of_shape(b, "s", {1, 65537}, "c", "cos");
    b.node("Mul", {"x", "c"}, {"y"}, "mul");
    expect_refused(b, {"node 'mul' (Mul)", "[65536, 65537]", "more than 4294967296 elements"});
  }
  {  // an empty weight: [4, 0] made N = 0, which was divided by
    OnnxBuilder b;
    b.input("x", {1, 4}).output("y");
    b.initializer("w", {4, 0}, {});
    b.node("Gemm", {"x", "w"}, {"y"}, "fc");
    expect_refused(b, {"node 'fc' (Gemm)", "[4, 0]"});
  }
  {  // Conv window arithmetic past int64, and attributes past the runtime's int32 fields
    OnnxBuilder b;
    b.input("x", {1, 1, 4, 4}).output("y");
    b.initializer("w", {1, 1, 1, 1}, {1.0f});
    attr_ints(b.node("Conv", {"x", "w"}, {"y"}, "conv"), "pads",
              {int64_t{1} << 62, 0, int64_t{1} << 62, 0});
    expect_refused(b, {"node 'conv' (Conv)", "pads", "2147483647"});
  }
  {  // a stride of 2^32 + 1 was written as 1
    OnnxBuilder b;
    b.input("x", {1, 1, 4, 4}).output("y");
    b.initializer("w", {1, 1, 1, 1}, {1.0f});
    attr_ints(b.node("Conv", {"x", "w"}, {"y"}, "conv"), "strides", {4294967297, 1});
    expect_refused(b, {"node 'conv' (Conv)", "strides [4294967297, 1]", "2147483647"});
  }
  {  // dilation * (kernel - 1) past int64 in a pooling window
    OnnxBuilder b;
    b.input("x", {1, 1, 4, 4}).output("y");
    auto& p = b.node("MaxPool", {"x"}, {"y"}, "pool");
    attr_ints(p, "kernel_shape", {3, 3});
    attr_ints(p, "dilations", {int64_t{1} << 62, 1});
    expect_refused(b, {"node 'pool' (MaxPool)", "dilations", "2147483647"});
  }
  {  // group * (C / group) past int64: (2^32 + 1) * 2^32 wrapped to 2^32 = C;
     // the empty weight's shape is now refused on its own
    OnnxBuilder b;
    b.input("x", {1, 4294967296, 1, 1}).output("y");
    b.initializer("w", {0, 4294967297, 1, 1}, {});
    attr_int(b.node("Conv", {"x", "w"}, {"y"}, "conv"), "group", 4294967296);
    expect_refused(b, {"initializer 'w'", "[0, 4294967297, 1, 1]", "more than 4294967296 elements"});
  }
  {  // a group count past the runtime's int32 field (it was written as 0)
    OnnxBuilder b;
    b.input("x", {1, 4294967296, 1, 1}).output("y");
    b.initializer("w", {0, 1, 1, 1}, {});
    attr_int(b.node("Conv", {"x", "w"}, {"y"}, "conv"), "group", 4294967296);
    expect_refused(b, {"node 'conv' (Conv)", "group 4294967296"});
  }
}

// ------------------------------------------------------------------ 2. external data

class ConverterHostileExternalData : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / fmt::format("quanta_hostile_ext_{}", ::getpid());
    fs::remove_all(root_);
    fs::create_directories(root_ / "m" / "sub");
    fs::create_directories(root_ / "m_secret");
    write(root_ / "m_secret" / "x.bin", {9, 9, 9, 9});
    write(root_ / "elsewhere.bin", {8, 8, 8, 8});
    write(root_ / "m" / "sub" / "w.bin", {1, 2, 3, 4});
  }
  void TearDown() override { fs::remove_all(root_); }

  static void write(const fs::path& p, const std::vector<float>& v) {
    std::ofstream f(p, std::ios::binary);
    f << floats_raw(v);
  }
  // m/m.onnx: y = x [1, 2] @ w [2, 2], w's data in `location`.
  std::string model(const std::string& location, const fs::path& dir_name = "m") const {
    OnnxBuilder b;
    b.input("x", {1, 2}).output("y").external_initializer("w", {2, 2}, location);
    b.node("MatMul", {"x", "w"}, {"y"}, "mm");
    const fs::path path = root_ / dir_name / "m.onnx";
    std::ofstream f(path, std::ios::binary);
    f << b.bytes();
    return path.string();
  }
  static Outcome import_file(const std::string& path) {
    return in_child([&] { 
      auto g = qc::import_onnx(path);
      if (!g.ok()) return g.status().to_string();
      auto bytes = qc::build_fp32(**g);
      if (!bytes.ok()) return bytes.status().message();
      auto m = Model::load_buffer(bytes->data(), bytes->size(), true);
      auto s = Session::create(*m);
      std::vector<float> y(2);
      if (!(*s)->set_input(0, std::vector<float>{1.0f, 1.0f}).ok() || !(*s)->run().ok() ||
          !(*s)->get_output(0, y).ok()) {
        return std::string("run failed");
      }
      return fmt::format("OK {}", fmt::join(y, " "));
    });
  }
  void expect_outside(const std::string& location) {
    const Outcome o = import_file(model(location));
    ASSERT_TRUE(o.exited) << o.describe();
    EXPECT_NE(o.text.find("external data"), std::string::npos) << location << ": " << o.text;
    EXPECT_NE(o.text.find("outside the model's directory"), std::string::npos)
        << location << ": " << o.text;
    EXPECT_EQ(o.text.find("OK"), std::string::npos) << location << ": " << o.text;
  }

  fs::path root_;
};

TEST_F(ConverterHostileExternalData, SymlinkToASiblingWithASharedPrefixIsRefused) {
  // m/link.bin -> ../m_secret/x.bin: "<root>/m_secret" starts with "<root>/m".
  fs::create_symlink(fs::path("..") / "m_secret" / "x.bin", root_ / "m" / "link.bin");
  expect_outside("link.bin");
}

TEST_F(ConverterHostileExternalData, SymlinkInsideTheDirectoryPointingOutsideIsRefused) {
  fs::create_symlink(root_ / "elsewhere.bin", root_ / "m" / "sub" / "out.bin");
  expect_outside("sub/out.bin");
  // A directory symlink inside the model's directory that leads outside.
  fs::create_symlink(root_ / "m_secret", root_ / "m" / "dirlink");
  expect_outside("dirlink/x.bin");
}

TEST_F(ConverterHostileExternalData, DotDotAndAbsoluteLocationsAreRefused) {
  const std::vector<std::string> locations = {"../m_secret/x.bin", "sub/../../elsewhere.bin",
                                              (root_ / "elsewhere.bin").string(),
                                              (root_ / "m" / "sub" / "w.bin").string()};
  for (const std::string& loc : locations) {
    const Outcome o = import_file(model(loc));
    ASSERT_TRUE(o.exited) << o.describe();
    EXPECT_NE(o.text.find("external data location"), std::string::npos) << loc << ": " << o.text;
    EXPECT_EQ(o.text.find("OK"), std::string::npos) << loc << ": " << o.text;
  }
}

TEST_F(ConverterHostileExternalData, FilesInsideTheDirectoryAreRead) {
  // A file in a subdirectory: y = [1, 1] @ [[1, 2], [3, 4]].
  Outcome o = import_file(model("sub/w.bin"));
  ASSERT_TRUE(o.exited) << o.describe();
  EXPECT_EQ(o.text, "OK 4 6");
  // The same through a symlink to the model's directory, and through a
  // symlink inside the directory to a file inside it.
  fs::create_symlink(root_ / "m", root_ / "mlink");
  fs::create_symlink(fs::path("sub") / "w.bin", root_ / "m" / "inner.bin");
  o = import_file(model("inner.bin", "mlink"));
  ASSERT_TRUE(o.exited) << o.describe();
  EXPECT_EQ(o.text, "OK 4 6");
}

TEST_F(ConverterHostileExternalData, MissingFilesAndDirectoriesAreNamed) {
  Outcome o = import_file(model("missing.bin"));
  ASSERT_TRUE(o.exited) << o.describe();
  EXPECT_NE(o.text.find("not found"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("'missing.bin'"), std::string::npos) << o.text;
  o = import_file(model("sub"));
  ASSERT_TRUE(o.exited) << o.describe();
  EXPECT_NE(o.text.find("'sub' is not a regular file"), std::string::npos) << o.text;
}

// ------------------------------------------------------------------ 3. allocations

TEST(ConverterHostile, SqueezeAndUnsqueezeOfAHugeActivationAllocateNothing) {
  // The shape was computed by materializing 2^29 doubles (4 GiB).
  for (const char* op : {"Unsqueeze", "Squeeze"}) {
    OnnxBuilder b;
    b.input("x", {1, 8192, 65536}).output("y");
    b.initializer_i64("axes", {1}, {0});
    b.node(op, {"x", "axes"}, {"y"}, "sq");
    const std::string bytes = b.bytes();
    const Outcome o = in_child([&] {
      auto g = qc::import_onnx_bytes(bytes.data(), bytes.size());
      if (!g.ok()) return g.status().message();
      const auto& t = (*g)->tensors[(*g)->outputs[0]];
      return fmt::format("[{}]", fmt::join(t.shape, ", "));
    });
    ASSERT_TRUE(o.exited) << op << ": " << o.describe();
    EXPECT_EQ(o.text, std::string(op) == "Squeeze" ? "[8192, 65536]" : "[1, 1, 8192, 65536]") << op;
  }
}

TEST(ConverterHostile, ConstantOfShapePastTheFoldingLimitIsRefused) {
  OnnxBuilder b;
  b.input("x", {1}).output("y");
  constant_of_shape(b, "s", {1342177280}, "c", "cos");
  b.node("Add", {"x", "c"}, {"y"}, "add");
  expect_refused(b, {"node 'cos' (ConstantOfShape): folding would create 1342177280 elements (5.0 GiB "
                     "as float32), above the 256 MiB limit for one folded constant"});
}

TEST(ConverterHostile, FoldsThatMultiplyDataAreBounded) {
  {  // Range(0, 2^31, 1)
    OnnxBuilder b(11);
    b.input("x", {1}).output("y");
    b.initializer("a", {}, {0.0f}).initializer("l", {}, {2147483648.0f}).initializer("d", {}, {1.0f});
    b.node("Range", {"a", "l", "d"}, {"c"}, "range");
    b.node("Add", {"x", "c"}, {"y"}, "add");
    expect_refused(b, {"node 'range' (Range): folding would create 2147483648 elements", "limit"});
  }
  {  // Gather with 2^16 repeated indices of a [1, 2^16] row: 2^32 elements
    OnnxBuilder b;
    b.input("x", {1}).output("y");
    constant_of_shape(b, "s", {1, 65536}, "c", "cos");
    constant_of_shape(b, "si", {65536}, "i", "zeros", 0.0f);
    b.node("Gather", {"c", "i"}, {"g"}, "gather");
    b.node("Add", {"x", "g"}, {"y"}, "add");
    expect_refused(b, {"node 'gather' (Gather): folding would create 4294967296 elements", "limit"});
  }
  {  // an outer product of two constants
    OnnxBuilder b;
    b.input("x", {1}).output("y");
    constant_of_shape(b, "s1", {10000, 1}, "c1", "cos1");
    constant_of_shape(b, "s2", {1, 10000}, "c2", "cos2");
    b.node("Mul", {"c1", "c2"}, {"p"}, "outer");
    b.node("Add", {"x", "p"}, {"y"}, "add");
    expect_refused(b, {"node 'outer' (Mul): folding would create 100000000 elements", "limit"});
  }
}

TEST(ConverterHostile, InitializerDataIsCheckedBeforeAnythingIsAllocated) {
  // 2^28 floats declared, 4 bytes stored (the declared size was allocated first).
  {
    OnnxBuilder b;
    b.input("x", {1}).output("y");
    raw_initializer(b, "w", {268435456}, floats_raw({1.0f}));
    b.node("Add", {"x", "w"}, {"y"}, "add");
    expect_refused(b, {"initializer 'w'", "4 bytes of data for shape [268435456]",
                       "expected 1073741824"});
  }
  {
    OnnxBuilder b;
    b.input("x", {1}).output("y");
    b.initializer("w", {268435456}, {1.0f});
    b.node("Add", {"x", "w"}, {"y"}, "add");
    expect_refused(b, {"initializer 'w'", "1 values stored for shape [268435456]"});
  }
  {  // a Constant node's tensor, int64 typed data
    OnnxBuilder b;
    b.input("x", {1, 4}).output("y");
    auto& n = b.node("Constant", {}, {"s"}, "const");
    auto* a = n.add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    a->mutable_t()->set_data_type(onnx::TensorProto::INT64);
    a->mutable_t()->add_dims(int64_t{1} << 30);
    a->mutable_t()->add_int64_data(4);
    b.node("Reshape", {"x", "s"}, {"y"}, "r");
    expect_refused(b, {"node 'const' (Constant)", "1 values stored for shape [1073741824]"});
  }
}

TEST_F(ConverterHostileExternalData, ExternalDataShorterThanItsShapeIsRefusedBeforeAllocating) {
  OnnxBuilder b;
  b.input("x", {1}).output("y").external_initializer("w", {268435456}, "sub/w.bin");
  b.node("Add", {"x", "w"}, {"y"}, "add");
  const fs::path path = root_ / "m" / "big.onnx";
  {
    std::ofstream f(path, std::ios::binary);
    f << b.bytes();
  }
  const Outcome o = import_file(path.string());
  ASSERT_TRUE(o.exited) << o.describe();
  EXPECT_NE(o.text.find("initializer 'w'"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("beyond the end of 'sub/w.bin' (16 bytes)"), std::string::npos) << o.text;
}

TEST(ConverterHostile, FlattenIntoAGemmOfTheWrongWidthIsRefusedBeforeThePermutation) {
  // NHWC Conv output [1, 16, 8192, 8192] flattened into a Gemm whose B has
  // K = 3: the K-order permutation (2^30 entries) was built before K was checked.
  OnnxBuilder b;
  b.input("x", {1, 1, 8192, 8192}).output("y");
  b.initializer("w", {16, 1, 1, 1}, std::vector<float>(16, 1.0f));
  b.initializer("b", {3, 2}, {1, 2, 3, 4, 5, 6});
  b.node("Conv", {"x", "w"}, {"c"}, "conv");
  b.node("Flatten", {"c"}, {"f"}, "flat");
  b.node("Gemm", {"f", "b"}, {"y"}, "fc");
  expect_refused(b, {"node 'fc' (Gemm)", "do not multiply"});
}

// Imports in a child and returns the log's rewrites joined, or the error.
Outcome import_rewrites_in_child(const std::string& bytes) {
  return in_child([&] {
    auto g = qc::import_onnx_bytes(bytes.data(), bytes.size());
    if (!g.ok()) return g.status().message();
    return fmt::format("OK {}", fmt::join(qc::import_log(**g).rewrites, "; "));
  });
}

TEST(ConverterHostile, BiasesAreNotBroadcastToTheBatchOrTheImage) {
  {  // Gemm of a [2^28, 4] input: its C [3] was broadcast to [2^28, 3] (6 GiB)
    OnnxBuilder b;
    b.input("x", {268435456, 4}).output("y");
    b.initializer("w", {4, 3}, std::vector<float>(12, 0.5f)).initializer("c", {3}, {1, 2, 3});
    b.node("Gemm", {"x", "w", "c"}, {"y"}, "fc");
    const Outcome o = import_rewrites_in_child(b.bytes());
    ASSERT_TRUE(o.exited) << o.describe();
    EXPECT_EQ(o.text.rfind("OK", 0), 0u) << o.text;
  }
  {  // Add of a per-channel constant after a Conv with a [1, 2, 16384, 16384]
     // output: the constant was broadcast to the image (4 GiB) to check it
    OnnxBuilder b;
    b.input("x", {1, 1, 16384, 16384}).output("y");
    b.initializer("w", {2, 1, 1, 1}, {1, 2}).initializer("c", {1, 2, 1, 1}, {0.5f, -0.5f});
    b.node("Conv", {"x", "w"}, {"v"}, "conv");
    b.node("Add", {"v", "c"}, {"y"}, "add");
    const Outcome o = import_rewrites_in_child(b.bytes());
    ASSERT_TRUE(o.exited) << o.describe();
    EXPECT_NE(o.text.find("folded Add 'add' into the bias of Conv 'conv'"), std::string::npos) << o.text;
  }
}

// "OK" or the error of an import with lowered limits (the defaults need
// gigabytes to reach), from a child.
std::string import_limited(const OnnxBuilder& b, const qc::detail::ImportLimits& limits) {
  const std::string bytes = b.bytes();
  const Outcome o = in_child([&] {
    auto g = qc::detail::import_onnx_bytes_limited(bytes.data(), bytes.size(), {}, limits);
    return g.ok() ? std::string("OK") : g.status().message();
  });
  EXPECT_TRUE(o.exited) << o.describe();
  return o.text;
}

TEST(ConverterHostile, FoldedConstantsTogetherAreBounded) {
  // Four folded constants of 1000 elements each (and an Identity copy of one),
  // with limits of 1000 per constant and 3000 together.
  OnnxBuilder b;
  b.input("x", {1}).output("y");
  std::string acc = "x";
  for (int i = 0; i < 4; ++i) {
    constant_of_shape(b, fmt::format("s{}", i), {1000}, fmt::format("c{}", i), fmt::format("cos{}", i));
    b.node("Add", {acc, fmt::format("c{}", i)}, {fmt::format("a{}", i)}, fmt::format("add{}", i));
    acc = fmt::format("a{}", i);
  }
  b.node("Identity", {acc}, {"y"}, "out");
  qc::detail::ImportLimits limits;
  limits.folded_elements = 1000;
  limits.total_folded_elements = 3000;
  std::string text = import_limited(b, limits);
  EXPECT_NE(text.find("node 'cos3' (ConstantOfShape): folding would create 1000 elements (3.9 KiB as "
                      "float32), which takes the constants folded so far past the 11.7 KiB limit "
                      "for all folded constants together"),
            std::string::npos)
      << text;
  limits.total_folded_elements = 4000;
  EXPECT_EQ(import_limited(b, limits), "OK");
  // Copies count too: Identity chains of a folded constant.
  OnnxBuilder c;
  c.input("x", {1}).output("y");
  constant_of_shape(c, "s", {1000}, "k0", "cos");
  for (int i = 0; i < 5; ++i) {
    c.node("Identity", {fmt::format("k{}", i)}, {fmt::format("k{}", i + 1)}, fmt::format("id{}", i));
  }
  c.node("Add", {"x", "k5"}, {"y"}, "add");
  text = import_limited(c, limits);
  EXPECT_NE(text.find("node 'id3' (Identity): folding would create 1000 elements"),
            std::string::npos)
      << text;
}

TEST(ConverterHostile, WeightsOfTheConvertedGraphTogetherAreBounded) {
  // One weight read by many Convs is copied (re-laid out) for each of them.
  OnnxBuilder b;
  b.input("x", {1, 4, 2, 2}).output("y");
  b.initializer("w", {4, 4, 1, 1}, std::vector<float>(16, 0.25f));
  std::string acc = "x";
  for (int i = 0; i < 8; ++i) {
    const std::string out = i == 7 ? "y" : fmt::format("c{}", i);
    b.node("Conv", {acc, "w"}, {out}, fmt::format("conv{}", i));
    acc = out;
  }
  qc::detail::ImportLimits limits;
  limits.const_elements = 100;
  const std::string text = import_limited(b, limits);
  EXPECT_NE(text.find("node 'conv6' (Conv): the converted model's constants would hold 112 values "
                      "(448 B as float32), above the 400 B limit"),
            std::string::npos)
      << text;
  limits.const_elements = 128;
  EXPECT_EQ(import_limited(b, limits), "OK");
}

// ------------------------------------------------------------------ 4. node arity

TEST(ConverterHostile, NodesWithTheWrongNumberOfInputsOrOutputsAreNamed) {
  {  // no outputs (protobuf's index check terminated the process)
    OnnxBuilder b;
    b.input("x", {1, 2}).output("y");
    b.node("Relu", {"x"}, {}, "relu");
    expect_refused(b, {"node 'relu' (Relu): 0 outputs, but Relu has 1 output"});
  }
  {  // a folded node with no outputs
    OnnxBuilder b;
    b.input("x", {1, 2}).output("y");
    b.initializer("a", {1}, {1.0f});
    b.node("Neg", {"a"}, {}, "neg");
    b.node("Relu", {"x"}, {"y"}, "relu");
    expect_refused(b, {"node 'neg' (Neg): 0 outputs, but Neg has 1 output"});
  }
  {
    OnnxBuilder b;
    b.input("x", {1, 2}).output("y");
    b.node("Shape", {"x"}, {}, "shape");
    b.node("Relu", {"x"}, {"y"}, "relu");
    expect_refused(b, {"node 'shape' (Shape): 0 outputs, but Shape has 1 output"});
  }
  {  // Sum lowered as a chain of Adds
    OnnxBuilder b;
    b.input("x", {1, 2}).output("y");
    b.node("Sum", {"x", "x", "x"}, {}, "sum");
    b.node("Relu", {"x"}, {"y"}, "relu");
    expect_refused(b, {"node 'sum' (Sum): 0 outputs, but Sum has 1 output"});
  }
  {
    OnnxBuilder b;
    b.input("x", {1, 1, 2, 2}).output("y");
    b.initializer("w", {1, 1, 1, 1}, {1.0f}).initializer("bias", {1}, {0.0f});
    b.node("Conv", {"x", "w", "bias", "x"}, {"y"}, "conv");
    expect_refused(b, {"node 'conv' (Conv): 4 inputs, but Conv takes 2 to 3 inputs"});
  }
  {
    OnnxBuilder b;
    b.input("x", {1, 2}).output("y");
    b.node("Relu", {"x"}, {"y", "z"}, "relu");
    expect_refused(b, {"node 'relu' (Relu): 2 outputs, but Relu has 1 output"});
  }
  {  // an unnamed first output
    OnnxBuilder b;
    b.input("x", {1, 2}).output("y");
    b.node("Relu", {"x"}, {""}, "relu");
    b.node("Relu", {"x"}, {"y"}, "relu2");
    expect_refused(b, {"node 'relu' (Relu): output 0 has no name"});
  }
  {  // inside an If branch
    OnnxBuilder b;
    b.input("x", {1, 2}).output("y");
    auto& k = b.node("Constant", {}, {"cond"}, "cond");
    auto* a = k.add_attribute();
    a->set_name("value_int");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(1);
    onnx::GraphProto then_g, else_g;
    auto* n = then_g.add_node();
    n->set_op_type("Relu");
    n->set_name("inner");
    n->add_input("x");
    then_g.add_output()->set_name("t");
    else_g.add_output()->set_name("x");
    auto& iff = b.node("If", {"cond"}, {"y"}, "if");
    add_graph_attr(iff, "then_branch", then_g);
    add_graph_attr(iff, "else_branch", else_g);
    expect_refused(b, {"node 'inner' (Relu): 0 outputs, but Relu has 1 output"});
  }
}

// ------------------------------------------------------------------ 5. non-finite weights

TEST(ConverterHostile, WeightsThatOverflowFloatAreRefused) {
  {  // a folded Mul(1e30, 1e30): 1e60 is finite as a double, inf as a float
    OnnxBuilder b;
    b.input("x", {1, 2}).output("y");
    b.initializer("a", {2, 2}, {1e30f, 1e30f, 1e30f, 1e30f});
    b.node("Mul", {"a", "a"}, {"w"}, "mul");
    b.node("MatMul", {"x", "w"}, {"y"}, "mm");
    expect_refused(b, {"node 'mul' (Mul)", "'w'", "inf", "float32"});
  }
  {  // a double initializer beyond float's range
    OnnxBuilder b;
    b.input("x", {1, 2}).output("y");
    raw_initializer(b, "w", {2, 2}, doubles_raw({1.0, 1e300, 0.0, 1.0}), onnx::TensorProto::DOUBLE);
    b.node("MatMul", {"x", "w"}, {"y"}, "mm");
    expect_refused(b, {"initializer 'w' contains 1e+300", "float32"});
  }
  {  // finite weights that Gemm's alpha takes past float's range
    OnnxBuilder b;
    b.input("x", {1, 2}).output("y");
    b.initializer("w", {2, 2}, {1e20f, 1.0f, 1.0f, 1.0f});
    attr_float(b.node("Gemm", {"x", "w"}, {"y"}, "fc"), "alpha", 1e20f);
    expect_refused(b, {"node 'fc' (Gemm)", "non-finite", "float32"});
  }
  {  // BatchNormalization folding into a Conv: w * gamma / sqrt(var + eps) overflows
    OnnxBuilder b;
    b.input("x", {1, 1, 2, 2}).output("y");
    b.initializer("w", {1, 1, 1, 1}, {1e30f});
    b.initializer("g", {1}, {1e30f}).initializer("beta", {1}, {0.0f});
    b.initializer("mean", {1}, {0.0f}).initializer("var", {1}, {1.0f});
    b.node("Conv", {"x", "w"}, {"c"}, "conv");
    b.node("BatchNormalization", {"c", "g", "beta", "mean", "var"}, {"y"}, "bn");
    expect_refused(b, {"node 'conv'", "'bn'", "non-finite", "float32"});
  }
}

// A Gemm 2 -> 2 imported and calibrated; its weights are then overwritten
// (an internal FloatGraph can hold anything: quantize_weights must not cast
// NaN or inf to an integer whatever it is given).
TEST(ConverterHostile, QuantizerRefusesNonFiniteWeightsInsteadOfCastingThem) {
  for (int which = 0; which < 4; ++which) {
    OnnxBuilder b;
    b.input("x", {1, 2}).output("y");
    b.initializer("w", {2, 2}, {0.5f, -0.25f, 1.0f, 0.75f}).initializer("c", {2}, {0.1f, 0.2f});
    attr_int(b.node("Gemm", {"x", "w", "c"}, {"y"}, "fc"), "transB", 1);
    const std::string bytes = b.bytes();
    const Outcome o = in_child([&]() -> std::string {
      auto g = qc::import_onnx_bytes(bytes.data(), bytes.size());
      if (!g.ok()) return g.status().message();
      test::VectorSource src({{0.5f, -1.0f}, {1.0f, 2.0f}});
      auto cal = qc::calibrate(**g, src, {});
      if (!cal.ok()) return cal.status().message();
      for (auto& n : (*g)->nodes) {
        if (n.op != OpType::kFullyConnected) continue;
        const float bad = which % 2 == 0 ? NAN : INFINITY;
        (*g)->tensors[n.inputs[which < 2 ? 1 : 2]].data[1] = bad;
      }
      auto q = qc::build_int8(**g, *cal, {}, nullptr);
      return q.ok() ? std::string("OK") : q.status().message();
    });
    ASSERT_TRUE(o.exited) << which << ": " << o.describe();
    EXPECT_NE(o.text.find("node 'fc'"), std::string::npos) << which << ": " << o.text;
    EXPECT_NE(o.text.find(which < 2 ? "weight 'fc.weight'" : "bias 'fc.bias'"), std::string::npos)
        << which << ": " << o.text;
    EXPECT_NE(o.text.find(which % 2 == 0 ? "nan" : "inf"), std::string::npos) << which << ": " << o.text;
  }
}

// ------------------------------------------------------------------ no exception escapes

class ThrowingSource : public qc::SampleSource {
 public:
  explicit ThrowingSource(bool oom) : oom_(oom) {}
  int64_t size() const override { return 1; }
  Result<bool> next(std::vector<std::vector<float>>&) override {
    if (oom_) throw std::bad_alloc();
    throw std::runtime_error("the camera fell off");
  }
  Status rewind() override { return Status::Ok(); }

 private:
  bool oom_;
};

TEST(ConverterHostile, ExceptionsFromCallersCodeComeBackAsAStatus) {
  OnnxBuilder b;
  b.input("x", {1, 2}).output("y");
  b.node("Relu", {"x"}, {"y"}, "relu");
  const std::string bytes = b.bytes();
  const Outcome o = in_child([&]() -> std::string {
    auto g = qc::import_onnx_bytes(bytes.data(), bytes.size());
    if (!g.ok()) return g.status().message();
    std::string out;
    for (bool oom : {true, false}) {
      ThrowingSource src(oom);
      auto c = qc::calibrate(**g, src, {});
      out += message_of(c.status()) + "\n";
    }
    test::VectorSource src({{1.0f, 2.0f}});
    qc::CalibrationOptions co;
    co.progress = [](const qc::CalibrationProgress&) { throw std::runtime_error("progress bar broke"); };
    out += message_of(qc::calibrate(**g, src, co).status()) + "\n";
    return out;
  });
  ASSERT_TRUE(o.exited) << o.describe();
  EXPECT_EQ(o.text,
            "calibrate: out of memory (std::bad_alloc)\n"
            "calibrate: unexpected exception: the camera fell off\n"
            "calibrate: unexpected exception: progress bar broke\n");
}

// ------------------------------------------------------------------ other hazards

struct HazardCase {
  std::string what;
  std::function<void(OnnxBuilder&)> build;  // input "x" [1, 4] and output "y" exist
  std::vector<std::string> needles;         // in the error; none: the model is accepted
};

TEST(ConverterHostile, AttributesAndConstantsUsedAsSizesOrIndicesAreChecked) {
  const std::vector<HazardCase> cases = {
      {"Slice with fewer steps than axes (read past the steps)",
       [](OnnxBuilder& b) {
         b.initializer("d", {2, 3}, {1, 2, 3, 4, 5, 6});
         b.initializer_i64("st", {2}, {0, 0}).initializer_i64("en", {2}, {1, 2});
         b.initializer_i64("ax", {2}, {0, 1}).initializer_i64("sp", {1}, {1});
         b.node("Slice", {"d", "st", "en", "ax", "sp"}, {"c"}, "slice");
         b.node("Add", {"x", "c"}, {"y"}, "add");
       },
       {"node 'slice' (Slice)", "steps"}},
      {"Slice step INT64_MIN (negated)",
       [](OnnxBuilder& b) {
         b.initializer("d", {4}, {1, 2, 3, 4});
         b.initializer_i64("st", {1}, {3}).initializer_i64("en", {1}, {INT64_MIN});
         b.initializer_i64("ax", {1}, {0}).initializer_i64("sp", {1}, {INT64_MIN});
         b.node("Slice", {"d", "st", "en", "ax", "sp"}, {"c"}, "slice");
         b.node("Add", {"x", "c"}, {"y"}, "add");
       },
       {}},  // a valid step: the slice takes the last element
      {"Transpose of a constant with a perm that is not a permutation",
       [](OnnxBuilder& b) {
         b.initializer("d", {2, 2}, {1, 2, 3, 4});
         attr_ints(b.node("Transpose", {"d"}, {"c"}, "t"), "perm", {0, 7});
         b.node("Add", {"x", "c"}, {"y"}, "add");
       },
       {"node 't' (Transpose)", "perm [0, 7]"}},
      {"Reshape of a constant copying a dimension it does not have (std::out_of_range)",
       [](OnnxBuilder& b) {
         b.initializer("d", {4}, {1, 2, 3, 4});
         b.initializer_i64("s", {3}, {1, 0, 0});
         b.node("Reshape", {"d", "s"}, {"c"}, "r");
         b.node("Add", {"x", "c"}, {"y"}, "add");
       },
       {"node 'r' (Reshape)", "dimension 1"}},
      {"Reshape of a constant to two negative dimensions whose product matches",
       [](OnnxBuilder& b) {
         b.initializer("d", {6}, {1, 2, 3, 4, 5, 6});
         b.initializer_i64("s", {2}, {-2, -3});
         b.node("Reshape", {"d", "s"}, {"c"}, "r");
         b.node("Add", {"x", "c"}, {"y"}, "add");
       },
       {"node 'r' (Reshape)", "-2"}},
      {"Range with an empty input (std::out_of_range)",
       [](OnnxBuilder& b) {
         b.initializer("a", {0}, {}).initializer("l", {}, {4.0f}).initializer("d", {}, {1.0f});
         b.node("Range", {"a", "l", "d"}, {"c"}, "range");
         b.node("Add", {"x", "c"}, {"y"}, "add");
       },
       {"node 'range' (Range)", "start"}},
      {"Range of 1e30 elements (a double past int64 cast to int64)",
       [](OnnxBuilder& b) {
         b.initializer("a", {}, {0.0f}).initializer("l", {}, {1e30f}).initializer("d", {}, {1.0f});
         b.node("Range", {"a", "l", "d"}, {"c"}, "range");
         b.node("Add", {"x", "c"}, {"y"}, "add");
       },
       {"node 'range' (Range): folding would create"}},
      {"Unsqueeze of a constant with a repeated axis (insert past the end)",
       [](OnnxBuilder& b) {
         b.initializer("d", {4}, {1, 2, 3, 4});
         b.initializer_i64("a", {2}, {2, 2});
         b.node("Unsqueeze", {"d", "a"}, {"c"}, "u");
         b.node("Add", {"x", "c"}, {"y"}, "add");
       },
       {"node 'u' (Unsqueeze)", "axes [2, 2]"}},
      {"Squeeze of a constant's axis that is not 1 (silently dropped)",
       [](OnnxBuilder& b) {
         b.initializer("d", {1, 4}, {1, 2, 3, 4});
         b.initializer_i64("a", {1}, {1});
         b.node("Squeeze", {"d", "a"}, {"c"}, "sq");
         b.node("Add", {"x", "c"}, {"y"}, "add");
       },
       {"node 'sq' (Squeeze)", "size 4 is not 1"}},
      {"Concat of constants of different ranks (read past the data)",
       [](OnnxBuilder& b) {
         b.initializer("p", {1, 2}, {1, 2}).initializer("q", {2}, {3, 4});
         attr_int(b.node("Concat", {"p", "q"}, {"c"}, "cat"), "axis", 1);
         b.node("Add", {"x", "c"}, {"y"}, "add");
       },
       {"node 'cat' (Concat)", "rank"}},
      {"Flatten of a constant with an axis past its rank (read past the shape)",
       [](OnnxBuilder& b) {
         b.initializer("d", {4}, {1, 2, 3, 4});
         attr_int(b.node("Flatten", {"d"}, {"c"}, "flat"), "axis", 9);
         b.node("Add", {"x", "c"}, {"y"}, "add");
       },
       {"node 'flat' (Flatten)", "axis 9"}},
      {"ConstantOfShape with a negative dimension (size_t wrap)",
       [](OnnxBuilder& b) {
         constant_of_shape(b, "s", {-1}, "c", "cos");
         b.node("Add", {"x", "c"}, {"y"}, "add");
       },
       {"node 'cos' (ConstantOfShape)", "negative"}},
      {"ConstantOfShape whose zero dimension hides a product past the limit",
       [](OnnxBuilder& b) {
         constant_of_shape(b, "s", {0, int64_t{1} << 40, int64_t{1} << 40}, "c", "cos");
         b.node("Shape", {"c"}, {"n"}, "shape");
         b.node("Add", {"x", "x"}, {"y"}, "add");
       },
       {"node 'cos' (ConstantOfShape)", "more than 4294967296 elements"}},
      {"a Reshape shape of 1e30 (a float cast to int64)",
       [](OnnxBuilder& b) {
         b.initializer("s", {2}, {1e30f, -1.0f});
         b.node("Reshape", {"x", "s"}, {"y"}, "r");
       },
       {"node 'r' (Reshape)", "e+30", "not an int64 value"}},
      {"LeakyRelu with a NaN alpha",
       [](OnnxBuilder& b) { attr_float(b.node("LeakyRelu", {"x"}, {"y"}, "lr"), "alpha", NAN); },
       {"node 'lr' (LeakyRelu)", "alpha"}},
      {"HardSigmoid with an infinite beta",
       [](OnnxBuilder& b) { attr_float(b.node("HardSigmoid", {"x"}, {"y"}, "hs"), "beta", INFINITY); },
       {"node 'hs' (HardSigmoid)", "beta inf"}},
      {"Pad in reflect mode by more than the dimension (left to the runtime's checks)",
       [](OnnxBuilder& b) {
         b.initializer_i64("p", {4}, {0, 4, 0, 0});
         attr_string(b.node("Pad", {"x", "p"}, {"y"}, "pad"), "mode", "reflect");
       },
       {"node 'pad' (Pad)", "reflect pads [0, 4, 0, 0]"}},
  };
  for (const HazardCase& c : cases) {
    SCOPED_TRACE(c.what);
    OnnxBuilder b;
    b.input("x", {1, 4}).output("y");
    c.build(b);
    if (c.needles.empty()) {  // accepted
      const Outcome o = import_in_child(b.bytes());
      EXPECT_TRUE(o.exited) << o.describe();
      EXPECT_EQ(o.text, "OK");
    } else {
      expect_refused(b, c.needles);
    }
  }
}

TEST(ConverterHostile, PadConstantValueNaNIsRefused) {
  OnnxBuilder b(10);  // the value is an attribute before opset 11
  b.input("x", {1, 4}).output("y");
  auto& p = b.node("Pad", {"x"}, {"y"}, "pad");
  attr_ints(p, "pads", {0, 1, 0, 1});
  attr_float(p, "value", NAN);
  expect_refused(b, {"node 'pad' (Pad): the constant value is NaN"});
}

TEST(ConverterHostile, GlobalMaxPoolOverAnImageWiderThanInt32IsRefused) {
  // The kernel is the image size, stored in an int32 option.
  OnnxBuilder b;
  b.input("x", {1, 1, 1, 2147483648}).output("y");
  b.node("GlobalMaxPool", {"x"}, {"y"}, "gmp");
  expect_refused(b, {"node 'gmp' (GlobalMaxPool)", "2147483648"});
}

}  // namespace
}  // namespace quanta
