// Model and data files shared by `quanta run`, `compare` and `eval`: .onnx
// models converted in memory, NAME=file bindings, batched .npy samples split
// into runs of the model's batch, and the class axis of an output.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "cli.hpp"
#include "quanta/converter.hpp"
#include "quanta/npy.hpp"

namespace quanta::cli {
namespace {

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += fmt::format("{}'{}'", out.empty() ? "" : ", ", n);
  return out.empty() ? "none" : out;
}

// "[N, 16, 16, 3]": `t` with its first dimension replaced by N.
std::string batched_shape_str(const std::vector<int64_t>& t) {
  std::string out = "[N";
  for (size_t k = 1; k < t.size(); ++k) out += fmt::format(", {}", t[k]);
  return out + "]";
}

Result<convert::FloatGraphPtr> import_with_shapes(const std::string& path, const Model* shapes_from) {
  convert::ImportOptions options;
  for (size_t i = 0; i < shapes_from->num_inputs(); ++i) {
    options.input_shapes[shapes_from->input(i).name] = shapes_from->input(i).shape;
  }
  return convert::import_onnx(path, options);
}

bool same_input_shapes(const convert::FloatGraph& g, const Model& m) {
  const auto& specs = convert::graph_inputs(g);
  if (specs.size() != m.num_inputs()) return false;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].name != m.input(i).name || specs[i].shape != m.input(i).shape) return false;
  }
  return true;
}

}  // namespace

// ------------------------------------------------------------ models

bool is_onnx_path(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  return ext.size() == 5 && std::equal(ext.begin(), ext.end(), ".onnx", [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

std::shared_ptr<const Model> load_model_any(const std::string& path, const Model* shapes_from) {
  if (!is_onnx_path(path)) return load_model_or_throw(path);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(fmt::format("{}: is a directory, expected a model file", path));
  auto graph = convert::import_onnx(path);
  // A dynamic dimension the importer cannot fix by itself, or shapes that
  // differ from the other model's (converted with --input-shape): import
  // again with that model's input shapes.
  if (shapes_from != nullptr && (!graph.ok() || !same_input_shapes(**graph, *shapes_from))) {
    auto retry = import_with_shapes(path, shapes_from);
    if (retry.ok()) graph = std::move(retry);
  }
  if (!graph.ok()) {
    const std::string msg = graph.status().to_string();
    throw Error(msg.find(path) != std::string::npos ? msg : fmt::format("{}: {}", path, msg));
  }
  auto bytes = convert::build_fp32(**graph);
  if (!bytes.ok()) throw Error(fmt::format("{}: cannot convert to fp32: {}", path, bytes.status().to_string()));
  auto model = Model::load_buffer(bytes->data(), bytes->size(), /*copy=*/true);
  if (!model.ok()) {
    throw Error(fmt::format("{}: the fp32 conversion does not load: {}", path, model.status().to_string()));
  }
  return *model;
}

std::string model_label(const std::string& path) {
  return is_onnx_path(path) ? fmt::format("{} (ONNX, converted to fp32 in memory)", path) : path;
}

// ------------------------------------------------------------ NAME=file bindings

std::vector<std::string> input_names(const Model& m) {
  std::vector<std::string> out;
  for (size_t i = 0; i < m.num_inputs(); ++i) out.push_back(m.input(i).name);
  return out;
}

std::vector<std::string> output_names(const Model& m) {
  std::vector<std::string> out;
  for (size_t i = 0; i < m.num_outputs(); ++i) out.push_back(m.output(i).name);
  return out;
}

std::vector<std::string> bind_files(const std::vector<std::string>& args, const std::vector<std::string>& names,
                                    const FileOption& opt, const std::string& model_path) {
  const size_t count = names.size();
  std::vector<std::string> slots(count);
  size_t next = 0;
  for (const std::string& arg : args) {
    std::string path = arg;
    int index = -1;
    const size_t eq = arg.find('=');
    if (eq != std::string::npos && eq > 0) {
      const std::string name = arg.substr(0, eq);
      const auto it = std::find(names.begin(), names.end(), name);
      if (it != names.end()) {
        index = static_cast<int>(it - names.begin());
        path = arg.substr(eq + 1);
      } else {
        // Not a tensor name. It is a path only if it plainly is one: an
        // existing file to read, or a prefix with a directory part.
        std::error_code ec;
        const bool existing = opt.reading && std::filesystem::exists(arg, ec);
        if (!existing && name.find('/') == std::string::npos) {
          throw UsageError(fmt::format("{} '{}': {} has no {} named '{}' ({}s: {}); for a file name with '=' in "
                                       "it, write ./{}",
                                       opt.option, arg, model_path, opt.kind, name, opt.kind, quoted_list(names),
                                       arg));
        }
      }
    }
    size_t slot = 0;
    if (index >= 0) {
      slot = static_cast<size_t>(index);
    } else {
      while (next < count && !slots[next].empty()) ++next;
      if (next >= count) {
        throw UsageError(fmt::format("too many {} arguments: {} has {} {}{} (got {})", opt.option, model_path, count,
                                     opt.kind, count == 1 ? "" : "s", args.size()));
      }
      slot = next;
    }
    if (!slots[slot].empty()) {
      throw UsageError(fmt::format("{} {} ('{}') is given twice in {} ('{}' and '{}')", opt.kind, slot, names[slot],
                                   opt.option, slots[slot], path));
    }
    if (path.empty()) throw UsageError(fmt::format("empty {} file name for {} {}", opt.option, opt.kind, slot));
    slots[slot] = path;
  }
  return slots;
}

// ------------------------------------------------------------ sample files

SampleFile read_sample_file(const std::string& path, const TensorInfo& in, size_t index) {
  auto arr = npy::read_file(path);
  if (!arr) throw Error(arr.status().message());
  SampleFile d;
  d.path = path;
  d.array = std::move(*arr);
  const auto& s = d.array.shape;
  const auto& t = in.shape;
  const std::string what = fmt::format("input {} ('{}')", index, in.name);
  d.run_elems = static_cast<size_t>(in.num_elements);
  if (s == t) {
    d.batch = t.empty() ? 1 : t[0];
    d.samples = d.batch;
    d.runs = 1;
    return d;
  }
  const bool batched = !t.empty() && t[0] > 0;
  const bool tail_fits = batched && s.size() == t.size() && std::equal(s.begin() + 1, s.end(), t.begin() + 1);
  if (!tail_fits) {
    std::string alternative;
    if (batched) {
      alternative = t[0] == 1 ? fmt::format(", or {} for N samples", batched_shape_str(t))
                              : fmt::format(", or {} for N samples with N a multiple of {}", batched_shape_str(t), t[0]);
    }
    std::string hint;
    if (batched && t[0] == 1 && s.size() + 1 == t.size() && std::equal(s.begin(), s.end(), t.begin() + 1)) {
      hint = "; the file has no batch axis (add one, e.g. with numpy.expand_dims(x, 0))";
    }
    throw Error(fmt::format("{}: shape {} does not match {} of the model, which expects {}{}{}", path, shape_str(s),
                            what, shape_str(t), alternative, hint));
  }
  if (s[0] == 0) throw Error(fmt::format("{}: shape {} holds no samples for {}", path, shape_str(s), what));
  if (s[0] % t[0] != 0) {
    throw Error(fmt::format("{}: {} samples (shape {}) are not a whole number of runs of {}, whose shape is {}: the "
                            "number of samples must be a multiple of the model's batch {}",
                            path, s[0], shape_str(s), what, shape_str(t), t[0]));
  }
  d.batch = t[0];
  d.samples = s[0];
  d.runs = s[0] / t[0];
  return d;
}

std::vector<SampleFile> read_sample_files(const std::vector<std::string>& paths, const Model& m) {
  std::vector<SampleFile> files;
  files.reserve(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    files.push_back(read_sample_file(paths[i], m.input(i), i));
    const SampleFile& a = files.front();
    const SampleFile& b = files.back();
    if (b.runs != a.runs) {
      throw Error(fmt::format("{} holds {} samples ({} runs of batch {}) but {} holds {} ({} runs of batch {}): every "
                              "input file must give the same number of samples",
                              b.path, b.samples, b.runs, b.batch, a.path, a.samples, a.runs, a.batch));
    }
  }
  return files;
}

const uint8_t* SampleFile::run_data(int64_t run) const {
  return array.data.data() + static_cast<size_t>(run) * run_bytes();
}

size_t SampleFile::run_bytes() const { return run_elems * npy::element_size(array.type); }

void SampleFile::floats(int64_t run, std::vector<float>& out, bool refuse_nan) const {
  out.resize(run_elems);
  npy::convert_to_floats(array.type, run_data(run), run_elems, out.data());
  if (!refuse_nan || !array.is_float()) return;
  const size_t sample_elems = batch > 0 ? run_elems / static_cast<size_t>(batch) : run_elems;
  for (size_t k = 0; k < out.size(); ++k) {
    if (std::isnan(out[k])) {
      const int64_t sample = run * batch + static_cast<int64_t>(sample_elems > 0 ? k / sample_elems : 0);
      throw Error(fmt::format("{}: sample {} contains NaN (element {} of the sample)", path, sample,
                              sample_elems > 0 ? k % sample_elems : k));
    }
  }
}

// ------------------------------------------------------------ class scores

ClassLayout class_layout(const TensorInfo& t) {
  ClassLayout l;
  const auto& s = t.shape;
  if (s.empty()) {
    l.why = fmt::format("output '{}' is a scalar, not a vector of class scores", t.name);
    return l;
  }
  // Rank 1: one vector of scores, no batch axis.
  l.rows = s.size() == 1 ? 1 : s[0];
  const std::vector<int64_t> sample(s.begin() + (s.size() == 1 ? 0 : 1), s.end());
  const auto wide = std::count_if(sample.begin(), sample.end(), [](int64_t d) { return d != 1; });
  if (wide > 1) {
    l.why = fmt::format("output '{}' of shape {} gives each sample a {} array, which is not a vector of class scores "
                        "even without its size-1 axes",
                        t.name, shape_str(s), shape_str(sample));
    return l;
  }
  l.classes = 1;
  for (int64_t d : sample) l.classes *= static_cast<size_t>(d);
  l.ok = l.rows > 0 && l.classes > 0;
  if (!l.ok) l.why = fmt::format("output '{}' of shape {} holds no class scores", t.name, shape_str(s));
  return l;
}

}  // namespace quanta::cli
