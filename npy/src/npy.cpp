// NumPy .npy reader and writer. See npy.hpp for what is supported.
//
// The header is a Python dict literal, for example
//   {'descr': '<f4', 'fortran_order': False, 'shape': (1, 16, 16, 3), }
// followed by spaces and a newline. It is parsed by a small recursive-descent
// parser that accepts exactly the literal forms NumPy writes (quoted strings,
// True/False, tuples of non-negative integers) and refuses anything else.
#include "quanta/npy.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

namespace quanta::npy {
namespace {

constexpr uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
// A generous bound: NumPy itself refuses headers above 10,000 bytes unless
// asked not to; anything much larger is certainly not a real header.
constexpr size_t kMaxHeaderLen = 1 << 20;
constexpr size_t kMaxRank = 32;

Status error(const std::string& origin, const std::string& what) {
  return {StatusCode::kInvalidArgument, fmt::format("{}: {}", origin, what)};
}

// ------------------------------------------------------------ header parser

struct Header {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<std::vector<int64_t>> shape;
};

class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : s_(text) {}

  // On failure returns false and sets `error_`.
  bool parse(Header* out) {
    skip_ws();
    if (!expect('{')) return false;
    skip_ws();
    bool first = true;
    while (true) {
      skip_ws();
      if (peek() == '}') { ++pos_; break; }
      if (!first && !had_comma_) return fail("expected ',' or '}' between entries");
      first = false;
      std::string key;
      if (!parse_string(&key)) return false;
      skip_ws();
      if (!expect(':')) return false;
      skip_ws();
      if (key == "descr") {
        if (out->descr) return fail("duplicate key 'descr'");
        std::string v;
        if (peek() == '[') return fail("structured dtypes (a list 'descr') are not supported");
        if (!parse_string(&v)) return false;
        out->descr = std::move(v);
      } else if (key == "fortran_order") {
        if (out->fortran_order) return fail("duplicate key 'fortran_order'");
        bool v = false;
        if (!parse_bool(&v)) return false;
        out->fortran_order = v;
      } else if (key == "shape") {
        if (out->shape) return fail("duplicate key 'shape'");
        std::vector<int64_t> v;
        if (!parse_shape(&v)) return false;
        out->shape = std::move(v);
      } else {
        return fail(fmt::format("unexpected key '{}'", key));
      }
      skip_ws();
      had_comma_ = false;
      if (peek() == ',') { ++pos_; had_comma_ = true; }
    }
    skip_ws();
    if (pos_ != s_.size()) return fail("unexpected characters after the closing '}'");
    return true;
  }

  const std::string& error() const { return error_; }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool at_end() const { return pos_ >= s_.size(); }
  void skip_ws() {
    while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                         s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool fail(std::string msg) {
    error_ = fmt::format("{} (at offset {} of the header)", msg, pos_);
    return false;
  }
  bool expect(char c) {
    if (peek() != c || at_end()) {
      return fail(at_end() ? fmt::format("expected '{}', found the end of the header", c)
                           : fmt::format("expected '{}', found '{}'", c, peek()));
    }
    ++pos_;
    return true;
  }
  bool parse_string(std::string* out) {
    const char q = peek();
    if (q != '\'' && q != '"') return fail("expected a quoted string");
    ++pos_;
    out->clear();
    while (true) {
      if (at_end()) return fail("unterminated string");
      const char c = s_[pos_++];
      if (c == q) break;
      if (c == '\\') return fail("escape sequences are not supported in header strings");
      if (c == '\n') return fail("newline inside a string");
      out->push_back(c);
    }
    return true;
  }
  bool parse_bool(bool* out) {
    if (s_.substr(pos_, 4) == "True") { pos_ += 4; *out = true; return true; }
    if (s_.substr(pos_, 5) == "False") { pos_ += 5; *out = false; return true; }
    return fail("expected True or False");
  }
  bool parse_int(int64_t* out) {
    if (peek() == '-') return fail("negative dimension in 'shape'");
    if (peek() < '0' || peek() > '9') return fail("expected an integer in 'shape'");
    int64_t v = 0;
    while (!at_end() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      const int d = s_[pos_] - '0';
      if (v > (std::numeric_limits<int64_t>::max() - d) / 10) {
        return fail("dimension in 'shape' is too large");
      }
      v = v * 10 + d;
      ++pos_;
    }
    // Python 2 era files may write long literals such as 3L.
    if (peek() == 'L') ++pos_;
    *out = v;
    return true;
  }
  bool parse_shape(std::vector<int64_t>* out) {
    if (!expect('(')) return false;
    skip_ws();
    if (peek() == ')') { ++pos_; return true; }
    while (true) {
      skip_ws();
      int64_t d = 0;
      if (!parse_int(&d)) return false;
      out->push_back(d);
      if (out->size() > kMaxRank) return fail(fmt::format("'shape' has more than {} dimensions", kMaxRank));
      skip_ws();
      if (peek() == ')') {
        ++pos_;
        // "(3)" is the integer 3 in Python, not a tuple.
        if (out->size() == 1) return fail("'shape' must be a tuple: a single dimension needs a trailing comma, as in (3,)");
        return true;
      }
      if (!expect(',')) return false;
      skip_ws();
      if (peek() == ')') { ++pos_; return true; }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  bool had_comma_ = false;
  std::string error_;
};

bool parse_descr(const std::string& d, ElementType* out, std::string* why) {
  if (d.size() < 2) { *why = fmt::format("unsupported dtype '{}'", d); return false; }
  char order = d[0];
  std::string code = d.substr(1);
  if (order != '<' && order != '>' && order != '|' && order != '=') {
    order = '=';
    code = d;
  }
  struct Entry { const char* code; ElementType type; };
  static constexpr Entry kTable[] = {
      {"f4", ElementType::kF32}, {"f8", ElementType::kF64}, {"u1", ElementType::kU8},
      {"i1", ElementType::kI8},  {"i4", ElementType::kI32}, {"i8", ElementType::kI64},
  };
  for (const Entry& e : kTable) {
    if (code != e.code) continue;
    if (element_size(e.type) > 1 && (order == '>' || order == '|')) {
      *why = fmt::format("dtype '{}' is not little-endian; only '<' byte order is supported", d);
      return false;
    }
    *out = e.type;
    return true;
  }
  *why = fmt::format(
      "unsupported dtype '{}' (supported: '<f4', '<f8', '|u1', '|i1', '<i4', '<i8')", d);
  return false;
}

template <class T>
void convert_to_floats(const uint8_t* p, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, p + i * sizeof(T), sizeof(T));
    if constexpr (std::is_same_v<T, double>) {
      // Out-of-range doubles become +-inf instead of an undefined conversion.
      constexpr double kMax = std::numeric_limits<float>::max();
      if (v > kMax) { out[i] = std::numeric_limits<float>::infinity(); continue; }
      if (v < -kMax) { out[i] = -std::numeric_limits<float>::infinity(); continue; }
    }
    out[i] = static_cast<float>(v);
  }
}

}  // namespace

size_t element_size(ElementType t) {
  switch (t) {
    case ElementType::kF32: return 4;
    case ElementType::kF64: return 8;
    case ElementType::kU8: return 1;
    case ElementType::kI8: return 1;
    case ElementType::kI32: return 4;
    case ElementType::kI64: return 8;
  }
  return 0;
}

const char* descr(ElementType t) {
  switch (t) {
    case ElementType::kF32: return "<f4";
    case ElementType::kF64: return "<f8";
    case ElementType::kU8: return "|u1";
    case ElementType::kI8: return "|i1";
    case ElementType::kI32: return "<i4";
    case ElementType::kI64: return "<i8";
  }
  return "?";
}

const char* element_name(ElementType t) {
  switch (t) {
    case ElementType::kF32: return "float32";
    case ElementType::kF64: return "float64";
    case ElementType::kU8: return "uint8";
    case ElementType::kI8: return "int8";
    case ElementType::kI32: return "int32";
    case ElementType::kI64: return "int64";
  }
  return "?";
}

namespace {

// The element count of `shape`, or -1 when a dimension is negative or the
// count overflows int64 (zero dimensions aside: see shape_fits).
int64_t checked_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
  }
  return n;
}

// NumPy's rule for a valid shape: the non-zero dimensions times the item
// size fit int64. Then every partial product (element counts, strides, byte
// offsets, in any order) fits too, even when a zero dimension empties the
// array. Sets *bytes to the array's byte count.
bool shape_fits(const std::vector<int64_t>& shape, size_t item_size, uint64_t* bytes) {
  int64_t span = static_cast<int64_t>(item_size);
  bool empty = false;
  for (int64_t d : shape) {
    if (d < 0) return false;
    if (d == 0) {
      empty = true;
      continue;
    }
    if (__builtin_mul_overflow(span, d, &span)) return false;
  }
  *bytes = empty ? 0 : static_cast<uint64_t>(span);
  return true;
}

}  // namespace

int64_t Array::num_elements() const { return checked_count(shape); }

std::string shape_string(const std::vector<int64_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

namespace {

// Magic string, version and header length: the first 10 (version 1.0) or 12
// (versions 2.0 and 3.0) bytes. `file_size` is the size of the whole image.
Status parse_preamble(std::span<const uint8_t> bytes, uint64_t file_size, const std::string& origin,
                      size_t* header_start, size_t* header_len, uint8_t* major) {
  if (file_size < 10 || bytes.size() < 10) {
    return error(origin, fmt::format("not a .npy file: only {} bytes, too short for the header",
                                     file_size));
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return error(origin, "not a .npy file: missing the \\x93NUMPY magic string");
  }
  *major = bytes[6];
  const uint8_t minor = bytes[7];
  if (*major == 1) {
    *header_len = static_cast<size_t>(bytes[8]) | (static_cast<size_t>(bytes[9]) << 8);
    *header_start = 10;
  } else if (*major == 2 || *major == 3) {
    if (bytes.size() < 12) return error(origin, "truncated .npy header");
    *header_len = static_cast<size_t>(bytes[8]) | (static_cast<size_t>(bytes[9]) << 8) |
                  (static_cast<size_t>(bytes[10]) << 16) | (static_cast<size_t>(bytes[11]) << 24);
    *header_start = 12;
  } else {
    return error(origin, fmt::format("unsupported .npy format version {}.{} (supported: 1.0, 2.0, 3.0)",
                                     *major, minor));
  }
  if (*header_len > kMaxHeaderLen) {
    return error(origin, fmt::format("header length {} is implausibly large", *header_len));
  }
  return Status::Ok();
}

// Where the data of a .npy image is and what it holds.
struct Layout {
  ElementType type = ElementType::kF32;
  std::vector<int64_t> shape;
  uint64_t data_offset = 0;  // bytes from the start of the image
  uint64_t data_bytes = 0;
};

// Parses and checks the header. `bytes` is a prefix of the image holding at
// least the complete header (or all of the image if it is shorter than that);
// `file_size` is the size of the whole image, which must be exactly the
// header plus the data the shape declares.
Result<Layout> parse_layout(std::span<const uint8_t> bytes, uint64_t file_size,
                            const std::string& origin) {
  size_t header_start = 0, header_len = 0;
  uint8_t major = 0;
  if (Status st = parse_preamble(bytes, file_size, origin, &header_start, &header_len, &major);
      !st.ok()) {
    return st;
  }
  if (header_len > bytes.size() - header_start) {
    return error(origin, fmt::format("truncated header: it declares {} bytes but only {} follow",
                                     header_len, bytes.size() - header_start));
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + header_start),
                              header_len);
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0 || (u >= 0x80 && major < 3)) {
      return error(origin, "header contains a byte that is not printable ASCII");
    }
  }
  Header h;
  HeaderParser parser(text);
  if (!parser.parse(&h)) return error(origin, "malformed header: " + parser.error());
  if (!h.descr) return error(origin, "malformed header: missing key 'descr'");
  if (!h.fortran_order) return error(origin, "malformed header: missing key 'fortran_order'");
  if (!h.shape) return error(origin, "malformed header: missing key 'shape'");

  Layout a;
  std::string why;
  if (!parse_descr(*h.descr, &a.type, &why)) return error(origin, why);
  a.shape = *h.shape;
  if (*h.fortran_order) {
    return error(origin, "Fortran-order arrays are not supported; save it in C order "
                         "(numpy.ascontiguousarray) first");
  }

  // Byte size with overflow checks of every partial product.
  const size_t esize = element_size(a.type);
  const uint64_t data_avail = file_size - header_start - header_len;
  uint64_t need = 0;
  if (!shape_fits(a.shape, esize, &need)) {
    return error(origin, fmt::format("shape {} of {} has too many elements: its non-zero "
                                     "dimensions times {} bytes overflow a 64-bit integer",
                                     shape_string(a.shape), element_name(a.type), esize));
  }
  if (data_avail < need) {
    return error(origin, fmt::format("truncated data: shape {} of {} needs {} bytes, the file has {}",
                                     shape_string(a.shape), element_name(a.type), need, data_avail));
  }
  if (data_avail > need) {
    return error(origin, fmt::format("{} unexpected bytes after the data of shape {} of {}",
                                     data_avail - need, shape_string(a.shape),
                                     element_name(a.type)));
  }
  a.data_offset = header_start + header_len;
  a.data_bytes = need;
  return a;
}

// A directory opens as a stream on Linux and reports an enormous size, so it
// is refused by name before anything is read or allocated.
Status refuse_directory(const std::string& path, const char* expected) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return error(path, fmt::format("is a directory, expected {}", expected));
  }
  return Status::Ok();
}

}  // namespace

Result<Array> parse(std::span<const uint8_t> bytes, const std::string& origin) {
  auto layout = parse_layout(bytes, bytes.size(), origin);
  if (!layout) return layout.status();
  Array a;
  a.type = layout->type;
  a.shape = std::move(layout->shape);
  const uint8_t* p = bytes.data() + layout->data_offset;
  a.data.assign(p, p + layout->data_bytes);
  return a;
}

Result<Array> read_file(const std::string& path) {
  if (Status st = refuse_directory(path, "a .npy file"); !st.ok()) return st;
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) {
    const int err = errno;
    return Status{err == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError,
                  fmt::format("{}: cannot open: {}", path, std::strerror(err))};
  }
  const std::streamoff size = f.tellg();
  if (size < 0) return Status{StatusCode::kIoError, fmt::format("{}: cannot determine the size", path)};
  f.seekg(0);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), size)) {
    return Status{StatusCode::kIoError, fmt::format("{}: read error", path)};
  }
  return parse(bytes, path);
}

Result<std::vector<uint8_t>> serialize(const Array& array) {
  for (int64_t d : array.shape) {
    if (d < 0) return Status{StatusCode::kInvalidArgument, "npy: negative dimension"};
  }
  uint64_t need = 0;
  if (!shape_fits(array.shape, element_size(array.type), &need)) {
    return Status{StatusCode::kInvalidArgument,
                  fmt::format("npy: shape {} of {} has too many elements (the byte count "
                              "overflows a 64-bit integer)",
                              shape_string(array.shape), element_name(array.type))};
  }
  if (need != array.data.size()) {
    return Status{StatusCode::kInvalidArgument,
                  fmt::format("npy: shape {} of {} needs {} bytes, got {}", shape_string(array.shape),
                              element_name(array.type), need, array.data.size())};
  }
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                                 descr(array.type), shape_string(array.shape));
  // Pad with spaces so that magic + version + length + header is a multiple
  // of 64 bytes, ending with a newline (what NumPy writes).
  size_t prefix = 10;
  size_t total = prefix + dict.size() + 1;
  if ((total + 63) / 64 * 64 - prefix > 0xFFFF) prefix = 12;
  total = prefix + dict.size() + 1;
  const size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict.push_back('\n');
  const size_t hlen = dict.size();

  // Constructed from the magic, then reserved: GCC 12 reports a false
  // -Wstringop-overflow for an insert into a freshly reserved empty vector.
  std::vector<uint8_t> out(kMagic, kMagic + sizeof(kMagic));
  out.reserve(prefix + hlen + array.data.size());
  out.push_back(prefix == 10 ? 1 : 2);
  out.push_back(0);
  out.push_back(static_cast<uint8_t>(hlen & 0xFF));
  out.push_back(static_cast<uint8_t>((hlen >> 8) & 0xFF));
  if (prefix == 12) {
    out.push_back(static_cast<uint8_t>((hlen >> 16) & 0xFF));
    out.push_back(static_cast<uint8_t>((hlen >> 24) & 0xFF));
  }
  out.insert(out.end(), dict.begin(), dict.end());
  out.insert(out.end(), array.data.begin(), array.data.end());
  return out;
}

Status write_file(const std::string& path, const Array& array) {
  auto bytes = serialize(array);
  if (!bytes) {
    return Status{bytes.status().code(), fmt::format("{}: {}", path, bytes.status().message())};
  }
  if (Status st = refuse_directory(path, "a .npy file name to write"); !st.ok()) return st;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) {
    return Status{StatusCode::kIoError,
                  fmt::format("{}: cannot open for writing: {}", path, std::strerror(errno))};
  }
  f.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
  f.close();
  if (!f) return Status{StatusCode::kIoError, fmt::format("{}: write error", path)};
  return Status::Ok();
}

Array from_floats(std::vector<int64_t> shape, std::span<const float> values) {
  return from_bytes(ElementType::kF32, std::move(shape), values.data(), values.size_bytes());
}

Array from_bytes(ElementType type, std::vector<int64_t> shape, const void* data, size_t bytes) {
  Array a;
  a.type = type;
  a.shape = std::move(shape);
  const auto* p = static_cast<const uint8_t*>(data);
  if (bytes > 0) a.data.assign(p, p + bytes);
  return a;
}

void convert_to_floats(ElementType type, const void* data, size_t n, float* out) {
  const auto* p = static_cast<const uint8_t*>(data);
  switch (type) {
    case ElementType::kF32: convert_to_floats<float>(p, n, out); break;
    case ElementType::kF64: convert_to_floats<double>(p, n, out); break;
    case ElementType::kU8: convert_to_floats<uint8_t>(p, n, out); break;
    case ElementType::kI8: convert_to_floats<int8_t>(p, n, out); break;
    case ElementType::kI32: convert_to_floats<int32_t>(p, n, out); break;
    case ElementType::kI64: convert_to_floats<int64_t>(p, n, out); break;
  }
}

std::vector<float> to_floats(const Array& array) {
  const size_t n = array.data.size() / element_size(array.type);
  std::vector<float> out(n);
  convert_to_floats(array.type, array.data.data(), n, out.data());
  return out;
}

// ------------------------------------------------------------ Reader

Reader::Reader() = default;
Reader::~Reader() = default;
Reader::Reader(Reader&&) noexcept = default;
Reader& Reader::operator=(Reader&&) noexcept = default;

int64_t Reader::num_elements() const { return checked_count(shape_); }

Result<Reader> Reader::open(const std::string& path) {
  if (Status st = refuse_directory(path, "a .npy file"); !st.ok()) return st;
  Reader r;
  r.path_ = path;
  r.file_ = std::make_unique<std::ifstream>(path, std::ios::binary | std::ios::ate);
  std::ifstream& f = *r.file_;
  if (!f) {
    const int err = errno;
    return Status{err == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError,
                  fmt::format("{}: cannot open: {}", path, std::strerror(err))};
  }
  const std::streamoff size = f.tellg();
  if (size < 0) return Status{StatusCode::kIoError, fmt::format("{}: cannot determine the size", path)};
  const auto file_size = static_cast<uint64_t>(size);
  f.seekg(0);

  // The preamble tells how long the header is; then read exactly the header.
  std::vector<uint8_t> head(static_cast<size_t>(std::min<uint64_t>(file_size, 12)));
  if (!f.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()))) {
    return Status{StatusCode::kIoError, fmt::format("{}: read error", path)};
  }
  size_t header_start = 0, header_len = 0;
  uint8_t major = 0;
  if (Status st = parse_preamble(head, file_size, path, &header_start, &header_len, &major);
      !st.ok()) {
    return st;
  }
  const auto want = static_cast<size_t>(
      std::min<uint64_t>(file_size, static_cast<uint64_t>(header_start) + header_len));
  const size_t have = head.size();
  if (want > have) {
    head.resize(want);
    if (!f.read(reinterpret_cast<char*>(head.data() + have),
                static_cast<std::streamsize>(want - have))) {
      return Status{StatusCode::kIoError, fmt::format("{}: read error", path)};
    }
  }
  auto layout = parse_layout(head, file_size, path);
  if (!layout) return layout.status();
  r.type_ = layout->type;
  r.shape_ = std::move(layout->shape);
  r.data_offset_ = layout->data_offset;
  return r;
}

Status Reader::read_floats(int64_t first, int64_t count, float* out) {
  if (!file_) return Status{StatusCode::kInvalidArgument, "npy::Reader: no file is open"};
  const int64_t n = num_elements();
  if (first < 0 || count < 0 || first > n || count > n - first) {
    return Status{StatusCode::kInvalidArgument,
                  fmt::format("{}: elements [{}, {}) are outside the array of {} elements", path_,
                              first, first + count, n)};
  }
  if (count == 0) return Status::Ok();
  const size_t esize = element_size(type_);
  const size_t bytes = static_cast<size_t>(count) * esize;
  void* dst = out;
  if (type_ != ElementType::kF32) {
    scratch_.resize(bytes);
    dst = scratch_.data();
  }
  std::ifstream& f = *file_;
  f.clear();
  f.seekg(static_cast<std::streamoff>(data_offset_ + static_cast<uint64_t>(first) * esize));
  if (!f.read(static_cast<char*>(dst), static_cast<std::streamsize>(bytes))) {
    return Status{StatusCode::kIoError,
                  fmt::format("{}: read error at elements [{}, {}) (was the file changed?)", path_,
                              first, first + count)};
  }
  // float32 is read in place; convert_to_floats<float> is a plain copy.
  if (type_ != ElementType::kF32) convert_to_floats(type_, scratch_.data(), static_cast<size_t>(count), out);
  return Status::Ok();
}

bool to_runtime_dtype(ElementType t, DType* out) {
  switch (t) {
    case ElementType::kF32: *out = DType::kF32; return true;
    case ElementType::kU8: *out = DType::kU8; return true;
    case ElementType::kI8: *out = DType::kI8; return true;
    case ElementType::kI32: *out = DType::kI32; return true;
    case ElementType::kI64: *out = DType::kI64; return true;
    case ElementType::kF64: return false;
  }
  return false;
}

bool from_runtime_dtype(DType t, ElementType* out) {
  switch (t) {
    case DType::kF32: *out = ElementType::kF32; return true;
    case DType::kU8: *out = ElementType::kU8; return true;
    case DType::kI8: *out = ElementType::kI8; return true;
    case DType::kI32: *out = ElementType::kI32; return true;
    case DType::kI64: *out = ElementType::kI64; return true;
    default: return false;
  }
}

}  // namespace quanta::npy
