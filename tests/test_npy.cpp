// npy/ (quanta_npy): round trips, every supported dtype, and malformed files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "quanta/npy.hpp"
#include "support/model_builders.hpp"

namespace quanta::npy {
namespace {

using ::testing::HasSubstr;

// A .npy image with the given header text (padded the way NumPy pads it)
// followed by `data`.
std::vector<uint8_t> make_npy(const std::string& dict, const std::vector<uint8_t>& data,
                              uint8_t major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string h = dict;
  const size_t total = prefix + h.size() + 1;
  h.append((total + 63) / 64 * 64 - total, ' ');
  h.push_back('\n');
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', major, 0};
  const size_t n = h.size();
  out.push_back(static_cast<uint8_t>(n & 0xFF));
  out.push_back(static_cast<uint8_t>((n >> 8) & 0xFF));
  if (major != 1) {
    out.push_back(static_cast<uint8_t>((n >> 16) & 0xFF));
    out.push_back(static_cast<uint8_t>((n >> 24) & 0xFF));
  }
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::string error_of(const std::vector<uint8_t>& image) {
  auto r = parse(image, "bad.npy");
  EXPECT_FALSE(r.ok()) << "parse unexpectedly succeeded";
  if (r.ok()) return "";
  EXPECT_THAT(r.status().message(), HasSubstr("bad.npy"));
  return r.status().message();
}

TEST(NpyTest, FloatRoundTripThroughFile) {
  const std::vector<float> v = {0.0f, -1.5f, 3.25f, 1e-30f, std::numeric_limits<float>::infinity(), 7.0f};
  const std::string path = test::temp_path("npy_roundtrip.npy");
  ASSERT_TRUE(write_file(path, from_floats({2, 3}, v)).ok());
  auto r = read_file(path);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->type, ElementType::kF32);
  EXPECT_EQ(r->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(to_floats(*r), v);
  std::remove(path.c_str());
}

TEST(NpyTest, HeaderIsPaddedTo64BytesAndEndsWithNewline) {
  auto img = serialize(from_floats({1, 16, 16, 3}, std::vector<float>(768, 1.0f)));
  ASSERT_TRUE(img.ok());
  const size_t hlen = (*img)[8] | ((*img)[9] << 8);
  EXPECT_EQ((10 + hlen) % 64, 0u);
  EXPECT_EQ((*img)[10 + hlen - 1], '\n');
  const std::string header(img->begin() + 10, img->begin() + 10 + static_cast<long>(hlen));
  EXPECT_THAT(header, HasSubstr("'descr': '<f4'"));
  EXPECT_THAT(header, HasSubstr("'fortran_order': False"));
  EXPECT_THAT(header, HasSubstr("'shape': (1, 16, 16, 3)"));
}

TEST(NpyTest, Uint8RoundTrip) {
  const std::vector<uint8_t> v = {0, 1, 127, 128, 255};
  auto img = serialize(from_bytes(ElementType::kU8, {5}, v.data(), v.size()));
  ASSERT_TRUE(img.ok());
  auto r = parse(*img);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->type, ElementType::kU8);
  EXPECT_EQ(r->shape, (std::vector<int64_t>{5}));
  EXPECT_EQ(r->data, v);
  EXPECT_EQ(to_floats(*r), (std::vector<float>{0, 1, 127, 128, 255}));
}

TEST(NpyTest, EveryReadableDtype) {
  {
    auto r = parse(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                            bytes_of<double>({0.5, -2.25})));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->type, ElementType::kF64);
    EXPECT_EQ(to_floats(*r), (std::vector<float>{0.5f, -2.25f}));
  }
  {
    auto r = parse(make_npy("{'descr': '|i1', 'fortran_order': False, 'shape': (3,), }",
                            bytes_of<int8_t>({-128, 0, 127})));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->type, ElementType::kI8);
    EXPECT_EQ(to_floats(*r), (std::vector<float>{-128, 0, 127}));
  }
  {
    auto r = parse(make_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 1), }",
                            bytes_of<int32_t>({-7, 1 << 20})));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->type, ElementType::kI32);
    EXPECT_EQ(r->shape, (std::vector<int64_t>{2, 1}));
    EXPECT_EQ(to_floats(*r), (std::vector<float>{-7.0f, 1048576.0f}));
  }
  {
    auto r = parse(make_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
                            bytes_of<int64_t>({-3, 5})));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->type, ElementType::kI64);
    EXPECT_EQ(to_floats(*r), (std::vector<float>{-3, 5}));
  }
  {
    // '<u1' and '=f4' are accepted spellings too.
    auto r = parse(make_npy("{'descr': '<u1', 'fortran_order': False, 'shape': (1,), }", {9}));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->type, ElementType::kU8);
  }
  {
    // float64 beyond the float range saturates to infinity.
    auto r = parse(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                            bytes_of<double>({1e300, -1e300})));
    ASSERT_TRUE(r.ok());
    const auto f = to_floats(*r);
    EXPECT_TRUE(std::isinf(f[0]) && f[0] > 0);
    EXPECT_TRUE(std::isinf(f[1]) && f[1] < 0);
  }
}

TEST(NpyTest, EveryWritableDtypeRoundTrips) {
  for (ElementType t : {ElementType::kF32, ElementType::kF64, ElementType::kU8, ElementType::kI8,
                        ElementType::kI32, ElementType::kI64}) {
    std::vector<uint8_t> data(3 * element_size(t));
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 37 + 1);
    auto img = serialize(from_bytes(t, {3}, data.data(), data.size()));
    ASSERT_TRUE(img.ok()) << descr(t);
    auto r = parse(*img);
    ASSERT_TRUE(r.ok()) << descr(t) << ": " << r.status().to_string();
    EXPECT_EQ(r->type, t);
    EXPECT_EQ(r->data, data);
  }
}

TEST(NpyTest, ScalarEmptyAndVersions) {
  {
    auto r = parse(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", bytes_of<float>({4.0f})));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(r->shape.empty());
    EXPECT_EQ(r->num_elements(), 1);
  }
  {
    auto r = parse(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", {}));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->num_elements(), 0);
  }
  for (uint8_t major : {2, 3}) {
    auto r = parse(make_npy("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (1,)}",
                            bytes_of<float>({1.0f}), major));
    ASSERT_TRUE(r.ok()) << "version " << int(major) << ": " << r.status().to_string();
    EXPECT_EQ(to_floats(*r), (std::vector<float>{1.0f}));
  }
  {
    // Keys in any order, no trailing comma.
    auto r = parse(make_npy("{'shape': (2,), 'fortran_order': False, 'descr': '|u1'}", {1, 2}));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
  }
}

TEST(NpyTest, RejectsBadMagicAndVersion) {
  EXPECT_THAT(error_of({}), HasSubstr("too short"));
  EXPECT_THAT(error_of({'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0}), HasSubstr("magic"));
  auto img = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", bytes_of<float>({1}));
  img[6] = 9;
  EXPECT_THAT(error_of(img), HasSubstr("version 9.0"));
}

TEST(NpyTest, RejectsMalformedHeaders) {
  const auto f1 = bytes_of<float>({1.0f});
  struct Case {
    std::string header;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"{'descr': '<f4', 'fortran_order': False}", "missing key 'shape'"},
      {"{'descr': '<f4', 'shape': (1,)}", "missing key 'fortran_order'"},
      {"{'fortran_order': False, 'shape': (1,)}", "missing key 'descr'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "unexpected key 'extra'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "duplicate key"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", "expected ','"},
      {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}", "True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1)}", "trailing comma"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "negative dimension"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, x)}", "expected an integer"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", "expected '('"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "expected"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk", "after the closing"},
      {"{'descr: '<f4', 'fortran_order': False, 'shape': (1,)}", "expected ':'"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", ""},
      {"'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "expected '{'"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", "structured"},
      {"{'descr': '<f2', 'fortran_order': False, 'shape': (1,)}", "unsupported dtype '<f2'"},
      {"{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}", "little-endian"},
      {"{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", "unsupported dtype"},
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (1,)}", "Fortran-order"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "too large"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}",
       "too many elements"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.header);
    EXPECT_THAT(error_of(make_npy(c.header, f1)), HasSubstr(c.expect));
  }
}

// A zero dimension makes an array empty, but the other dimensions must still
// multiply without overflow (NumPy's rule: the non-zero dimensions times the
// item size fit int64), or num_elements(), strides and offsets computed in
// another order overflow. Such a header is refused, naming file and shape.
TEST(NpyTest, ZeroDimensionDoesNotHideAnOverflowingShape) {
  for (const std::string shape : {"(4294967296, 4294967296, 0)", "(0, 4294967296, 4294967296)",
                                  "(3037000500, 0, 3037000500)"}) {
    SCOPED_TRACE(shape);
    const std::string h = "{'descr': '|u1', 'fortran_order': False, 'shape': " + shape + ", }";
    const std::string msg = error_of(make_npy(h, {}));
    EXPECT_THAT(msg, HasSubstr(shape));
    EXPECT_THAT(msg, HasSubstr("too many elements"));
  }
  // The element count fits, the byte count (x 8 for float64) does not.
  const std::string bytes_over = "(1152921504606846976, 0, 8)";
  EXPECT_THAT(error_of(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': " + bytes_over + ", }", {})),
              HasSubstr(bytes_over));
  // Within the limit an empty array is fine, whatever its other dimensions.
  auto ok = parse(make_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2147483648, 2147483648, 0), }", {}));
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->num_elements(), 0);

  // The streaming reader applies the same rule to a file.
  const std::string path = test::temp_path("npy_zero_dim_overflow.npy");
  const auto img = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 0), }", {});
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(img.data(), 1, img.size(), f), img.size());
  std::fclose(f);
  auto r = Reader::open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr(path));
  EXPECT_THAT(r.status().message(), HasSubstr("(4294967296, 4294967296, 0)"));
  std::remove(path.c_str());
}

// A byte count larger than the file is truncated data, named with the shape.
TEST(NpyTest, ShapeLargerThanTheFileIsRefused) {
  const std::string msg =
      error_of(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 2), }", bytes_of<float>({1})));
  EXPECT_THAT(msg, HasSubstr("truncated data"));
  EXPECT_THAT(msg, HasSubstr("(1099511627776, 2)"));
  EXPECT_THAT(msg, HasSubstr("needs 8796093022208 bytes"));
}

// An Array built by hand may hold any shape: num_elements() reports an
// overflowing count as -1 (never undefined behaviour) and serialize() refuses it.
TEST(NpyTest, HandBuiltArrayWithOverflowingShape) {
  Array a;
  a.type = ElementType::kU8;
  a.shape = {int64_t{1} << 40, int64_t{1} << 40, 0};
  EXPECT_EQ(a.num_elements(), -1);
  auto img = serialize(a);
  ASSERT_FALSE(img.ok());
  EXPECT_THAT(img.status().message(), HasSubstr("(1099511627776, 1099511627776, 0)"));
  a.shape = {int64_t{1} << 31, int64_t{1} << 31, 0};
  EXPECT_EQ(a.num_elements(), 0);
  a.shape = {-1, 2};
  EXPECT_EQ(a.num_elements(), -1);
}

TEST(NpyTest, RejectsTruncatedAndExcessData) {
  const std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
  EXPECT_THAT(error_of(make_npy(h, bytes_of<float>({1, 2, 3}))), HasSubstr("truncated data"));
  EXPECT_THAT(error_of(make_npy(h, bytes_of<float>({1, 2, 3, 4, 5}))), HasSubstr("unexpected bytes"));
  // A header length that runs past the end of the file.
  auto img = make_npy(h, bytes_of<float>({1, 2, 3, 4}));
  img.resize(40);
  EXPECT_THAT(error_of(img), HasSubstr("truncated header"));
  // A header with a NUL byte inside.
  auto nul = make_npy(h, bytes_of<float>({1, 2, 3, 4}));
  nul[20] = 0;
  EXPECT_THAT(error_of(nul), HasSubstr("not printable"));
}

TEST(NpyTest, EveryTruncationIsAnErrorNotACrash) {
  const auto img = make_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", bytes_of<int32_t>({1, 2, 3}));
  for (size_t n = 0; n < img.size(); ++n) {
    std::vector<uint8_t> cut(img.begin(), img.begin() + static_cast<long>(n));
    EXPECT_FALSE(parse(cut, "cut.npy").ok()) << n;
  }
  EXPECT_TRUE(parse(img).ok());
}

TEST(NpyTest, MissingFileNamesThePath) {
  auto r = read_file("/nonexistent-dir/missing.npy");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("missing.npy"));
}

TEST(NpyTest, DirectoryIsAnErrorNamingThePath) {
  // Opening a directory succeeds on Linux and its "size" is huge: this must
  // be a clear error, not an attempt to allocate that much.
  const std::string file = test::temp_path("npy_dir_probe.npy");
  const std::string dir = file.substr(0, file.rfind('/'));
  auto r = read_file(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr(dir + ": is a directory, expected a .npy file"));
  auto reader = Reader::open(dir);
  ASSERT_FALSE(reader.ok());
  EXPECT_THAT(reader.status().message(), HasSubstr(dir + ": is a directory, expected a .npy file"));
  // Writing onto a directory names it too.
  const Status w = write_file(dir, from_floats({1}, std::vector<float>{1.0f}));
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.message(), HasSubstr(dir + ": is a directory"));
}

TEST(NpyTest, SerializeRejectsSizeMismatch) {
  Array a = from_floats({2, 2}, std::vector<float>(3, 0.0f));
  EXPECT_FALSE(serialize(a).ok());
}

TEST(NpyTest, ShapeString) {
  EXPECT_EQ(shape_string({}), "()");
  EXPECT_EQ(shape_string({3}), "(3,)");
  EXPECT_EQ(shape_string({1, 16}), "(1, 16)");
}

}  // namespace
}  // namespace quanta::npy
