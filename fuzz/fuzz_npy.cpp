// Target 5 (docs/fuzzing.md): a .npy image through every reader of
// npy/include/quanta/npy.hpp and the converter's npy calibration source.
//
//   npy::parse + to_floats, then serialize and parse again (the round trip
//   must give the same array);
//   npy::Reader::open on the same bytes as a file (it must accept exactly
//   what parse() accepts, npy.hpp) and read_floats of a bounded prefix (its
//   values must equal to_floats' for the same elements);
//   convert::open_npy_samples for a one-input model whose input is one row
//   of the array, reading at most two samples.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "fuzz_common.hpp"
#include "quanta/converter.hpp"
#include "quanta/npy.hpp"

namespace {

using namespace quanta;

// Elements converted or read per input, at most (the rest is not looked at).
constexpr int64_t kMaxElements = int64_t{1} << 20;

bool same_float(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
}

void round_trip(const npy::Array& a) {
  auto bytes = npy::serialize(a);
  if (!bytes) fuzz::fail("npy::serialize refused a parsed array", bytes.status().to_string());
  auto again = npy::parse(*bytes, "round-trip");
  if (!again) fuzz::fail("npy::parse refused what serialize wrote", again.status().to_string());
  if (again->type != a.type || again->shape != a.shape || again->data != a.data) {
    fuzz::fail("npy round trip changed the array", npy::shape_string(a.shape) + " vs " +
                                                       npy::shape_string(again->shape));
  }
}

void calibration_source(const std::string& path, const npy::Array& a) {
  if (a.shape.empty()) return;
  convert::InputSpec in{"x", a.shape};
  in.shape[0] = 1;  // one row of the array per sample
  // Only what a model input can be: every dimension positive (the importer
  // refuses others), and a bounded size.
  int64_t row = 1;
  for (int64_t d : in.shape) {
    if (d <= 0 || __builtin_mul_overflow(row, d, &row) || row > kMaxElements) return;
  }
  auto source = convert::open_npy_samples({path}, {in});
  if (!source) {
    fuzz::check_error(source.status(), "open_npy_samples");
    return;
  }
  std::vector<std::vector<float>> sample;
  for (int i = 0; i < 2; ++i) {
    auto more = (*source)->next(sample);
    if (!more) {
      fuzz::check_error(more.status(), "SampleSource::next");
      return;
    }
    if (!*more) return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = npy::parse(std::span<const uint8_t>(data, size), "fuzz.npy");
  if (!parsed) fuzz::check_error(parsed.status(), "npy::parse");
  std::vector<float> floats;
  if (parsed && parsed->num_elements() <= kMaxElements) {
    floats = npy::to_floats(*parsed);
    round_trip(*parsed);
  }

  const std::string path = fuzz::write_scratch("fuzz.npy", data, size);
  auto reader = npy::Reader::open(path);
  if (!reader) fuzz::check_error(reader.status(), "npy::Reader::open");
  if (reader.ok() != parsed.ok()) {
    fuzz::fail("npy::Reader::open and npy::parse disagree",
               fmt::format("parse: {}; Reader::open: {}",
                           parsed ? "ok" : parsed.status().to_string(),
                           reader ? "ok" : reader.status().to_string()));
  }
  if (!reader || !parsed) return 0;
  if (reader->shape() != parsed->shape || reader->type() != parsed->type) {
    fuzz::fail("npy::Reader and npy::parse read different headers",
               npy::shape_string(reader->shape()) + " vs " + npy::shape_string(parsed->shape));
  }
  const int64_t n = std::min<int64_t>(reader->num_elements(), 4096);
  std::vector<float> prefix(static_cast<size_t>(n));
  if (Status s = reader->read_floats(0, n, prefix.data()); !s.ok()) {
    fuzz::fail("npy::Reader::read_floats failed inside the array", s.to_string());
  }
  for (size_t k = 0; k < floats.size() && k < prefix.size(); ++k) {
    if (!same_float(floats[k], prefix[k])) {
      fuzz::fail("npy::Reader::read_floats and npy::to_floats disagree",
                 fmt::format("element {}: {} vs {}", k, prefix[k], floats[k]));
    }
  }
  calibration_source(path, *parsed);
  return 0;
}
