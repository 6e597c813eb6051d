// Calibration data sources (quanta/converter.hpp): .npy samples (batching,
// multiple inputs, dtypes, streaming, errors), image directories (decoding and
// every preprocessing step) and the sample limit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <stb/stb_image_write.h>
#include <sys/resource.h>
#include <zlib.h>

#include "quanta/converter.hpp"
#include "quanta/npy.hpp"

namespace quanta::convert {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using Sample = std::vector<std::vector<float>>;

class CalibData : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("quanta-calib-data-" + std::to_string(::getpid()) + "-" + info->name());
    std::error_code ec;
    fs::remove_all(dir_, ec);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::string write_f32(const std::string& name, std::vector<int64_t> shape,
                        const std::vector<float>& v) const {
    const std::string p = path(name);
    EXPECT_TRUE(npy::write_file(p, npy::from_floats(std::move(shape), v)).ok());
    return p;
  }

  template <class T>
  std::string write_typed(const std::string& name, npy::ElementType type,
                          std::vector<int64_t> shape, const std::vector<T>& v) const {
    const std::string p = path(name);
    EXPECT_TRUE(npy::write_file(p, npy::from_bytes(type, std::move(shape), v.data(),
                                                   v.size() * sizeof(T)))
                    .ok());
    return p;
  }

  fs::path dir_;
};

std::vector<float> iota(size_t n, float start = 0.0f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + static_cast<float>(i);
  return v;
}

std::vector<Sample> read_all(SampleSource& src) {
  std::vector<Sample> out;
  Sample s;
  while (true) {
    auto r = src.next(s);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok() || !*r) break;
    out.push_back(s);
  }
  return out;
}

std::unique_ptr<SampleSource> open_ok(const std::vector<std::string>& files,
                                      const std::vector<InputSpec>& inputs) {
  auto r = open_npy_samples(files, inputs);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? std::move(*r) : nullptr;
}

std::string open_error(const std::vector<std::string>& files, const std::vector<InputSpec>& inputs) {
  auto r = open_npy_samples(files, inputs);
  EXPECT_FALSE(r.ok()) << "open_npy_samples unexpectedly succeeded";
  return r.ok() ? "" : r.status().message();
}

// ------------------------------------------------------------------ npy

TEST_F(CalibData, NpyRowsOfABatchOneInputAreSamples) {
  const std::string f = write_f32("x.npy", {5, 2, 3}, iota(30));
  auto src = open_ok({f}, {{"x", {1, 2, 3}}});
  ASSERT_TRUE(src);
  EXPECT_EQ(src->size(), 5);
  const auto all = read_all(*src);
  ASSERT_EQ(all.size(), 5u);
  for (size_t k = 0; k < 5; ++k) {
    ASSERT_EQ(all[k].size(), 1u);
    EXPECT_EQ(all[k][0], iota(6, 6.0f * static_cast<float>(k))) << "sample " << k;
  }
}

TEST_F(CalibData, NpyInputWithBatchTakesBRowsPerSample) {
  const std::string f = write_f32("x.npy", {6, 3}, iota(18));
  auto src = open_ok({f}, {{"x", {2, 3}}});
  ASSERT_TRUE(src);
  EXPECT_EQ(src->size(), 3);
  const auto all = read_all(*src);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2][0], iota(6, 12.0f));
}

TEST_F(CalibData, NpyExactShapeIsOneSample) {
  const std::string f = write_f32("x.npy", {1, 4}, iota(4));
  auto src = open_ok({f}, {{"x", {1, 4}}});
  ASSERT_TRUE(src);
  EXPECT_EQ(src->size(), 1);
  const auto all = read_all(*src);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0][0], iota(4));
}

TEST_F(CalibData, NpyStackOfWholeInputsIsAccepted) {
  const std::string f = write_f32("x.npy", {4, 1, 2, 3}, iota(24));
  auto src = open_ok({f}, {{"x", {1, 2, 3}}});
  ASSERT_TRUE(src);
  EXPECT_EQ(src->size(), 4);
  EXPECT_EQ(read_all(*src)[3][0], iota(6, 18.0f));
}

TEST_F(CalibData, NpyRowsNotAMultipleOfTheBatchIsAnError) {
  const std::string f = write_f32("rows5.npy", {5, 3}, iota(15));
  const std::string msg = open_error({f}, {{"x", {2, 3}}});
  EXPECT_THAT(msg, HasSubstr(f));
  EXPECT_THAT(msg, HasSubstr("not a multiple of the batch size 2"));
}

TEST_F(CalibData, NpyShapeMismatchNamesFileAndExpectedShape) {
  const std::string f = write_f32("wrong.npy", {10, 3, 4, 5}, std::vector<float>(600, 0.0f));
  const std::string msg = open_error({f}, {{"images", {1, 3, 4, 4}}});
  EXPECT_THAT(msg, HasSubstr(f));
  EXPECT_THAT(msg, HasSubstr("(10, 3, 4, 5)"));
  EXPECT_THAT(msg, HasSubstr("'images'"));
  EXPECT_THAT(msg, HasSubstr("expected (1, 3, 4, 4)"));
  EXPECT_THAT(msg, HasSubstr("(N, 3, 4, 4)"));
}

TEST_F(CalibData, NpyMultipleInputsArePairedByName) {
  const std::string a = write_f32("a.npy", {3, 2}, iota(6));
  const std::string b = write_f32("b.npy", {3, 3}, iota(9, 100.0f));
  // Given in the other order than the model's inputs.
  auto src = open_ok({"b=" + b, "a=" + a}, {{"a", {1, 2}}, {"b", {1, 3}}});
  ASSERT_TRUE(src);
  EXPECT_EQ(src->size(), 3);
  const auto all = read_all(*src);
  ASSERT_EQ(all.size(), 3u);
  ASSERT_EQ(all[1].size(), 2u);
  EXPECT_EQ(all[1][0], (std::vector<float>{2, 3}));
  EXPECT_EQ(all[1][1], (std::vector<float>{103, 104, 105}));
}

TEST_F(CalibData, NpyMultipleInputErrors) {
  const std::string a = write_f32("a.npy", {3, 2}, iota(6));
  const std::string b4 = write_f32("b4.npy", {4, 3}, iota(12));
  const std::vector<InputSpec> inputs = {{"a", {1, 2}}, {"b", {1, 3}}};
  EXPECT_THAT(open_error({"a=" + a}, inputs), HasSubstr("no file for input 'b'"));
  EXPECT_THAT(open_error({"c=" + a, "b=" + b4}, inputs), HasSubstr("'c' is not a model input"));
  EXPECT_THAT(open_error({a}, inputs), HasSubstr("NAME=path"));
  const std::string msg = open_error({"a=" + a, "b=" + b4}, inputs);
  EXPECT_THAT(msg, HasSubstr("3 samples"));
  EXPECT_THAT(msg, HasSubstr("has 4"));
  EXPECT_THAT(msg, HasSubstr(b4));
}

TEST_F(CalibData, NpySingleInputAcceptsSeveralFilesAndANamePrefix) {
  const std::string f1 = write_f32("f1.npy", {2, 3}, iota(6));
  const std::string f2 = write_f32("f2.npy", {3, 3}, iota(9, 6.0f));
  auto src = open_ok({f1, "x=" + f2}, {{"x", {1, 3}}});
  ASSERT_TRUE(src);
  EXPECT_EQ(src->size(), 5);
  const auto all = read_all(*src);
  ASSERT_EQ(all.size(), 5u);
  for (size_t k = 0; k < 5; ++k) EXPECT_EQ(all[k][0], iota(3, 3.0f * static_cast<float>(k)));
}

TEST_F(CalibData, NpyRewindRestarts) {
  const std::string f1 = write_f32("f1.npy", {2, 3}, iota(6));
  const std::string f2 = write_f32("f2.npy", {2, 3}, iota(6, 50.0f));
  auto src = open_ok({f1, f2}, {{"x", {1, 3}}});
  ASSERT_TRUE(src);
  Sample s;
  ASSERT_TRUE(*src->next(s));
  ASSERT_TRUE(*src->next(s));
  ASSERT_TRUE(*src->next(s));  // into the second file
  ASSERT_TRUE(src->rewind().ok());
  const auto first = read_all(*src);
  ASSERT_TRUE(src->rewind().ok());
  const auto second = read_all(*src);
  ASSERT_EQ(first.size(), 4u);
  EXPECT_EQ(first, second);
  EXPECT_EQ(first[0][0], iota(3));
}

TEST_F(CalibData, NpyIntegerAndDoubleDtypesAreConverted) {
  const std::vector<InputSpec> in = {{"x", {1, 3}}};
  struct Case {
    std::string file;
    std::vector<float> want;
  };
  const std::vector<Case> cases = {
      {write_typed<uint8_t>("u8.npy", npy::ElementType::kU8, {2, 3}, {0, 1, 2, 253, 254, 255}),
       {0, 1, 2, 253, 254, 255}},
      {write_typed<int8_t>("i8.npy", npy::ElementType::kI8, {2, 3}, {-128, -1, 0, 1, 5, 127}),
       {-128, -1, 0, 1, 5, 127}},
      {write_typed<int32_t>("i32.npy", npy::ElementType::kI32, {2, 3}, {-100000, 7, 0, 1, 2, 3}),
       {-100000, 7, 0, 1, 2, 3}},
      {write_typed<int64_t>("i64.npy", npy::ElementType::kI64, {2, 3}, {-5, 6, 1LL << 40, 0, 0, 9}),
       {-5, 6, static_cast<float>(1LL << 40), 0, 0, 9}},
      {write_typed<double>("f64.npy", npy::ElementType::kF64, {2, 3}, {0.5, -0.25, 1e10, 3, 2, 1}),
       {0.5f, -0.25f, 1e10f, 3, 2, 1}},
  };
  for (const Case& c : cases) {
    auto src = open_ok({c.file}, in);
    ASSERT_TRUE(src) << c.file;
    const auto all = read_all(*src);
    ASSERT_EQ(all.size(), 2u) << c.file;
    std::vector<float> got = all[0][0];
    got.insert(got.end(), all[1][0].begin(), all[1][0].end());
    EXPECT_EQ(got, c.want) << c.file;
  }
}

TEST_F(CalibData, NpyNonFiniteValueNamesFileAndSample) {
  std::vector<float> v = iota(12);
  v[2 * 3 + 1] = std::numeric_limits<float>::quiet_NaN();  // sample 2, element 1
  const std::string f = write_f32("nan.npy", {4, 3}, v);
  auto src = open_ok({f}, {{"x", {1, 3}}});
  ASSERT_TRUE(src);
  Sample s;
  ASSERT_TRUE(*src->next(s));
  ASSERT_TRUE(*src->next(s));
  auto r = src->next(s);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr(f));
  EXPECT_THAT(r.status().message(), HasSubstr("sample 2"));
  EXPECT_THAT(r.status().message(), HasSubstr("nan"));
  EXPECT_THAT(r.status().message(), HasSubstr("element 1"));

  // A float64 value beyond the float range becomes inf: also an error.
  const std::string g = write_typed<double>("big.npy", npy::ElementType::kF64, {2, 1}, {1.0, -1e300});
  auto src2 = open_ok({g}, {{"x", {1, 1}}});
  ASSERT_TRUE(src2);
  ASSERT_TRUE(*src2->next(s));
  r = src2->next(s);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("sample 1"));
  EXPECT_THAT(r.status().message(), HasSubstr("-inf"));
}

TEST_F(CalibData, NpyIsReadOneSampleAtATime) {
  // The source reads each sample from the file when asked: bytes changed
  // on disk after open() (same shape) show up in later samples.
  const std::string f = write_f32("lazy.npy", {4, 3}, iota(12));
  auto src = open_ok({f}, {{"x", {1, 3}}});
  ASSERT_TRUE(src);
  Sample s;
  ASSERT_TRUE(*src->next(s));
  {
    const auto size = static_cast<std::streamoff>(fs::file_size(f));
    std::fstream io(f, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(size - 3 * 4);  // the last sample
    const float patch[3] = {-1.0f, -2.0f, -3.0f};
    io.write(reinterpret_cast<const char*>(patch), sizeof(patch));
  }
  const auto rest = read_all(*src);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[2][0], (std::vector<float>{-1, -2, -3}));
}

TEST_F(CalibData, NpyFileErrors) {
  const std::vector<InputSpec> in = {{"x", {1, 3}}};
  const std::string missing = path("missing.npy");
  auto r = open_npy_samples({missing}, in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr(missing));

  const std::string junk = path("junk.npy");
  std::ofstream(junk) << "this is not numpy";
  EXPECT_THAT(open_error({junk}, in), HasSubstr(junk));

  // Truncated data: a file cut short is refused when opened.
  const std::string cut = write_f32("cut.npy", {4, 3}, iota(12));
  fs::resize_file(cut, fs::file_size(cut) - 4);
  const std::string msg = open_error({cut}, in);
  EXPECT_THAT(msg, HasSubstr(cut));
  EXPECT_THAT(msg, HasSubstr("truncated"));

  const std::string empty = write_f32("empty.npy", {0, 3}, {});
  EXPECT_THAT(open_error({empty}, in), HasSubstr("no samples"));
  EXPECT_THAT(open_error({}, in), HasSubstr("no .npy files"));
  EXPECT_THAT(open_error({cut}, {{"x", {-1, 3}}}), HasSubstr("unknown or invalid dimension"));
}

TEST_F(CalibData, NpyReaderReadsElementRanges) {
  const std::string f = write_typed<double>("r.npy", npy::ElementType::kF64, {4, 3},
                                            {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  auto r = npy::Reader::open(f);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->shape(), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(r->type(), npy::ElementType::kF64);
  EXPECT_EQ(r->num_elements(), 12);
  std::vector<float> out(4, -1.0f);
  ASSERT_TRUE(r->read_floats(5, 4, out.data()).ok());
  EXPECT_EQ(out, (std::vector<float>{5, 6, 7, 8}));
  ASSERT_TRUE(r->read_floats(0, 2, out.data()).ok());  // backwards is fine
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 1.0f);
  const Status past_end = r->read_floats(10, 3, out.data());
  EXPECT_FALSE(past_end.ok());
  EXPECT_THAT(past_end.message(), HasSubstr(f));
  // Header checks are those of npy::parse, with the file named.
  fs::resize_file(f, fs::file_size(f) + 8);
  auto excess = npy::Reader::open(f);
  ASSERT_FALSE(excess.ok());
  EXPECT_THAT(excess.status().message(), HasSubstr("8 unexpected bytes"));
  EXPECT_THAT(excess.status().message(), HasSubstr(f));
}

// ------------------------------------------------------------------ limit

TEST_F(CalibData, LimitSamples) {
  const std::string f = write_f32("x.npy", {5, 2}, iota(10));
  auto limited = limit_samples(open_ok({f}, {{"x", {1, 2}}}), 2);
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->size(), 2);
  auto all = read_all(*limited);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1][0], (std::vector<float>{2, 3}));
  ASSERT_TRUE(limited->rewind().ok());
  EXPECT_EQ(read_all(*limited), all);

  auto loose = limit_samples(open_ok({f}, {{"x", {1, 2}}}), 100);
  EXPECT_EQ(loose->size(), 5);
  EXPECT_EQ(read_all(*loose).size(), 5u);
}

// ------------------------------------------------------------------ images

// Interleaved 8-bit pixels, row by row.
using Pixels = std::vector<uint8_t>;

void write_png(const std::string& p, int w, int h, int c, const Pixels& px) {
  ASSERT_NE(stbi_write_png(p.c_str(), w, h, c, px.data(), w * c), 0) << p;
}

// A 2x2 RGB image with distinct values in every channel.
const Pixels kRgb2x2 = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120};

ImagePreprocess raw_pixels() {
  ImagePreprocess pre;
  pre.scale = 1.0f;
  return pre;
}

std::vector<float> read_one_image(const std::string& dir, const std::vector<InputSpec>& inputs,
                                  const ImagePreprocess& pre) {
  auto src = open_image_dir(dir, inputs, pre);
  EXPECT_TRUE(src.ok()) << src.status().to_string();
  if (!src.ok()) return {};
  EXPECT_EQ((*src)->size(), 1);
  Sample s;
  auto r = (*src)->next(s);
  EXPECT_TRUE(r.ok() && *r) << r.status().to_string();
  if (!r.ok() || !*r || s.size() != 1) return {};
  return s[0];
}

std::string image_error(const std::string& dir, const std::vector<InputSpec>& inputs,
                        const ImagePreprocess& pre = {}) {
  auto src = open_image_dir(dir, inputs, pre);
  EXPECT_FALSE(src.ok()) << "open_image_dir unexpectedly succeeded";
  return src.ok() ? "" : src.status().message();
}

TEST_F(CalibData, ImagePngDecodesToNchw) {
  write_png(path("img.png"), 2, 2, 3, kRgb2x2);
  const auto v = read_one_image(dir_.string(), {{"x", {1, 3, 2, 2}}}, raw_pixels());
  EXPECT_EQ(v, (std::vector<float>{10, 40, 70, 100, 20, 50, 80, 110, 30, 60, 90, 120}));
}

TEST_F(CalibData, ImageNhwcAndBgr) {
  write_png(path("img.png"), 2, 2, 3, kRgb2x2);
  ImagePreprocess pre = raw_pixels();
  pre.layout = ImageLayout::kNHWC;
  EXPECT_EQ(read_one_image(dir_.string(), {{"x", {1, 2, 2, 3}}}, pre),
            (std::vector<float>{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120}));
  pre.order = ChannelOrder::kBGR;
  EXPECT_EQ(read_one_image(dir_.string(), {{"x", {1, 2, 2, 3}}}, pre),
            (std::vector<float>{30, 20, 10, 60, 50, 40, 90, 80, 70, 120, 110, 100}));
  pre.layout = ImageLayout::kNCHW;
  EXPECT_EQ(read_one_image(dir_.string(), {{"x", {1, 3, 2, 2}}}, pre),
            (std::vector<float>{30, 60, 90, 120, 20, 50, 80, 110, 10, 40, 70, 100}));
}

TEST_F(CalibData, ImageScaleMeanStdPerChannel) {
  write_png(path("img.png"), 2, 2, 3, kRgb2x2);
  ImagePreprocess pre;  // scale 1/255
  pre.mean = {0.485f, 0.456f, 0.406f};
  pre.std = {0.229f, 0.224f, 0.225f};
  const auto v = read_one_image(dir_.string(), {{"x", {1, 3, 2, 2}}}, pre);
  ASSERT_EQ(v.size(), 12u);
  for (int c = 0; c < 3; ++c) {
    for (int p = 0; p < 4; ++p) {
      const float pixel = kRgb2x2[static_cast<size_t>(p * 3 + c)];
      const float want = (pixel * (1.0f / 255.0f) - pre.mean[c]) / pre.std[c];
      EXPECT_NEAR(v[static_cast<size_t>(c * 4 + p)], want, 1e-5f) << "c=" << c << " p=" << p;
    }
  }
  // A single mean / std applies to every channel.
  pre.mean = {0.5f};
  pre.std = {0.25f};
  const auto u = read_one_image(dir_.string(), {{"x", {1, 3, 2, 2}}}, pre);
  ASSERT_EQ(u.size(), 12u);
  EXPECT_NEAR(u[4], (20.0f / 255.0f - 0.5f) / 0.25f, 1e-5f);  // G of pixel 0
}

TEST_F(CalibData, ImageGrayscaleForOneChannelInputs) {
  // Gray pixels stored as RGB convert exactly (stb's luma weights sum to 1).
  const Pixels gray_rgb = {10, 10, 10, 50, 50, 50, 90, 90, 90, 200, 200, 200};
  write_png(path("a.png"), 2, 2, 3, gray_rgb);
  EXPECT_EQ(read_one_image(dir_.string(), {{"x", {1, 1, 2, 2}}}, raw_pixels()),
            (std::vector<float>{10, 50, 90, 200}));
  fs::remove(path("a.png"));
  write_png(path("b.png"), 2, 2, 1, {1, 2, 3, 4});
  ImagePreprocess nhwc = raw_pixels();
  nhwc.layout = ImageLayout::kNHWC;
  EXPECT_EQ(read_one_image(dir_.string(), {{"x", {1, 2, 2, 1}}}, nhwc),
            (std::vector<float>{1, 2, 3, 4}));
  // A gray image for a 3-channel input is replicated.
  EXPECT_EQ(read_one_image(dir_.string(), {{"x", {1, 3, 2, 2}}}, raw_pixels()),
            (std::vector<float>{1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}));
}

// A 1-channel image whose pixel (x, y) is 10 * x + y.
Pixels coordinate_image(int w, int h) {
  Pixels px;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) px.push_back(static_cast<uint8_t>(10 * x + y));
  }
  return px;
}

TEST_F(CalibData, ImageCenterCrop) {
  write_png(path("img.png"), 6, 4, 1, coordinate_image(6, 4));
  // 6x4 to 2x2: columns 2..3, rows 1..2.
  EXPECT_EQ(read_one_image(dir_.string(), {{"x", {1, 1, 2, 2}}}, raw_pixels()),
            (std::vector<float>{21, 31, 22, 32}));
  // An odd margin rounds the offset down: 5x5 to 2x2 starts at (1, 1).
  fs::remove(path("img.png"));
  write_png(path("img.png"), 5, 5, 1, coordinate_image(5, 5));
  EXPECT_EQ(read_one_image(dir_.string(), {{"x", {1, 1, 2, 2}}}, raw_pixels()),
            (std::vector<float>{11, 21, 12, 22}));
}

TEST_F(CalibData, ImagePlainResizeIsBilinear) {
  // 2x2 to 4x4: output samples sit at input coordinates -0.25, 0.25, 0.75,
  // 1.25 (pixel centers), edges clamped: weights (1,0) (3/4,1/4) (1/4,3/4) (0,1).
  const Pixels px = {0, 100, 200, 40};
  write_png(path("img.png"), 2, 2, 1, px);
  ImagePreprocess pre = raw_pixels();
  pre.crop = false;
  const auto v = read_one_image(dir_.string(), {{"x", {1, 1, 4, 4}}}, pre);
  ASSERT_EQ(v.size(), 16u);
  const double w[4][2] = {{1, 0}, {0.75, 0.25}, {0.25, 0.75}, {0, 1}};
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 4; ++x) {
      double want = 0;
      for (int j = 0; j < 2; ++j) {
        for (int i = 0; i < 2; ++i) want += w[y][j] * w[x][i] * px[static_cast<size_t>(j * 2 + i)];
      }
      EXPECT_NEAR(v[static_cast<size_t>(y * 4 + x)], want, 0.5) << "x=" << x << " y=" << y;
    }
  }
  // With crop on, an image smaller than the input is resized the same way.
  EXPECT_EQ(read_one_image(dir_.string(), {{"x", {1, 1, 4, 4}}}, raw_pixels()), v);
  // Without crop a larger image is squeezed, not cropped: all of it counts.
  fs::remove(path("img.png"));
  write_png(path("img.png"), 6, 4, 1, coordinate_image(6, 4));
  const auto squeezed = read_one_image(dir_.string(), {{"x", {1, 1, 2, 2}}}, pre);
  const auto cropped = read_one_image(dir_.string(), {{"x", {1, 1, 2, 2}}}, raw_pixels());
  ASSERT_EQ(squeezed.size(), 4u);
  EXPECT_LT(squeezed[0], cropped[0]);  // the left columns pull it down
  EXPECT_GT(squeezed[1], cropped[1]);  // the right columns pull it up
}

TEST_F(CalibData, ImageResizeShorterSideThenCrop) {
  // 8x4: left half 0, right half 200.
  Pixels px;
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 8; ++x) px.push_back(x < 4 ? 0 : 200);
  }
  write_png(path("img.png"), 8, 4, 1, px);
  ImagePreprocess pre = raw_pixels();
  // Shorter side already 4: no resampling, the crop takes columns 3 and 4.
  pre.resize_shorter = 4;
  EXPECT_EQ(read_one_image(dir_.string(), {{"x", {1, 1, 2, 2}}}, pre),
            (std::vector<float>{0, 200, 0, 200}));
  // Shorter side 2: 8x4 becomes 4x2, the crop takes its columns 1 and 2.
  // Halving with the triangle filter weighs the 4 nearest input columns
  // 1/8, 3/8, 3/8, 1/8: column 1 sees 0, 0, 0, 200 -> 25, column 2 -> 175.
  pre.resize_shorter = 2;
  const auto v = read_one_image(dir_.string(), {{"x", {1, 1, 2, 2}}}, pre);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_NEAR(v[0], 25.0f, 0.5f);
  EXPECT_NEAR(v[1], 175.0f, 0.5f);
  EXPECT_EQ(v[0], v[2]);
  EXPECT_EQ(v[1], v[3]);
}

TEST_F(CalibData, ImageFormatsOrderAndExtensions) {
  // Uniform 4x4 images in several formats; other files are skipped; order is by name.
  auto uniform = [](uint8_t v) { return Pixels(4 * 4 * 3, v); };
  ASSERT_NE(stbi_write_bmp(path("a.BMP").c_str(), 4, 4, 3, uniform(10).data()), 0);
  ASSERT_NE(stbi_write_jpg(path("b.JPG").c_str(), 4, 4, 3, uniform(60).data(), 100), 0);
  ASSERT_NE(stbi_write_jpg(path("c.jpeg").c_str(), 4, 4, 3, uniform(110).data(), 100), 0);
  write_png(path("e.png"), 4, 4, 3, uniform(160));
  std::ofstream(path("d.txt")) << "notes";
  std::ofstream(path("f.npy")) << "not an image";
  fs::create_directory(path("g.png"));  // a directory, not an image

  auto src = open_image_dir(dir_.string(), {{"x", {1, 3, 4, 4}}}, raw_pixels());
  ASSERT_TRUE(src.ok()) << src.status().to_string();
  EXPECT_EQ((*src)->size(), 4);
  const auto all = read_all(**src);
  ASSERT_EQ(all.size(), 4u);
  const float want[4] = {10, 60, 110, 160};
  for (size_t k = 0; k < 4; ++k) {
    ASSERT_EQ(all[k][0].size(), 48u);
    for (float x : all[k][0]) EXPECT_NEAR(x, want[k], k == 1 || k == 2 ? 3.0f : 0.0f) << k;
  }
  ASSERT_TRUE((*src)->rewind().ok());
  EXPECT_EQ(read_all(**src), all);
}

TEST_F(CalibData, ImageUndecodableFilesAreNamed) {
  std::ofstream(path("bad.png")) << "definitely not a PNG";
  EXPECT_THAT(image_error(dir_.string(), {{"x", {1, 3, 2, 2}}}), HasSubstr(path("bad.png")));
  fs::remove(path("bad.png"));

  // A PNG cut short after its header: refused when opened or when decoded,
  // either way naming the file.
  const Pixels noise = coordinate_image(32, 32);
  write_png(path("cut.png"), 32, 32, 1, noise);
  fs::resize_file(path("cut.png"), 60);
  auto src = open_image_dir(dir_.string(), {{"x", {1, 1, 2, 2}}}, {});
  if (!src.ok()) {
    EXPECT_THAT(src.status().message(), HasSubstr(path("cut.png")));
  } else {
    Sample s;
    auto r = (*src)->next(s);
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.status().message(), HasSubstr(path("cut.png")));
  }
}

// A PNG file written byte by byte: the signature, IHDR declaring a w x h
// 8-bit grayscale picture, one IDAT chunk holding `zlib` (a zlib stream), IEND.
std::string png_file(uint32_t w, uint32_t h, const std::string& zlib) {
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  auto chunk = [&](const std::string& type, const std::string& data) {
    const std::string body = type + data;
    const auto crc = static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
    return be32(static_cast<uint32_t>(data.size())) + body + be32(crc);
  };
  const std::string ihdr = be32(w) + be32(h) + std::string{8, 0, 0, 0, 0};
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", zlib) +
         chunk("IEND", "");
}

std::string zlib_of(const std::string& raw) {
  uLongf n = compressBound(static_cast<uLong>(raw.size()));
  std::string out(n, '\0');
  EXPECT_EQ(compress2(reinterpret_cast<Bytef*>(out.data()), &n,
                      reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()), 9),
            Z_OK);
  out.resize(n);
  return out;
}

// Sizes are checked before anything is decoded or resized: 60 bytes of PNG
// may declare 10000 x 10000 pixels (1.2 GB of floats), and an image may
// have no rows (which divided by zero in the resize).
TEST_F(CalibData, ImageSizesAreCheckedBeforeDecoding) {
  const std::vector<InputSpec> in = {{"x", {1, 1, 4, 4}}};
  std::ofstream(path("huge.png"), std::ios::binary) << png_file(10000, 10000, zlib_of(std::string(64, '\0')));
  EXPECT_THAT(image_error(dir_.string(), in),
              AllOf(HasSubstr(path("huge.png")), HasSubstr("10000x10000 pixels"), HasSubstr("8192 x 8192")));
  fs::remove(path("huge.png"));

  // A BMP header declaring 4 x 0 pixels.
  std::string bmp = "BM";
  auto le32 = [&](uint32_t v) { for (int k = 0; k < 4; ++k) bmp += static_cast<char>(v >> (8 * k)); };
  auto le16 = [&](uint16_t v) { bmp += static_cast<char>(v & 255); bmp += static_cast<char>(v >> 8); };
  le32(54 + 16); le32(0); le32(54);               // file size, reserved, pixel offset
  le32(40); le32(4); le32(0); le16(1); le16(24);  // info header: size, width, height, planes, bpp
  le32(0); le32(16); le32(2835); le32(2835); le32(0); le32(0);
  bmp += std::string(16, '\0');
  std::ofstream(path("empty.bmp"), std::ios::binary) << bmp;
  EXPECT_THAT(image_error(dir_.string(), in), HasSubstr(path("empty.bmp")));
  fs::remove(path("empty.bmp"));

  // Within the limit itself, but resizing its shorter side to 4096 would not be.
  ASSERT_NE(stbi_write_png(path("strip.png").c_str(), 8192, 1, 1, Pixels(8192, 7).data(), 8192), 0);
  ImagePreprocess pre;
  pre.resize_shorter = 4096;
  auto src = open_image_dir(dir_.string(), in, pre);
  ASSERT_TRUE(src.ok()) << src.status().to_string();
  Sample smp;
  auto r = (*src)->next(smp);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), AllOf(HasSubstr(path("strip.png")), HasSubstr("33554432x4096 pixels")));
}

// A zlib stream of `n` zero bytes, made in 1 MiB pieces (the test never
// holds the n bytes themselves).
std::string zlib_of_zeros(size_t n) {
  z_stream z{};
  EXPECT_EQ(deflateInit(&z, 9), Z_OK);
  const std::string zeros(size_t{1} << 20, '\0');
  std::string out;
  char buf[1 << 16];
  for (size_t done = 0;;) {
    const size_t piece = std::min(zeros.size(), n - done);
    done += piece;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
    z.avail_in = static_cast<uInt>(piece);
    const int flush = done == n ? Z_FINISH : Z_NO_FLUSH;
    int rc = Z_OK;
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof(buf);
      rc = deflate(&z, flush);
      out.append(buf, sizeof(buf) - z.avail_out);
    } while (z.avail_out == 0);
    if (flush == Z_FINISH) {
      EXPECT_EQ(rc, Z_STREAM_END);
      break;
    }
  }
  deflateEnd(&z);
  return out;
}

long peak_rss_kib() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// A decompression bomb: a 16 x 4 picture (68 bytes of filtered rows) whose
// IDAT inflates to 64 MiB. Decoding must not grow memory with the inflated
// size (fuzz_calib_image found a 170-byte PNG that made Debian's stb_image
// grow a buffer to 2 GiB; libpng decodes row by row into the declared
// picture). The picture decodes; its rows are the zero bytes.
TEST_F(CalibData, ImageDecompressionBombTakesNoMemory) {
  std::ofstream(path("bomb.png"), std::ios::binary) << png_file(16, 4, zlib_of_zeros(size_t{64} << 20));
  const long before = peak_rss_kib();
  const auto v = read_one_image(dir_.string(), {{"x", {1, 1, 4, 16}}}, raw_pixels());
  const long grown_mib = (peak_rss_kib() - before) / 1024;
  EXPECT_LT(grown_mib, 32) << "decoding the bomb raised peak memory by " << grown_mib << " MiB";
  EXPECT_EQ(v, std::vector<float>(64, 0.0f));
  // The same picture with exactly its 68 bytes decodes to its rows.
  fs::remove(path("bomb.png"));
  std::string rows;
  for (int y = 0; y < 4; ++y) rows += std::string(1, '\0') + std::string(16, static_cast<char>(50 + y));
  std::ofstream(path("ok.png"), std::ios::binary) << png_file(16, 4, zlib_of(rows));
  const auto w = read_one_image(dir_.string(), {{"x", {1, 1, 4, 16}}}, raw_pixels());
  ASSERT_EQ(w.size(), 64u);
  EXPECT_EQ(w[0], 50.0f);
  EXPECT_EQ(w[63], 53.0f);
}

// A JPEG whose DHT segment declares 16 x 255 = 4080 Huffman symbols (a table
// holds at most 256): stb_image 2.27 wrote them past its table (UBSan, found
// by fuzz_calib_image). It must be refused, naming the file.
TEST_F(CalibData, ImageJpegWithAnOversizedHuffmanTableIsRefused) {
  std::string jpg = "\xFF\xD8";                    // SOI
  const int n = 16 * 255;
  const int len = 2 + 1 + 16 + n;
  jpg += "\xFF\xC4";                               // DHT
  jpg += static_cast<char>(len >> 8);
  jpg += static_cast<char>(len & 255);
  jpg += '\0';                                      // DC table 0
  jpg += std::string(16, '\xFF');                   // 255 codes of every length
  jpg += std::string(static_cast<size_t>(n), '\x01');
  jpg += "\xFF\xD9";                               // EOI
  std::ofstream(path("bad.jpg"), std::ios::binary) << jpg;
  const std::string why = image_error(dir_.string(), {{"x", {1, 3, 4, 4}}});
  EXPECT_THAT(why, AllOf(HasSubstr(path("bad.jpg")), HasSubstr("JPEG")));
}

TEST_F(CalibData, ImageDirectoryErrors) {
  const std::vector<InputSpec> in = {{"x", {1, 3, 2, 2}}};
  EXPECT_THAT(image_error(dir_.string(), in), HasSubstr("empty"));
  std::ofstream(path("readme.txt")) << "no images here";
  const std::string msg = image_error(dir_.string(), in);
  EXPECT_THAT(msg, HasSubstr(dir_.string()));
  EXPECT_THAT(msg, HasSubstr("no image files"));
  auto missing = open_image_dir(path("nope"), in, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(path("nope")));
  EXPECT_THAT(image_error(path("readme.txt"), in), HasSubstr("not a directory"));
}

TEST_F(CalibData, ImageInputShapeAndOptionErrors) {
  write_png(path("img.png"), 2, 2, 3, kRgb2x2);
  const std::string d = dir_.string();
  EXPECT_THAT(image_error(d, {{"a", {1, 3, 2, 2}}, {"b", {1, 3, 2, 2}}}), HasSubstr("one input"));
  EXPECT_THAT(image_error(d, {{"x", {1, 3, 4}}}), HasSubstr("rank-4 input with batch 1"));
  EXPECT_THAT(image_error(d, {{"x", {2, 3, 4, 4}}}), HasSubstr("batch 1"));
  EXPECT_THAT(image_error(d, {{"x", {1, 4, 4, 4}}}), HasSubstr("4 channels"));
  EXPECT_THAT(image_error(d, {{"x", {1, 2, 2, 3}}}), HasSubstr("is the layout NHWC?"));
  ImagePreprocess pre;
  pre.mean = {0.1f, 0.2f};
  EXPECT_THAT(image_error(d, {{"x", {1, 3, 2, 2}}}, pre), HasSubstr("mean needs 1 or 3 values"));
  pre = {};
  pre.std = {0.0f};
  EXPECT_THAT(image_error(d, {{"x", {1, 3, 2, 2}}}, pre), HasSubstr("std value 0"));
}

}  // namespace
}  // namespace quanta::convert
