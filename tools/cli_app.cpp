// The command line of `quanta`: every subcommand's options (CLI11) and the
// mapping of errors to exit codes. CLI11 is header-only and large, so it is
// included in this file only.
#include <iostream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "quanta/converter.hpp"

namespace quanta::cli {
namespace {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> action;
};

// --tier (SessionOptions::tier).
void add_tier_option(CLI::App* sub, std::string* tier) {
  std::vector<std::string> names;
  for (KernelTier t : {KernelTier::kAuto, KernelTier::kRef, KernelTier::kAvx2, KernelTier::kAvx512Vnni}) {
    names.push_back(kernel_tier_name(t));
  }
  sub->add_option("--tier", *tier,
                  "Kernel tier: ref (the reference kernels), avx2, avx512vnni, or auto (QUANTA_TIER,\n"
                  "else the best this CPU supports); a tier this CPU lacks is an error")
      ->capture_default_str()
      ->check(CLI::IsMember(names));
}

// --backend (SessionOptions::backend).
void add_backend_option(CLI::App* sub, std::string* backend) {
  sub->add_option("--backend", *backend,
                  "Kernels for Conv/FullyConnected/MatMul: own, onednn (oneDNN where it accepts a\n"
                  "node exactly), or auto (QUANTA_BACKEND, else own)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "own", "onednn"}));
}

// --max-arena-mb and --max-prepared-mb, for every command that creates
// Sessions.
void add_limit_options(CLI::App* sub, LimitArgs* args) {
  sub->add_option("--max-arena-mb", args->max_arena_mb,
                  "Refuse a model whose activation arena needs more than this many MiB\n"
                  "(0: QUANTA_MAX_ARENA_MB when set, else 1024)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  sub->add_option("--max-prepared-mb", args->max_prepared_mb,
                  "Refuse a model whose prepared state (packed weights, tables) needs more than\n"
                  "this many MiB (0: QUANTA_MAX_PREPARED_MB when set, else 1024)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
}

// --intra-threads, --tier, --backend and the limits, for the commands that run
// Sessions.
void add_session_options(CLI::App* sub, SessionArgs* args) {
  sub->add_option("--intra-threads", args->intra_threads,
                  "Threads per inference: large convolutions and GEMMs split their output over\n"
                  "them (results are identical for any count); 0 = one per hardware thread")
      ->capture_default_str()
      ->check(CLI::Range(0, 256));
  add_tier_option(sub, &args->tier);
  add_backend_option(sub, &args->backend);
  add_limit_options(sub, &args->limits);
}

Command add_run_command(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* sub = app.add_subcommand(
      "run",
      "Run a model on inputs read from .npy files.\n"
      "Inputs are given in graph-input order, or as NAME=file.npy. Each array has the model\n"
      "input's shape [B, ...], or [N, ...] for N samples (N a multiple of B): the model then runs\n"
      "N / B times and each output gets N / B times its first axis. A missing batch axis is an\n"
      "error. Without --raw, values are real numbers (any supported\n"
      "npy dtype, converted to float) and are quantized by the runtime; outputs are dequantized\n"
      "to float32. With --raw, arrays hold the stored dtype (e.g. uint8 for a quantized input)\n"
      "and outputs are written in their stored dtype. Outputs without --output are summarized.");
  sub->add_option("model", args->model, "Model file (.quanta)")->required();
  sub->add_option("--input,-i", args->inputs, "Input .npy file, or NAME=file.npy (repeatable)")
      ->required()
      ->allow_extra_args(false);
  sub->add_option("--output,-o", args->outputs,
                  "Write an output to this .npy file, in graph-output order or NAME=file.npy (repeatable)")
      ->allow_extra_args(false);
  sub->add_flag("--raw", args->raw, "Pass inputs and write outputs in their stored dtype (no (de)quantization)");
  add_session_options(sub, &args->session);
  return {sub, [args] { return run_run(*args); }};
}

Command add_inspect_command(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* sub = app.add_subcommand(
      "inspect",
      "Describe a model: version, producer, inputs/outputs, nodes (op, source node, MACs),\n"
      "tensors (shape, dtype, quantization), weight bytes per dtype, total MACs, planned arena\n"
      "size, and the file size compared with the same model stored in fp32. With the onednn\n"
      "backend, also which nodes oneDNN runs (and its implementation) and why it refuses others.");
  sub->add_option("model", args->model, "Model file (.quanta)")->required();
  sub->add_flag("--json", args->json, "Machine-readable output (see docs/cli.md for the fields)");
  sub->add_flag("--brief", args->brief, "Leave out the node and tensor tables");
  add_tier_option(sub, &args->tier);
  add_backend_option(sub, &args->backend);
  add_limit_options(sub, &args->limits);
  return {sub, [args] { return run_inspect(*args); }};
}

Command add_bench_command(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* sub = app.add_subcommand(
      "bench",
      "Measure the latency of Session::run(). Inputs are random (fixed seed) and set once;\n"
      "after the warm-up runs, every run is timed with a steady clock. Prints min/p50/p90/p99/\n"
      "mean in microseconds and runs per second.\n"
      "--threads N runs N independent Sessions, one per thread, sharing one Model: it measures\n"
      "how throughput scales with concurrent sessions. --intra-threads T makes one inference\n"
      "faster instead: each session splits its large ops over T threads.");
  sub->add_option("model", args->model, "Model file (.quanta)")->required();
  sub->add_option("--warmup", args->warmup, "Untimed runs before measuring")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000000));
  sub->add_option("--runs", args->runs, "Timed runs (per thread)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000000));
  sub->add_option("--min-time-ms", args->min_time_ms,
                  "Keep running past --runs until this much time has been measured")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600000.0));
  sub->add_option("--threads", args->threads, "Concurrent sessions, one per thread (see above)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  sub->add_flag("--json", args->json, "Machine-readable output (see docs/cli.md for the fields)");
  sub->add_flag("--per-op", args->per_op,
                "Also profile each node (a separate Session with profiling on, same run counts)");
  add_session_options(sub, &args->session);
  return {sub, [args] { return run_bench(*args); }};
}

Command add_compare_command(CLI::App& app) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* sub = app.add_subcommand(
      "compare",
      "Run two models with the same inputs and outputs on the same data and report, per output,\n"
      "the SQNR of the candidate against the reference (dB), cosine similarity, the largest\n"
      "absolute error and top-1 agreement (argmax per sample; size-1 axes are dropped). Inputs\n"
      "are real values (quantized by each model's own input parameters); an --input file may hold\n"
      "N samples, as for run. A float .onnx model is converted to fp32 in memory.");
  sub->add_option("reference", args->reference, "Reference model (.quanta, or a float .onnx)")->required();
  sub->add_option("candidate", args->candidate, "Candidate model (e.g. the int8 .quanta)")->required();
  CLI::Option* in = sub->add_option("--input,-i", args->inputs,
                                    "Input .npy file, one per graph input or NAME=file.npy (repeatable)")
                        ->allow_extra_args(false);
  sub->add_option("--random", args->random, "Number of random input samples (seed 2024, uniform [-1, 1))")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000))
      ->excludes(in);
  sub->add_flag("--json", args->json, "Machine-readable output (see docs/cli.md for the fields)");
  add_tier_option(sub, &args->tier);
  add_limit_options(sub, &args->limits);
  return {sub, [args] { return run_compare(*args); }};
}

Command add_demo_model_command(CLI::App& app) {
  auto args = std::make_shared<DemoModelArgs>();
  CLI::App* sub = app.add_subcommand(
      "demo-model",
      "Write the demo image classifier (16x16x3 -> 10 classes) as DIR/demo_cnn_fp32.quanta and\n"
      "DIR/demo_cnn_int8.quanta. The weights are deterministic; the int8 model is quantized\n"
      "from the float one (int8 per-channel weights, uint8 activations calibrated by running\n"
      "the float model on random inputs) and has the same float input and output.");
  sub->add_option("--out,-o", args->out_dir, "Output directory (created if missing)")->required();
  sub->add_option("--calibration-samples", args->samples,
                  "Random inputs used to calibrate the activation ranges")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  return {sub, [args] { return run_demo_model(*args); }};
}

Command add_convert_command(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* sub = app.add_subcommand(
      "convert",
      "Convert a float ONNX model to a .quanta file (docs/converter.md).\n"
      "--precision fp32 writes the float model (no calibration needed). --precision int8 (the\n"
      "default) calibrates activation ranges by running the float model on --calib .npy files or\n"
      "a --calib-dir of images, then writes int8 weights (per output channel), int32 biases and\n"
      "uint8 activations. The converted model keeps the ONNX input/output names, shapes and layout.\n"
      "Prints what the rewrites did and a per-node summary of the quantization chosen.\n"
      "An option that the others make meaningless is a usage error, not ignored: int8 options with\n"
      "--precision fp32, --percentile without --method percentile, --bins with --method minmax,\n"
      "image options without --calib-dir, --resize with --no-crop.");
  sub->add_option("model", args->model, "Float ONNX model (.onnx)")->required();
  sub->add_option("--output,-o", args->output, "Output file (.quanta)")->required();
  sub->add_option("--precision", args->precision, "int8 or fp32")
      ->capture_default_str()
      ->check(CLI::IsMember({"int8", "fp32"}));
  CLI::Option* calib =
      sub->add_option("--calib", args->calib,
                      "Calibration .npy file(s) of samples in the model's input layout, batched on\n"
                      "the first axis; NAME=file.npy for models with several inputs (repeatable)")
          ->allow_extra_args(false);
  sub->add_option("--calib-dir", args->calib_dir,
                  "Directory of PNG/JPEG/BMP images for calibration (see the preprocessing options)")
      ->excludes(calib);
  sub->add_option("--calib-limit", args->calib_limit, "Use at most this many calibration samples (0: all)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  sub->add_option("--method", args->method,
                  "Activation range: minmax (observed range), percentile (--percentile), or mse (the\n"
                  "clipping range that minimizes the quantization mean squared error)")
      ->capture_default_str()
      ->check(CLI::IsMember({"minmax", "percentile", "mse"}));
  sub->add_option("--percentile", args->percentile,
                  "Percentile kept by --method percentile (the lower bound uses 100 - p); an error\n"
                  "with another method")
      ->capture_default_str()
      ->check(CLI::Range(convert::kMinPercentile, convert::kMaxPercentile));
  sub->add_option("--bins", args->bins, "Histogram bins for percentile and mse; an error with minmax")
      ->capture_default_str()
      ->check(CLI::Range(convert::kMinBins, convert::kMaxBins));
  sub->add_flag("--per-tensor", args->per_tensor, "One weight scale per tensor instead of per output channel");
  sub->add_option("--exclude", args->exclude,
                  "Keep this ONNX node in float, with quantize/dequantize around it (repeatable)")
      ->allow_extra_args(false);
  sub->add_option("--input-shape", args->input_shapes,
                  "Fix an input's shape, NAME=1,3,32,32 (needed for dynamic dimensions other than\n"
                  "the batch, which defaults to 1) (repeatable)")
      ->allow_extra_args(false);
  sub->add_option("--resize", args->resize,
                  "Images: resize so the shorter side is this many pixels before cropping (0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 16));
  sub->add_flag("--no-crop", args->no_crop, "Images: resize to the input size instead of center-cropping");
  sub->add_option("--mean", args->mean, "Images: mean subtracted after scaling, one value or one per channel (default 0)");
  sub->add_option("--std", args->std, "Images: divisor after the mean, one value or one per channel (default 1)");
  sub->add_option("--scale", args->scale, "Images: pixel values (0..255) are multiplied by this first")
      ->capture_default_str();
  sub->add_flag("--bgr", args->bgr, "Images: BGR channel order instead of RGB");
  sub->add_option("--layout", args->layout, "Images: layout of the model input")
      ->capture_default_str()
      ->check(CLI::IsMember({"nchw", "nhwc"}));
  add_limit_options(sub, &args->limits);
  sub->add_flag("--json", args->json, "Machine-readable summary on stdout");
  sub->add_flag("--quiet,-q", args->quiet,
                "Print nothing on success but warnings (stderr); errors as always. --json output\n"
                "is still printed");
  return {sub, [args, sub] {
            for (const CLI::Option* o : sub->get_options()) {
              if (o->count() > 0) args->given.insert(o->get_name());
            }
            return run_convert(*args);
          }};
}

Command add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* sub = app.add_subcommand(
      "eval",
      "Evaluate one or more models on the same batched .npy data (the first axis indexes\n"
      "samples). With --labels: top-1 accuracy of each model and the top-1 agreement of each\n"
      "model with the first. Always: per output, SQNR (dB) and cosine similarity of each model\n"
      "against the first (typically: the float model first, then its int8 conversion). A float\n"
      ".onnx model is converted to fp32 in memory.");
  sub->add_option("models", args->models, "Model files (.quanta, or a float .onnx); the first is the reference")
      ->required();
  sub->add_option("--data,-d", args->data,
                  "Samples .npy, one per graph input in order, or NAME=file.npy (repeatable)")
      ->required()
      ->allow_extra_args(false);
  sub->add_option("--labels,-l", args->labels, "Integer class labels .npy, one per sample");
  sub->add_option("--top-k", args->top_k,
                  "With --labels, also report top-K accuracy (the label among the K highest scores)")
      ->check(CLI::Range(1, 1 << 30));
  sub->add_option("--limit", args->limit, "Evaluate at most this many samples (0: all)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  sub->add_flag("--json", args->json, "Machine-readable output (see docs/cli.md for the fields)");
  add_session_options(sub, &args->session);
  return {sub, [args] { return run_eval(*args); }};
}

}  // namespace

int run_main(int argc, char** argv) {
  CLI::App app{
      "Quanta: an int8 inference runtime for small neural networks.\n"
      "Exit codes: 0 success, 1 error (message on stderr), 2 usage error.",
      "quanta"};
  app.require_subcommand(1);
  app.add_flag_callback(
      "--version",
      [] {
        std::cout << version_text();
        throw CLI::Success();
      },
      "Print the quanta, model format and oneDNN versions and exit");

  std::vector<Command> commands;
  commands.push_back(add_convert_command(app));
  commands.push_back(add_eval_command(app));
  commands.push_back(add_run_command(app));
  commands.push_back(add_inspect_command(app));
  commands.push_back(add_bench_command(app));
  commands.push_back(add_compare_command(app));
  commands.push_back(add_demo_model_command(app));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }

  try {
    for (Command& c : commands) {
      if (c.app->parsed()) return c.action();
    }
    std::cerr << "quanta: error: no subcommand given (see quanta --help)\n";
    return kExitUsage;
  } catch (const UsageError& e) {
    std::cerr << "quanta: error: " << e.what() << "\nRun with --help for more information.\n";
    return kExitUsage;
  } catch (const Error& e) {
    std::cerr << "quanta: error: " << e.what() << "\n";
    return kExitError;
  } catch (const std::bad_alloc&) {
    std::cerr << "quanta: error: out of memory\n";
    return kExitError;
  } catch (const std::exception& e) {
    std::cerr << "quanta: error: " << e.what() << "\n";
    return kExitError;
  }
}

}  // namespace quanta::cli
