// `quanta convert`: float ONNX -> .quanta (float or int8). See docs/converter.md.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
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

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(fmt::format("{}: cannot be created", path));
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw Error(fmt::format("{}: write error", path));
}

}  // namespace

int run_convert(const ConvertArgs& args) {
  const auto t0 = std::chrono::steady_clock::now();
  qc::ImportOptions io;
  io.input_shapes = parse_shapes(args.input_shapes);
  const bool int8 = args.precision == "int8";
  if (!int8 && (!args.calib.empty() || !args.calib_dir.empty())) {
    throw UsageError("--calib and --calib-dir are for --precision int8 (a float conversion needs no calibration)");
  }
  if (int8 && args.calib.empty() && args.calib_dir.empty()) {
    throw UsageError(
        "int8 conversion needs calibration data: the uint8 activation ranges are chosen by running "
        "the float model on representative inputs. Give --calib FILE.npy (samples batched on the "
        "first axis) or --calib-dir DIR (images), or use --precision fp32");
  }

  auto graph = qc::import_onnx(args.model, io);
  check(graph.status(), "cannot convert");
  const qc::FloatGraph& g = **graph;
  const qc::ImportLog& log = qc::import_log(g);
  const bool text = !args.json;
  if (text) {
    std::cout << fmt::format("{}: ONNX opset {}{}, {} nodes -> {} runtime nodes\n", args.model, log.opset,
                             log.producer.empty() ? "" : " (" + log.producer + ")", log.onnx_nodes,
                             qc::graph_node_count(g));
    for (const qc::InputSpec& in : qc::graph_inputs(g)) {
      std::cout << fmt::format("  input '{}' {}\n", in.name, shape_str(in.shape));
    }
    for (const std::string& r : log.rewrites) std::cout << "  rewrite: " << r << "\n";
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
    Result<std::unique_ptr<qc::SampleSource>> src = Status{};
    if (!args.calib.empty()) {
      src = qc::open_npy_samples(args.calib, qc::graph_inputs(g));
    } else {
      qc::ImagePreprocess pre;
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
    CalibrationProgressPrinter progress(isatty(STDERR_FILENO) != 0);
    if (!args.quiet && text) {
      co.progress = [&progress](const qc::CalibrationProgress& p) { progress.update(p); };
    }
    const auto tc = std::chrono::steady_clock::now();
    auto c = qc::calibrate(g, *samples, co);
    progress.finish(c.ok());
    check(c.status(), "calibration failed");
    calib = std::move(*c);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - tc).count();
    if (text) {
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
    qc::QuantizeOptions qo;
    qo.per_channel = !args.per_tensor;
    qo.exclude = args.exclude;
    auto b = qc::build_int8(g, calib, qo, &report);
    check(b.status(), "quantization failed");
    bytes = std::move(*b);
    for (const std::string& w : report.warnings) std::cerr << "quanta: warning: " << w << "\n";
    if (text && !args.quiet) {
      std::vector<std::vector<std::string>> rows;
      for (const auto& n : report.nodes) rows.push_back({n.name, n.op, n.precision, n.weights, n.output});
      std::cout << "\n" << format_table({"node", "op", "precision", "weights", "output"}, rows) << "\n";
    }
  }

  write_bytes(args.output, bytes);
  std::error_code ec;
  const auto onnx_size = std::filesystem::file_size(args.model, ec);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (text) {
    std::cout << fmt::format("wrote {} ({}, {}; the ONNX file is {}) in {:.1f} s\n", args.output,
                             args.precision, human_bytes(static_cast<double>(bytes.size())),
                             human_bytes(static_cast<double>(onnx_size)), secs);
  } else {
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
                         {"weights", n.weights}, {"output", n.output}});
      }
      j["nodes"] = nodes;
      j["quantize_warnings"] = report.warnings;
    }
    std::cout << j.dump(2) << "\n";
  }
  return kExitOk;
}

}  // namespace quanta::cli
