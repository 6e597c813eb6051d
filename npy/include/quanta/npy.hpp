// Reading and writing NumPy .npy files (format versions 1.0, 2.0 and 3.0).
//
// Supported element types (the `descr` of the header):
//   '<f4' float32   '<f8' float64   '|u1' uint8   '|i1' int8   '<i4' int32   '<i8' int64
// One-byte types accept any byte-order mark ('|', '<', '>', '='); wider types
// must be little-endian ('<', or '=' on this little-endian target).
// Only C order: a file with 'fortran_order': True is refused.
//
// Every file is untrusted: a malformed header, an unsupported dtype, a shape
// whose size overflows (NumPy's rule: the non-zero dimensions times the item
// size must fit int64, so a zero dimension does not excuse huge others),
// truncated or excess data, a directory given as the
// path all return a Status whose message names the file and the problem.
// Nothing here throws on bad input (std::bad_alloc aside).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "quanta/quanta.hpp"

namespace quanta::npy {

enum class ElementType : uint8_t { kF32, kF64, kU8, kI8, kI32, kI64 };

// Bytes per element.
size_t element_size(ElementType t);
// The header `descr` this library writes for `t`, for example "<f4".
const char* descr(ElementType t);
// A short human name: "float32", "uint8", ...
const char* element_name(ElementType t);

struct Array {
  ElementType type = ElementType::kF32;
  std::vector<int64_t> shape;   // empty: a 0-d array (one element)
  std::vector<uint8_t> data;    // C order, little-endian

  // The product of the dimensions; -1 if one is negative or the product
  // overflows int64 (possible only for an Array built by hand: parse() and
  // read_file() refuse such shapes).
  int64_t num_elements() const;
  bool is_float() const { return type == ElementType::kF32 || type == ElementType::kF64; }
};

// Parses a complete .npy image. `origin` names the source in messages
// (usually the file path).
Result<Array> parse(std::span<const uint8_t> bytes, const std::string& origin = "<memory>");
Result<Array> read_file(const std::string& path);

// The complete .npy image (version 1.0 header unless it needs 2.0).
// Fails if data.size() does not match the shape.
Result<std::vector<uint8_t>> serialize(const Array& array);
Status write_file(const std::string& path, const Array& array);

// Convenience constructors.
Array from_floats(std::vector<int64_t> shape, std::span<const float> values);
Array from_bytes(ElementType type, std::vector<int64_t> shape, const void* data, size_t bytes);

// Every element converted to float (float64 is rounded to nearest float;
// integers convert exactly up to 2^24).
std::vector<float> to_floats(const Array& array);

// `n` elements of type `type` at `data` (little-endian, any alignment)
// converted to float as to_floats() does.
void convert_to_floats(ElementType type, const void* data, size_t n, float* out);

// A .npy file read in parts, for arrays too large to hold in memory (for
// example calibration data): open() reads and checks only the header (with
// the same checks as parse(), including that the file size matches the
// shape); read_floats() then reads any range of elements on demand. Memory
// is O(largest range read), never the whole array.
class Reader {
 public:
  static Result<Reader> open(const std::string& path);

  const std::string& path() const { return path_; }
  ElementType type() const { return type_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t num_elements() const;

  // Elements [first, first + count) in C order, converted to float, into
  // out[0 .. count). An error (naming the file) for a range outside the
  // array or a failed read.
  Status read_floats(int64_t first, int64_t count, float* out);

  Reader();
  ~Reader();
  Reader(Reader&&) noexcept;
  Reader& operator=(Reader&&) noexcept;

 private:
  std::string path_;
  std::unique_ptr<std::ifstream> file_;
  ElementType type_ = ElementType::kF32;
  std::vector<int64_t> shape_;
  uint64_t data_offset_ = 0;
  std::vector<uint8_t> scratch_;  // raw bytes of non-float32 reads
};

// "(1, 16, 16, 3)" in NumPy's notation.
std::string shape_string(const std::vector<int64_t>& shape);

// Maps between npy element types and runtime dtypes; false if there is none.
bool to_runtime_dtype(ElementType t, DType* out);
bool from_runtime_dtype(DType t, ElementType* out);

}  // namespace quanta::npy
