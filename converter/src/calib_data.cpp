// Calibration data sources (quanta/converter.hpp): .npy files read one sample
// at a time, a directory of images with the usual classification
// preprocessing, and a sample-count limit.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>


#include "image_decode.hpp"
#include "limits.hpp"
#include "quanta/converter.hpp"
#include "quanta/npy.hpp"

namespace quanta::convert {
namespace {

namespace fs = std::filesystem;

Status invalid(std::string message) {
  return {StatusCode::kInvalidArgument, std::move(message)};
}

std::string shape_str(const std::vector<int64_t>& shape) { return npy::shape_string(shape); }

// Element count of a fully known shape, or -1 when a dimension is unknown
// (<= 0) or the count does not fit comfortably in memory indices.
int64_t known_size(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d <= 0 || n > (int64_t{1} << 40) / d) return -1;
    n *= d;
  }
  return n;
}

const char* non_finite_name(float v) {
  if (std::isnan(v)) return "nan";
  return v > 0 ? "inf" : "-inf";
}

// ------------------------------------------------------------------ npy

// How many samples an array of shape `file` holds for an input of shape
// `input` (see open_npy_samples), or an error naming the file.
Result<int64_t> samples_in(const std::vector<int64_t>& file, const InputSpec& input,
                           const std::string& path) {
  const std::vector<int64_t>& s = input.shape;
  if (file == s) return int64_t{1};
  const bool same_rank_rows = !s.empty() && file.size() == s.size() &&
                              std::equal(file.begin() + 1, file.end(), s.begin() + 1);
  if (same_rank_rows) {
    const int64_t n = file[0], batch = s[0];
    if (n % batch != 0) {
      return invalid(fmt::format(
          "{}: array of shape {} holds {} rows, not a multiple of the batch size {} of input "
          "'{}' (shape {})",
          path, shape_str(file), n, batch, input.name, shape_str(s)));
    }
    return n / batch;
  }
  // A stack of complete input tensors: [N, B, d1, ..., dk].
  if (file.size() == s.size() + 1 && std::equal(file.begin() + 1, file.end(), s.begin())) {
    return file[0];
  }
  // "(N, d1, ..., dk)" for the given trailing dimensions.
  auto with_n = [](std::vector<int64_t>::const_iterator first,
                   std::vector<int64_t>::const_iterator last) {
    std::string t = "(N";
    for (; first != last; ++first) t += fmt::format(", {}", *first);
    return t + (t == "(N" ? ",)" : ")");
  };
  std::string expected = shape_str(s);
  if (!s.empty()) {
    expected += fmt::format(", {} with N a multiple of {}", with_n(s.begin() + 1, s.end()), s[0]);
  }
  expected += fmt::format(" or {}", with_n(s.begin(), s.end()));
  return invalid(fmt::format("{}: array of shape {} does not match input '{}': expected {}", path,
                             shape_str(file), input.name, expected));
}

// The samples of one graph input: a chain of files read in order.
class NpyChain {
 public:
  struct File {
    std::string path;
    std::vector<int64_t> shape;
    npy::ElementType type = npy::ElementType::kF32;
    int64_t samples = 0;
  };

  NpyChain(InputSpec input, int64_t sample_elements)
      : input_(std::move(input)), elements_(sample_elements) {}

  // Checks the file's header against the input and appends it.
  Status add(const std::string& path) {
    auto reader = npy::Reader::open(path);
    if (!reader) return reader.status();
    auto n = samples_in(reader->shape(), input_, path);
    if (!n) return n.status();
    files_.push_back({path, reader->shape(), reader->type(), *n});
    total_ += *n;
    return Status::Ok();
  }

  const InputSpec& input() const { return input_; }
  int64_t total() const { return total_; }
  const std::vector<File>& files() const { return files_; }

  Status next(std::vector<float>& out) {
    while (file_ < files_.size() && index_ >= files_[file_].samples) {
      ++file_;
      index_ = 0;
      reader_.reset();
    }
    if (file_ >= files_.size()) return invalid(fmt::format("input '{}': no more samples", input_.name));
    const File& f = files_[file_];
    if (!reader_) {
      auto r = npy::Reader::open(f.path);
      if (!r) return r.status();
      if (r->shape() != f.shape || r->type() != f.type) {
        return invalid(fmt::format("{}: the file changed during calibration (now {} of shape {})",
                                   f.path, npy::element_name(r->type()), shape_str(r->shape())));
      }
      reader_.emplace(std::move(*r));
    }
    out.resize(static_cast<size_t>(elements_));
    if (Status st = reader_->read_floats(index_ * elements_, elements_, out.data()); !st.ok()) {
      return st;
    }
    for (size_t k = 0; k < out.size(); ++k) {
      if (!std::isfinite(out[k])) {
        return invalid(fmt::format("{}: sample {} (input '{}') has a non-finite value ({}) at "
                                   "element {} of the sample",
                                   f.path, index_, input_.name, non_finite_name(out[k]), k));
      }
    }
    ++index_;
    return Status::Ok();
  }

  void rewind() {
    file_ = 0;
    index_ = 0;
    reader_.reset();
  }

 private:
  InputSpec input_;
  int64_t elements_;
  std::vector<File> files_;
  int64_t total_ = 0;
  // Position: sample index_ of files_[file_], read through reader_.
  size_t file_ = 0;
  int64_t index_ = 0;
  std::optional<npy::Reader> reader_;
};

class NpySource final : public SampleSource {
 public:
  NpySource(std::vector<NpyChain> chains, int64_t total)
      : chains_(std::move(chains)), total_(total) {}

  int64_t size() const override { return total_; }

  Result<bool> next(std::vector<std::vector<float>>& sample) override {
    return detail::no_exceptions("calibration data", [&]() -> Result<bool> {
      if (served_ >= total_) return false;
      sample.resize(chains_.size());
      for (size_t i = 0; i < chains_.size(); ++i) {
        if (Status st = chains_[i].next(sample[i]); !st.ok()) return st;
      }
      ++served_;
      return true;
    });
  }

  Status rewind() override {
    return detail::no_exceptions("calibration data", [&] {
      for (NpyChain& c : chains_) c.rewind();
      served_ = 0;
      return Status::Ok();
    });
  }

 private:
  std::vector<NpyChain> chains_;
  int64_t total_;
  int64_t served_ = 0;
};

std::string input_names(const std::vector<InputSpec>& inputs) {
  std::string s;
  for (const InputSpec& in : inputs) s += fmt::format("{}'{}'", s.empty() ? "" : ", ", in.name);
  return s;
}

// ------------------------------------------------------------------ images

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

// The largest calibration image, decoded or resized: 2^26 pixels (8192 x
// 8192). A few bytes of header can declare far more (stb_image accepts
// 2^24 pixels a side), and decoding or resizing allocates width * height *
// channels floats, so the size is checked before either (docs/converter.md).
constexpr int64_t kMaxImagePixels = int64_t{1} << 26;

Status check_image_size(const std::string& path, int64_t w, int64_t h, const char* what) {
  if (w < 1 || h < 1) {
    return invalid(fmt::format("{}: {} {}x{} pixels; an image has at least one row and column", path,
                               what, w, h));
  }
  if (w * h > kMaxImagePixels) {
    return invalid(fmt::format("{}: {} {}x{} pixels, more than the {} pixels (8192 x 8192) a "
                               "calibration image may have",
                               path, what, w, h, kMaxImagePixels));
  }
  return Status::Ok();
}

// A float image, interleaved (HWC).
struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<float> px;
};

// One axis of a resampling: for each output index, the first input index it
// reads (before clamping) and its normalized weights.
struct AxisFilter {
  std::vector<int64_t> first;
  std::vector<int> taps;       // weights per output index
  std::vector<float> weights;  // output index i's weights start at i * max_taps
  int max_taps = 0;
};

// The triangle (tent) filter, separable: bilinear interpolation when
// enlarging, and when shrinking a tent as wide as one output pixel, so every
// input pixel contributes (antialiased, like PIL's BILINEAR). Output pixel
// i's center sits at input coordinate (i + 0.5) * n / m - 0.5; taps outside
// the image read the nearest edge pixel.
AxisFilter triangle_filter(int64_t n, int64_t m) {
  AxisFilter f;
  const double scale = static_cast<double>(n) / static_cast<double>(m);
  const double radius = std::max(1.0, scale);
  f.max_taps = static_cast<int>(std::ceil(2 * radius)) + 1;
  f.first.resize(static_cast<size_t>(m));
  f.taps.resize(static_cast<size_t>(m));
  f.weights.assign(static_cast<size_t>(m) * static_cast<size_t>(f.max_taps), 0.0f);
  for (int64_t i = 0; i < m; ++i) {
    const double c = (static_cast<double>(i) + 0.5) * scale - 0.5;
    const int64_t j0 = static_cast<int64_t>(std::ceil(c - radius));
    const int64_t j1 = static_cast<int64_t>(std::floor(c + radius));
    const int taps = static_cast<int>(std::min<int64_t>(j1 - j0 + 1, f.max_taps));
    float* w = f.weights.data() + i * f.max_taps;
    double sum = 0;
    for (int t = 0; t < taps; ++t) {
      const double d = std::fabs(static_cast<double>(j0 + t) - c) / radius;
      w[t] = static_cast<float>(std::max(0.0, 1.0 - d));
      sum += w[t];
    }
    for (int t = 0; t < taps; ++t) w[t] = static_cast<float>(w[t] / sum);  // sum >= 1 / radius > 0
    f.first[static_cast<size_t>(i)] = j0;
    f.taps[static_cast<size_t>(i)] = taps;
  }
  return f;
}

// Resamples interleaved rows along x (`along_x`) or y, `n` -> `m` pixels.
void resample_axis(const Image& in, int m, bool along_x, Image* out) {
  const int64_t n = along_x ? in.width : in.height;
  const AxisFilter f = triangle_filter(n, m);
  out->width = along_x ? m : in.width;
  out->height = along_x ? in.height : m;
  out->channels = in.channels;
  const size_t c = static_cast<size_t>(in.channels);
  out->px.assign(static_cast<size_t>(out->width) * static_cast<size_t>(out->height) * c, 0.0f);
  for (int64_t y = 0; y < out->height; ++y) {
    for (int64_t x = 0; x < out->width; ++x) {
      const int64_t i = along_x ? x : y;
      const float* w = f.weights.data() + i * f.max_taps;
      float* o = out->px.data() + (static_cast<size_t>(y) * static_cast<size_t>(out->width) +
                                   static_cast<size_t>(x)) * c;
      for (int t = 0; t < f.taps[static_cast<size_t>(i)]; ++t) {
        const int64_t j = std::clamp<int64_t>(f.first[static_cast<size_t>(i)] + t, 0, n - 1);
        const int64_t sx = along_x ? j : x, sy = along_x ? y : j;
        const float* p = in.px.data() + (static_cast<size_t>(sy) * static_cast<size_t>(in.width) +
                                         static_cast<size_t>(sx)) * c;
        for (size_t k = 0; k < c; ++k) o[k] += w[t] * p[k];
      }
    }
  }
}

// Resizes with the triangle filter above, one axis after the other, in the
// order whose intermediate image is smaller. (Quanta's own code: Debian's
// stb_image_resize 0.97 aborts on an assertion for some size ratios,
// nothings/stb#1449, found by the image fuzz target.)
void resize(const Image& in, int width, int height, Image* out) {
  Image mid;
  const bool x_first = int64_t{width} * in.height <= int64_t{in.width} * height;
  if (x_first) {
    resample_axis(in, width, true, &mid);
    resample_axis(mid, height, false, out);
  } else {
    resample_axis(in, height, false, &mid);
    resample_axis(mid, width, true, out);
  }
}

class ImageDirSource final : public SampleSource {
 public:
  ImageDirSource(std::vector<fs::path> files, int channels, int height, int width,
                 ImagePreprocess pre)
      : files_(std::move(files)), channels_(channels), height_(height), width_(width),
        pre_(std::move(pre)) {
    // One mean / std per channel.
    if (pre_.mean.size() == 1) pre_.mean.assign(static_cast<size_t>(channels_), pre_.mean[0]);
    if (pre_.std.size() == 1) pre_.std.assign(static_cast<size_t>(channels_), pre_.std[0]);
  }

  int64_t size() const override { return static_cast<int64_t>(files_.size()); }

  Result<bool> next(std::vector<std::vector<float>>& sample) override {
    return detail::no_exceptions("calibration images", [&]() -> Result<bool> {
      if (next_ >= files_.size()) return false;
      const std::string path = files_[next_].string();
      Image img;
      if (Status st = decode(path, &img); !st.ok()) return st;
      if (Status st = fit(path, &img); !st.ok()) return st;
      sample.resize(1);
      layout(img, &sample[0]);
      ++next_;
      return true;
    });
  }

  Status rewind() override {
    next_ = 0;
    return Status::Ok();
  }

 private:
  // Step 1: 8-bit pixels as floats, 1 or 3 channels, RGB or BGR.
  Status decode(const std::string& path, Image* img) const {
    int w = 0, h = 0;
    std::string why;
    // The header again: the file may have changed since open_image_dir read it.
    if (!detail::read_image_header(path, &w, &h, &why)) {
      return invalid(fmt::format("{}: not a readable image: {}", path, why));
    }
    if (Status st = check_image_size(path, w, h, "the image is"); !st.ok()) return st;
    std::vector<uint8_t> px;
    if (!detail::decode_image(path, channels_, kMaxImagePixels, &w, &h, &px, &why)) {
      return invalid(fmt::format("{}: cannot decode the image: {}", path, why));
    }
    if (Status st = check_image_size(path, w, h, "the image is"); !st.ok()) return st;
    img->width = w;
    img->height = h;
    img->channels = channels_;
    const size_t n = px.size();
    img->px.assign(px.begin(), px.end());
    if (channels_ == 3 && pre_.order == ChannelOrder::kBGR) {
      for (size_t i = 0; i < n; i += 3) std::swap(img->px[i], img->px[i + 2]);
    }
    return Status::Ok();
  }

  // Steps 2 and 3: to exactly height_ x width_.
  Status fit(const std::string& path, Image* img) const {
    auto resize_to = [&](int w, int h) -> Status {
      if (img->width == w && img->height == h) return Status::Ok();
      Image out;
      resize(*img, w, h, &out);
      *img = std::move(out);
      return Status::Ok();
    };
    if (!pre_.crop) return resize_to(width_, height_);
    if (pre_.resize_shorter > 0) {
      // The shorter side becomes resize_shorter; the longer one keeps the
      // aspect ratio, truncated (as torchvision's Resize(int) does).
      const int64_t s = pre_.resize_shorter;
      const int64_t w = img->width, h = img->height;
      const int64_t nw = w <= h ? s : std::max<int64_t>(1, w * s / h);
      const int64_t nh = w <= h ? std::max<int64_t>(1, h * s / w) : s;
      if (Status st = check_image_size(path, nw, nh, "resizing to the shorter side gives");
          !st.ok()) {
        return st;
      }
      if (Status st = resize_to(static_cast<int>(nw), static_cast<int>(nh)); !st.ok()) return st;
    }
    if (img->width < width_ || img->height < height_) return resize_to(width_, height_);
    // Center crop (the offset rounds down when the margin is odd).
    const int x0 = (img->width - width_) / 2, y0 = (img->height - height_) / 2;
    const auto c = static_cast<size_t>(img->channels);
    Image out;
    out.width = width_;
    out.height = height_;
    out.channels = img->channels;
    out.px.resize(static_cast<size_t>(width_) * static_cast<size_t>(height_) * c);
    for (int y = 0; y < height_; ++y) {
      const float* src = img->px.data() +
                         (static_cast<size_t>(y0 + y) * static_cast<size_t>(img->width) +
                          static_cast<size_t>(x0)) * c;
      std::copy(src, src + static_cast<size_t>(width_) * c,
                out.px.begin() + static_cast<ptrdiff_t>(static_cast<size_t>(y) * width_ * c));
    }
    *img = std::move(out);
    return Status::Ok();
  }

  // Steps 4 and 5: normalization and the model's layout.
  void layout(const Image& img, std::vector<float>* out) const {
    const size_t c_n = static_cast<size_t>(channels_);
    const size_t hw = static_cast<size_t>(height_) * static_cast<size_t>(width_);
    out->resize(hw * c_n);
    for (size_t p = 0; p < hw; ++p) {
      for (size_t c = 0; c < c_n; ++c) {
        const float v = (img.px[p * c_n + c] * pre_.scale - pre_.mean[c]) / pre_.std[c];
        const size_t dst = pre_.layout == ImageLayout::kNCHW ? c * hw + p : p * c_n + c;
        (*out)[dst] = v;
      }
    }
  }

  std::vector<fs::path> files_;
  int channels_, height_, width_;
  ImagePreprocess pre_;
  size_t next_ = 0;
};

// ------------------------------------------------------------------ limit

class LimitedSource final : public SampleSource {
 public:
  LimitedSource(std::unique_ptr<SampleSource> source, int64_t limit)
      : source_(std::move(source)), limit_(limit) {}

  int64_t size() const override {
    const int64_t n = source_->size();
    return n < 0 ? limit_ : std::min(n, limit_);
  }

  Result<bool> next(std::vector<std::vector<float>>& sample) override {
    return detail::no_exceptions("calibration data", [&]() -> Result<bool> {
      if (served_ >= limit_) return false;
      auto r = source_->next(sample);
      if (r.ok() && *r) ++served_;
      return r;
    });
  }

  Status rewind() override {
    served_ = 0;
    return detail::no_exceptions("calibration data", [&] { return source_->rewind(); });
  }

 private:
  std::unique_ptr<SampleSource> source_;
  int64_t limit_;
  int64_t served_ = 0;
};

Result<std::unique_ptr<SampleSource>> open_npy(const std::vector<std::string>& files,
                                               const std::vector<InputSpec>& inputs) {
  if (inputs.empty()) return invalid("calibration data: the model has no inputs");
  if (files.empty()) return invalid("calibration data: no .npy files given");

  std::vector<NpyChain> chains;
  chains.reserve(inputs.size());
  for (const InputSpec& in : inputs) {
    const int64_t elements = known_size(in.shape);
    if (elements < 0) {
      return invalid(fmt::format(
          "calibration data: input '{}' has shape {} with an unknown or invalid dimension; "
          "give the input shape explicitly",
          in.name, shape_str(in.shape)));
    }
    chains.emplace_back(in, elements);
  }

  // Assign every file to an input: "NAME=path", or a plain path when the
  // model has a single input.
  for (const std::string& spec : files) {
    size_t target = inputs.size();
    std::string path = spec;
    if (const size_t eq = spec.find('='); eq != std::string::npos) {
      const std::string name = spec.substr(0, eq);
      for (size_t i = 0; i < inputs.size(); ++i) {
        if (inputs[i].name == name) target = i;
      }
      if (target < inputs.size()) path = spec.substr(eq + 1);
      if (target == inputs.size() && inputs.size() > 1) {
        return invalid(fmt::format("calibration file '{}': '{}' is not a model input (inputs: {})",
                                   spec, name, input_names(inputs)));
      }
    }
    if (target == inputs.size()) {
      if (inputs.size() > 1) {
        return invalid(fmt::format(
            "calibration file '{}': the model has {} inputs ({}); give every file as NAME=path",
            spec, inputs.size(), input_names(inputs)));
      }
      target = 0;
    }
    if (Status st = chains[target].add(path); !st.ok()) return st;
  }

  for (const NpyChain& c : chains) {
    if (c.files().empty()) {
      return invalid(fmt::format("calibration data: no file for input '{}' (give it as {}=path.npy)",
                                 c.input().name, c.input().name));
    }
  }
  const NpyChain& first = chains[0];
  for (const NpyChain& c : chains) {
    if (c.total() != first.total()) {
      return invalid(fmt::format(
          "calibration data: input '{}' has {} samples ({}) but input '{}' has {} ({}); every "
          "input needs the same number",
          first.input().name, first.total(), first.files()[0].path, c.input().name, c.total(),
          c.files()[0].path));
    }
  }
  if (first.total() == 0) {
    return invalid(fmt::format("calibration data: {} holds no samples", first.files()[0].path));
  }
  const int64_t total = first.total();
  return std::unique_ptr<SampleSource>(std::make_unique<NpySource>(std::move(chains), total));
}

Result<std::unique_ptr<SampleSource>> open_images(const std::string& dir,
                                                  const std::vector<InputSpec>& inputs,
                                                  const ImagePreprocess& pre) {
  if (inputs.size() != 1) {
    return invalid(fmt::format("{}: image calibration data needs a model with one input; this one "
                               "has {} ({})",
                               dir, inputs.size(), input_names(inputs)));
  }
  const InputSpec& in = inputs[0];
  const std::vector<int64_t>& s = in.shape;
  const bool nchw = pre.layout == ImageLayout::kNCHW;
  if (s.size() != 4 || s[0] != 1) {
    return invalid(fmt::format("{}: image calibration data needs a rank-4 input with batch 1; "
                               "input '{}' has shape {}",
                               dir, in.name, shape_str(s)));
  }
  const int64_t c = nchw ? s[1] : s[3];
  const int64_t h = nchw ? s[2] : s[1];
  const int64_t w = nchw ? s[3] : s[2];
  if (c != 1 && c != 3) {
    return invalid(fmt::format("{}: input '{}' of shape {} read as {} has {} channels; images give "
                               "1 (grayscale) or 3 (color){}",
                               dir, in.name, shape_str(s), nchw ? "NCHW" : "NHWC", c,
                               nchw ? " (is the layout NHWC?)" : " (is the layout NCHW?)"));
  }
  if (h <= 0 || w <= 0 || h > (1 << 16) || w > (1 << 16) || h * w > kMaxImagePixels) {
    return invalid(fmt::format("{}: input '{}' of shape {} has an invalid image size {}x{} (at most "
                               "{} pixels)",
                               dir, in.name, shape_str(s), w, h, kMaxImagePixels));
  }
  auto check_per_channel = [&](const std::vector<float>& v, const char* what, bool nonzero) {
    if (v.size() != 1 && v.size() != static_cast<size_t>(c)) {
      return invalid(fmt::format("image preprocessing: {} needs 1 or {} values, got {}", what, c,
                                 v.size()));
    }
    for (float x : v) {
      if (!std::isfinite(x) || (nonzero && x == 0.0f)) {
        return invalid(fmt::format("image preprocessing: {} value {} is not {}", what, x,
                                   nonzero ? "finite and nonzero" : "finite"));
      }
    }
    return Status::Ok();
  };
  if (Status st = check_per_channel(pre.mean, "mean", false); !st.ok()) return st;
  if (Status st = check_per_channel(pre.std, "std", true); !st.ok()) return st;
  if (!std::isfinite(pre.scale)) {
    return invalid(fmt::format("image preprocessing: scale {} is not finite", pre.scale));
  }
  if (pre.resize_shorter < 0) {
    return invalid(fmt::format("image preprocessing: resize_shorter {} is negative",
                               pre.resize_shorter));
  }

  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (fs::exists(dir, ec)) return invalid(fmt::format("{}: not a directory", dir));
    return Status{StatusCode::kNotFound, fmt::format("{}: no such directory", dir)};
  }
  std::vector<fs::path> images;
  size_t skipped = 0;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && is_image_file(it->path())) {
      images.push_back(it->path());
    } else {
      ++skipped;
    }
  }
  if (ec) return Status{StatusCode::kIoError, fmt::format("{}: cannot list: {}", dir, ec.message())};
  if (images.empty()) {
    return invalid(skipped == 0
                       ? fmt::format("{}: the directory is empty; it needs image files "
                                     "(.png, .jpg, .jpeg, .bmp)", dir)
                       : fmt::format("{}: no image files (.png, .jpg, .jpeg, .bmp) among its {} "
                                     "entries", dir, skipped));
  }
  std::sort(images.begin(), images.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  // Fail early, before a long calibration run, on files that are not images
  // at all (only the header is read here; decoding errors come from next()).
  for (const fs::path& p : images) {
    int iw = 0, ih = 0;
    std::string why;
    if (!detail::read_image_header(p.string(), &iw, &ih, &why)) {
      return invalid(fmt::format("{}: not a readable image: {}", p.string(), why));
    }
    if (Status st = check_image_size(p.string(), iw, ih, "the image is"); !st.ok()) return st;
  }
  return std::unique_ptr<SampleSource>(std::make_unique<ImageDirSource>(
      std::move(images), static_cast<int>(c), static_cast<int>(h), static_cast<int>(w), pre));
}

}  // namespace

Result<std::unique_ptr<SampleSource>> open_npy_samples(const std::vector<std::string>& files,
                                                       const std::vector<InputSpec>& inputs) {
  return detail::no_exceptions("open_npy_samples", [&] { return open_npy(files, inputs); });
}

Result<std::unique_ptr<SampleSource>> open_image_dir(const std::string& dir,
                                                     const std::vector<InputSpec>& inputs,
                                                     const ImagePreprocess& pre) {
  return detail::no_exceptions("open_image_dir", [&] { return open_images(dir, inputs, pre); });
}

std::unique_ptr<SampleSource> limit_samples(std::unique_ptr<SampleSource> source, int64_t limit) {
  if (!source || limit <= 0) return source;
  return std::make_unique<LimitedSource>(std::move(source), limit);
}

}  // namespace quanta::convert
