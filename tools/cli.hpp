// The `quanta` command-line tool: subcommands and the helpers they share.
//
// tools/cli_app.cpp defines the command line (CLI11, compiled in that one
// file only: it is a large header-only library) and maps errors to exit
// codes; each subcommand is implemented in tools/cmd_<name>.cpp.
//
// Exit codes: 0 success, 1 error (a message "quanta: error: ..." on stderr
// that names the file and the problem), 2 usage error (bad arguments).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "quanta/npy.hpp"
#include "quanta/quanta.hpp"

namespace quanta::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// Thrown by subcommands for an error that ends the command with exit code 1;
// main() prints "quanta: error: <message>".
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown for a usage problem found after parsing (exit code 2).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parsed arguments of each subcommand (tools/cli_app.cpp declares the
// options; tools/cmd_<name>.cpp implements the command). Each run_* returns
// the exit code, or throws Error / UsageError.
// Memory limits of every Session a command creates: --max-arena-mb and
// --max-prepared-mb (SessionOptions::max_arena_bytes / max_prepared_bytes, in
// MiB; 0: the runtime's default, QUANTA_MAX_ARENA_MB / QUANTA_MAX_PREPARED_MB
// when set).
struct LimitArgs {
  int64_t max_arena_mb = 0;
  int64_t max_prepared_mb = 0;
};

// How each Session runs (shared by run, bench and eval): --intra-threads,
// --tier, --backend (SessionOptions::threads / tier / backend) and the memory
// limits.
struct SessionArgs {
  int intra_threads = 1;
  std::string tier = "auto";     // auto | ref | avx2 | avx512vnni
  std::string backend = "auto";  // auto | own | onednn
  LimitArgs limits;
};

struct RunArgs {
  SessionArgs session;
  std::string model;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  bool raw = false;
};

struct InspectArgs {
  std::string model;
  bool json = false;
  bool brief = false;
  std::string tier = "auto";     // of the session inspect creates (SessionArgs::tier)
  std::string backend = "auto";  // of the session inspect creates (SessionArgs::backend)
  LimitArgs limits;
};

struct BenchArgs {
  SessionArgs session;
  std::string model;
  int warmup = 50;
  int runs = 1000;
  double min_time_ms = 0;
  int threads = 1;
  bool json = false;
  bool per_op = false;
};

struct CompareArgs {
  std::string reference;
  std::string candidate;
  std::vector<std::string> inputs;
  int random = 256;
  bool json = false;
  std::string tier = "auto";  // of both sessions (SessionArgs::tier)
  LimitArgs limits;
};

struct DemoModelArgs {
  std::string out_dir;
  int samples = 64;
};

// `quanta convert` (tools/cmd_convert.cpp).
struct ConvertArgs {
  std::string model;                       // .onnx
  std::string output;                      // .quanta
  std::string precision = "int8";          // int8 | fp32
  std::vector<std::string> calib;          // .npy files (or NAME=file.npy)
  std::string calib_dir;                   // directory of images
  int64_t calib_limit = 0;                 // 0: all samples
  std::string method = "mse";              // minmax | percentile | mse
  double percentile = 99.99;
  int bins = 2048;
  bool per_tensor = false;
  std::vector<std::string> exclude;        // ONNX node names kept in float
  std::vector<std::string> input_shapes;   // NAME=1,3,32,32
  // image preprocessing (--calib-dir)
  int resize = 0;
  bool no_crop = false;
  std::string mean;                        // "0.485,0.456,0.406"
  std::string std;
  double scale = 1.0 / 255.0;
  bool bgr = false;
  std::string layout = "nchw";
  bool json = false;
  bool quiet = false;
  LimitArgs limits;  // of the calibration session and the final check's
  // The options given on the command line ("--percentile", ...), so that one
  // the other options make meaningless is refused rather than ignored.
  std::set<std::string> given;
};

// `quanta eval` (tools/cmd_eval.cpp).
struct EvalArgs {
  SessionArgs session;
  std::vector<std::string> models;         // first: the reference (e.g. float)
  std::vector<std::string> data;           // .npy per graph input (or NAME=file.npy), batched
  std::string labels;                      // optional .npy of integer class labels
  int64_t limit = 0;                       // 0: all samples
  int top_k = 0;                           // with labels: also top-K accuracy (0: off)
  bool json = false;
};

int run_convert(const ConvertArgs& args);
int run_eval(const EvalArgs& args);
int run_run(const RunArgs& args);
int run_inspect(const InspectArgs& args);
int run_bench(const BenchArgs& args);
int run_compare(const CompareArgs& args);
int run_demo_model(const DemoModelArgs& args);

// The whole CLI: parses argv, runs the selected subcommand, maps errors to
// exit codes. tools/main.cpp only calls this.
int run_main(int argc, char** argv);

// "quanta 0.1.0 (format 1.0, oneDNN 2.6.3)" lines for --version.
std::string version_text();

// ------------------------------------------------------------ shared helpers

// The SessionOptions of --intra-threads / --tier / --backend and the limits.
SessionOptions session_options(const SessionArgs& a);
// Sets the memory limits of --max-arena-mb / --max-prepared-mb in `o`.
void apply_limits(const LimitArgs& a, SessionOptions* o);

// KernelTier from --tier ("auto", "ref", "avx2", "avx512vnni"; the option
// admits no other value).
KernelTier tier_from_arg(const std::string& tier);
// Backend from --backend ("auto", "own", "onednn").
Backend backend_from_arg(const std::string& backend);

// What the oneDNN backend did with the nodes offered to it
// (Session::backend_notes(); tools/cli_backend.cpp), for bench and inspect.
// "N of M offered nodes on oneDNN" (empty when nothing was offered):
std::string backend_summary(const Session& s);
// A table of the offered nodes (node, op, name, backend, implementation or
// reason); with refused_only, only the nodes Quanta's kernels run.
std::string backend_notes_table(const Session& s, bool refused_only);
// [{node, op, name, backend ("onednn" or "own"), detail}], every offered node.
nlohmann::ordered_json backend_notes_json(const Session& s);

// Loads a model or throws Error naming the file.
std::shared_ptr<const Model> load_model_or_throw(const std::string& path);
// Creates a session or throws Error naming the file.
std::unique_ptr<Session> create_session_or_throw(const std::shared_ptr<const Model>& model,
                                                 const std::string& path,
                                                 const SessionOptions& options = {});
// Throws Error("<context>: <status>") when !status.ok().
void check(const Status& status, const std::string& context);

// "[1, 16, 16, 3]"
std::string shape_str(const std::vector<int64_t>& shape);
// "u8 s=0.0235 zp=128", "i8 per-axis(0) x8 s=[0.001, 0.02] zp=0", "f32"
std::string quant_str(const TensorInfo& t);

// Deterministic pseudo-random numbers (mt19937 with a fixed, portable
// uniform mapping, so the same seed gives the same values everywhere).
class Rng {
 public:
  explicit Rng(uint32_t seed);
  float uniform(float lo, float hi);  // [lo, hi)
  uint32_t next() { return static_cast<uint32_t>(engine_()); }
 private:
  std::mt19937 engine_;
};

// Fills input `i` of `session` with deterministic random values: floats in
// [-1, 1) for float inputs; for quantized inputs, real values spread over the
// representable range (quantized by set_input); raw random bytes otherwise.
void fill_random_input(Session& session, size_t i, Rng& rng);

// Index of the largest of v[0..n) (the first one on ties); NaN never wins.
size_t argmax(const float* v, size_t n);

// A plain-text table: columns padded to their widest cell, separated by two
// spaces. `right` lists the columns that are right-aligned (numbers).
std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows,
                         const std::vector<size_t>& right = {});

// 1234567 -> "1,234,567"
std::string group_digits(int64_t v);
// 1536 -> "1.5 KiB"
std::string human_bytes(double bytes);

// Error of a candidate output against a reference output, accumulated over
// samples (quanta compare, quanta eval). Non-finite pairs are skipped and
// flagged.
struct ErrorStats {
  double ref2 = 0, cand2 = 0, err2 = 0, dot = 0, abs_err = 0, max_abs_err = 0;
  int64_t count = 0;
  bool nonfinite = false;

  void add(const std::vector<float>& ref, const std::vector<float>& cand);
  bool identical() const { return err2 == 0 && !nonfinite; }
  // 10 log10(sum ref^2 / sum err^2); +inf when identical.
  double sqnr_db() const;
  double cosine() const;
  double mean_abs_err() const { return count > 0 ? abs_err / static_cast<double>(count) : 0.0; }
};

// Percentile (p in [0, 100]) of sorted values, linear interpolation.
double percentile_sorted(const std::vector<double>& sorted, double p);

// ------------------------------------------------------------ model and data files
// (tools/cli_data.cpp; used by run, compare and eval)

// True when `path` ends in ".onnx" (any case).
bool is_onnx_path(const std::string& path);
// A .quanta model, or an .onnx file converted to fp32 in memory (what
// `quanta convert --precision fp32` would write). When the ONNX inputs need
// shapes (a dynamic dimension other than the batch) or have other shapes than
// the inputs of `shapes_from`, the import is retried with the input shapes
// of `shapes_from` (for example a .quanta converted with --input-shape).
// Throws Error naming the file.
std::shared_ptr<const Model> load_model_any(const std::string& path, const Model* shapes_from = nullptr);
// The path, plus "(ONNX, converted to fp32 in memory)" for an .onnx file.
std::string model_label(const std::string& path);

std::vector<std::string> input_names(const Model& m);
std::vector<std::string> output_names(const Model& m);

// How file arguments of one option bind to graph tensors.
struct FileOption {
  std::string option;   // "--input", "--data", "--output"
  std::string kind;     // "input" or "output"
  bool reading = true;  // files that are read (not written)
};

// Resolves file arguments to one path per tensor of `names` ("" where none
// is given). "NAME=path" binds by name; other arguments fill the free slots
// in order. A prefix before '=' that is not a tensor name is a usage error
// naming the tensors, unless the argument is plainly a path: an existing
// file (when reading) or a prefix with a '/' ("./a=b.npy"). Too many
// arguments, a slot given twice and an empty name are usage errors too.
std::vector<std::string> bind_files(const std::vector<std::string>& args, const std::vector<std::string>& names,
                                    const FileOption& opt, const std::string& model_path);

// A .npy file of samples for one graph input, split into runs of the input's
// shape [B, d1, ..., dk]: a file of exactly that shape is one run; a file
// [N, d1, ..., dk] gives N / B runs (N must be a multiple of B). Any other
// shape (a missing batch axis included) is an error naming both shapes.
struct SampleFile {
  std::string path;
  npy::Array array;
  int64_t batch = 1;      // B, the input's first dimension (1 for a scalar)
  int64_t samples = 0;    // N
  int64_t runs = 0;       // N / B
  size_t run_elems = 0;   // elements per run (the input's element count)

  // Raw bytes of run `run` (run_bytes() of them, the file's dtype).
  const uint8_t* run_data(int64_t run) const;
  size_t run_bytes() const;
  // Run `run` converted to float into `out` (resized). With `refuse_nan`, a
  // NaN is an error naming the file, the sample and the element.
  void floats(int64_t run, std::vector<float>& out, bool refuse_nan = false) const;
};
SampleFile read_sample_file(const std::string& path, const TensorInfo& input, size_t index);
// One file per input of `m` (paths in input order, none empty); every file
// must give the same number of runs, or an error names both files.
std::vector<SampleFile> read_sample_files(const std::vector<std::string>& paths, const Model& m);

// The class scores of an output, for argmax / top-k: `rows` rows per run
// (the first axis; 1 for a rank-1 output), each of `classes` scores (the
// other axes, which must be a vector once size-1 axes are dropped: [1, 1000,
// 1, 1] is one row of 1000 classes). `ok` false (and `why` set) otherwise.
struct ClassLayout {
  bool ok = false;
  int64_t rows = 0;
  size_t classes = 0;
  std::string why;
};
ClassLayout class_layout(const TensorInfo& output);

}  // namespace quanta::cli
