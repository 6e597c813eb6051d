// `quanta convert`: float ONNX -> .quanta (float or int8). See docs/converter.md.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "calib_progress.hpp"
#include "cli.hpp"
#include "quanta/converter.hpp"

namespace quanta::cli {
namespace {

using json = nlohmann::ordered_json;
namespace qc = quanta::convert;

std::vector<float> parse_floats(const std::string& text, const char* option) {
  std::vector<float> v;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = text.find(',', pos);
    const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    char* end = nullptr;
    const float f = std::strtof(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !std::isfinite(f)) {
      throw UsageError(fmt::format("{} '{}': '{}' is not a number (expected a comma-separated list)",
                                   option, text, item));
    }
    v.push_back(f);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return v;
}

std::map<std::string, std::vector<int64_t>> parse_shapes(const std::vector<std::string>& specs) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const std::string& s : specs) {
    const size_t eq = s.rfind('=');
    if (eq == std::string::npos || eq == 0) {
      throw UsageError(fmt::format("--input-shape '{}': expected NAME=d0,d1,... (for example "
                                   "input=1,3,32,32)", s));
    }
    std::vector<int64_t> dims;
    for (float f : parse_floats(s.substr(eq + 1), "--input-shape")) {
      if (f < 1 || f != std::floor(f)) {
        throw UsageError(fmt::format("--input-shape '{}': dimensions must be positive integers", s));
      }
      dims.push_back(static_cast<int64_t>(f));
    }
    out[s.substr(0, eq)] = dims;
  }
  return out;
}

// Options that the rest of the command line makes meaningless are usage
// errors rather than silently ignored (docs/cli.md, "quanta convert").
void refuse_ignored_options(const ConvertArgs& a) {
  const auto given = [&](std::initializer_list<const char*> options) {
    std::vector<std::string> v;
    for (const char* o : options) {
      if (a.given.count(o) > 0) v.push_back(o);
    }
    return v;
  };
  const auto refuse = [](const std::vector<std::string>& names, const std::string& why) {
    if (names.empty()) return;
    throw UsageError(fmt::format("{} {} {}", fmt::join(names, ", "), names.size() == 1 ? "is" : "are", why));
  };
  const std::initializer_list<const char*> image = {"--resize", "--no-crop", "--mean", "--std",
                                                    "--scale",  "--bgr",     "--layout"};
  if (a.precision == "fp32") {
    std::vector<std::string> v = given({"--calib", "--calib-dir", "--calib-limit", "--method", "--percentile",
                                        "--bins", "--per-tensor", "--exclude", "--max-arena-mb",
                                        "--max-prepared-mb"});
    const std::vector<std::string> im = given(image);
    v.insert(v.end(), im.begin(), im.end());
    refuse(v, "only for --precision int8: a float conversion is neither calibrated nor quantized");
  }
  if (a.method != "percentile") {
    refuse(given({"--percentile"}), fmt::format("only used by --method percentile (the method is {})", a.method));
  }
  if (a.method == "minmax") {
    refuse(given({"--bins"}), "only used by --method percentile and mse (minmax keeps the observed range "
                              "and builds no histogram)");
  }
  if (a.calib_dir.empty()) {
    refuse(given(image), "only for --calib-dir images (--calib .npy samples are used as they are)");
  }
  if (a.no_crop) {
    refuse(given({"--resize"}), "not used with --no-crop (each image is resized straight to the input size)");
  }
}

// The output file, opened before anything slow so that an unwritable path
// fails at once. Nothing is written until commit(); a file this object
// created is removed again if the conversion fails.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    created_ = fd_ >= 0;
    if (fd_ < 0 && errno == EEXIST) fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) {
      const int err = errno;
      std::string why = std::strerror(err);
      const std::filesystem::path dir = std::filesystem::path(path).parent_path();
      std::error_code ec;
      if (err == ENOENT && !dir.empty() && !std::filesystem::is_directory(dir, ec)) {
        why += fmt::format(" (the directory {} does not exist)", dir.string());
      }
      throw Error(fmt::format("{}: cannot write the output file: {}", path, why));
    }
  }
  ~OutputFile() {
    if (fd_ >= 0) ::close(fd_);
    if (created_ && !committed_) ::unlink(path_.c_str());
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void commit(const std::vector<uint8_t>& bytes) {
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) && ::ftruncate(fd_, 0) != 0) fail("cannot truncate");
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + off, bytes.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("write error");
      off += static_cast<size_t>(n);
    }
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) fail("write error");
    committed_ = true;
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw Error(fmt::format("{}: {}: {}", path_, what, std::strerror(errno)));
  }

  std::string path_;
  int fd_ = -1;
  bool created_ = false;
  bool committed_ = false;
};

}  // namespace

int run_convert(const ConvertArgs& args) {
  const auto t0 = std::chrono::steady_clock::now();
  refuse_ignored_options(args);
  qc::ImportOptions io;
  io.input_shapes = parse_shapes(args.input_shapes);
  const bool int8 = args.precision == "int8";
  if (int8 && args.calib.empty() && args.calib_dir.empty()) {
    throw UsageError(
        "int8 conversion needs calibration data: the uint8 activation ranges are chosen by running "
        "the float model on representative inputs. Give --calib FILE.npy (samples batched on the "
        "first axis) or --calib-dir DIR (images), or use --precision fp32");
  }
  qc::ImagePreprocess pre;
  if (!args.calib_dir.empty()) {
    pre.resize_shorter = args.resize;
    pre.crop = !args.no_crop;
    pre.scale = static_cast<float>(args.scale);
    if (!args.mean.empty()) pre.mean = parse_floats(args.mean, "--mean");
    if (!args.std.empty()) pre.std = parse_floats(args.std, "--std");
    for (float s : pre.std) {
      if (s == 0) throw UsageError("--std values must not be 0");
    }
    pre.order = args.bgr ? qc::ChannelOrder::kBGR : qc::ChannelOrder::kRGB;
    pre.layout = args.layout == "nhwc" ? qc::ImageLayout::kNHWC : qc::ImageLayout::kNCHW;
  }
  // Everything that can be checked before calibrating is, so that a mistake
  // does not cost a calibration run: the arguments, the output path, then the
  // model, the --exclude names and the calibration data.
  OutputFile output(args.output);

  auto graph = qc::import_onnx(args.model, io);
  check(graph.status(), "cannot convert");
  const qc::FloatGraph& g = **graph;
  const qc::ImportLog& log = qc::import_log(g);
  const bool text = !args.json;
  const bool chatty = text && !args.quiet;  // -q: nothing on stdout but --json
  if (chatty) {
    std::cout << fmt::format("{}: ONNX opset {}{}, {} nodes -> {} runtime nodes\n", args.model, log.opset,
                             log.producer.empty() ? "" : " (" + log.producer + ")", log.onnx_nodes,
                             qc::graph_node_count(g));
    for (const qc::InputSpec& in : qc::graph_inputs(g)) {
      std::cout << fmt::format("  input '{}' {}\n", in.name, shape_str(in.shape));
    }
    for (const std::string& r : log.rewrites) std::cout << "  rewrite: " << r << "\n";
  }
  if (text) {
    for (const std::string& w : log.warnings) std::cerr << "quanta: warning: " << w << "\n";
  }

  std::vector<uint8_t> bytes;
  qc::QuantizeReport report;
  qc::Calibration calib;
  if (!int8) {
    auto b = qc::build_fp32(g);
    check(b.status(), args.model);
    bytes = std::move(*b);
  } else {
    qc::QuantizeOptions qo;
    qo.per_channel = !args.per_tensor;
    qo.exclude = args.exclude;
    apply_limits(args.limits, &qo.session);
    check(qc::check_quantize_options(g, qo), "cannot quantize");

    Result<std::unique_ptr<qc::SampleSource>> src = Status{};
    if (!args.calib.empty()) {
      src = qc::open_npy_samples(args.calib, qc::graph_inputs(g));
    } else {
      src = qc::open_image_dir(args.calib_dir, qc::graph_inputs(g), pre);
    }
    check(src.status(), "calibration data");
    std::unique_ptr<qc::SampleSource> samples = std::move(*src);
    if (args.calib_limit > 0) samples = qc::limit_samples(std::move(samples), args.calib_limit);

    qc::CalibrationOptions co;
    co.method = args.method == "minmax"       ? qc::CalibrationMethod::kMinMax
                : args.method == "percentile" ? qc::CalibrationMethod::kPercentile
                                              : qc::CalibrationMethod::kMse;
    co.percentile = args.percentile;
    co.bins = args.bins;
    apply_limits(args.limits, &co.session);
    CalibrationProgressPrinter progress(isatty(STDERR_FILENO) != 0);
    if (chatty) co.progress = [&progress](const qc::CalibrationProgress& p) { progress.update(p); };
    const auto tc = std::chrono::steady_clock::now();
    auto c = qc::calibrate(g, *samples, co);
    progress.finish(c.ok());
    check(c.status(), "calibration failed");
    calib = std::move(*c);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - tc).count();
    if (chatty) {
      std::cout << fmt::format("calibrated {} activation tensors on {} samples ({}, {:.1f} s)\n",
                               calib.ranges.size(), calib.samples,
                               qc::calibration_method_name(calib.method), secs);
    }
    for (const auto& [name, r] : calib.ranges) {
      if (r.non_finite > 0) {
        std::cerr << fmt::format("quanta: warning: tensor '{}' had {} non-finite values during "
                                 "calibration (ignored)\n", name, r.non_finite);
      }
    }
    auto b = qc::build_int8(g, calib, qo, &report);
    check(b.status(), "quantization failed");
    bytes = std::move(*b);
    for (const std::string& w : report.warnings) std::cerr << "quanta: warning: " << w << "\n";
    if (chatty) {
      std::vector<std::vector<std::string>> rows;
      for (const auto& n : report.nodes) rows.push_back({n.name, n.op, n.precision, n.weights, n.output});
      std::cout << "\n" << format_table({"node", "op", "precision", "weights", "output"}, rows) << "\n";
    }
  }

  output.commit(bytes);
  std::error_code ec;
  const auto onnx_size = std::filesystem::file_size(args.model, ec);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (chatty) {
    std::cout << fmt::format("wrote {} ({}, {}; the ONNX file is {}) in {:.1f} s\n", args.output,
                             args.precision, human_bytes(static_cast<double>(bytes.size())),
                             human_bytes(static_cast<double>(onnx_size)), secs);
  } else if (!text) {
    json j;
    j["model"] = args.model;
    j["output"] = args.output;
    j["precision"] = args.precision;
    j["opset"] = log.opset;
    j["producer"] = log.producer;
    j["onnx_nodes"] = log.onnx_nodes;
    j["runtime_nodes"] = qc::graph_node_count(g);
    j["rewrites"] = log.rewrites;
    j["warnings"] = log.warnings;
    j["onnx_bytes"] = onnx_size;
    j["output_bytes"] = bytes.size();
    if (int8) {
      j["calibration"] = {{"method", qc::calibration_method_name(calib.method)},
                          {"samples", calib.samples}};
      json nodes = json::array();
      for (const auto& n : report.nodes) {
        nodes.push_back({{"name", n.name}, {"op", n.op}, {"precision", n.precision},
                         {"weights", n.weights}, {"output", n.output},
                         {"floored_channels", n.floored_channels}});
      }
      j["nodes"] = nodes;
      j["quantize_warnings"] = report.warnings;
    }
    std::cout << j.dump(2) << "\n";
  }
  return kExitOk;
}

}  // namespace quanta::cli
